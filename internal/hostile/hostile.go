// Package hostile is a worker that attacks its primary on the channel, as
// a buggy or malicious worker that ignores herd's library would: the
// chaos suite and bench/soak run it to check that herd holds its bounds
// (docs/reliability.md). Every attack is bounded in count and time.
package hostile

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// attacks maps each mode to its attack on the channel fd.
var attacks = map[string]func(fd int, deadline time.Time){
	"garbage":    garbage,
	"huge":       huge,
	"strayfd":    strayFD,
	"manyfds":    manyFDs,
	"noread":     noRead,
	"ports":      ports,
	"messages":   messages,
	"stateconns": stateConns,
}

// Modes lists the attacks, sorted.
func Modes() []string {
	var m []string
	for k := range attacks {
		m = append(m, k)
	}
	slices.Sort(m)
	return m
}

// Run makes attack mode on the channel fd until it is done or deadline
// passes. It fails only for an unknown mode. An attack whose worker herd
// should cut off returns once it is done; the caller then waits to be
// killed.
func Run(mode string, fd int, deadline time.Time) error {
	attack, ok := attacks[mode]
	if !ok {
		return fmt.Errorf("hostile: unknown mode %q (want one of %s)", mode, strings.Join(Modes(), ", "))
	}
	attack(fd, deadline)
	return nil
}

// garbage writes random bytes, now and then a newline, up to 256 MiB.
func garbage(fd int, deadline time.Time) {
	buf := make([]byte, 64<<10)
	for sent := 0; sent < 256<<20 && time.Now().Before(deadline); sent += len(buf) {
		for i := range buf {
			buf[i] = byte(rand.IntN(256))
			if rand.IntN(80) == 0 {
				buf[i] = '\n'
			}
		}
		if !write(fd, buf, deadline) {
			return
		}
	}
}

// huge writes one line that never ends: 96 MiB without a newline.
func huge(fd int, deadline time.Time) {
	buf := []byte(strings.Repeat("a", 1<<20))
	write(fd, []byte(`{"cmd":"`), deadline)
	for sent := 0; sent < 96<<20 && time.Now().Before(deadline); sent += len(buf) {
		if !write(fd, buf, deadline) {
			return
		}
	}
}

// strayFD sends valid JSON lines, each with a descriptor and no
// NODE_HANDLE envelope.
func strayFD(fd int, deadline time.Time) {
	null := devNull()
	for i := 0; i < 10000 && time.Now().Before(deadline); i++ {
		if unix.Sendmsg(fd, fmt.Appendf(nil, `{"cmd":"chaos","n":%d}`+"\n", i), unix.UnixRights(null), nil, 0) != nil {
			return
		}
	}
}

// manyFDs sends 64 descriptors with each message, more than a read takes.
func manyFDs(fd int, deadline time.Time) {
	fds := slices.Repeat([]int{devNull()}, 64)
	for i := 0; i < 1000 && time.Now().Before(deadline); i++ {
		if unix.Sendmsg(fd, []byte("{}\n"), unix.UnixRights(fds...), nil, 0) != nil {
			return
		}
	}
}

func devNull() int {
	fd, _ := unix.Open("/dev/null", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	return fd
}

// noRead asks herd for 300 sockets at 60,000-byte addresses, each answered
// with an error that quotes it, and never reads the answers: more than
// herd may queue for a worker. herd must cut it off.
func noRead(fd int, deadline time.Time) {
	addr := strings.Repeat("x", 60000)
	for i := 1; i <= 300 && time.Now().Before(deadline); i++ {
		line := fmt.Sprintf(`{"cmd":"NODE_HERD","act":"listen","seq":%d,"network":"tcp","address":"%s"}`+"\n", i, addr)
		if !write(fd, []byte(line), deadline) {
			return
		}
	}
}

// ports asks herd to bind 3,000 ports, one after another, reading (and
// closing) what herd answers, then exits: herd must refuse past its bound
// per worker and release what it bound once the worker is gone.
func ports(fd int, deadline time.Time) {
	base := 20000 + os.Getpid()%20000
	for i := 1; i <= 3000 && time.Now().Before(deadline); i++ {
		line := fmt.Sprintf(`{"cmd":"NODE_HERD","act":"listen","seq":%d,"network":"tcp","address":"127.0.0.1:%d"}`+"\n", i, base+i%25000)
		if !write(fd, []byte(line), deadline) || !readOne(fd, deadline, false) {
			return
		}
	}
	os.Exit(0)
}

// messages sends user messages as fast as it can for 8 s, then exits:
// herd's log must stay bounded and the other workers serve as before.
func messages(fd int, deadline time.Time) {
	batch := []byte(strings.Repeat(`{"chaos":"a message herd would log","n":1}`+"\n", 64))
	go drainForever(fd)
	for end := time.Now().Add(8 * time.Second); time.Now().Before(end) && time.Now().Before(deadline); {
		if !write(fd, batch, deadline) {
			return
		}
	}
	os.Exit(0)
}

// stateConns asks for 2,000 state-store connections and keeps every
// socket it gets, then exits: herd must refuse past its bound per worker.
func stateConns(fd int, deadline time.Time) {
	for i := 1; i <= 2000 && time.Now().Before(deadline); i++ {
		line := fmt.Sprintf(`{"cmd":"NODE_HERD_STATE","op":"connect","id":%d}`+"\n", i)
		if !write(fd, []byte(line), deadline) || !readOne(fd, deadline, true) {
			break
		}
	}
	os.Exit(0)
}
