package booking

import (
	"encoding/binary"
	"errors"
)

// The packed form of a State: everything a State keeps, in one []byte, for an activation that
// is quiet (docs/ARCHITECTURE.md, "Quiet activations"). An idle resource's state is a graph
// of a dozen objects (the State, its holds one by one, their id, key and user strings, the
// hold and bucket lists, the idempotency log) of about a kilobyte for 3 holds; packed it is
// one allocation of a few hundred bytes that the GC does not need to scan. Unpack rebuilds a
// State that decides exactly as the packed one did (TestPackedStatesDecideAlike).
//
// What is kept: the resource (its rules and extra fields), the buckets' keys, capacities and
// allowances, every hold in memory with its bucket run (hold.bkAt, hold.bkN) and the hold
// list's lists, the idempotency log in order (an entry of a hold as its position), the
// waitlist with its sequence, and whether the deadline and idempotency indexes were built.
// What is rebuilt instead of kept: the buckets' Held and Confirmed counters and the per-user
// units (from the active holds, as RestoreSaved does: the holds are the source of truth), the
// deadline heap (from the held holds) and the hash indexes (from the lists).
//
// A state with something the format does not say exactly (a hold or resource time that is no
// instant, a resource id that is not its state's: holdOdd, resourceExtra.odd and .id, which
// only tests and odd store rows make) is not packed: Pack reports false and the activation
// keeps its object graph.
//
// Format, version 2: the version byte, then varints (encoding/binary's, signed ones zig-zag),
// strings and times (packedtext.go), in the order of appendState. A decoder of another
// version refuses; the format lives only in memory (never stored or sent), so a new version
// needs no migration, only a new number.

// Version 2 (round 15) writes the resource's update time as its distance from its creation,
// its archive time xor noInstant (one byte while not archived, ten before), and each hold's
// creation as its distance from the previous hold's (the first's from the resource's
// creation): 32 bytes less for a 3-hold resource of the node's memory fill, 304 → 272, the 288-byte class
// instead of the 320. Distances wrap as decoding adds them back: exact.
const packedVersion = 2

// errPacked is every refusal of Unpack: the bytes are not a state this package packed.
var errPacked = errors.New("booking: not a packed state")

// Flags of a packed state.
const (
	pkExists = 1 << iota
	pkExpiryIndex
	pkIdemIndex
	pkWait
)

// Rules of a packed resource: which resourceRules the pointer is.
const (
	pkRulesCommon = iota // nil: commonRules
	pkRulesNone          // &noRules: a state before creation
	pkRulesOwn
)

// Flags of a packed hold.
const (
	pkPaymentOpen = 1 << iota
	pkRare
	pkContact // the rare part has a Contact (nil otherwise; an empty one is kept as empty)
)

// Pack appends s in its packed form to dst; ok is false, and dst returned as it was, when s
// has something the format cannot say exactly (see above). s is not changed.
func (s *State) Pack(dst []byte) (out []byte, ok bool) {
	if !s.packable() {
		return dst, false
	}
	return s.appendState(dst), true
}

// packable reports whether every field of s is one the format keeps exactly.
func (s *State) packable() bool {
	if e := s.resource.extra; e != nil && (e.hasID || e.odd != nil) {
		return false
	}
	for _, h := range s.holds.list {
		if h.odd() != nil || h.status == statusOther {
			return false
		}
	}
	for _, e := range s.idemLog {
		if e.own != nil {
			if _, ok := instantOf(e.own.CreatedAt); !ok {
				return false
			}
		}
	}
	for _, e := range s.waiting() {
		if _, ok := instantOf(e.CreatedAt); !ok {
			return false
		}
	}
	return true
}

func (s *State) appendState(b []byte) []byte {
	flags := uint64(0)
	if s.exists {
		flags |= pkExists
	}
	if s.expiry != nil {
		flags |= pkExpiryIndex
	}
	if s.idem != nil {
		flags |= pkIdemIndex
	}
	if s.wait != nil {
		flags |= pkWait
	}
	b = append(b, packedVersion)
	b = binary.AppendUvarint(b, flags)

	r := &s.resource
	b = appendText(b, r.Name, s.id)
	b = appendNanos(b, int64(r.HoldTTL))
	b = appendNanos(b, int64(r.created))
	b = appendNanos(b, int64(r.updated-r.created))
	switch r.rules {
	case nil:
		b = append(b, pkRulesCommon)
	case &noRules:
		b = append(b, pkRulesNone)
	default:
		x := r.rules
		b = append(b, pkRulesOwn)
		b = binary.AppendVarint(b, int64(x.MaxExtensions))
		b = binary.AppendVarint(b, x.Allowance.Units)
		b = binary.AppendVarint(b, x.Allowance.Percent)
		b = binary.AppendVarint(b, x.MaxPerUser)
		b = appendString(b, x.Timezone)
		b = appendNanos(b, int64(x.SlotEvery))
		b = appendNanos(b, int64(x.WaitlistOfferTTL))
		b = appendNanos(b, int64(x.archived^noInstant))
	}
	if e := r.extra; e == nil {
		b = append(b, 0)
	} else {
		b = append(b, 1)
		if e.Price == nil {
			b = append(b, 0)
		} else {
			b = append(b, 1)
			b = binary.AppendVarint(b, e.Price.Amount)
			b = appendString(b, e.Price.Currency)
		}
		b = appendLen(b, len(e.Refunds), e.Refunds == nil)
		for _, t := range e.Refunds {
			b = appendNanos(b, int64(t.Before))
			b = binary.AppendVarint(b, t.Percent)
		}
		b = appendLen(b, len(e.Tags), e.Tags == nil)
		for _, t := range e.Tags {
			b = appendString(b, t)
		}
		b = appendString(b, e.Location)
	}

	b = binary.AppendUvarint(b, uint64(len(s.buckets.list)))
	for i := range s.buckets.list {
		x := &s.buckets.list[i]
		b = appendString(b, x.Key)
		b = binary.AppendVarint(b, x.Capacity)
		b = binary.AppendVarint(b, x.Allowance)
	}
	var lists []string
	if s.holds.more != nil {
		lists = s.holds.more.lists
	}
	b = binary.AppendUvarint(b, uint64(len(lists)))
	for _, k := range lists {
		b = appendString(b, k)
	}

	b = binary.AppendUvarint(b, uint64(len(s.holds.list)))
	prevID, prevUser, prevKey := "", "", s.id // each string follows the one of the hold before
	prevAt := r.created                       // and each creation time the one before
	for _, h := range s.holds.list {
		b = appendText(b, h.ID, prevID)
		b = appendText(b, h.UserID, prevUser)
		b = appendText(b, h.IdempotencyKey, prevKey)
		prevID, prevUser = h.ID, h.UserID
		if h.IdempotencyKey != "" {
			prevKey = h.IdempotencyKey
		}
		b = binary.AppendVarint(b, h.Quantity)
		b = appendNanos(b, int64(h.created-prevAt))
		prevAt = h.created
		b = appendNanos(b, int64(h.expires-h.created)) // wraps, as decoding does: exact
		b = binary.AppendVarint(b, int64(h.bkAt))
		b = binary.AppendVarint(b, int64(h.bkN))
		b = binary.AppendVarint(b, int64(h.updated))
		b = binary.AppendUvarint(b, uint64(h.ext))
		hf := byte(0)
		if h.PaymentOpen {
			hf |= pkPaymentOpen
		}
		if h.rare != nil {
			hf |= pkRare
			if h.rare.Contact != nil {
				hf |= pkContact
			}
		}
		b = append(b, byte(h.status), hf)
		if r := h.rare; r != nil {
			b = appendString(b, r.WaitlistEntryID)
			if r.Contact != nil {
				b = appendString(b, string(r.Contact))
			}
			b = appendString(b, r.Payment)
		}
	}

	b = binary.AppendUvarint(b, uint64(len(s.idemLog)))
	for _, e := range s.idemLog {
		if e.own == nil {
			b = binary.AppendUvarint(b, uint64(e.hold)<<1)
			continue
		}
		b = binary.AppendUvarint(b, 1)
		at, _ := instantOf(e.own.CreatedAt) // exact: packable
		b = appendString(b, e.own.Key)
		b = appendString(b, e.own.Fingerprint)
		b = appendString(b, e.own.HoldID)
		b = appendNanos(b, int64(at))
	}

	if w := s.wait; w != nil {
		b = binary.AppendUvarint(b, w.seq)
		b = binary.AppendUvarint(b, uint64(len(w.list)))
		for _, e := range w.list {
			at, _ := instantOf(e.CreatedAt) // exact: packable
			b = appendString(b, e.ID)
			b = appendString(b, e.ResourceID)
			b = appendString(b, e.UserID)
			b = appendString(b, e.OfferHoldID)
			b = appendLen(b, len(e.Buckets), e.Buckets == nil)
			for _, k := range e.Buckets {
				b = appendString(b, k)
			}
			b = binary.AppendVarint(b, e.Quantity)
			b = binary.AppendUvarint(b, e.Seq)
			b = appendNanos(b, int64(at))
		}
	}
	return b
}

// appendString appends a string that follows none (packedtext.go).
func appendString(b []byte, s string) []byte { return appendText(b, s, "") }

// appendLen appends the length of a slice that may be nil: 0 for nil, else n+1.
func appendLen(b []byte, n int, isNil bool) []byte {
	if isNil {
		return binary.AppendUvarint(b, 0)
	}
	return binary.AppendUvarint(b, uint64(n)+1)
}
