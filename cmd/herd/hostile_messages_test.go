package main_test

import (
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/herdhq/herd/internal/testutil"
)

// nodeFlood listens (a Node worker is ready once it does), then sends
// FLOOD messages to its primary with process.send, as fast as Node lets
// it; worker 2 sends one.
const nodeFlood = `
const n = process.env.HERD_WORKER_ID === '1' ? +process.env.FLOOD : 1;
let i = 0;
function burst() {
  for (let k = 0; k < 1000 && i < n; k++, i++) process.send({i});
  if (i < n) setImmediate(burst);
}
require('net').createServer().listen(0, burst);
`

var notLoggedLine = regexp.MustCompile(`msg="messages not logged" worker=1 pid=\d+ count=(\d+)`)

// TestHostileMessageFlood: a Node worker sends 30,000 messages with
// process.send. herd logs at most its --log-messages rate (100/s, bursts
// of 200) of them and counts the rest in "messages not logged" lines
// naming the worker; every message still reaches the cluster (the user
// message counter), and the other worker's message is logged.
func TestHostileMessageFlood(t *testing.T) {
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node is not installed")
	}
	testutil.CheckFDs(t)
	const flood = 30000
	app := writeFile(t, t.TempDir(), "flood.js", nodeFlood)
	start := time.Now()
	h := startHerd(t, []string{"FLOOD=" + strconv.Itoa(flood)}, "-n", "2", "--metrics", "127.0.0.1:0", "--", "node", app)
	st := h.waitWorkers(2)
	waitMetrics(t, st.Metrics, "every message counted", func(m map[string]float64) bool {
		return m[`herd_ipc_messages_received_total{kind="user"}`] == flood+1
	})
	deadline := time.Now().Add(liveness)
	for {
		logged, counted := floodLogged(h.stderr.String())
		if logged+counted == flood {
			if most := 200 + int(100*time.Since(start).Seconds()); logged > most {
				t.Fatalf("%d messages logged, want at most %d", logged, most)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d messages logged and %d counted as not logged, want %d in all", logged, counted, flood)
		}
		time.Sleep(pollEvery)
	}
	h.stderr.WaitFor(t, `msg=message worker=2`)
}

// floodLogged counts worker 1's logged messages and the messages its
// "messages not logged" lines count.
func floodLogged(log string) (logged, counted int) {
	logged = strings.Count(log, "msg=message worker=1 ")
	for _, m := range notLoggedLine.FindAllStringSubmatch(log, -1) {
		n, _ := strconv.Atoi(m[1])
		counted += n
	}
	return logged, counted
}
