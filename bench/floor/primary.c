// floor primary: accept4 + sendmsg(SCM_RIGHTS, Node IPC NODE_HANDLE) + read ACK + close,
// round-robin to N node workers (worker.js), single-threaded epoll. Not part of herd.
#define _GNU_SOURCE
#include <sys/socket.h>
#include <sys/epoll.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <errno.h>
#include <signal.h>
#define NW 2
#define Q 4096
static int wfd[NW], q[NW][Q], qh[NW], qt[NW];
static char rbuf[NW][65536]; static int rlen[NW];
static const char line[] = "{\"cmd\":\"NODE_HANDLE\",\"type\":\"net.Socket\",\"msg\":{\"c\":1}}\n";
static void sendfd(int w, int fd) {
  char cbuf[CMSG_SPACE(sizeof(int))]; struct iovec iov = {(void*)line, sizeof line - 1};
  struct msghdr m = {0}; m.msg_iov = &iov; m.msg_iovlen = 1; m.msg_control = cbuf; m.msg_controllen = sizeof cbuf;
  struct cmsghdr *c = CMSG_FIRSTHDR(&m); c->cmsg_level = SOL_SOCKET; c->cmsg_type = SCM_RIGHTS; c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof fd);
  if (sendmsg(wfd[w], &m, MSG_NOSIGNAL) < 0) { perror("sendmsg"); exit(1); }
  q[w][qt[w]++ % Q] = fd;
}
int main(int argc, char **argv) {
  int port = atoi(argv[1]); signal(SIGPIPE, SIG_IGN);
  int ep = epoll_create1(0);
  for (int i = 0; i < NW; i++) {
    int sv[2]; socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    if (fork() == 0) { close(sv[0]); char e[32]; snprintf(e, sizeof e, "%d", sv[1]); setenv("NODE_CHANNEL_FD", e, 1);
      execlp("node", "node", argv[2], NULL); _exit(1); }
    close(sv[1]); wfd[i] = sv[0];
    struct epoll_event ev = {EPOLLIN, {.u32 = i}}; epoll_ctl(ep, EPOLL_CTL_ADD, wfd[i], &ev);
  }
  int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {AF_INET, htons(port), {htonl(0x7f000001)}};
  if (bind(l, (void*)&a, sizeof a) || listen(l, 511)) { perror("listen"); return 1; }
  struct epoll_event ev = {EPOLLIN, {.u32 = 100}}; epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
  unsigned rr = 0; struct epoll_event evs[16];
  for (;;) {
    int n = epoll_wait(ep, evs, 16, -1);
    for (int i = 0; i < n; i++) {
      unsigned k = evs[i].data.u32;
      if (k == 100) { int fd; while ((fd = accept4(l, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) sendfd(rr++ % NW, fd); continue; }
      int r = read(wfd[k], rbuf[k] + rlen[k], sizeof rbuf[k] - rlen[k]);
      if (r <= 0) return 0;
      rlen[k] += r; char *p = rbuf[k], *e;
      while ((e = memchr(p, '\n', rbuf[k] + rlen[k] - p))) {   // each NODE_HANDLE_ACK settles the oldest fd
        char *h = strstr(p, "\"accepted\"");   // the worker's answer, as Node's cluster worker sends one per newconn
        if (h && h < e) close(q[k][qh[k]++ % Q]);
        p = e + 1;
      }
      rlen[k] -= p - rbuf[k]; memmove(rbuf[k], p, rlen[k]);
    }
  }
}
