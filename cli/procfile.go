package cli

import (
	"bufio"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// procfileBasePort is the PORT of a Procfile's first program when herd's
// environment has no PORT, as with foreman.
const procfileBasePort = 5000

// procfileLine is a Procfile entry: NAME: COMMAND.
var procfileLine = regexp.MustCompile(`^([A-Za-z0-9_-]+):\s*(.+)$`)

// shellChars make a Procfile command run with /bin/sh -c: quotes,
// variables, redirections, pipes, globs.
const shellChars = "$`'\"\\|&;<>()*?[]{}~#=!"

// procEntry is one line of a Procfile.
type procEntry struct {
	name, command string
}

// procfilePrograms runs each entry of --procfile as a program, with the
// workers --formation gives it (1 by default, 0: not run) and PORT =
// base + 100 × its index in the file, as foreman sets it for the first
// instance of each (herd's workers of a program share its socket).
func procfilePrograms(cli *pflag.FlagSet, o *runOptions) ([]programSpec, error) {
	entries, err := readProcfile(o.Procfile)
	if err != nil {
		return nil, err
	}
	counts, err := parseFormation(o.Formation, entries)
	if err != nil {
		return nil, err
	}
	env, err := loadEnv(o.EnvFile, o.Env)
	if err != nil {
		return nil, err
	}
	var specs []programSpec
	for i, e := range entries {
		n, ok := counts[e.name]
		if !ok {
			n = counts["all"]
		}
		if n == 0 {
			continue
		}
		po := *o
		po.Command = procCommand(e.command)
		if !cli.Changed("workers") {
			po.Workers = n
		}
		port := "PORT=" + strconv.Itoa(procfileBase()+100*i)
		specs = append(specs, programSpec{name: e.name, opts: po, env: append([]string{port}, env...)})
	}
	if len(specs) == 0 {
		return nil, usagef("--formation %q runs no program", o.Formation)
	}
	return specs, nil
}

// procfileBase is herd's own PORT, else 5000, as foreman does.
func procfileBase() int {
	if p, err := strconv.Atoi(os.Getenv("PORT")); err == nil && p > 0 && p < 65536 {
		return p
	}
	return procfileBasePort
}

// readProcfile reads the entries of a Procfile; blank lines and #
// comments are skipped.
func readProcfile(path string) ([]procEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, usagef("--procfile: %w", err)
	}
	defer f.Close()
	var out []procEntry
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		m := procfileLine.FindStringSubmatch(line)
		if m == nil {
			return nil, usagef("Procfile %s line %d: want NAME: COMMAND", path, n)
		}
		for _, e := range out {
			if e.name == m[1] {
				return nil, usagef("Procfile %s line %d: program %q given twice", path, n, m[1])
			}
		}
		out = append(out, procEntry{name: m[1], command: m[2]})
	}
	if err := sc.Err(); err != nil {
		return nil, usagef("Procfile %s: %w", path, err)
	}
	if len(out) == 0 {
		return nil, usagef("Procfile %s has no entry (NAME: COMMAND)", path)
	}
	return out, nil
}

// parseFormation parses NAME=N,... (all=N for every program); every
// entry runs one worker unless it says otherwise.
func parseFormation(s string, entries []procEntry) (map[string]int, error) {
	counts := map[string]int{"all": 1}
	if s == "" {
		return counts, nil
	}
	for _, item := range strings.Split(s, ",") {
		name, num, ok := strings.Cut(strings.TrimSpace(item), "=")
		n, err := strconv.Atoi(num)
		if !ok || err != nil || n < 0 {
			return nil, usagef("--formation %q: want NAME=N,... with N a number of workers", item)
		}
		if name != "all" && !hasEntry(entries, name) {
			return nil, usagef("--formation: no program %q in the Procfile (it has %s)", name, entryNames(entries))
		}
		counts[name] = n
	}
	return counts, nil
}

func hasEntry(entries []procEntry, name string) bool {
	for _, e := range entries {
		if e.name == name {
			return true
		}
	}
	return false
}

func entryNames(entries []procEntry) string {
	names := make([]string, len(entries))
	for i, e := range entries {
		names[i] = e.name
	}
	return strings.Join(names, ", ")
}

// procCommand is the command of a Procfile entry: its words, or
// /bin/sh -c COMMAND when it needs a shell; a simple command there runs
// as "exec COMMAND", so that the worker is the program itself.
func procCommand(s string) []string {
	if !strings.ContainsAny(s, shellChars) {
		return strings.Fields(s)
	}
	first, _, _ := strings.Cut(s, " ")
	if !strings.ContainsAny(s, "&|;()`\n") && !strings.Contains(first, "=") {
		s = "exec " + s
	}
	return []string{"/bin/sh", "-c", s}
}
