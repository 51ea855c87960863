package cli

import "sync"

// workerKeys numbers the workers of every program of a herd for the
// keeper of their descendants, which needs ids unique across programs
// (each program's cluster numbers its workers from 1). The programs'
// loops call it concurrently.
type workerKeys struct {
	mu   sync.Mutex
	last int
	keys map[workerKey]int
}

type workerKey struct {
	program string
	id      int
}

// add gives program's worker id a new key and returns it.
func (k *workerKeys) add(program string, id int) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.keys == nil {
		k.keys = map[workerKey]int{}
	}
	k.last++
	k.keys[workerKey{program, id}] = k.last
	return k.last
}

// get returns the key of program's worker id, or 0 when it has none;
// done forgets it (the worker exited).
func (k *workerKeys) get(program string, id int, done bool) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	key := k.keys[workerKey{program, id}]
	if done {
		delete(k.keys, workerKey{program, id})
	}
	return key
}
