package state_test

import (
	"context"
	"fmt"
	"log"

	"github.com/herdhq/herd/state"
)

// Open with "embedded://" reaches the store the cluster's primary holds;
// outside a cluster worker, as here, it is a store in this process, so the
// same code runs alone.
func ExampleOpen() {
	ctx := context.Background()
	st, err := state.Open(ctx, "embedded://")
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()

	if err := st.Set(ctx, "greeting", []byte("hello"), 0); err != nil {
		log.Fatal(err)
	}
	v, err := st.Get(ctx, "greeting")
	if err != nil {
		log.Fatal(err)
	}
	n, err := st.Incr(ctx, "visits", 2)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(string(v), n)
	// Output: hello 2
}
