package procstat

import (
	"errors"
	"os"
	"syscall"
	"testing"
	"time"
)

func TestReadSelf(t *testing.T) {
	buf := make([]byte, 64<<20)
	for i := range buf {
		buf[i] = byte(i)
	}
	// Burn CPU until the kernel has charged the process at least 700ms
	// (getrusage, independent of /proc/PID/stat): spinning for a fixed
	// wall-clock time gets far less CPU than that on a busy machine.
	used := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	for deadline := time.Now().Add(2 * time.Minute); used() < 700*time.Millisecond; {
		if time.Now().After(deadline) {
			t.Fatalf("only %s of CPU after two minutes of spinning", used())
		}
	}
	s, err := Read(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.RSS < 64<<20 {
		t.Errorf("RSS %d, want at least the 64 MiB just touched", s.RSS)
	}
	if s.CPU < 500*time.Millisecond {
		t.Errorf("CPU %s, want at least 500ms: getrusage says %s", s.CPU, used())
	}
	_ = buf[len(buf)-1]
}

func TestReadGone(t *testing.T) {
	if _, err := Read(1 << 30); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want os.ErrNotExist", err)
	}
}

func TestParse(t *testing.T) {
	line := "42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 250 150 0 0 20 0 1 0 100 1000000 3 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n"
	s, err := parse(line)
	if err != nil {
		t.Fatal(err)
	}
	if s.CPU != 4*time.Second {
		t.Errorf("CPU %s, want 4s (400 ticks)", s.CPU)
	}
	if s.RSS != 3*int64(os.Getpagesize()) {
		t.Errorf("RSS %d, want 3 pages", s.RSS)
	}
	for _, bad := range []string{"", "1 (x) S 1", "1 x S"} {
		if _, err := parse(bad); err == nil {
			t.Errorf("parse(%q) succeeded", bad)
		}
	}
}
