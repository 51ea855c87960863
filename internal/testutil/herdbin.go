package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// BuildHerd builds the herd binary into a new temporary directory that
// every user can enter (tests run its client as nobody), static as the
// README builds it or with the race detector (which needs cgo), and
// returns its path and how to remove it.
func BuildHerd(race bool) (bin string, remove func(), err error) {
	dir, err := os.MkdirTemp("", "herd-bin-")
	if err != nil {
		return "", nil, err
	}
	remove = func() { os.RemoveAll(dir) }
	if err := os.Chmod(dir, 0o755); err != nil {
		remove()
		return "", nil, err
	}
	bin = filepath.Join(dir, "herd")
	args := []string{"build", "-o", bin}
	if race {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, "github.com/herdhq/herd/cmd/herd")...)
	if !race {
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		remove()
		return "", nil, fmt.Errorf("go build herd: %v\n%s", err, out)
	}
	return bin, remove, nil
}
