package cli

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/pflag"
	"go.yaml.in/yaml/v3"
)

// The config file keys that are no flags.
const (
	keyCommand  = "command"  // the program and its arguments
	keyPrograms = "programs" // NAME: {settings} for each program
)

// pathKeys are the keys whose relative paths are relative to the config
// file's directory, not to herd's working directory.
var pathKeys = map[string]bool{"cwd": true, "env-file": true, "procfile": true}

// applyConfig reads the YAML file at path and applies each setting whose
// flag the command line did not set: the keys are the flags' long names,
// plus command (a list: the program and its arguments).
func applyConfig(fs *pflag.FlagSet, o *runOptions, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return usagef("config: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return usagef("config %s: %w", path, err)
	}
	if len(doc.Content) == 0 {
		return nil // an empty file
	}
	m := doc.Content[0]
	if m.Kind != yaml.MappingNode {
		return usagef("config %s line %d: want settings as key: value", path, m.Line)
	}
	o.configDir = filepath.Dir(path)
	return eachKey(path, m, func(key string, v *yaml.Node) error {
		if key == keyPrograms {
			return keepPrograms(o, v)
		}
		return applyKey(fs, o, key, v)
	})
}

// eachKey calls f with each key of the mapping m, and says where a key
// f refuses (or a repeated one) is.
func eachKey(path string, m *yaml.Node, f func(key string, v *yaml.Node) error) error {
	seen := map[string]bool{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		err := f(k.Value, v)
		if seen[k.Value] {
			err = errors.New("given twice")
		}
		seen[k.Value] = true
		if err != nil {
			return usagef("config %s line %d: %s: %w", path, k.Line, k.Value, err)
		}
	}
	return nil
}

// keepPrograms keeps the programs mapping for resolvePrograms.
func keepPrograms(o *runOptions, v *yaml.Node) error {
	if v.Kind != yaml.MappingNode || len(v.Content) == 0 {
		return errors.New("want NAME: {command: [...], ...} for each program")
	}
	o.programs = v
	return nil
}

func applyKey(fs *pflag.FlagSet, o *runOptions, key string, v *yaml.Node) error {
	if key == keyCommand {
		return applyCommand(o, v)
	}
	f := fs.Lookup(key)
	if f == nil || key == "config" || key == "help" {
		return fmt.Errorf("unknown key (want one of %s)", strings.Join(configKeys(fs), ", "))
	}
	if f.Changed {
		return nil // the flag wins
	}
	values, err := configValues(key, f.Value.Type() == "stringArray", v) // listen, env, watch, watch-ignore
	if err != nil {
		return err
	}
	for _, s := range values {
		if pathKeys[key] && s != "" && !filepath.IsAbs(s) {
			s = filepath.Join(o.configDir, s)
		}
		if err := f.Value.Set(s); err != nil {
			return fmt.Errorf("bad value %q: %w", s, err)
		}
	}
	return nil
}

// configValues are the values of key: one, a list for listen, or KEY:
// VALUE pairs (or KEY=VALUE items) for env.
func configValues(key string, list bool, v *yaml.Node) ([]string, error) {
	if key != "env" {
		return scalars(v, list)
	}
	if v.Kind != yaml.MappingNode {
		return scalars(v, true)
	}
	var out []string
	for i := 0; i+1 < len(v.Content); i += 2 {
		k, val := v.Content[i], v.Content[i+1]
		if val.Kind != yaml.ScalarNode {
			return nil, fmt.Errorf("line %d: %s: want a plain value", val.Line, k.Value)
		}
		out = append(out, k.Value+"="+val.Value)
	}
	return out, nil
}

// applyCommand sets the command, unless the command line gave one.
func applyCommand(o *runOptions, v *yaml.Node) error {
	if len(o.Command) > 0 {
		return nil
	}
	cmd, err := scalars(v, true)
	if err != nil {
		return err
	}
	if v.Kind != yaml.SequenceNode || len(cmd) == 0 {
		return errors.New("want a list: the program and its arguments, as [python3, app.py]")
	}
	o.Command = cmd
	return nil
}

// scalars returns a scalar's value, or a list's values when list is true.
func scalars(v *yaml.Node, list bool) ([]string, error) {
	switch {
	case v.Kind == yaml.ScalarNode:
		return []string{v.Value}, nil
	case v.Kind == yaml.SequenceNode && list:
		out := make([]string, 0, len(v.Content))
		for _, c := range v.Content {
			if c.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: want a plain value", c.Line)
			}
			out = append(out, c.Value)
		}
		return out, nil
	}
	return nil, errors.New("want a plain value")
}

// configKeys lists the keys a config file may have.
func configKeys(fs *pflag.FlagSet) []string {
	keys := []string{keyCommand, keyPrograms}
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Name != "config" && f.Name != "help" {
			keys = append(keys, f.Name)
		}
	})
	sort.Strings(keys)
	return keys
}
