package cli

import "strings"

// Quoting for systemd unit files (systemd.syntax(7), systemd.service(5)
// "Command lines"): specifiers are written %%; in command lines, $ is
// written $$ (else it expands a variable), and a word with blanks,
// quotes, backslashes or a lone ; is double-quoted with C escapes.

// execLine is a command line of words, each quoted as needed.
func execLine(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = quoteExecArg(w)
	}
	return strings.Join(q, " ")
}

// quoteExecArg is one word of a command line.
func quoteExecArg(w string) string {
	w = strings.ReplaceAll(escapeSpecifiers(w), "$", "$$")
	if w != "" && w != ";" && !strings.ContainsAny(w, " \t\n\r\"'\\") {
		return w
	}
	return cQuote(w)
}

// quoteValue is a value of a key that takes quoted words but no
// variables (Environment=).
func quoteValue(v string) string { return cQuote(escapeSpecifiers(v)) }

// escapeSpecifiers writes each % as %%.
func escapeSpecifiers(s string) string { return strings.ReplaceAll(s, "%", "%%") }

// cQuote double-quotes s with C escapes for \, ", and control characters.
func cQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\t", `\t`, "\r", `\r`)
	return `"` + r.Replace(s) + `"`
}
