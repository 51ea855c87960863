// The floor of the IPC ping-pong, for bench/ipc/run.sh: two processes on
// a socketpair, the parent writes a 100-byte JSON line with one blocking
// write(2) and waits for the echo with blocking read(2)s; the child reads
// a line and writes it back. No runtime, no parsing beyond finding the
// newline: what the kernel costs. Not part of herd.
//
//   cc -O2 -o floor floor.c && ./floor [N] [WARM]
//
// Prints one JSON line as node-ipc.js does: round trips/s, p50 and p99
// in µs, and the CPU time of both processes per round trip (cpu-µs).
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#define SIZE 100

static double now(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static double cpu(int who) {
	struct rusage u;
	getrusage(who, &u);
	return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// readLine reads until buf ends with a newline; it returns the length, 0
// at the end of the stream.
static int readLine(int fd, char *buf, int cap) {
	int n = 0;
	while (n == 0 || buf[n - 1] != '\n') {
		int r = read(fd, buf + n, cap - n);
		if (r <= 0) return 0;
		n += r;
	}
	return n;
}

static void echo(int fd) {
	char buf[4096];
	int n;
	while ((n = readLine(fd, buf, sizeof buf)) > 0)
		if (write(fd, buf, n) != n) _exit(1);
	_exit(0);
}

static int cmp(const void *a, const void *b) {
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv) {
	int n = argc > 1 ? atoi(argv[1]) : 20000, warm = argc > 2 ? atoi(argv[2]) : 2000;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) { perror("socketpair"); return 1; }
	pid_t pid = fork();
	if (pid == 0) { close(sv[0]); echo(sv[1]); }
	close(sv[1]);
	char msg[SIZE + 1], buf[4096];
	memset(msg, 'x', SIZE);
	memcpy(msg, "{\"seq\":0,\"pad\":\"", 16);
	memcpy(msg + SIZE - 2, "\"}", 2);
	msg[SIZE] = '\n';
	double *rtt = malloc(sizeof(double) * n), t0 = 0, c0 = 0;
	for (int i = 0; i < warm + n; i++) {
		if (i == warm) { t0 = now(); c0 = cpu(RUSAGE_SELF); }
		double s = now();
		if (write(sv[0], msg, sizeof msg) != sizeof msg || readLine(sv[0], buf, sizeof buf) != sizeof msg) {
			fprintf(stderr, "floor: short exchange\n");
			return 1;
		}
		if (i >= warm) rtt[i - warm] = (now() - s) * 1e6;
	}
	double sec = now() - t0, parent = cpu(RUSAGE_SELF) - c0;
	close(sv[0]);
	waitpid(pid, NULL, 0);
	// The child's CPU includes its warm-up: scale it to the timed share.
	double child = cpu(RUSAGE_CHILDREN) * n / (n + warm);
	qsort(rtt, n, sizeof *rtt, cmp);
	printf("{\"impl\":\"c\",\"test\":\"pingpong\",\"n\":%d,\"sec\":%g,\"rtt/s\":%g,\"p50-µs\":%g,\"p99-µs\":%g,\"cpu-µs\":%g}\n",
	       n, sec, n / sec, rtt[n / 2], rtt[(long)n * 99 / 100], (parent + child) * 1e6 / n);
	return 0;
}
