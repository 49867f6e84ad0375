package booking

import (
	"strconv"
	"testing"
)

// TestAppendQuotedIsQuote: the sold-out message's quoting is strconv.Quote's, for every one-
// and two-byte string and a few keys.
func TestAppendQuotedIsQuote(t *testing.T) {
	check := func(s string) {
		if got, want := string(appendQuoted(nil, s)), strconv.Quote(s); got != want {
			t.Fatalf("appendQuoted(%q) = %s, want %s", s, got, want)
		}
	}
	for _, s := range []string{"", "2026-03-01", "all", "a b", "é", "\u202e", "x\x00y"} {
		check(s)
	}
	for a := 0; a < 256; a++ {
		for b := 0; b < 256; b++ {
			check(string([]byte{byte(a), byte(b)}))
		}
	}
}
