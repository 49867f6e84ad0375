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

// TestHoldIDAt: every id is valid, keeps all 128 random bits and its tick, and ids of a later
// tick (within the 4.55 hours of the time field) sort after those of an earlier one whatever
// their random bits, so that a store's inserts of one commit go to one place of its index.
func TestHoldIDAt(t *testing.T) {
	rng := rand.New(rand.NewPCG(17, 6))
	random := func() *[holdIDRandBytes]byte {
		var r [holdIDRandBytes]byte
		for i := range r {
			r[i] = byte(rng.UintN(256))
		}
		return &r
	}
	const tick = time.Second / holdIDTickHz
	base := time.Date(2026, 12, 6, 19, 0, 0, 0, time.UTC)
	for range 2000 {
		t0 := base.Add(time.Duration(rng.Int64N(int64(30 * 24 * time.Hour))))
		r0, r1 := random(), random()
		a := holdIDAt(t0, r0)
		if len(a) != 32 || !strings.HasPrefix(a, "h_") || !booking.ValidID(a) || strings.ToLower(a) != a {
			t.Fatalf("bad hold id %q", a)
		}
		gotTick, got := decodeHoldID(t, a)
		if got != *r0 || gotTick != uint64(t0.UnixNano()/int64(tick))&(1<<holdIDTimeBits-1) {
			t.Fatalf("id %q does not carry its tick and random bits %x: %d, %x", a, r0[:], gotTick, got)
		}
		// A later tick before the time field wraps sorts after.
		gap := time.Duration(1+rng.Int64N(100_000)) * tick
		if gotTick+uint64(gap/tick) >= 1<<holdIDTimeBits {
			continue
		}
		if b := holdIDAt(t0.Add(gap), r1); b <= a {
			t.Fatalf("id %q made %v later does not sort after %q", b, gap, a)
		}
		// The same tick: the random bits decide, and differ.
		c := holdIDAt(t0.Truncate(tick), r1)
		if cTick, _ := decodeHoldID(t, c); cTick != gotTick {
			t.Fatalf("ids %q and %q of one tick differ in their time", a, c)
		}
	}
}

// decodeHoldID reads an id's 150 bits back: the tick and the random bytes.
func decodeHoldID(t *testing.T, id string) (tick uint64, r [holdIDRandBytes]byte) {
	t.Helper()
	var acc uint64
	var n uint
	out := -1 // the time field first, then the bytes of r
	for _, c := range id[len(holdIDPrefix):] {
		d := strings.IndexRune(holdIDAlphabet, c)
		if d < 0 {
			t.Fatalf("id %q: %q is not a digit", id, c)
		}
		acc, n = acc<<5|uint64(d), n+5
		if out < 0 && n >= holdIDTimeBits {
			n -= holdIDTimeBits
			tick = acc >> n
			acc &= 1<<n - 1
			out = 0
		}
		for out >= 0 && n >= 8 {
			n -= 8
			r[out] = byte(acc >> n)
			acc &= 1<<n - 1
			out++
		}
	}
	if out != holdIDRandBytes || n != 0 {
		t.Fatalf("id %q: %d random bytes, %d bits left", id, out, n)
	}
	return tick, r
}
