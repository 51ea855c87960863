package main

import "strings"

// foreignSections returns the "## " sections of old whose titles the
// generated report does not have: the sections other benchmarks write
// into the same file (IPC, shared state, soak), kept across runs.
func foreignSections(old, generated string) string {
	own := map[string]bool{}
	for _, s := range sections(generated) {
		own[s.title] = true
	}
	var b strings.Builder
	for _, s := range sections(old) {
		if !own[s.title] {
			b.WriteString("\n" + strings.TrimRight(s.body, "\n") + "\n")
		}
	}
	return b.String()
}

type section struct{ title, body string }

// sections splits markdown at its "## " headings; text before the first
// heading is not a section.
func sections(md string) []section {
	var out []section
	inCode := false
	for _, line := range strings.SplitAfter(md, "\n") {
		if strings.HasPrefix(line, "```") {
			inCode = !inCode
		}
		if !inCode && strings.HasPrefix(line, "## ") {
			out = append(out, section{title: strings.TrimSpace(line)})
		}
		if len(out) > 0 {
			out[len(out)-1].body += line
		}
	}
	return out
}
