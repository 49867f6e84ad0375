package booking

// A resource's holds and buckets are kept in lists, found by scanning while a list is short and
// by an index built once it outgrows smallIndex: most resources have a bucket or a few and a
// few holds, and a map for them would cost more memory than the holds themselves. The lists
// only grow: a state never forgets a hold or a bucket.

// smallIndex is the longest list kept without an index.
const smallIndex = 8

// holdList holds a state's holds in the order they became known.
type holdList struct {
	list []*Hold
	byID map[string]int // nil while list is short
}

// get returns the hold with the id, nil if there is none.
func (l *holdList) get(id string) *Hold {
	if l.byID != nil {
		if i, ok := l.byID[id]; ok {
			return l.list[i]
		}
		return nil
	}
	for _, h := range l.list {
		if h.ID == id {
			return h
		}
	}
	return nil
}

// add appends h, whose id must not be known.
func (l *holdList) add(h *Hold) {
	l.list = append(l.list, h)
	switch {
	case l.byID != nil:
		l.byID[h.ID] = len(l.list) - 1
	case len(l.list) > smallIndex:
		l.byID = make(map[string]int, 2*len(l.list))
		for i, x := range l.list {
			l.byID[x.ID] = i
		}
	}
}

// clone returns a deep copy.
func (l *holdList) clone() holdList {
	if len(l.list) == 0 {
		return holdList{}
	}
	c := holdList{list: make([]*Hold, len(l.list))}
	for i, h := range l.list {
		c.list[i] = h.Clone()
	}
	if l.byID != nil {
		c.byID = make(map[string]int, len(l.byID))
		for id, i := range l.byID {
			c.byID[id] = i
		}
	}
	return c
}

// bucketList holds a state's buckets in the order they were created, by value.
type bucketList struct {
	list  []Bucket
	byKey map[string]int // nil while list is short
}

// get returns the bucket with the key, nil if there is none. The pointer is valid until the
// next add.
func (l *bucketList) get(key string) *Bucket {
	if l.byKey != nil {
		if i, ok := l.byKey[key]; ok {
			return &l.list[i]
		}
		return nil
	}
	for i := range l.list {
		if l.list[i].Key == key {
			return &l.list[i]
		}
	}
	return nil
}

// add appends b, whose key must not be known, and returns it.
func (l *bucketList) add(b Bucket) *Bucket {
	l.list = append(l.list, b)
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
	}
}

// clone returns a copy.
func (l *bucketList) clone() bucketList {
	if len(l.list) == 0 {
		return bucketList{}
	}
	c := bucketList{list: append([]Bucket(nil), l.list...)}
	if l.byKey != nil {
		c.byKey = make(map[string]int, len(l.byKey))
		for k, i := range l.byKey {
			c.byKey[k] = i
		}
	}
	return c
}
