package booking

import (
	"math"
	"time"
)

// Unpack rebuilds the state of resource id from p, which Pack made of a state of that id. It
// checks every length, position and count against p and the state it builds, and refuses
// (errPacked) what Pack cannot have made of a valid state instead of panicking: a hold twice,
// a bucket key twice, a bucket run outside the keys, an active hold on a bucket the state does
// not have, an idempotency entry of a hold that is not there, a waiting entry twice.
//
// Most of the state's strings (ids, keys, names) are substrings of p: unpacking copies them
// not, and p stays reachable as long as one of them does; those packed shorter than they are
// (packedtext.go) are made anew.
func Unpack(id string, p string) (*State, error) {
	d := unpacker{p: p}
	s, err := d.state(id)
	if err != nil {
		return nil, err
	}
	if d.off != len(d.p) {
		return nil, errPacked
	}
	return s, nil
}

// unpacker reads p from off on; any read past the end sets bad and returns zero values, so
// that the decoder checks once per part instead of at every read.
type unpacker struct {
	p   string
	off int
	bad bool
}

func (d *unpacker) byte() byte {
	if d.off >= len(d.p) {
		d.bad = true
		return 0
	}
	c := d.p[d.off]
	d.off++
	return c
}

func (d *unpacker) uvarint() uint64 {
	var x uint64
	for shift := uint(0); ; shift += 7 {
		if shift > 63 || d.off >= len(d.p) {
			d.bad = true
			return 0
		}
		c := d.p[d.off]
		d.off++
		if shift == 63 && c > 1 {
			d.bad = true
			return 0
		}
		x |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return x
		}
	}
}

func (d *unpacker) varint() int64 {
	u := d.uvarint()
	return int64(u>>1) ^ -int64(u&1)
}

// count reads a number of items that each take at least one more byte: never more than
// what is left of p, so that no count makes a large allocation.
func (d *unpacker) count() int {
	n := d.uvarint()
	if n > uint64(len(d.p)-d.off) {
		d.bad = true
		return 0
	}
	return int(n)
}

// nilCount reads appendLen's length: isNil for 0.
func (d *unpacker) nilCount() (n int, isNil bool) {
	n = d.count()
	if n == 0 {
		return 0, true
	}
	return n - 1, false
}

// string reads a string that follows none (packedtext.go).
func (d *unpacker) string() string { return d.text("") }

func (d *unpacker) int32() int32 {
	v := d.varint()
	if v < math.MinInt32 || v > math.MaxInt32 {
		d.bad = true
	}
	return int32(v)
}

func (d *unpacker) state(id string) (*State, error) {
	if d.byte() != packedVersion {
		return nil, errPacked
	}
	flags := d.uvarint()
	s := NewState(id)
	s.exists = flags&pkExists != 0
	r := &s.resource
	r.Name = d.text(id)
	r.HoldTTL = time.Duration(d.nanos())
	r.created = instant(d.nanos())
	r.updated = r.created + instant(d.nanos())
	switch d.byte() {
	case pkRulesCommon:
		r.rules = nil
	case pkRulesNone:
		r.rules = &noRules
	case pkRulesOwn:
		x := &resourceRules{MaxExtensions: int(d.varint())}
		x.Allowance.Units, x.Allowance.Percent = d.varint(), d.varint()
		x.MaxPerUser = d.varint()
		x.Timezone = d.string()
		x.SlotEvery, x.WaitlistOfferTTL = time.Duration(d.nanos()), time.Duration(d.nanos())
		x.archived = instant(d.nanos()) ^ noInstant
		r.rules = x
	default:
		return nil, errPacked
	}
	switch d.byte() {
	case 0:
	case 1:
		e := new(resourceExtra)
		switch d.byte() {
		case 0:
		case 1:
			e.Price = &Money{Amount: d.varint(), Currency: d.string()}
		default:
			return nil, errPacked
		}
		if n, isNil := d.nilCount(); !isNil && !d.bad {
			e.Refunds = make([]RefundTier, n)
			for i := range e.Refunds {
				e.Refunds[i] = RefundTier{Before: time.Duration(d.nanos()), Percent: d.varint()}
			}
		}
		if n, isNil := d.nilCount(); !isNil && !d.bad {
			e.Tags = make([]string, n)
			for i := range e.Tags {
				e.Tags[i] = d.string()
			}
		}
		e.Location = d.string()
		r.extra = e
	default:
		return nil, errPacked
	}
	if d.bad {
		return nil, errPacked
	}

	if n := d.count(); n > 0 {
		s.buckets.grow(n)
		for range n {
			b := Bucket{Key: d.string(), Capacity: d.varint(), Allowance: d.varint()}
			if d.bad || s.buckets.index(b.Key) >= 0 {
				return nil, errPacked
			}
			s.buckets.add(b)
		}
	}
	if n := d.count(); n > 0 {
		lists := make([]string, n)
		for i := range lists {
			lists[i] = d.string()
		}
		s.holds.more = &holdMore{lists: lists}
	}
	if d.bad {
		return nil, errPacked
	}

	if err := d.holds(s); err != nil {
		return nil, err
	}
	if err := d.idempotency(s, flags&pkIdemIndex != 0); err != nil {
		return nil, err
	}
	if flags&pkWait != 0 {
		if err := d.waitlist(s); err != nil {
			return nil, err
		}
	}
	if flags&pkExpiryIndex != 0 {
		s.indexExpiry()
	}
	return s, nil
}

// holds reads the hold list: the holds in one block, as Clone makes them (later holds come
// from newHold's blocks, counted from here: holdList.cloned), and the counters and units of
// the active ones.
func (d *unpacker) holds(s *State) error {
	n := d.count()
	if d.bad {
		return errPacked
	}
	if n == 0 {
		return nil
	}
	l := &s.holds
	l.list = make([]*hold, 0, max(n, firstHolds))
	if n > smallIndex {
		l.byID = newHashIndex(2 * n)
	}
	block := make([]hold, n)
	prevID, prevUser, prevKey := "", "", s.id // as appendState writes them
	prevAt := s.resource.created
	for i := range block {
		h := &block[i]
		h.ID = d.text(prevID)
		h.UserID = d.text(prevUser)
		h.IdempotencyKey = d.text(prevKey)
		prevID, prevUser = h.ID, h.UserID
		if h.IdempotencyKey != "" {
			prevKey = h.IdempotencyKey
		}
		h.Quantity = d.varint()
		h.created = prevAt + instant(d.nanos())
		prevAt = h.created
		h.expires = h.created + instant(d.nanos())
		h.bkAt, h.bkN, h.updated = d.int32(), d.int32(), d.int32()
		ext := d.uvarint()
		h.status = holdStatus(d.byte())
		hf := d.byte()
		h.PaymentOpen = hf&pkPaymentOpen != 0
		if hf&pkRare != 0 {
			h.rare = &holdRare{WaitlistEntryID: d.string()}
			if hf&pkContact != 0 {
				h.rare.Contact = SealedContact(d.string())
			}
			h.rare.Payment = d.string()
		}
		if d.bad || ext > math.MaxUint16 || h.status > statusExpired || h.status == statusOther ||
			hf > pkPaymentOpen|pkRare|pkContact || hf&(pkRare|pkContact) == pkContact || !d.validRun(s, h) || l.index(h.ID) >= 0 {
			return errPacked
		}
		h.ext = uint16(ext)
		l.list = append(l.list, h)
		if l.byID != nil {
			l.byID.set(h.ID, uint64(len(l.list)-1), l.idAt)
		}
		if st := h.Status(); st.Active() {
			s.claim(h, st, +1)
		}
	}
	l.cloned = n
	return nil
}

// validRun reports whether h's bucket run is within its state's keys or lists, and, for an
// active hold, names only buckets the state has (State.claim panics on another).
func (d *unpacker) validRun(s *State, h *hold) bool {
	if h.bkN < 0 {
		return false
	}
	at, n := int64(h.bkAt), int64(h.bkN)
	if at >= 0 {
		return at+n <= int64(len(s.buckets.keys)) // the state's keys: known buckets
	}
	pos := -1 - at
	if s.holds.more == nil || pos+n > int64(len(s.holds.more.lists)) {
		return false
	}
	if h.status != statusHeld && h.status != statusConfirmed {
		return true
	}
	for _, k := range s.bucketsOf(h) {
		if s.buckets.index(k) < 0 {
			return false
		}
	}
	return true
}

// idempotency reads the log, and makes its index when the packed state had one.
func (d *unpacker) idempotency(s *State, indexed bool) error {
	n := d.count()
	if d.bad {
		return errPacked
	}
	if n > 0 {
		s.idemLog = make([]idemEntry, 0, n+1) // room for one more, as Clone leaves
	}
	var own []IdempotencyEntry // the store-loaded entries, in one block
	for range n {
		tag := d.uvarint()
		switch {
		case tag&1 == 0:
			i := tag >> 1
			if i >= uint64(len(s.holds.list)) || s.holds.list[i].IdempotencyKey == "" {
				return errPacked
			}
			s.idemLog = append(s.idemLog, idemEntry{hold: int(i)})
		case tag == 1:
			if own == nil {
				own = make([]IdempotencyEntry, 0, n)
			}
			e := IdempotencyEntry{Key: d.string(), Fingerprint: d.string(), HoldID: d.string(), CreatedAt: instant(d.nanos()).time()}
			own = append(own, e) // never grows past n: the pointers stay valid
			s.idemLog = append(s.idemLog, idemEntry{own: &own[len(own)-1]})
		default:
			return errPacked
		}
		if d.bad {
			return errPacked
		}
	}
	if indexed {
		s.idem = &idemIndex{seq: newHashIndex(2 * len(s.idemLog))}
		for i := range s.idemLog { // a later entry of a key supersedes an earlier one
			s.idem.seq.set(s.idemKey(i), uint64(i), s.idemSeqKey)
		}
	}
	return nil
}

// waitlist reads the waiting entries, in first-come order, and the sequence.
func (d *unpacker) waitlist(s *State) error {
	w := &waitState{seq: d.uvarint()}
	s.wait = w
	n := d.count()
	if d.bad {
		return errPacked
	}
	if n == 0 {
		return nil
	}
	block := make([]WaitlistEntry, n)
	w.list = make([]*WaitlistEntry, 0, n)
	w.byID = make(map[string]*WaitlistEntry, n)
	for i := range block {
		e := &block[i]
		e.ID, e.ResourceID, e.UserID, e.OfferHoldID = d.string(), d.string(), d.string(), d.string()
		if k, isNil := d.nilCount(); !isNil && !d.bad {
			e.Buckets = make([]string, k)
			for j := range e.Buckets {
				e.Buckets[j] = d.string()
			}
		}
		e.Quantity = d.varint()
		e.Seq = d.uvarint()
		e.CreatedAt = instant(d.nanos()).time()
		if _, dup := w.byID[e.ID]; d.bad || dup {
			return errPacked
		}
		w.list = append(w.list, e)
		w.byID[e.ID] = e
	}
	return nil
}
