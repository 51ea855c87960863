package cli

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/gdamore/tcell/v2"
	"github.com/herdhq/herd/control"
)

// topScreen is herd top on a terminal, drawn with tcell.
type topScreen struct {
	o       *topOptions
	s       tcell.Screen
	m       *topModel
	want    int    // the number of workers asked for (+ and -), 0 until known
	scaling int    // scale requests in flight
	note    string // the last action's outcome, in the footer
	errText string // the last failed refresh
}

// topResult is a refresh's outcome.
type topResult struct {
	st  *control.Status
	err error
}

// runScreen runs the live view until q or ctx is done.
func (o *topOptions) runScreen(ctx context.Context) error {
	first, err := o.status(ctx) // fail plainly, before taking over the terminal
	if err != nil {
		return err
	}
	s, err := tcell.NewScreen()
	if err == nil {
		err = s.Init()
	}
	if err != nil {
		return withCode(ExitError, fmt.Errorf("top: %w (try --plain)", err))
	}
	defer s.Fini()
	t := &topScreen{o: o, s: s, m: newTopModel()}
	t.m.update(first, time.Now())
	t.want = first.Desired
	return t.loop(ctx)
}

// loop handles keys, refreshes and the outcomes of actions.
func (t *topScreen) loop(ctx context.Context) error {
	events, quit := make(chan tcell.Event, 16), make(chan struct{})
	go t.s.ChannelEvents(events, quit)
	defer close(quit)
	results, notes := make(chan topResult, 1), make(chan string, 4)
	tick := time.NewTicker(topEvery)
	defer tick.Stop()
	inflight := false
	t.draw()
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-events:
			if t.key(ctx, ev, notes) {
				return nil
			}
		case <-tick.C:
			if !inflight {
				inflight = true
				go func() {
					st, err := t.o.status(ctx)
					results <- topResult{st, err}
				}()
			}
			continue
		case r := <-results:
			inflight = false
			if err := t.refreshed(r); err != nil {
				return err
			}
		case n := <-notes:
			if n == "" { // a scale ended
				t.scaling--
				continue
			}
			t.note = n
		}
		t.draw()
	}
}

// refreshed takes a new status; a herd that is gone ends top.
func (t *topScreen) refreshed(r topResult) error {
	if errors.Is(r.err, control.ErrNotRunning) {
		return r.err
	}
	if r.err != nil {
		t.errText = r.err.Error()
		return nil
	}
	t.errText = ""
	t.m.update(r.st, time.Now())
	if t.scaling == 0 {
		t.want = r.st.Desired
	}
	return nil
}

// key handles a terminal event; true means quit.
func (t *topScreen) key(ctx context.Context, ev tcell.Event, notes chan<- string) bool {
	switch ev := ev.(type) {
	case *tcell.EventResize:
		t.s.Sync()
	case *tcell.EventKey:
		switch {
		case ev.Key() == tcell.KeyEscape || ev.Key() == tcell.KeyCtrlC || ev.Rune() == 'q':
			return true
		case ev.Rune() == 'r':
			t.note = "reloading, one worker at a time…"
			go t.act(ctx, notes, control.Request{Cmd: control.CmdReload}, "reload done")
		case ev.Rune() == '+' || ev.Rune() == '=':
			t.scale(ctx, notes, t.want+1)
		case ev.Rune() == '-' || ev.Rune() == '_':
			t.scale(ctx, notes, t.want-1)
		}
	}
	t.draw()
	return false
}

// scale asks for n workers.
func (t *topScreen) scale(ctx context.Context, notes chan<- string, n int) {
	if n < 1 {
		t.note = "at least one worker"
		return
	}
	t.want, t.note = n, fmt.Sprintf("scaling to %d workers", n)
	t.scaling++
	go func() {
		t.act(ctx, notes, control.Request{Cmd: control.CmdScale, N: n}, fmt.Sprintf("scaled to %d workers", n))
		select {
		case notes <- "":
		case <-ctx.Done():
		}
	}()
}

// act sends a request and reports its outcome as a note.
func (t *topScreen) act(ctx context.Context, notes chan<- string, req control.Request, done string) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	if _, err := call(ctx, &t.o.runOptions, req); err != nil {
		done = req.Cmd + " failed: " + err.Error()
	}
	select {
	case notes <- done:
	case <-ctx.Done():
	}
}

// draw paints the whole screen.
func (t *topScreen) draw() {
	s := t.s
	s.Clear()
	w, h := s.Size()
	y := 0
	for _, l := range t.m.heading() {
		put(s, 0, y, w, l, tcell.StyleDefault)
		y++
	}
	y++
	rows := [][]string{topHeader}
	for _, r := range t.m.rows {
		rows = append(rows, t.m.cells(r))
	}
	widths := columnWidths(rows)
	for i, cells := range rows {
		style := tcell.StyleDefault
		if i == 0 {
			style = style.Reverse(true)
		} else if t.m.rows[i-1].Suspect || t.m.rows[i-1].State != "ready" {
			style = style.Foreground(tcell.ColorYellow)
		}
		if y >= h-2 {
			break
		}
		x := 0
		for c, cell := range cells {
			put(s, x, y, w, cell, style)
			x += widths[c] + 2
		}
		y++
	}
	t.footer(w, h)
	s.Show()
}

// footer shows the keys, and the last note or error.
func (t *topScreen) footer(w, h int) {
	keys := fmt.Sprintf("r reload   + more   - fewer (want %d)   q quit", t.want)
	put(t.s, 0, h-1, w, keys, tcell.StyleDefault.Bold(true))
	switch {
	case t.errText != "":
		put(t.s, 0, h-2, w, t.errText, tcell.StyleDefault.Foreground(tcell.ColorRed))
	case t.note != "":
		put(t.s, 0, h-2, w, t.note, tcell.StyleDefault)
	}
}

// put writes str at x, y, cut at width w.
func put(s tcell.Screen, x, y, w int, str string, style tcell.Style) {
	for _, r := range str {
		if x >= w {
			return
		}
		s.SetContent(x, y, r, nil, style)
		x++
	}
}

// columnWidths is the widest cell of each column, in runes.
func columnWidths(rows [][]string) []int {
	widths := make([]int, len(rows[0]))
	for _, cells := range rows {
		for i, c := range cells {
			widths[i] = max(widths[i], utf8.RuneCountInString(c))
		}
	}
	return widths
}
