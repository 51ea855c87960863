package logfile

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// lossReportEvery is how often, at most, a Writer reports failed writes.
const lossReportEvery = 10 * time.Second

// losses counts what failed writes lost since the last report, and
// reports it on an io.Writer (herd's stderr) at most once per every. Its
// Writer's mutex guards it.
type losses struct {
	every    time.Duration
	bytes    int64
	writes   int64
	since    time.Time // the first loss not yet reported
	reported time.Time // when the last report was
}

// failed counts a write that lost n bytes because of err, and reports
// the losses if the last report is old enough.
func (l *losses) failed(out io.Writer, n int, err error, now time.Time) {
	if l.writes == 0 {
		l.since = now
	}
	l.bytes, l.writes = l.bytes+int64(n), l.writes+1
	if now.Sub(l.reported) >= l.every {
		l.report(out, strings.ReplaceAll(err.Error(), "\n", "; "), now)
	}
}

// ok notes a write that worked: losses not yet reported are, once the
// last report is old enough.
func (l *losses) ok(out io.Writer, path string, now time.Time) {
	if l.writes == 0 || now.Sub(l.reported) < l.every {
		return
	}
	l.report(out, "logfile: "+path+": writing again", now)
}

// report writes what and the losses counted, and starts counting anew.
func (l *losses) report(out io.Writer, what string, now time.Time) {
	if out != nil {
		fmt.Fprintf(out, "herd: %s; %d bytes in %d writes lost since %s\n", what, l.bytes, l.writes, l.since.Format(time.RFC3339))
	}
	l.bytes, l.writes, l.reported = 0, 0, now
}
