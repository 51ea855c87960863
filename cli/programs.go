package cli

import (
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// programSpec is one program of a herd run: its name and its settings.
type programSpec struct {
	name string
	opts runOptions // the herd's settings, with the program's own over them
	env  []string   // KEY=VALUE for its workers, env files first (the last of a key wins)
}

// herdWideKeys are the settings of the whole herd, which a program cannot
// set for itself.
var herdWideKeys = map[string]bool{
	"name": true, "control": true, "config": true, "log-format": true, "log-file": true, "log-max-size": true,
	"log-max-files": true, "metrics": true, "log-time": true, "procfile": true, "formation": true,
	keyPrograms: true,
}

// programName is what a program may be called: it prefixes its workers'
// output lines ([web.1:PID]) and names it in commands.
var programName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// resolvePrograms turns the merged settings into the programs to run:
// the config file's programs, the Procfile's entries, or the one command.
// It names the herd when no --name (or config name) did.
func resolvePrograms(fs *pflag.FlagSet, o *runOptions) ([]programSpec, error) {
	var specs []programSpec
	var err error
	switch {
	case o.programs != nil && (o.Procfile != "" || len(o.Command) > 0):
		return nil, usagef("config %s: give programs, or a command, or --procfile, not several", o.Config)
	case o.Procfile != "" && len(o.Command) > 0:
		return nil, usagef("--procfile: give a Procfile or a command, not both")
	case o.Formation != "" && o.Procfile == "":
		return nil, usagef("--formation needs --procfile")
	case o.programs != nil:
		specs, err = configPrograms(fs, o)
	case o.Procfile != "":
		specs, err = procfilePrograms(fs, o)
	default:
		specs, err = commandProgram(o)
	}
	if err != nil {
		return nil, err
	}
	if o.Name == "" {
		o.Name = defaultHerdName(o, specs)
	}
	return specs, nil
}

// commandProgram is the one program of herd run -- COMMAND.
func commandProgram(o *runOptions) ([]programSpec, error) {
	if len(o.Command) == 0 {
		return nil, usagef("no command to run: herd run [flags] -- COMMAND [ARG...] (or -c FILE, --procfile FILE)")
	}
	env, err := loadEnv(o.EnvFile, o.Env)
	if err != nil {
		return nil, err
	}
	return []programSpec{{name: commandName(o.Command), opts: *o, env: env}}, nil
}

// configPrograms reads the config file's programs mapping.
func configPrograms(cli *pflag.FlagSet, o *runOptions) ([]programSpec, error) {
	var specs []programSpec
	m := o.programs
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		where := fmt.Sprintf("config %s line %d: program %q", o.Config, k.Line, k.Value)
		if err := checkProgramName(k.Value, specs); err != nil {
			return nil, usagef("%s: %w", where, err)
		}
		if v.Kind != yaml.MappingNode {
			return nil, usagef("%s: want settings as key: value, with command: [...]", where)
		}
		spec, err := configProgram(cli, o, k.Value, v)
		if err != nil {
			return nil, err
		}
		if len(spec.opts.Command) == 0 {
			return nil, usagef("%s has no command (command: [program, args...])", where)
		}
		specs = append(specs, spec)
	}
	return specs, nil
}

// checkProgramName refuses a bad name, or one already taken.
func checkProgramName(name string, specs []programSpec) error {
	if !programName.MatchString(name) {
		return errors.New("bad name: want letters, digits, - and _")
	}
	for _, s := range specs {
		if s.name == name {
			return errors.New("given twice")
		}
	}
	return nil
}

// configProgram applies a program's own settings over the herd's; flags
// of the command line still win.
func configProgram(cli *pflag.FlagSet, top *runOptions, name string, m *yaml.Node) (programSpec, error) {
	po := &runOptions{}
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	po.addRunFlags(fs)
	*po = *top // the flags of fs now hold the herd's values
	po.Command, po.Env, po.EnvFile = nil, nil, ""
	err := eachKey(top.Config, m, func(key string, v *yaml.Node) error {
		switch {
		case herdWideKeys[key]:
			return errors.New("a setting of the whole herd: set it at the top of the file")
		case key != keyCommand && cli.Lookup(key) != nil && cli.Lookup(key).Changed:
			return nil // the flag wins
		}
		return applyKey(fs, po, key, v)
	})
	if err != nil {
		return programSpec{}, err
	}
	env, err := loadEnv(top.EnvFile, top.Env)
	if err != nil {
		return programSpec{}, err
	}
	own, err := loadEnv(po.EnvFile, po.Env)
	if err != nil {
		return programSpec{}, err
	}
	return programSpec{name: name, opts: *po, env: append(env, own...)}, nil
}

// interpreters run a script named by their first argument, which then
// names the program (node app.js is app).
var interpreters = map[string]bool{"python": true, "python2": true, "python3": true, "ruby": true,
	"perl": true, "php": true, "sh": true, "bash": true, "dash": true, "node": true, "nodejs": true}

// commandName names a program after its command: node app.js → app,
// python3 jobs.py → jobs, ./server → server.
func commandName(cmd []string) string {
	base := filepath.Base(cmd[0])
	if interpreters[base] || strings.HasPrefix(base, "python3.") {
		for _, a := range cmd[1:] {
			if !strings.HasPrefix(a, "-") {
				base = filepath.Base(a)
				break
			}
		}
	}
	if stem := strings.TrimSuffix(base, filepath.Ext(base)); stem != "" {
		base = stem
	}
	return cleanName(base)
}

// cleanName makes s a program and herd name: other characters than
// letters, digits, - and _ become -; "herd" when nothing is left.
func cleanName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '-'
		}
	}
	s = strings.Trim(string(b), "-")
	if len(s) > 64 {
		s = s[:64]
	}
	if s == "" {
		return "herd"
	}
	return s
}

// defaultHerdName names a herd that has no --name: after its one
// program, else after the directory of its config file or Procfile.
func defaultHerdName(o *runOptions, specs []programSpec) string {
	switch {
	case len(specs) == 1:
		return specs[0].name
	case o.Procfile != "":
		return dirName(o.Procfile)
	}
	return dirName(o.Config)
}

// dirName is the name of the directory that holds path.
func dirName(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "herd"
	}
	return cleanName(filepath.Base(filepath.Dir(abs)))
}
