package cli

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/herdhq/herd/control"
)

// sparkWidth is how many seconds of connection rate a sparkline shows.
const sparkWidth = 20

// sparkRunes draw a sparkline, from nothing to the most.
var sparkRunes = []rune("▁▂▃▄▅▆▇█")

// topModel turns successive statuses into rows: rates need two samples.
type topModel struct {
	st   *control.Status
	rows []topRow
	prev map[string]topSample // the last sample of each worker, by rowKey
	hist map[string][]float64 // each worker's last connection rates, oldest first
}

// topSample is what a rate is computed from.
type topSample struct {
	at     time.Time
	cpu    float64
	handed int64
}

// topRow is one worker on screen.
type topRow struct {
	control.Worker
	cpuPct float64 // percent of one core
	rate   float64 // connections handed per second
}

func newTopModel() *topModel {
	return &topModel{prev: map[string]topSample{}, hist: map[string][]float64{}}
}

// update takes a new status; workers that are gone are forgotten.
func (m *topModel) update(st *control.Status, now time.Time) {
	m.st, m.rows = st, m.rows[:0]
	seen := map[string]bool{}
	for _, w := range st.Workers {
		key := rowKey(w)
		seen[key] = true
		r := topRow{Worker: w}
		cur := topSample{at: now, cpu: w.CPU, handed: w.Handed}
		if p, ok := m.prev[key]; ok && now.Sub(p.at) > 0 {
			secs := now.Sub(p.at).Seconds()
			r.cpuPct = 100 * (w.CPU - p.cpu) / secs
			r.rate = float64(w.Handed-p.handed) / secs
			m.hist[key] = appendRate(m.hist[key], r.rate)
		} else if w.Uptime > 0 {
			r.cpuPct = 100 * w.CPU / w.Uptime // the first sample: the average so far
		}
		m.prev[key] = cur
		m.rows = append(m.rows, r)
	}
	for id := range m.prev {
		if !seen[id] {
			delete(m.prev, id)
			delete(m.hist, id)
		}
	}
}

// rowKey names a worker across programs: web.1, or 1 for a worker of
// no program (an older herd).
func rowKey(w control.Worker) string {
	if w.Program == "" {
		return strconv.Itoa(w.ID)
	}
	return w.Program + "." + strconv.Itoa(w.ID)
}

func appendRate(h []float64, r float64) []float64 {
	if len(h) == sparkWidth {
		copy(h, h[1:])
		h = h[:sparkWidth-1]
	}
	return append(h, max(r, 0))
}

// spark draws a worker's rate history on the scale of the busiest
// worker, so that sparklines compare.
func (m *topModel) spark(key string) string {
	top := 0.0
	for _, h := range m.hist {
		for _, v := range h {
			top = max(top, v)
		}
	}
	var b strings.Builder
	for _, v := range m.hist[key] {
		i := 0
		if top > 0 {
			i = int(v / top * float64(len(sparkRunes)-1))
		}
		b.WriteRune(sparkRunes[i])
	}
	return b.String()
}

// topHeader is the table's heading.
var topHeader = []string{"ID", "PID", "STATE", "CPU", "MEM", "CONNS", "HANDED", "CONN/S", "RESTARTS", "UPTIME", "TREND"}

// cells are a row's columns, as topHeader.
func (m *topModel) cells(r topRow) []string {
	conns := "-"
	if m.st.Policy == "leastconn" {
		conns = strconv.FormatInt(r.Conns, 10)
	}
	state := r.State
	if r.Suspect {
		state += "?"
	}
	id := strconv.Itoa(r.ID)
	if len(m.st.Programs) > 1 {
		id = rowKey(r.Worker)
	}
	return []string{id, strconv.Itoa(r.Pid), state, fmt.Sprintf("%.1f%%", r.cpuPct),
		formatBytes(r.RSS), conns, strconv.FormatInt(r.Handed, 10), fmt.Sprintf("%.1f", r.rate),
		strconv.Itoa(r.Restarts), roundDuration(time.Duration(r.Uptime * float64(time.Second))), m.spark(rowKey(r.Worker))}
}

// heading describes the herd in a few lines.
func (m *topModel) heading() []string {
	st := m.st
	lines := []string{
		statusHeading(st),
		fmt.Sprintf("%d workers (desired %d), policy %s", len(st.Workers), st.Desired, st.Policy),
	}
	if len(st.Listen) > 0 {
		lines[1] += ", listening on " + strings.Join(st.Listen, ", ")
	}
	if len(st.Programs) > 1 {
		lines[1] = programsLine(st.Programs)
	}
	var extra []string
	if st.Metrics != "" {
		extra = append(extra, "metrics http://"+st.Metrics+"/metrics")
	}
	if st.LogFile != "" {
		extra = append(extra, "log "+st.LogFile)
	}
	if len(extra) > 0 {
		lines = append(lines, strings.Join(extra, ", "))
	}
	return lines
}

// programsLine says, for a herd of several programs, each one's workers
// and policy.
func programsLine(progs []control.Program) string {
	parts := make([]string, len(progs))
	for i, p := range progs {
		parts[i] = fmt.Sprintf("%s: %d workers (desired %d), policy %s", p.Name, len(p.Workers), p.Desired, p.Policy)
	}
	return strings.Join(parts, "; ")
}
