//go:build race

package testutil

// Race reports whether the race detector is on (go test -race).
const Race = true
