package cli

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// writeTable prints the heading and a plain table of the workers.
func (m *topModel) writeTable(w io.Writer) error {
	for _, l := range m.heading() {
		fmt.Fprintln(w, l)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(topHeader, "\t"))
	for _, r := range m.rows {
		fmt.Fprintln(tw, strings.Join(m.cells(r), "\t"))
	}
	return tw.Flush()
}
