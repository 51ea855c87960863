package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// measurement is one wrk run against one server.
type measurement struct {
	rps, p50, p99   float64 // requests/s, latency percentiles in ms
	errors          int
	primaryUsPerReq float64 // primary CPU (utime+stime) per request, µs
}

// measure starts a server, warms it up, runs wrk and stops the server.
func measure(hello string, c config, close bool, d time.Duration, conns int) (measurement, error) {
	addr, err := freeAddr()
	if err != nil {
		return measurement{}, err
	}
	srv := exec.Command(hello, append(c.args, "-addr", addr)...)
	srv.Stderr = os.Stderr
	if err := srv.Start(); err != nil {
		return measurement{}, err
	}
	defer func() { srv.Process.Signal(syscall.SIGTERM); srv.Wait() }()
	url := "http://" + addr + "/"
	if err := waitUp(url); err != nil {
		return measurement{}, err
	}
	wrk(url, close, time.Second, conns)
	cpu0 := cpuTicks(srv.Process.Pid)
	out, err := wrk(url, close, d, conns)
	if err != nil {
		return measurement{}, fmt.Errorf("wrk: %w\n%s", err, out)
	}
	m := parseWrk(out)
	if reqs := m.rps * d.Seconds(); reqs > 0 {
		m.primaryUsPerReq = float64(cpuTicks(srv.Process.Pid)-cpu0) * 1e4 / reqs
	}
	return m, nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

func waitUp(url string) error {
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(url); err == nil {
			resp.Body.Close()
			return nil
		}
	}
	return fmt.Errorf("%s never answered", url)
}

func wrk(url string, close bool, d time.Duration, conns int) (string, error) {
	args := []string{"-t1", "-c" + strconv.Itoa(conns), "-d" + d.String(), "--latency"}
	if close {
		args = append(args, "-H", "Connection: close")
	}
	out, err := exec.Command("wrk", append(args, url)...).CombinedOutput()
	return string(out), err
}

// cpuTicks is a process's utime+stime in clock ticks (1/100 s).
func cpuTicks(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

var (
	reRPS     = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
	reLatency = regexp.MustCompile(`(?m)^\s+(50|99)%\s+([\d.]+)(us|ms|s)`)
	reErrors  = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
)

func parseWrk(out string) measurement {
	var m measurement
	if s := reRPS.FindStringSubmatch(out); s != nil {
		m.rps, _ = strconv.ParseFloat(s[1], 64)
	}
	for _, s := range reLatency.FindAllStringSubmatch(out, -1) {
		v, _ := strconv.ParseFloat(s[2], 64)
		v *= map[string]float64{"us": 0.001, "ms": 1, "s": 1000}[s[3]]
		if s[1] == "50" {
			m.p50 = v
		} else {
			m.p99 = v
		}
	}
	if s := reErrors.FindStringSubmatch(out); s != nil {
		for _, n := range s[1:] {
			k, _ := strconv.Atoi(n)
			m.errors += k
		}
	}
	return m
}
