package persistence

import (
	"cmp"
	"slices"

	"github.com/allot/allot/actors/booking"
)

// A placed hold carries its idempotency entry on its own row (PostgreSQL since schema step 18,
// SQLite since step 21) instead of an idempotency_keys row: the hold row's key, id, creation
// time, buckets, quantity and user give back exactly the entry. Both SQL stores decide with
// CarriesEntry which entries of a batch go on their hold's row, and merge what Activate reads
// from the hold rows and from idempotency_keys with MergeIdempotency.

// CarriesEntry reports whether h, written in the same batch as e, stores all of e: e can then
// be written as h's flag, not as a row of its own. Times compare at the stores' millisecond
// precision.
func CarriesEntry(h *booking.Hold, e *booking.IdempotencyEntry) bool {
	return h.IdempotencyKey != "" && e.Key == h.IdempotencyKey && e.HoldID == h.ID &&
		e.CreatedAt.UnixMilli() == h.CreatedAt.UnixMilli() && e.Fingerprint == booking.Fingerprint(h.Buckets, h.Quantity, h.UserID)
}

// MergeIdempotency orders es by CreatedAt then key, as Snapshot.Idempotency is, and keeps of
// each key what idempotency_keys' insert would have kept had every entry been a row of it: the
// first, replaced by a later one only if that one is at least booking.IdempotencyRetention
// younger (Store's contract). Entries of one key from both places (a hold placed before the
// store's step has its entry in both, where it reads the same) are so kept once. It reorders
// es in place and returns a prefix of it.
func MergeIdempotency(es []booking.IdempotencyEntry) []booking.IdempotencyEntry {
	if len(es) < 2 {
		return es
	}
	slices.SortStableFunc(es, func(a, b booking.IdempotencyEntry) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.Key, b.Key))
	})
	kept := make(map[string]int, len(es)) // key -> its entry's place in out
	out := es[:0]
	for _, e := range es {
		i, ok := kept[e.Key]
		switch {
		case !ok:
			kept[e.Key] = len(out)
			out = append(out, e)
		case e.CreatedAt.Sub(out[i].CreatedAt) >= booking.IdempotencyRetention:
			out[i].Key = "" // dropped below: replaced by e
			kept[e.Key] = len(out)
			out = append(out, e)
		}
	}
	return slices.DeleteFunc(out, func(e booking.IdempotencyEntry) bool { return e.Key == "" })
}
