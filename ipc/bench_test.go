package ipc_test

// Benchmarks between this process and a re-executed copy of the test
// binary (a real child process with a real channel), mirrored by
// bench/ipc/node-ipc.js for Node. They run only with -bench:
//
//	go test -run '^$' -bench IPC -benchtime 1s ./ipc/
//
// The child is driven by control messages ({"op":...}); what it received
// it reports back as {"got":N} once done, so every timing includes the
// receiver's work: the channel's JSON validation and framing, Recv of
// every message, and (for the "decode" variants) json.Unmarshal.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/herdhq/herd/internal/testutil"
	"github.com/herdhq/herd/ipc"
	"github.com/herdhq/herd/proc"
	"golang.org/x/sys/unix"
)

// benchHelpers are the child processes of the benchmarks; TestMain
// registers them.
var benchHelpers = testutil.Helpers{
	"ipc-bench-child":     benchChild,
	"ipc-bench-connector": benchConnector,
}

const (
	envConnectAddr = "BENCH_CONNECT_ADDR"          // where the connector connects
	envChildProf   = "HERD_BENCH_CHILD_CPUPROFILE" // CPU profile of the child
	connectorConns = 50                            // connections the connector keeps open
	small, large   = 100, 64 << 10
)

// benchOp is a control message from the parent to the child.
type benchOp struct {
	Op      string `json:"op"`      // sink, decode, source, echo, handles
	N       int    `json:"n"`       // how many messages or handles
	Size    int    `json:"size"`    // source: encoded size of each message
	Senders int    `json:"senders"` // source: sending goroutines
	Raw     bool   `json:"raw"`     // source: send pre-encoded JSON
}

// benchDone is the child's report.
type benchDone struct {
	Got int   `json:"got"`
	CPU int64 `json:"cpu"` // op "cpu": the child's CPU time so far, in ns
}

// benchMsg is the payload: {"seq":N,"pad":"xx…"}, padded to a fixed
// encoded size.
type benchMsg struct {
	Seq int    `json:"seq"`
	Pad string `json:"pad"`
}

var padding = strings.Repeat("x", large)

// newMsg returns message seq padded so that its JSON is size bytes.
func newMsg(seq, size int) benchMsg {
	n := size - len(`{"seq":,"pad":""}`) - len(strconv.Itoa(seq))
	return benchMsg{Seq: seq, Pad: padding[:max(n, 0)]}
}

// encodedMsg is newMsg already encoded, as a sender of pre-encoded JSON
// holds it.
func encodedMsg(seq, size int) json.RawMessage {
	b, err := json.Marshal(newMsg(seq, size))
	if err != nil {
		panic(err)
	}
	return b
}

// sender sends n messages of size bytes with one of the channel's send
// paths.
func sender(ch *ipc.Channel, n, size int, raw bool) error {
	if !raw {
		for i := range n {
			if err := ch.Send(newMsg(i, size)); err != nil {
				return err
			}
		}
		return nil
	}
	msg := encodedMsg(0, size)
	for range n {
		if err := ch.Send(msg); err != nil {
			return err
		}
	}
	return nil
}

// sendAll splits n messages among senders goroutines.
func sendAll(ch *ipc.Channel, op benchOp) error {
	senders := max(op.Senders, 1)
	errs := make(chan error, senders)
	for s := range senders {
		n := op.N / senders
		if s == 0 {
			n += op.N % senders
		}
		go func() { errs <- sender(ch, n, op.Size, op.Raw) }()
	}
	var err error
	for range senders {
		err = errors.Join(err, <-errs)
	}
	return err
}

// recvN receives n user messages, decoding each when decode is set.
func recvN(ch *ipc.Channel, n int, decode bool) (int, error) {
	var m benchMsg
	for got := range n {
		msg, err := ch.Recv()
		if err != nil {
			return got, err
		}
		if msg.Handle != nil {
			msg.CloseHandle()
		}
		if decode {
			if err := msg.Decode(&m); err != nil {
				return got, err
			}
		}
	}
	return n, nil
}

// benchChild runs control messages until the channel closes.
func benchChild() {
	if path := os.Getenv(envChildProf); path != "" {
		f, err := os.Create(path)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer f.Close()
			defer pprof.StopCPUProfile()
		}
	}
	ch, err := ipc.Inherited(nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	defer ch.Close()
	for {
		var op benchOp
		m, err := ch.Recv()
		if err == nil {
			err = m.Decode(&op)
		}
		if err == nil {
			err = childRun(ch, op)
		}
		if err != nil {
			if !errors.Is(err, ipc.ErrDisconnected) {
				fmt.Fprintln(os.Stderr, "bench child:", err)
			}
			return
		}
	}
}

// childRun performs one control message.
func childRun(ch *ipc.Channel, op benchOp) error {
	switch op.Op {
	case "sink", "decode", "handles":
		got, err := recvN(ch, op.N, op.Op == "decode")
		if err != nil {
			return err
		}
		return ch.Send(benchDone{Got: got})
	case "source":
		return sendAll(ch, op)
	case "cpu":
		return ch.Send(benchDone{CPU: int64(cpuTime())})
	case "echo":
		for range op.N {
			m, err := ch.Recv()
			if err != nil {
				return err
			}
			if err := ch.Send(m.Data); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("unknown op %q", op.Op)
}

// startChild starts the benchmark child and returns its channel.
func startChild(b *testing.B) *ipc.Channel {
	b.Helper()
	c := proc.Command(os.Args[0])
	c.Env = testutil.HelperEnv("ipc-bench-child")
	c.Stderr = os.Stderr
	if err := c.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		c.Disconnect()
		select {
		case <-c.Exited():
		case <-time.After(5 * time.Second):
			c.Kill()
		}
		c.Wait()
		for range c.Events() {
		}
	})
	return c.Channel()
}

// waitDone waits for the child's report and checks its count.
func waitDone(b *testing.B, ch *ipc.Channel, want int) {
	b.Helper()
	m, err := ch.Recv()
	if err != nil {
		b.Fatal(err)
	}
	var d benchDone
	if err := m.Decode(&d); err != nil || d.Got != want {
		b.Fatalf("child reported %s (%v), want %d", m.Data, err, want)
	}
}

// reportRate reports msgs/s and MB/s for n messages of size bytes (on the
// wire: size plus the newline).
func reportRate(b *testing.B, n, size int) {
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(n)/sec, "msgs/s")
	if size > 0 {
		b.ReportMetric(float64(n)*float64(size+1)/sec/1e6, "MB/s")
	}
	b.ReportMetric(0, "ns/op")
}

// BenchmarkIPC measures a Go parent and a Go child talking over ipc.
func BenchmarkIPC(b *testing.B) {
	for _, size := range []int{small, large} {
		b.Run(fmt.Sprintf("p2c/%s", sizeName(size)), func(b *testing.B) {
			benchParentToChild(b, benchOp{Op: "sink", Size: size, Senders: 1})
		})
	}
	b.Run("p2c/100B/raw", func(b *testing.B) {
		benchParentToChild(b, benchOp{Op: "sink", Size: small, Senders: 1, Raw: true})
	})
	b.Run("p2c/100B/raw-4senders", func(b *testing.B) {
		benchParentToChild(b, benchOp{Op: "sink", Size: small, Senders: 4, Raw: true})
	})
	b.Run("p2c/100B/decode", func(b *testing.B) {
		benchParentToChild(b, benchOp{Op: "decode", Size: small, Senders: 1})
	})
	for _, size := range []int{small, large} {
		b.Run(fmt.Sprintf("c2p/%s", sizeName(size)), func(b *testing.B) {
			benchChildToParent(b, benchOp{Op: "source", Size: size, Senders: 1})
		})
	}
	b.Run("pingpong", benchPingPong)
	b.Run("handles", func(b *testing.B) { benchAccept(b, true, 1) })
	b.Run("handles-window16", func(b *testing.B) { benchAccept(b, true, 16) })
	b.Run("conns", func(b *testing.B) { benchAccept(b, false, 1) })
}

func sizeName(size int) string {
	if size >= 1<<10 {
		return fmt.Sprintf("%dKiB", size>>10)
	}
	return fmt.Sprintf("%dB", size)
}

// benchParentToChild: this process sends b.N messages, the child receives
// them.
func benchParentToChild(b *testing.B, op benchOp) {
	ch := startChild(b)
	op.N = b.N
	sinkOp := benchOp{Op: op.Op, N: op.N}
	b.ResetTimer()
	if err := ch.Send(sinkOp); err != nil {
		b.Fatal(err)
	}
	if err := sendAll(ch, op); err != nil {
		b.Fatal(err)
	}
	waitDone(b, ch, b.N)
	b.StopTimer()
	reportRate(b, b.N, op.Size)
}

// benchChildToParent: the child sends b.N messages, this process
// receives them.
func benchChildToParent(b *testing.B, op benchOp) {
	ch := startChild(b)
	op.N = b.N
	b.ResetTimer()
	if err := ch.Send(op); err != nil {
		b.Fatal(err)
	}
	if _, err := recvN(ch, b.N, false); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	reportRate(b, b.N, op.Size)
}

// benchPingPong: one 100-byte message in flight, echoed by the child,
// after pingWarmUp round trips that are not counted (as in node-ipc.js).
// cpu-µs is the CPU time of both processes per round trip.
func benchPingPong(b *testing.B) {
	const pingWarmUp = 2000
	ch := startChild(b)
	rtt := make([]time.Duration, pingWarmUp+b.N)
	pingPong(b, ch, rtt[:pingWarmUp])
	child0, self0 := childCPU(b, ch), cpuTime()
	b.ResetTimer()
	pingPong(b, ch, rtt[pingWarmUp:])
	b.StopTimer()
	cpu := cpuTime() - self0 + childCPU(b, ch) - child0
	rtt = rtt[pingWarmUp:]
	slices.Sort(rtt)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "rtt/s")
	b.ReportMetric(micros(rtt[len(rtt)/2]), "p50-µs")
	b.ReportMetric(micros(rtt[len(rtt)*99/100]), "p99-µs")
	b.ReportMetric(micros(cpu)/float64(b.N), "cpu-µs")
	b.ReportMetric(0, "ns/op")
}

// pingPong has the child echo len(rtt) messages, and records their
// round trips.
func pingPong(b *testing.B, ch *ipc.Channel, rtt []time.Duration) {
	if err := ch.Send(benchOp{Op: "echo", N: len(rtt)}); err != nil {
		b.Fatal(err)
	}
	for i := range rtt {
		t0 := time.Now()
		if err := ch.Send(newMsg(i, small)); err != nil {
			b.Fatal(err)
		}
		if _, err := ch.Recv(); err != nil {
			b.Fatal(err)
		}
		rtt[i] = time.Since(t0)
	}
}

// childCPU asks the child for its CPU time so far.
func childCPU(b *testing.B, ch *ipc.Channel) time.Duration {
	if err := ch.Send(benchOp{Op: "cpu"}); err != nil {
		b.Fatal(err)
	}
	m, err := ch.Recv()
	if err != nil {
		b.Fatal(err)
	}
	var d benchDone
	if err := m.Decode(&d); err != nil {
		b.Fatal(err)
	}
	return time.Duration(d.CPU)
}

// cpuTime is this process's user and system CPU time so far.
func cpuTime() time.Duration {
	var u unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &u)
	return time.Duration(u.Utime.Nano() + u.Stime.Nano())
}

func micros(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// benchAccept: a connector process keeps 50 TCP connections coming; this
// process accepts b.N of them and either passes each to the child with
// SendHandleAsync and closes its copy (handles), or just closes it
// (conns, the baseline). The child closes each connection it gets. With a
// window above 1, handles travel before the previous ones are answered
// (Channel.SetHandleWindow), as herd's cluster sends them to Go workers.
func benchAccept(b *testing.B, pass bool, window int) {
	ch := startChild(b)
	ch.SetHandleWindow(window)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	stop := startConnector(b, ln.Addr().String())
	defer stop()
	if pass {
		if err := ch.Send(benchOp{Op: "handles", N: b.N}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	if err := acceptN(ln, ch, b.N, pass); err != nil {
		b.Fatal(err)
	}
	if pass {
		waitDone(b, ch, b.N)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "conns/s")
	b.ReportMetric(0, "ns/op")
}

// acceptN accepts n connections, passing each to the child when pass is
// set. The answers are collected in order, without a goroutine blocked on
// them, and at most 256 are awaited at once.
func acceptN(ln net.Listener, ch *ipc.Channel, n int, pass bool) error {
	var answers []<-chan error
	var err error
	for i := 0; i < n && err == nil; i++ {
		var c net.Conn
		if c, err = ln.Accept(); err != nil {
			break
		}
		if pass {
			answers = append(answers, ch.SendHandleAsync(i, c))
		}
		c.Close()
		answers, err = settled(answers, len(answers) >= 256)
	}
	for len(answers) > 0 && err == nil {
		answers, err = settled(answers, true)
	}
	return err
}

// settled drops the answers that came, from the oldest on; with wait it
// waits for the oldest.
func settled(answers []<-chan error, wait bool) ([]<-chan error, error) {
	if wait && len(answers) > 0 {
		if err := <-answers[0]; err != nil {
			return nil, err
		}
		answers = answers[1:]
	}
	for len(answers) > 0 {
		select {
		case err := <-answers[0]:
			if err != nil {
				return nil, err
			}
			answers = answers[1:]
		default:
			return answers, nil
		}
	}
	return answers, nil
}

// startConnector starts the connector process; stop ends it.
func startConnector(b *testing.B, addr string) (stop func()) {
	b.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = testutil.HelperEnv("ipc-bench-connector", envConnectAddr+"="+addr)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	return func() {
		in.Close()
		t := time.AfterFunc(5*time.Second, func() { cmd.Process.Kill() })
		cmd.Wait()
		t.Stop()
	}
}

func connectAddr(addr string) (*unix.SockaddrInet4, error) {
	ap, err := netip.ParseAddrPort(addr)
	if err != nil || !ap.Addr().Is4() {
		return nil, fmt.Errorf("%s=%q: want an IPv4 address and port", envConnectAddr, addr)
	}
	return &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}, nil
}
