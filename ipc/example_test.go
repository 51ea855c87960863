package ipc_test

import (
	"fmt"
	"log"

	"github.com/herdhq/herd/ipc"
)

// A channel is one end of a socket pair. Pair makes the pair: the parent
// keeps its end and passes the other to a child (proc.Cmd does this, as
// NODE_CHANNEL_FD); here both ends live in one process.
func ExampleChannel() {
	parentConn, childFile, err := ipc.Pair()
	if err != nil {
		log.Fatal(err)
	}
	parent := ipc.New(parentConn, nil)
	defer parent.Close()
	child, err := ipc.FromFile(childFile, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer child.Close()

	if err := parent.Send(map[string]string{"greeting": "hello"}); err != nil {
		log.Fatal(err)
	}
	m, err := child.Recv()
	if err != nil {
		log.Fatal(err)
	}
	var v struct{ Greeting string }
	if err := m.Decode(&v); err != nil {
		log.Fatal(err)
	}
	fmt.Println(v.Greeting, string(m.Data))
	// Output: hello {"greeting":"hello"}
}
