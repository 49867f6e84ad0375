package resource

import (
	"crypto/rand"
	"time"
)

// Hold ids: "h_", then 30 characters of lower-case base32 whose digits are in ascending byte
// order, carrying 150 bits: the low 22 bits of the time the id was made in 1/256ths of a
// second (about 4 ms; they wrap every 4.55 hours), then 128 random bits (32 characters in
// all). URL-safe, and unguessable, since a hold id is the only credential for a hold: the
// time adds nothing a guesser lacks, the 128 bits are what they would have to guess.
//
// Why the time: a hold id is the primary key of the stores' holds tables, B-trees. With ids
// all random, every insert lands on a random leaf page of the key index; once the index
// outgrows the database's cache, each insert of a group commit reads a page from outside it
// and dirties it, and the first change of a page after a checkpoint writes the whole page
// to the WAL. With the time in front, a commit's ids sort together and its inserts go to the
// rightmost leaf pages of the key index, which stay cached (on PostgreSQL, 84-hold commits
// growing the table to 168,000 holds: 35.6-37.4 µs of the server's CPU per hold with random
// ids, 29.8-30.2 µs with the second in front; docs/PERFORMANCE.md). Whole seconds were too
// coarse: a second's ids, thousands under load, spread over a hundred leaf pages in random
// order, and a 32-hold commit dirtied ~19 of them, a third of the pages the embedded SQLite
// store wrote per commit (docs/PERFORMANCE.md, round 19); at 1/256 s a commit's ids fall in a
// few consecutive ticks at the right edge of the index. After a wrap of the 22 bits, the ids
// of a tick sort next to those of 4.55 hours before: the inserts are still local. Nothing
// reads the time back; ids are compared only for equality.
const (
	holdIDPrefix    = "h_"
	holdIDAlphabet  = "234567abcdefghijklmnopqrstuvwxyz" // ascending: ids sort as the numbers they encode
	holdIDTimeBits  = 22                                 // of 1/256ths of a second
	holdIDTickHz    = 256
	holdIDRandBytes = 16
	holdIDChars     = (holdIDTimeBits + holdIDRandBytes*8) / 5 // 150 bits: 30 characters, none half used
	holdIDLen       = len(holdIDPrefix) + holdIDChars
)

// NewHoldID returns a fresh hold id made at now (the actor's clock, Config.Now): the time is
// a hint for the stores' locality that no decision depends on.
func NewHoldID(now time.Time) string {
	var r [holdIDRandBytes]byte
	_, _ = rand.Read(r[:]) // crypto/rand.Read never fails (Go 1.24+)
	return holdIDAt(now, &r)
}

// holdIDAt is the hold id of the random bits r made at now, built in one allocation: the 150
// bits (time, then r) are written 5 at a time, most significant first, so that ids compare as
// the numbers they encode.
func holdIDAt(now time.Time, r *[holdIDRandBytes]byte) string {
	var b [holdIDLen]byte
	copy(b[:], holdIDPrefix)
	tick := uint64(now.UnixNano()/(int64(time.Second)/holdIDTickHz)) & (1<<holdIDTimeBits - 1)
	// acc holds the bits not yet written, n of them, in its low bits; 22 + 8 bits fit easily.
	acc, n := tick, uint(holdIDTimeBits)
	out := len(holdIDPrefix)
	for _, x := range r {
		acc, n = acc<<8|uint64(x), n+8
		for n >= 5 {
			n -= 5
			b[out] = holdIDAlphabet[(acc>>n)&31]
			out++
		}
		acc &= 1<<n - 1
	}
	return string(b[:])
}
