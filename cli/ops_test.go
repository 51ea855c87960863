package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// TestOpsFlagsAndConfig: the operating settings come from flags or from
// the config file, with the documented defaults, and reach the cluster.
func TestOpsFlagsAndConfig(t *testing.T) {
	fs := pflag.NewFlagSet("run", pflag.ContinueOnError)
	o := &runOptions{}
	o.addRunFlags(fs)
	if o.LogMaxSize != 10<<20 || o.LogMaxFiles != 5 || o.HeartbeatTimeout != 30*time.Second || o.MaxMemory != 0 ||
		o.MaxMessage != 1<<20 {
		t.Fatalf("defaults: %+v", o.opsOptions)
	}
	if err := fs.Parse([]string{"--max-memory", "300MB", "--log-max-files", "7"}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "herd.yaml")
	os.WriteFile(path, []byte("max-memory: 1GB\nlog-file: /var/log/app.log\nlog-max-size: 512KB\nheartbeat-timeout: 10s\nmetrics: 127.0.0.1:9100\nmax-message: 4MB\n"), 0o600)
	if err := applyConfig(fs, o, path); err != nil {
		t.Fatal(err)
	}
	want := opsOptions{Metrics: "127.0.0.1:9100", LogFile: "/var/log/app.log", LogMaxSize: 512 << 10, LogMaxFiles: 7,
		MaxMemory: 300 << 20, MaxMessage: 4 << 20, HeartbeatTimeout: 10 * time.Second, LogMessages: defaultMessageLogRate}
	if o.opsOptions != want {
		t.Fatalf("settings %+v, want %+v (flags win over the file)", o.opsOptions, want)
	}
	cfg := o.clusterConfig(nil)
	if cfg.MaxMemory != 300<<20 || cfg.HeartbeatTimeout != 10*time.Second || cfg.MaxMessage != 4<<20 {
		t.Fatalf("cluster config: max memory %d, heartbeat timeout %s, max message %d", cfg.MaxMemory, cfg.HeartbeatTimeout, cfg.MaxMessage)
	}
}

func TestOpsValidation(t *testing.T) {
	for _, c := range []struct {
		o    opsOptions
		want string
	}{
		{opsOptions{LogFile: "x", LogMaxSize: 100, LogMaxFiles: 5}, "--log-max-size"},
		{opsOptions{LogFile: "x", LogMaxSize: 1 << 20}, "--log-max-files"},
		{opsOptions{HeartbeatTimeout: -time.Second}, "--heartbeat-timeout"},
		{opsOptions{MaxMessage: 100}, "--max-message"},
		{opsOptions{MaxMessage: 2 << 30}, "--max-message"},
	} {
		err := c.o.validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("validate(%+v) = %v, want an error about %s", c.o, err, c.want)
		}
	}
	if err := (&opsOptions{}).validate(); err != nil {
		t.Errorf("no log file, no limits: %v", err)
	}
	var b byteSize
	if err := b.Set("lots"); err == nil {
		t.Error("--max-memory lots was accepted")
	}
}
