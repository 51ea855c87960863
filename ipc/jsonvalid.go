package ipc

import (
	"encoding/binary"
	"encoding/json"
	"math/bits"
)

// validJSON reports whether data is one JSON value, exactly as json.Valid
// does. The common case (nesting up to 64 levels, valid input) is decided
// by fastValid, several times faster; everything else, and in particular
// every invalid input, is left to json.Valid.
func validJSON(data []byte) bool {
	return fastValid(data) || json.Valid(data)
}

// maxFastDepth is the deepest nesting fastValid follows (one bit each).
const maxFastDepth = 64

// fastValid returns true only if data is valid JSON as json.Valid defines
// it (no UTF-8 check, the four JSON whitespace bytes). It returns false for
// invalid input and for input nested deeper than maxFastDepth: false means
// "not shown valid", never "invalid".
func fastValid(b []byte) bool {
	var stack uint64 // bit 0 is the innermost container: 1 object, 0 array
	depth := 0
	i := skipWS(b, 0)
value:
	if i >= len(b) {
		return false
	}
	switch c := b[i]; c {
	case '{', '[':
		if depth == maxFastDepth {
			return false
		}
		depth++
		stack <<= 1
		if i = skipWS(b, i+1); c == '{' {
			stack |= 1
			if i < len(b) && b[i] == '}' {
				i++
				goto closed
			}
			goto key
		}
		if i < len(b) && b[i] == ']' {
			i++
			goto closed
		}
		goto value
	case '"':
		i = skipString(b, i)
	case 't':
		i = skipLiteral(b, i, "true")
	case 'f':
		i = skipLiteral(b, i, "false")
	case 'n':
		i = skipLiteral(b, i, "null")
	default:
		i = skipNumber(b, i)
	}
	if i < 0 {
		return false
	}
next: // after a value
	if i = skipWS(b, i); depth == 0 {
		return i == len(b)
	}
	if i >= len(b) {
		return false
	}
	switch b[i] {
	case ',':
		i = skipWS(b, i+1)
		if stack&1 == 1 {
			goto key
		}
		goto value
	case '}':
		if stack&1 == 0 {
			return false
		}
	case ']':
		if stack&1 == 1 {
			return false
		}
	default:
		return false
	}
	i++
closed: // after the end of a container
	depth--
	stack >>= 1
	goto next
key: // at an object key
	if i >= len(b) || b[i] != '"' {
		return false
	}
	if i = skipString(b, i); i < 0 {
		return false
	}
	if i = skipWS(b, i); i >= len(b) || b[i] != ':' {
		return false
	}
	i = skipWS(b, i+1)
	goto value
}

// skipWS returns the index of the first byte at or after i that is not
// JSON whitespace.
func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\r' || b[i] == '\t') {
		i++
	}
	return i
}

// skipLiteral returns the index after lit at b[i:], or -1.
func skipLiteral(b []byte, i int, lit string) int {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

// skipNumber returns the index after the number at b[i:], or -1.
func skipNumber(b []byte, i int) int {
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return -1
	case b[i] == '0':
		i++
	case '1' <= b[i] && b[i] <= '9':
		i = skipDigits(b, i)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		if i = skipDigits(b, i+1); i < 0 {
			return -1
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		return skipDigits(b, i)
	}
	return i
}

// skipDigits returns the index after one or more digits at b[i:], or -1.
func skipDigits(b []byte, i int) int {
	start := i
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	if i == start {
		return -1
	}
	return i
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// special8 returns, for the 8 bytes of x, the high bit of the first one
// that is a quote, a backslash or a control character (the bytes a JSON
// string cannot hold as they are), with possibly false bits in the bytes
// after it; 0 when there is none. Its lowest set bit is exact: a borrow
// only runs upward from a byte that matched (Hacker's Delight, "haszero").
func special8(x uint64) uint64 {
	q := x ^ (ones * '"')
	bs := x ^ (ones * '\\')
	return ((q-ones)&^q | (bs-ones)&^bs | (x-ones*0x20)&^x) & highs
}

// skipString returns the index after the string starting at b[i] (a
// quote), or -1.
func skipString(b []byte, i int) int {
	i++
	for {
		for i+8 <= len(b) {
			sp := special8(binary.LittleEndian.Uint64(b[i:]))
			if sp != 0 {
				i += bits.TrailingZeros64(sp) / 8 // the first special byte
				break
			}
			i += 8
		}
		if i >= len(b) {
			return -1
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1
		case c == '\\':
			if i = skipEscape(b, i); i < 0 {
				return -1
			}
		case c < 0x20:
			return -1
		default:
			i++
		}
	}
}

// skipEscape returns the index after the escape sequence at b[i] (a
// backslash), or -1.
func skipEscape(b []byte, i int) int {
	if i+1 >= len(b) {
		return -1
	}
	switch b[i+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return i + 2
	case 'u':
		if i+6 > len(b) {
			return -1
		}
		for _, h := range b[i+2 : i+6] {
			if !isHex(h) {
				return -1
			}
		}
		return i + 6
	}
	return -1
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
