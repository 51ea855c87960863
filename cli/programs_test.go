package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Bad programs, Procfiles, formations and env files are usage errors
// (exit status 2) that name the file, the line and the key, before herd
// starts anything.
func TestProgramsBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	envBad := write("bad.env", "# fine\nGOOD=1\nnot a pair\n")
	procfile := write("Procfile", "web: sleep 1\n")
	for _, c := range []struct {
		name   string
		args   []string
		config string
		want   []string
	}{
		{"unknown key", nil, "programs:\n  web: {command: [sleep, '1'], bogus: 1}\n", []string{"line 2", "bogus", "unknown key"}},
		{"duplicate program", nil, "programs:\n  web: {command: [sleep, '1']}\n  web: {command: [sleep, '2']}\n", []string{"line 3", `"web"`, "given twice"}},
		{"no command", nil, "programs:\n  web: {command: [sleep, '1']}\n  jobs: {workers: 2}\n", []string{"line 3", `"jobs"`, "no command"}},
		{"bad program name", nil, "programs:\n  'a b': {command: [sleep, '1']}\n", []string{"line 2", `"a b"`, "bad name"}},
		{"herd-wide key in a program", nil, "programs:\n  web: {command: [sleep, '1'], metrics: ':0'}\n", []string{"line 2", "metrics", "whole herd"}},
		{"programs and command", []string{"--", "sleep", "1"}, "programs:\n  web: {command: [sleep, '1']}\n", []string{"programs, or a command"}},
		{"bad program setting", nil, "programs:\n  web: {command: [sleep, '1'], workers: 0}\n", []string{"program web", "--workers must be at least 1"}},
		{"bad env-file line", nil, "env-file: bad.env\ncommand: [sleep, '1']\n", []string{envBad, "line 3", `key "not a pair"`}},
		{"bad program env-file", nil, "programs:\n  web: {command: [sleep, '1'], env-file: bad.env}\n", []string{envBad, "line 3"}},
		{"bad --env", []string{"--env", "NOEQUALS", "--", "sleep", "1"}, "", []string{`--env "NOEQUALS"`}},
		{"formation of a missing program", []string{"--procfile", procfile, "--formation", "web=2,nope=1"}, "", []string{`no program "nope"`, "web"}},
		{"formation without Procfile", []string{"--formation", "web=2", "--", "sleep", "1"}, "", []string{"--formation needs --procfile"}},
		{"bad Procfile line", []string{"--procfile", write("Procfile.bad", "web: sleep 1\njust words\n")}, "", []string{"Procfile.bad line 2", "NAME: COMMAND"}},
		{"missing cwd", []string{"--cwd", filepath.Join(dir, "none"), "--", "sleep", "1"}, "", []string{"--cwd", "not a directory"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := []string{"run", "--control", filepath.Join(dir, "never.sock")}
			if c.config != "" {
				args = append(args, "-c", write("herd.yaml", c.config))
			}
			var out, errb bytes.Buffer
			code := runRoot(context.Background(), Build{Version: "test"}, append(args, c.args...), &out, &errb)
			if code != ExitUsage {
				t.Fatalf("exit %d, want %d\n%s", code, ExitUsage, errb.String())
			}
			for _, w := range c.want {
				if !strings.Contains(errb.String(), w) {
					t.Errorf("no %q in %q", w, errb.String())
				}
			}
		})
	}
}

// A herd with no --name is named after its program.
func TestCommandName(t *testing.T) {
	for _, c := range []struct {
		cmd  []string
		want string
	}{
		{[]string{"node", "app.js"}, "app"},
		{[]string{"python3", "-u", "jobs.py"}, "jobs"},
		{[]string{"./server"}, "server"},
		{[]string{"/usr/bin/python3.12", "/srv/worker.py"}, "worker"},
		{[]string{"gunicorn", "--bind", "fd://3", "app:app"}, "gunicorn"},
		{[]string{"./.hidden"}, "hidden"},
		{[]string{"node"}, "node"},
	} {
		if got := commandName(c.cmd); got != c.want {
			t.Errorf("commandName(%q) = %q, want %q", c.cmd, got, c.want)
		}
	}
}

// Env files: comments, blank lines, export, quotes; the later of a key
// wins (--env after the file).
func TestLoadEnv(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".env")
	content := "# comment\n\nA=1\nexport B = two words \nC='single $x'\nD=\"dq\\n\"\nE=\n"
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := loadEnv(path, []string{"A=3"})
	want := []string{"A=1", "B=two words", "C=single $x", "D=dq\n", "E=", "A=3"}
	if err != nil || strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("loadEnv: %q, %v; want %q", got, err, want)
	}
}

// Procfile commands run as their words, or through sh when they need it.
func TestProcCommand(t *testing.T) {
	for in, want := range map[string]string{
		"python3 app.py -w 2":          "python3|app.py|-w|2",
		"bundle exec rails s -p $PORT": "/bin/sh|-c|exec bundle exec rails s -p $PORT",
		"echo hi && exec sleep 1":      "/bin/sh|-c|echo hi && exec sleep 1",
		"FOO=bar ./worker":             "/bin/sh|-c|FOO=bar ./worker",
		`node server.js --name "a b"`:  `/bin/sh|-c|exec node server.js --name "a b"`,
	} {
		if got := strings.Join(procCommand(in), "|"); got != want {
			t.Errorf("procCommand(%q) = %q, want %q", in, got, want)
		}
	}
}

// herd logs --program keeps a program's worker lines (timed or not, text
// or JSON) and herd's lines about it.
func TestLogsProgramFilter(t *testing.T) {
	o := &logsOptions{program: "web", multi: true, worker: 2}
	keep := o.filter()
	for line, want := range map[string]bool{
		"[web.2:100] hi": true,
		"2025-06-01T09:30:12.418Z [web.2:100] hi": true,
		"[web.1:101] hi":  false,
		"[jobs.2:102] hi": false,
		`{"time":"x","program":"web","worker":2,"pid":100}`:        true,
		`{"time":"x","program":"jobs","worker":2,"pid":102}`:       false,
		"time=x level=INFO msg=exit program=web worker=2 pid=100":  true,
		"time=x level=INFO msg=exit program=webx worker=2 pid=100": false,
	} {
		if got := keep([]byte(line)); got != want {
			t.Errorf("%q: kept %v, want %v", line, got, want)
		}
	}
}
