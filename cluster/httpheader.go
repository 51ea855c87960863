package cluster

import "bytes"

// findHeader looks for the header name (lower case, without the colon)
// in the request head at the start of b. It returns the header's value
// (for a list such as X-Forwarded-For, its first element: the client)
// and found; end means the head ended (a blank line) without it. With
// neither, b holds no complete answer yet.
func findHeader(b, name []byte) (value []byte, found, end bool) {
	i := bytes.IndexByte(b, '\n') // skip the request line
	for i >= 0 {
		b = b[i+1:]
		i = bytes.IndexByte(b, '\n')
		if i < 0 {
			return nil, false, false
		}
		line := bytes.TrimRight(b[:i], "\r")
		if len(line) == 0 {
			return nil, false, true
		}
		if v, ok := headerValue(line, name); ok {
			return v, true, false
		}
	}
	return nil, false, false
}

// headerValue returns line's value if it is header name.
func headerValue(line, name []byte) ([]byte, bool) {
	colon := bytes.IndexByte(line, ':')
	if colon < 0 || !bytes.EqualFold(bytes.TrimRight(line[:colon], " \t"), name) {
		return nil, false
	}
	v := line[colon+1:]
	if c := bytes.IndexByte(v, ','); c >= 0 {
		v = v[:c]
	}
	return bytes.TrimSpace(v), true
}
