package state

import (
	"fmt"
	"time"
)

// The checks every backend makes before a request leaves the process, so
// that both refuse the same things.

func checkKey(key string) error {
	if len(key) > MaxKeySize {
		return fmt.Errorf("%w: a key or channel of %d bytes (at most %d)", ErrTooLarge, len(key), MaxKeySize)
	}
	return nil
}

func checkValue(v []byte) error {
	if len(v) > MaxValueSize {
		return fmt.Errorf("%w: a value of %d bytes (at most %d)", ErrTooLarge, len(v), MaxValueSize)
	}
	return nil
}

func checkWrite(key string, value []byte, ttl time.Duration) error {
	if ttl < 0 {
		return fmt.Errorf("state: negative ttl %s", ttl)
	}
	if err := checkKey(key); err != nil {
		return err
	}
	return checkValue(value)
}

func checkCAS(key string, old, new []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if err := checkValue(old); err != nil {
		return err
	}
	return checkValue(new)
}

func checkChannels(channels []string) error {
	if len(channels) == 0 {
		return fmt.Errorf("state: subscribe: no channel")
	}
	for _, c := range channels {
		if err := checkKey(c); err != nil {
			return err
		}
	}
	return nil
}

// ttlMillis is ttl in whole milliseconds, rounded up: a TTL is never
// shortened to nothing.
func ttlMillis(ttl time.Duration) int64 {
	return int64((ttl + time.Millisecond - 1) / time.Millisecond)
}
