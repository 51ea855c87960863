package testutil

import (
	"fmt"
	"strings"
)

// Unit is a parsed systemd unit file: "Section.Key" to its values, in
// order. Command lines (Exec*) are their words joined by NUL, with
// systemd's quoting undone.
type Unit map[string][]string

// ParseUnit parses a unit file as herd systemd writes them: comments,
// [Section] lines and Key=Value lines; %% in values is %.
func ParseUnit(text string) (Unit, error) {
	u, section := Unit{}, ""
	for _, line := range strings.Split(text, "\n") {
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				return nil, fmt.Errorf("bad unit line %q", line)
			}
			if strings.HasPrefix(k, "Exec") {
				words, err := SplitExec(v)
				if err != nil {
					return nil, fmt.Errorf("%s: %w", k, err)
				}
				v = strings.Join(words, "\x00")
			} else {
				v = strings.ReplaceAll(v, "%%", "%")
			}
			u[section+"."+k] = append(u[section+"."+k], v)
		}
	}
	return u, nil
}

// SplitExec splits a command line as systemd.service(5) says: words
// apart by blanks, double-quoted ones with C escapes, $$ for $ and %%
// for %. %t is left as it is; any other $ or % is an error (systemd would
// expand it).
func SplitExec(line string) ([]string, error) {
	var words []string
	for line = strings.TrimLeft(line, " "); line != ""; line = strings.TrimLeft(line, " ") {
		var w string
		if line[0] == '"' {
			var err error
			if w, line, err = unquoteC(line[1:]); err != nil {
				return nil, err
			}
		} else {
			end := strings.IndexByte(line, ' ')
			if end < 0 {
				end = len(line)
			}
			w, line = line[:end], line[end:]
		}
		if rest := strings.NewReplacer("$$", "", "%%", "", "%t", "").Replace(w); strings.ContainsAny(rest, "$%") {
			return nil, fmt.Errorf("systemd would expand a variable or specifier in %q", w)
		}
		words = append(words, strings.NewReplacer("$$", "$", "%%", "%").Replace(w))
	}
	return words, nil
}

// unquoteC reads a double-quoted word up to its closing quote.
func unquoteC(s string) (word, rest string, err error) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			return b.String(), s[i+1:], nil
		case c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(cUnescape(s[i]))
		default:
			b.WriteByte(c)
		}
	}
	return "", "", fmt.Errorf("unterminated quote in %q", s)
}

// cUnescape is the byte a C escape \c stands for.
func cUnescape(c byte) byte {
	switch c {
	case 'n':
		return '\n'
	case 't':
		return '\t'
	case 'r':
		return '\r'
	}
	return c
}

// Get is the one value of key, or an error.
func (u Unit) Get(key string) (string, error) {
	if len(u[key]) != 1 {
		return "", fmt.Errorf("%s: %d values %q, want one", key, len(u[key]), u[key])
	}
	return u[key][0], nil
}
