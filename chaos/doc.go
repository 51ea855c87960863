// Package chaos holds herd's chaos suite: tests, behind the build tag
// chaos, that drive the real herd binary with Go workers under a steady,
// bounded load and break things on purpose: SIGKILL of random workers
// every 200 ms, rolling reloads in a row, SIGKILL of herd itself, a worker
// that crashes at start, workers that flood their IPC channel with
// garbage, huge lines or descriptors without an envelope. After all of
// it, herd's fd and goroutine counts must be back where they started.
//
//	go test -tags chaos -v ./chaos/                      # full: about 1 minute
//	HERD_CHAOS_SHORT=1 go test -tags chaos ./chaos/      # CI settings: about 20 s
//
// Each test logs its figures (load held, faults injected, what was lost);
// with HERD_CHAOS_REPORT=FILE they are also appended to FILE as
// markdown. docs/reliability.md reports a full run.
package chaos
