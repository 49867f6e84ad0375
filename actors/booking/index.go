package booking

// A resource's holds and buckets are kept in lists, found by scanning while a list is short and
// by an index built once it outgrows smallIndex: most resources have a bucket or a few and a
// few holds, and a map for them would cost more memory than the holds themselves. The lists
// only grow: a state never forgets a hold or a bucket.

// smallIndex is the longest list kept without an index.
const smallIndex = 8

// holdList holds a state's holds in the order they became known.
type holdList struct {
	list []*hold
	byID *hashIndex // position in list by id; nil while list is short
	// more is nil until a block of holds is made (see newHold) or a hold's bucket list is no
	// run of its state's keys (see State.setBuckets). A pointer, 40 bytes less in every State:
	// most never need it.
	more *holdMore
	// cloned is how many holds the list had when it was cloned from another (0: it was not).
	cloned int
}

// holdMore is what a hold list has only when it needs it.
type holdMore struct {
	// spare are unused holds of the block the last ones were allocated in (see newHold).
	spare []hold
	// lists are the bucket lists of the holds whose list is no run of their state's keys,
	// one after another: such a hold's list is a run of lists instead (hold.bkAt < 0, see
	// State.setBuckets). Only appended to, never written: a clone shares its array (up to its
	// length: an append to either then reallocates or writes past what the other sees).
	lists []string
}

// maxHoldBlock bounds the block of holds newHold allocates at once (64 KiB of holds).
const maxHoldBlock = 512

// newHold returns a new zero hold for the list to add. The first smallIndex holds added to a
// list (since it was made or cloned) are allocated one by one: a resource with a few holds
// pays for no more, nor does a clone that takes a few decisions before it is dropped (the
// activation's speculative state). After them, Holds come in blocks of half the holds added
// so far, at most maxHoldBlock: a hot resource's holds cost an allocation per hundreds instead
// of one each, and at most a third more memory. The list never forgets a hold, so a block
// lives as long as the list anyway.
func (l *holdList) newHold() *hold {
	added := len(l.list) - l.cloned
	if added < smallIndex {
		return new(hold)
	}
	if l.more == nil {
		l.more = new(holdMore)
	}
	if len(l.more.spare) == 0 {
		l.more.spare = make([]hold, min(added/2, maxHoldBlock))
	}
	h := &l.more.spare[0]
	l.more.spare = l.more.spare[1:]
	return h
}

// get returns the hold with the id, nil if there is none.
func (l *holdList) get(id string) *hold {
	if i := l.index(id); i >= 0 {
		return l.list[i]
	}
	return nil
}

// index returns the position of the hold with the id in list, -1 if there is none.
//
// The last hold is tried first: the hold a decision just placed is read back at once (its
// after-image, its answer), and on a hot resource of many holds byID is large enough that
// a lookup is a cache miss or two (issue 17, CPU per hold). Ids are unique in list, so the
// last hold with the id is the hold with the id.
func (l *holdList) index(id string) int {
	if n := len(l.list); n > 0 && l.list[n-1].ID == id {
		return n - 1
	}
	if l.byID != nil {
		if i, ok := l.byID.get(id, l.idAt); ok {
			return int(i)
		}
		return -1
	}
	for i, h := range l.list {
		if h.ID == id {
			return i
		}
	}
	return -1
}

// firstHolds is the capacity of a hold list's first array: the few holds most resources
// have, in one allocation (append from nil would make three: 1, 2 and 4 pointers). Not 4:
// a 4-pointer array is 32 bytes, the size class of JetStream's per-subject index leaves,
// which outlive every activation; arrays that live as long as an activation in that class
// keep its spans in use after passivation (docs/PERFORMANCE.md, Round 8).
const firstHolds = 3

// add appends h, whose id must not be known.
func (l *holdList) add(h *hold) {
	if len(l.list) == cap(l.list) && len(l.list) < firstHolds { // a new list, or a clone's
		l.list = append(make([]*hold, 0, firstHolds), l.list...)
	}
	l.list = append(l.list, h)
	switch {
	case l.byID != nil:
		l.byID.set(h.ID, uint64(len(l.list)-1), l.idAt)
	case len(l.list) > smallIndex:
		l.byID = newHashIndex(2 * len(l.list))
		for i, x := range l.list {
			l.byID.set(x.ID, uint64(i), l.idAt)
		}
	}
}

// idAt is the id of list[i], for byID.
func (l *holdList) idAt(i uint64) string { return l.list[i].ID }

// reserve makes room for n holds in a list that has none (a state a store restores): the
// list's array and, past smallIndex, the index at their size, not grown hold by hold.
func (l *holdList) reserve(n int) {
	if len(l.list) > 0 || n <= smallIndex {
		return
	}
	l.list = make([]*hold, 0, n)
	l.byID = newHashIndex(n)
}

// clone returns a deep copy: its Holds in one block (a clone is taken per group commit, and a
// hot resource has thousands of holds). A hold's bucket list is a run of its state's keys,
// which a clone of the state has in the same order, or of the list's lists, whose array the
// clone shares (never written): the clone allocates nothing per hold for them.
func (l *holdList) clone() holdList {
	if len(l.list) == 0 {
		return holdList{}
	}
	// A clone of fewer than firstHolds holds gets add's first array at once: a clone is taken
	// for a decision, which most often places a hold, and add would copy an array of exactly
	// the holds into it at once (16 bytes of garbage per hold on a resource of 2 holds).
	c := holdList{list: make([]*hold, len(l.list), max(len(l.list), firstHolds)), cloned: len(l.list)}
	holds := make([]hold, len(l.list))
	for i, h := range l.list {
		holds[i] = *h
		c.list[i] = &holds[i]
	}
	if l.byID != nil {
		c.byID = l.byID.clone()
	}
	if l.more != nil && len(l.more.lists) > 0 {
		n := len(l.more.lists)
		c.more = &holdMore{lists: l.more.lists[:n:n]}
	}
	return c
}

// addList appends keys to the lists of holds' bucket lists (holdMore.lists) and returns where
// they start.
func (l *holdList) addList(keys []string) int {
	if l.more == nil {
		l.more = new(holdMore)
	}
	at := len(l.more.lists)
	l.more.lists = append(l.more.lists, keys...)
	return at
}

// list returns the n keys of the lists from position at on, as a slice no append can write
// through.
func (l *holdList) listAt(at, n int) []string { return l.more.lists[at : at+n : at+n] }

// bucketList holds a state's buckets in the order they were created, by value.
type bucketList struct {
	list  []Bucket
	byKey map[string]int // nil while list is short
	// keys are the buckets' keys, keys[i] == list[i].Key: a hold on consecutive buckets (one
	// bucket, or a range of days of a calendar, created in order) gets its bucket list as a
	// slice of it instead of an allocation of its own (see keysAt). Only appended to.
	keys []string
}

// get returns the bucket with the key, nil if there is none. The pointer is valid until the
// next add.
func (l *bucketList) get(key string) *Bucket {
	if i := l.index(key); i >= 0 {
		return &l.list[i]
	}
	return nil
}

// index returns the position of the bucket with the key in list, -1 if there is none.
func (l *bucketList) index(key string) int {
	if l.byKey != nil {
		if i, ok := l.byKey[key]; ok {
			return i
		}
		return -1
	}
	for i := range l.list {
		if l.list[i].Key == key {
			return i
		}
	}
	return -1
}

// next returns the position of the bucket with the key, as index, trying first the position
// after prev (a hold's buckets are most often consecutive ones: the nights of a stay), where a
// string comparison spares the index's map lookup. Keys are distinct, so a match there is the
// one index finds. prev may be -1 (no guess).
func (l *bucketList) next(key string, prev int) int {
	if i := prev + 1; prev >= 0 && i < len(l.keys) && l.keys[i] == key {
		return i
	}
	return l.index(key)
}

// keysAt returns the keys of the n buckets from position i on, as a slice that no append can
// write through: hold bucket lists are never written once made.
func (l *bucketList) keysAt(i, n int) []string { return l.keys[i : i+n : i+n] }

// add appends b, whose key must not be known, and returns it.
func (l *bucketList) add(b Bucket) *Bucket {
	l.list = append(l.list, b)
	l.keys = append(l.keys, b.Key)
	switch {
	case l.byKey != nil:
		l.byKey[b.Key] = len(l.list) - 1
	case len(l.list) > smallIndex:
		l.byKey = make(map[string]int, 2*len(l.list))
		for i := range l.list {
			l.byKey[l.list[i].Key] = i
		}
	}
	return &l.list[len(l.list)-1]
}

// grow makes room for n more buckets.
func (l *bucketList) grow(n int) {
	if cap(l.list)-len(l.list) < n {
		l.list = append(make([]Bucket, 0, len(l.list)+n), l.list...)
		l.keys = append(make([]string, 0, len(l.keys)+n), l.keys...)
	}
}

// clone returns a copy.
func (l *bucketList) clone() bucketList {
	if len(l.list) == 0 {
		return bucketList{}
	}
	c := bucketList{list: append([]Bucket(nil), l.list...), keys: append([]string(nil), l.keys...)}
	if l.byKey != nil {
		c.byKey = make(map[string]int, len(l.byKey))
		for k, i := range l.byKey {
			c.byKey[k] = i
		}
	}
	return c
}
