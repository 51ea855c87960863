// Package cli is the herd command: run any program as a supervised
// cluster of worker processes (herd run), steer a running herd through
// its control socket (status, reload, scale, stop), and show it off (herd
// demo). cmd/herd only calls Main.
package cli
