package ipc

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

var validSeeds = []string{
	`{"seq":1,"pad":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}`, `{"cmd":"NODE_HANDLE","type":"net.Socket","msg":{"i":1}}`,
	`[]`, `{}`, ` [ 1 , -2.5e+3 , 0.0 , -0 , 1E9 , 10 ] `, "\t{\r\"a\" :\n[true,false,null,{}]}\r",
	`"plain string"`, `42`, `true`, `null`, `"é\u00e9\ud83d\ude00 \" \\ \/ \b\f\n\r\t"`, `{"a":{"b":{"c":[[[]]]}}}`,
	`"` + strings.Repeat("abcdefgh", 9) + `\"x"`, `"\u2028 < > & ` + "\x80\xff" + `"`, `-1.0e-10`, `1e00`,
}

var invalidSeeds = []string{
	``, ` `, `{`, `}`, `[`, `]`, `[1,]`, `{"a":1,}`, `{"a"}`, `{"a":}`, `{1:2}`, `{"a" 1}`, `[1 2]`,
	`01`, `-`, `1.`, `.5`, `1e`, `1e+`, `+1`, `0x1`, `tru`, `truex`, `nul`, `nulll`, `"abc`, `"a\"`,
	`"\x"`, `"\u12g4"`, `"\u123"`, "\"a\x01b\"", "\"\t\"", `{"a":1}}`, `[1]]`, `{"a":1]`, `[1}`,
	`1 2`, `"a" "b"`, `{"a":1 "b":2}`, `[,1]`, `{,}`, "\v1", `NaN`, `Infinity`, `-01`,
	`"` + strings.Repeat("abcdefgh", 9) + "\n\"",
}

func TestValidJSON(t *testing.T) {
	deep := func(n int, open, close string) string {
		return strings.Repeat(open, n) + strings.Repeat(close, n)
	}
	cases := append(append([]string{}, validSeeds...), invalidSeeds...)
	for _, n := range []int{maxFastDepth - 1, maxFastDepth, maxFastDepth + 1, 10000, 10001} {
		cases = append(cases, deep(n, "[", "]"), deep(n, `{"a":`, "}"), deep(n, "[", "]]"), deep(n, "[", ""))
	}
	for _, s := range cases {
		checkValid(t, []byte(s))
	}
}

// TestValidJSONMutations checks fastValid against json.Valid on random
// mutations of the seeds (bounded, so it stays fast).
func TestValidJSONMutations(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte("{}[],:\"\\ \t\r\n0123456789-+.eEtrufalsnu\x01\x1f\x7f\xc3\xa9")
	seeds := append(append([]string{}, validSeeds...), invalidSeeds...)
	for range 50000 {
		b := []byte(seeds[r.IntN(len(seeds))])
		for range 1 + r.IntN(3) {
			b = mutate(r, b, alphabet)
		}
		checkValid(t, b)
	}
}

func mutate(r *rand.Rand, b []byte, alphabet []byte) []byte {
	c := alphabet[r.IntN(len(alphabet))]
	switch i := r.IntN(len(b) + 1); {
	case len(b) == 0 || r.IntN(3) == 0:
		return append(b[:i:i], append([]byte{c}, b[i:]...)...)
	case i < len(b) && r.IntN(2) == 0:
		b[i] = c
		return b
	default:
		i = min(i, len(b)-1)
		return append(b[:i:i], b[i+1:]...)
	}
}

func checkValid(t *testing.T, b []byte) {
	t.Helper()
	want := json.Valid(b)
	if fastValid(b) && !want {
		t.Fatalf("fastValid accepts invalid %q", b)
	}
	if got := validJSON(b); got != want {
		t.Fatalf("validJSON(%q) = %v, want %v", b, got, want)
	}
}

func FuzzValidJSON(f *testing.F) {
	for _, s := range append(append([]string{}, validSeeds...), invalidSeeds...) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want := json.Valid(b)
		if fastValid(b) && !want {
			t.Fatalf("fastValid accepts invalid %q", b)
		}
		if want && !fastValid(b) && !deeper(b) {
			t.Fatalf("fastValid rejects valid %q", b)
		}
	})
}

// deeper reports whether b nests deeper than fastValid follows.
func deeper(b []byte) bool {
	d, inString, esc := 0, false, false
	for _, c := range b {
		switch {
		case esc:
			esc = false
		case inString && c == '\\':
			esc = true
		case c == '"':
			inString = !inString
		case !inString && (c == '[' || c == '{'):
			if d++; d > maxFastDepth {
				return true
			}
		case !inString && (c == ']' || c == '}'):
			d--
		}
	}
	return false
}

func BenchmarkValidJSON(b *testing.B) {
	msg := []byte(`{"seq":12345,"pad":"` + strings.Repeat("x", 76) + `"}`)
	b.Run("fast", func(b *testing.B) {
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			validJSON(msg)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(msg)))
		for b.Loop() {
			json.Valid(msg)
		}
	})
}
