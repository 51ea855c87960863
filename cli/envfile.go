package cli

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// maxEnvFile bounds an env file: it is read whole, once, at start.
const maxEnvFile = 1 << 20

// envKey is what an environment variable may be called.
var envKey = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// loadEnv returns the KEY=VALUE lines of the env file at path (if any),
// then env (--env, env:), checked: the later of a key wins.
func loadEnv(path string, env []string) ([]string, error) {
	var out []string
	if path != "" {
		var err error
		if out, err = readEnvFile(path); err != nil {
			return nil, err
		}
	}
	for _, kv := range env {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || !envKey.MatchString(k) {
			return nil, usagef("--env %q: want KEY=VALUE, KEY of letters, digits and _", kv)
		}
		out = append(out, kv)
	}
	return out, nil
}

// readEnvFile parses an env file: KEY=VALUE lines, blank lines and #
// comments, an optional "export " before KEY, and VALUE optionally in
// single quotes (kept as is) or double quotes (\n, \" and \\ escapes).
func readEnvFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, usagef("env file: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > maxEnvFile {
		return nil, usagef("env file %s: larger than 1 MiB", path)
	}
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), maxEnvFile)
	for n := 1; sc.Scan(); n++ {
		kv, err := envLine(sc.Text())
		if err != nil {
			return nil, usagef("env file %s line %d: %w", path, n, err)
		}
		if kv != "" {
			out = append(out, kv)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, usagef("env file %s: %w", path, err)
	}
	return out, nil
}

// envLine parses one line of an env file: "" for a blank or comment line.
func envLine(line string) (string, error) {
	t := strings.TrimSpace(line)
	if t == "" || strings.HasPrefix(t, "#") {
		return "", nil
	}
	t = strings.TrimPrefix(t, "export ")
	k, v, ok := strings.Cut(t, "=")
	k = strings.TrimSpace(k)
	if !ok || !envKey.MatchString(k) {
		return "", fmt.Errorf("key %q: want KEY=VALUE, KEY of letters, digits and _", k)
	}
	v, err := envValue(strings.TrimSpace(v))
	if err != nil {
		return "", fmt.Errorf("key %s: %w", k, err)
	}
	return k + "=" + v, nil
}

// envValue unquotes a value in quotes.
func envValue(v string) (string, error) {
	switch {
	case len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'':
		return v[1 : len(v)-1], nil
	case len(v) >= 1 && v[0] == '"':
		s, err := strconv.Unquote(v)
		if err != nil {
			return "", fmt.Errorf("bad double-quoted value %s", v)
		}
		return s, nil
	case strings.HasPrefix(v, "'"):
		return "", fmt.Errorf("unterminated single quote in %s", v)
	}
	return v, nil
}
