package proc_test

import (
	"fmt"
	"log"

	"github.com/herdhq/herd/proc"
)

// Command starts a child with an IPC channel, as Node's child_process.fork
// does: an unmodified Node program talks on it with process.send and
// process.on('message').
func ExampleCommand() {
	cmd := proc.Command("node", "-e",
		`process.on('message', m => { process.send({echo: m}); process.disconnect() })`)
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	if err := cmd.Channel().Send("ping"); err != nil {
		log.Fatal(err)
	}
	m, err := cmd.Channel().Recv()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(m.Data))
	if err := cmd.Wait(); err != nil {
		log.Fatal(err)
	}
	// Output: {"echo":"ping"}
}
