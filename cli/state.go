package cli

import "net/url"

// envStateURL is package state's EnvURL: the store a worker's
// state.Open(ctx, "") opens. (cli does not import state, which would link
// a Redis client into herd.)
const envStateURL = "HERD_STATE_URL"

// checkStateURL checks --state's scheme; the workers' package state
// checks the rest when it opens the store.
func checkStateURL(s string) error {
	if s == "" {
		return nil
	}
	u, err := url.Parse(s)
	if err != nil {
		return usagef("--state: %w", err)
	}
	switch u.Scheme {
	case "embedded", "redis", "rediss":
		return nil
	}
	return usagef("--state must be embedded://, redis://HOST:PORT/DB or rediss://..., got %q", u.Redacted())
}
