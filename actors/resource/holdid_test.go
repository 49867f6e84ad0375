package resource

import (
	"math/rand/v2"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
)

// TestHoldIDAlphabetAscends: ids compare as the numbers they encode only if the digits do.
func TestHoldIDAlphabetAscends(t *testing.T) {
	if len(holdIDAlphabet) != 32 || !sort.SliceIsSorted([]byte(holdIDAlphabet), func(i, j int) bool { return holdIDAlphabet[i] < holdIDAlphabet[j] }) {
		t.Fatalf("alphabet %q is not 32 ascending digits", holdIDAlphabet)
	}
	for i := 1; i < len(holdIDAlphabet); i++ {
		if holdIDAlphabet[i] == holdIDAlphabet[i-1] {
			t.Fatalf("alphabet %q repeats %q", holdIDAlphabet, holdIDAlphabet[i])
		}
	}
}

// TestHoldIDAt: every id is valid, keeps all 128 random bits, and ids of a later second
// (within the 12 days of the time field) sort after those of an earlier one whatever their
// random bits, so that a store's inserts of one second go to one place of its index.
func TestHoldIDAt(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 6))
	random := func() *[holdIDRandBytes]byte {
		var r [holdIDRandBytes]byte
		for i := range r {
			r[i] = byte(rng.UintN(256))
		}
		return &r
	}
	base := time.Date(2026, 12, 6, 19, 0, 0, 0, time.UTC)
	for range 2000 {
		t0 := base.Add(time.Duration(rng.Int64N(int64(30 * 24 * time.Hour))))
		r0, r1 := random(), random()
		a := holdIDAt(t0, r0)
		if len(a) != 32 || !strings.HasPrefix(a, "h_") || !booking.ValidID(a) || strings.ToLower(a) != a {
			t.Fatalf("bad hold id %q", a)
		}
		got, err := holdIDEncoding.DecodeString(a[len(holdIDPrefix)+holdIDTimeChars:])
		if err != nil || string(got) != string(r0[:]) {
			t.Fatalf("id %q does not carry its random bits %x: %x, %v", a, r0[:], got, err)
		}
		// A later second before the time field wraps sorts after.
		gap := time.Duration(1+rng.Int64N(1000)) * time.Second
		if (t0.Unix()&(1<<20-1))+int64(gap/time.Second) >= 1<<20 {
			continue
		}
		if b := holdIDAt(t0.Add(gap), r1); b <= a {
			t.Fatalf("id %q made %v later does not sort after %q", b, gap, a)
		}
		// The same second: the random bits decide, and differ.
		if c := holdIDAt(t0.Truncate(time.Second), r1); c[:len(holdIDPrefix)+holdIDTimeChars] != a[:len(holdIDPrefix)+holdIDTimeChars] {
			t.Fatalf("ids %q and %q of one second differ in their time", a, c)
		}
	}
}
