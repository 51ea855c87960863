package cli

import "testing"

// TestWorkerKeys: workers of two programs with the same ids get distinct
// keys, and a key is forgotten once its worker exited.
func TestWorkerKeys(t *testing.T) {
	var k workerKeys
	web, jobs := k.add("web", 1), k.add("jobs", 1)
	if web == jobs || web == 0 || jobs == 0 {
		t.Fatalf("keys of web/1 and jobs/1: %d and %d, want distinct non-zero", web, jobs)
	}
	if got := k.get("web", 1, false); got != web {
		t.Fatalf("get web/1 = %d, want %d", got, web)
	}
	if got := k.get("jobs", 1, true); got != jobs {
		t.Fatalf("get jobs/1 (done) = %d, want %d", got, jobs)
	}
	if got := k.get("jobs", 1, false); got != 0 {
		t.Fatalf("jobs/1 after its exit = %d, want 0", got)
	}
	if again := k.add("jobs", 1); again == jobs || again == web {
		t.Fatalf("a restarted jobs/1 reuses key %d", again)
	}
}
