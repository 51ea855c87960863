package cli

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"os"
	"strconv"
	"sync"
	"time"
)

// maxLineLen bounds one line of worker output; longer lines are split.
const maxLineLen = 64 << 10

// logTimeLayout is the time of --log-time: RFC 3339 with milliseconds.
const logTimeLayout = "2006-01-02T15:04:05.000Z07:00"

// drainTimeout bounds how long herd waits, when it ends, for the output
// of workers' leftover descendants.
const drainTimeout = 2 * time.Second

// output copies each worker's stdout and stderr to herd's, a line at a
// time, prefixed with the worker's id and pid (text) or as JSON lines.
// A worker writes to a pipe of its own (a file, so that its exit is seen
// at once even if a descendant keeps the pipe open).
type output struct {
	json           bool
	program        string    // "web": lines are [web.ID:PID] (text) or say "program" (JSON)
	timed          bool      // text lines start with their time (--log-time)
	stdout, stderr io.Writer // syncWriters shared with herd's log

	mu      sync.Mutex
	pending map[int]*pipes
	wg      sync.WaitGroup
	readers map[*os.File]bool // being copied, closed by force at the end
	bufs    sync.Pool         // *bufio.Reader of maxLineLen, reused across workers
}

// pipes are the two pipes of a worker that has not started yet.
type pipes struct {
	outR, outW, errR, errW *os.File
}

func newOutput(jsonLines bool, stdout, stderr io.Writer) *output {
	return &output{json: jsonLines, stdout: stdout, stderr: stderr, pending: map[int]*pipes{}, readers: map[*os.File]bool{}}
}

// open returns the write ends for worker id's stdout and stderr; when
// pipes cannot be made, herd's own (unprefixed).
func (o *output) open(id int) (stdout, stderr *os.File) {
	p := &pipes{}
	var err1, err2 error
	p.outR, p.outW, err1 = os.Pipe()
	if err1 == nil {
		p.errR, p.errW, err2 = os.Pipe()
		if err2 != nil {
			p.outR.Close()
			p.outW.Close()
		}
	}
	if err1 != nil || err2 != nil {
		return os.Stdout, os.Stderr
	}
	o.mu.Lock()
	o.pending[id] = p
	o.mu.Unlock()
	return p.outW, p.errW
}

// started starts copying worker id's output, now that its pid is known,
// and closes herd's copies of the write ends. Pipes of ids below id that
// never started (their fork failed) are closed.
func (o *output) started(id, pid int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for other, p := range o.pending {
		if other < id {
			p.closeAll()
			delete(o.pending, other)
		}
	}
	p := o.pending[id]
	if p == nil {
		return
	}
	delete(o.pending, id)
	p.outW.Close()
	p.errW.Close()
	o.copy(p.outR, o.stdout, id, pid, "stdout")
	o.copy(p.errR, o.stderr, id, pid, "stderr")
}

func (p *pipes) closeAll() {
	for _, f := range []*os.File{p.outR, p.outW, p.errR, p.errW} {
		f.Close()
	}
}

// copy starts a goroutine that copies r's lines to w. o.mu is held.
func (o *output) copy(r *os.File, w io.Writer, id, pid int, stream string) {
	o.readers[r] = true
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		o.copyLines(r, w, id, pid, stream)
		o.mu.Lock()
		delete(o.readers, r)
		o.mu.Unlock()
		r.Close()
	}()
}

func (o *output) copyLines(r io.Reader, w io.Writer, id, pid int, stream string) {
	br, _ := o.bufs.Get().(*bufio.Reader)
	if br == nil {
		br = bufio.NewReaderSize(r, maxLineLen)
	}
	br.Reset(r)
	defer func() {
		br.Reset(nil)
		o.bufs.Put(br)
	}()
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			o.writeLine(w, id, pid, stream, line)
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

// writeLine writes one line in the output format.
func (o *output) writeLine(w io.Writer, id, pid int, stream string, line []byte) {
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
	}
	var b []byte
	if o.json {
		b, _ = json.Marshal(struct {
			Time    time.Time `json:"time"`
			Program string    `json:"program,omitempty"`
			Worker  int       `json:"worker"`
			Pid     int       `json:"pid"`
			Stream  string    `json:"stream"`
			Msg     string    `json:"msg"`
		}{time.Now(), o.program, id, pid, stream, string(line)})
	} else {
		if o.timed {
			b = time.Now().AppendFormat(b, logTimeLayout)
			b = append(b, ' ')
		}
		b = append(b, '[')
		if o.program != "" {
			b = append(b, o.program...)
			b = append(b, '.')
		}
		b = strconv.AppendInt(b, int64(id), 10)
		b = append(b, ':')
		b = strconv.AppendInt(b, int64(pid), 10)
		b = append(b, "] "...)
		b = append(b, line...)
	}
	b = append(b, '\n')
	w.Write(b) // a syncWriter: one line at a time
}

// close closes the pipes of workers that never started, and waits (at
// most drainTimeout) for the output still coming.
func (o *output) close() {
	o.mu.Lock()
	for id, p := range o.pending {
		p.closeAll()
		delete(o.pending, id)
	}
	o.mu.Unlock()
	done := make(chan struct{})
	go func() {
		o.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return
	case <-time.After(drainTimeout):
	}
	o.mu.Lock()
	for r := range o.readers {
		r.Close()
	}
	o.mu.Unlock()
	<-done
}
