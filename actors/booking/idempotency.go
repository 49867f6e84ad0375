package booking

import (
	"slices"
	"time"
)

// A state's idempotency entries (State.idem, State.idemLog). Most entries are made by a
// HoldPlaced the state applied, and everything such an entry says is its hold's: the key, the
// hold id, the creation time, and the fingerprint of the hold's buckets, quantity and user, none
// of which ever changes once a hold is placed. So the log keeps the hold's position instead of
// a copy (16 bytes an entry instead of 72, and no fingerprint string: the fingerprint is
// computed when the entry is read, by a replay or a commit), and only the entries a store
// loaded (RestoreSaved), whose holds may not be in memory, are kept whole.

// smallIdem is how many idempotency entries a state keeps without an index (see State.idem).
const smallIdem = 8

// idemEntry is one entry of State.idemLog: the entry made for holds.list[hold] when own is
// nil, else *own. Holds are never removed from the list and a clone keeps their order, so a
// position stays valid in the state and in its clones.
type idemEntry struct {
	own  *IdempotencyEntry
	hold int
}

// idemIndex maps a key to its entry's sequence number: State.idemLog[seq-base]. base is the
// number of entries pruned from the log since the index was made.
type idemIndex struct {
	seq  *hashIndex
	base uint64
}

// idemSeqKey is the key of the entry of sequence number seq, for idem.seq.
func (s *State) idemSeqKey(seq uint64) string { return s.idemKey(int(seq - s.idem.base)) }

// idemKey returns the key of s.idemLog[i].
func (s *State) idemKey(i int) string { return s.entryKey(s.idemLog[i]) }

// idemAt returns s.idemLog[i] as an entry.
func (s *State) idemAt(i int) IdempotencyEntry {
	e := s.idemLog[i]
	if e.own != nil {
		return *e.own
	}
	h := s.holds.list[e.hold]
	return IdempotencyEntry{Key: h.IdempotencyKey, Fingerprint: Fingerprint(s.bucketsOf(h), h.Quantity, h.UserID), HoldID: h.ID, CreatedAt: h.CreatedAt()}
}

// Idempotency returns the entry recorded for key.
func (s *State) Idempotency(key string) (IdempotencyEntry, bool) {
	if i := s.idemIndex(key); i >= 0 {
		return s.idemAt(i), true
	}
	return IdempotencyEntry{}, false
}

// idemIndex returns the position in idemLog of key's current entry, -1 if it has none.
//
// The last entry is tried first: a decision reads the key it just recorded back at once
// (its after-image), and the index of a hot resource is large (see holdList.index). The
// log's last entry of a key is its current one, so the last entry, if it has the key, is it.
func (s *State) idemIndex(key string) int {
	if n := len(s.idemLog); n > 0 && s.idemKey(n-1) == key {
		return n - 1
	}
	if s.idem == nil {
		for i := len(s.idemLog) - 1; i >= 0; i-- {
			if s.idemKey(i) == key {
				return i
			}
		}
		return -1
	}
	seq, ok := s.idem.seq.get(key, s.idemSeqKey)
	if !ok {
		return -1
	}
	return int(seq - s.idem.base)
}

// idemKeys returns the number of keys with an entry.
func (s *State) idemKeys() int {
	if s.idem != nil {
		return s.idem.seq.len()
	}
	n := 0
	for i := range s.idemLog {
		key := s.idemKey(i)
		if !slices.ContainsFunc(s.idemLog[i+1:], func(x idemEntry) bool { return s.entryKey(x) == key }) {
			n++ // the key's last entry
		}
	}
	return n
}

// entryKey returns the key of e, an entry of s.idemLog.
func (s *State) entryKey(e idemEntry) string {
	if e.own != nil {
		return e.own.Key
	}
	return s.holds.list[e.hold].IdempotencyKey
}

// addIdem records e, a store's entry, as the entry of its key, after every entry recorded
// before.
func (s *State) addIdem(e IdempotencyEntry) {
	s.appendIdem(idemEntry{own: &e}, e.Key)
}

// addIdemHold records the entry of holds.list[i], which has an idempotency key, after every
// entry recorded before.
func (s *State) addIdemHold(i int) {
	s.appendIdem(idemEntry{hold: i}, s.holds.list[i].IdempotencyKey)
}

// appendIdem appends e, whose key is key. The index is built once the log outgrows smallIdem,
// and kept from then on.
func (s *State) appendIdem(e idemEntry, key string) {
	s.idemLog = append(s.idemLog, e)
	switch {
	case s.idem != nil:
		s.idem.seq.set(key, s.idem.base+uint64(len(s.idemLog)-1), s.idemSeqKey)
	case len(s.idemLog) > smallIdem:
		s.idem = &idemIndex{seq: newHashIndex(2 * len(s.idemLog))}
		for i := range s.idemLog { // a later entry of a key supersedes an earlier one
			s.idem.seq.set(s.idemKey(i), uint64(i), s.idemSeqKey)
		}
	}
}

// PruneIdempotency forgets keys created before cutoff. It changes only what replays can find,
// never bookings, so it produces no event; stores keep keys at least as long.
func (s *State) PruneIdempotency(cutoff time.Time) {
	n := 0
	for n < len(s.idemLog) {
		key := s.idemKey(n)
		if i := s.idemIndex(key); i >= 0 && !s.idemCreatedAt(i).Before(cutoff) {
			break // the key's current entry (a later one, if this was superseded) stays
		}
		if s.idem != nil {
			s.idem.seq.remove(key, s.idemSeqKey)
		}
		n++
	}
	clear(s.idemLog[:n]) // the backing array keeps no entry of a forgotten key
	s.idemLog = s.idemLog[n:]
	if s.idem != nil {
		s.idem.base += uint64(n)
	}
	if len(s.idemLog) == 0 {
		s.idemLog = nil
	}
}

// idemCreatedAt is the CreatedAt of s.idemLog[i], without computing its fingerprint.
func (s *State) idemCreatedAt(i int) time.Time {
	if e := s.idemLog[i]; e.own != nil {
		return e.own.CreatedAt
	}
	return s.holds.list[s.idemLog[i].hold].CreatedAt()
}
