// Package control is how the herd command steers a running herd: a Unix
// socket, mode 0600 in a directory only its user can enter, that takes one
// JSON request per connection and answers one JSON response, each a line.
//
// The server refuses a peer of another uid (SO_PEERCRED; LOCAL_PEERCRED
// on macOS and FreeBSD), whatever the file's mode says; nothing listens
// on TCP. Whatever clients send, it holds at most MaxConns connections
// (one more is answered busy and closed; Call retries it), each request
// a line of at most MaxRequest bytes sent within RequestTimeout.
//
//	→ {"cmd":"scale","n":4}
//	← {"ok":true}
package control
