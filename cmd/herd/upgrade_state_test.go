package main_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/herdhq/herd/internal/testutil"
	"github.com/herdhq/herd/state"
)

// helperStateKV is a Go worker that sets and gets keys of the embedded
// store: /set?k=K&v=V&ttl=D sets K (D: a time.Duration, empty: none),
// /get?k=K answers its value, or 404.
func helperStateKV() {
	serveWithStore(func(st state.Store) http.Handler {
		mux := http.NewServeMux()
		mux.HandleFunc("/set", func(w http.ResponseWriter, r *http.Request) {
			ttl, _ := time.ParseDuration(r.FormValue("ttl"))
			if err := st.Set(r.Context(), r.FormValue("k"), []byte(r.FormValue("v")), ttl); err != nil {
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
			}
		})
		mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
			v, err := st.Get(r.Context(), r.FormValue("k"))
			switch {
			case errors.Is(err, state.ErrNotFound):
				http.NotFound(w, r)
			case err != nil:
				http.Error(w, err.Error(), http.StatusServiceUnavailable)
			default:
				w.Write(v)
			}
		})
		return mux
	})
}

// getKey asks a worker for key: its value, or found false (404).
func getKey(t *testing.T, u, key string) (val string, found bool) {
	t.Helper()
	resp, err := http.Get(u + "/get?k=" + key)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b := make([]byte, 256)
	n, _ := resp.Body.Read(b)
	switch resp.StatusCode {
	case http.StatusOK:
		return string(b[:n]), true
	case http.StatusNotFound:
		return "", false
	}
	t.Fatalf("get %s: %s %s", key, resp.Status, b[:n])
	return "", false
}

// TestUpgradeKeepsState: keys a worker of the old herd set are read back
// by a worker of the new one, and a key's TTL keeps counting down from
// where it was: it is neither lost nor reset by the upgrade. (Without the
// hand-over both keys are gone after it; with a TTL reset at the upgrade,
// the key outlives its deadline by the 1.5 s the test waits before it.)
func TestUpgradeKeepsState(t *testing.T) {
	testutil.CheckFDs(t)
	env := []string{testutil.EnvHelper + "=statekv", "HERD_TEST_ADDR=127.0.0.1:0"}
	h := startHerd(t, env, "-n", "1", "-l", "127.0.0.1:0", "--", testBinary(t))
	stopUpgraded(t, h)
	u := url(t, h.waitWorkers(1))
	const ttl = 6 * time.Second
	set := time.Now()
	mustGet(t, u+"/set?k=plain&v=kept")
	mustGet(t, u+"/set?k=timed&v=counting&ttl="+ttl.String())
	time.Sleep(1500 * time.Millisecond) // a reset TTL would end 1.5 s later than the true one
	upgraded := time.Now()
	upgradeHerd(t, h, 1)
	if v, ok := getKey(t, u, "plain"); v != "kept" {
		t.Fatalf("after the upgrade, plain = %q (found %v), want \"kept\"", v, ok)
	}
	if v, ok := getKey(t, u, "timed"); v != "counting" && time.Since(set) < ttl {
		t.Fatalf("after the upgrade and before its TTL, timed = %q (found %v)", v, ok)
	}
	for time.Since(set) < ttl {
		time.Sleep(50 * time.Millisecond)
	}
	for asked := time.Now(); ; asked = time.Now() {
		if _, ok := getKey(t, u, "timed"); !ok {
			break
		}
		if asked.After(upgraded.Add(ttl)) {
			t.Fatalf("timed was still there %s after it was set with a TTL of %s", asked.Sub(set), ttl)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
