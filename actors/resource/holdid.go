package resource

import (
	"crypto/rand"
	"encoding/base32"
	"time"
)

// Hold ids: "h_", then 4 characters of the second the id was made (the low 20 bits of the
// Unix time, which wrap every 12 days), then 128 random bits, in lower-case base32 whose
// digits are in ascending byte order (32 characters in all). URL-safe, and unguessable, since
// a hold id is the only credential for a hold: the time adds nothing a guesser lacks, the 128
// bits are what they would have to guess.
//
// Why the time: a hold id is the primary key of the stores' holds tables, B-trees. With ids
// all random, every insert lands on a random leaf page of the key index; once the index
// outgrows the database's cache, each insert of a group commit reads a page from outside it
// and dirties it, and the first change of a page after a checkpoint writes the whole page
// to the WAL. With the second in front, the ids of one second sort together and a commit's
// inserts go to the few leaf pages of the current second, which stay cached (on PostgreSQL,
// 84-hold commits growing the table to 168,000 holds: 35.6-37.4 µs of the server's CPU per
// hold with random ids, 29.8-30.2 µs with a time in front; docs/PERFORMANCE.md). After a wrap
// of the 20 bits, the ids of a second sort next to those of 12 days before: the inserts are
// still local. Nothing reads the time back; ids are compared only for equality.
const (
	holdIDPrefix    = "h_"
	holdIDAlphabet  = "234567abcdefghijklmnopqrstuvwxyz" // ascending: ids sort as the numbers they encode
	holdIDTimeChars = 4                                  // 20 bits of seconds
	holdIDRandBytes = 16
	holdIDLen       = len(holdIDPrefix) + holdIDTimeChars + (holdIDRandBytes*8+4)/5
)

var holdIDEncoding = base32.NewEncoding(holdIDAlphabet).WithPadding(base32.NoPadding)

// NewHoldID returns a fresh hold id made at now (the actor's clock, Config.Now): the time is
// a hint for the stores' locality that no decision depends on.
func NewHoldID(now time.Time) string {
	var r [holdIDRandBytes]byte
	_, _ = rand.Read(r[:]) // crypto/rand.Read never fails (Go 1.24+)
	return holdIDAt(now, &r)
}

// holdIDAt is the hold id of the random bits r made at now, built in one allocation.
func holdIDAt(now time.Time, r *[holdIDRandBytes]byte) string {
	var b [holdIDLen]byte
	copy(b[:], holdIDPrefix)
	t := uint64(now.Unix())
	for i := len(holdIDPrefix) + holdIDTimeChars - 1; i >= len(holdIDPrefix); i-- {
		b[i] = holdIDAlphabet[t&31]
		t >>= 5
	}
	holdIDEncoding.Encode(b[len(holdIDPrefix)+holdIDTimeChars:], r[:])
	return string(b[:])
}
