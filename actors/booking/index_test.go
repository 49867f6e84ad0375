package booking

import (
	"fmt"
	"testing"
)

// TestListsFindEveryEntryAcrossTheIndex: the hold and bucket lists answer the same before and
// after they outgrow smallIndex and build their index, and their clones stay apart.
func TestListsFindEveryEntryAcrossTheIndex(t *testing.T) {
	var hs holdList
	var bs bucketList
	for n := range 3 * smallIndex {
		hs.add(&Hold{ID: fmt.Sprintf("h%d", n)})
		bs.add(Bucket{Key: fmt.Sprintf("k%d", n), Capacity: int64(n)})
		if indexed := n+1 > smallIndex; (hs.byID != nil) != indexed || (bs.byKey != nil) != indexed {
			t.Fatalf("%d entries: hold index %v, bucket index %v", n+1, hs.byID != nil, bs.byKey != nil)
		}
		for i := 0; i <= n; i++ {
			if h := hs.get(fmt.Sprintf("h%d", i)); h == nil || h.ID != fmt.Sprintf("h%d", i) {
				t.Fatalf("%d entries: hold h%d = %v", n+1, i, h)
			}
			if b := bs.get(fmt.Sprintf("k%d", i)); b == nil || b.Capacity != int64(i) {
				t.Fatalf("%d entries: bucket k%d = %v", n+1, i, b)
			}
		}
		for i := range bs.list {
			if ks := bs.keysAt(i, 1); bs.keys[i] != bs.list[i].Key || len(ks) != 1 || cap(ks) != 1 || ks[0] != bs.list[i].Key {
				t.Fatalf("%d entries: keys %v, list %v, keysAt(%d, 1) = %v (cap %d)", n+1, bs.keys, bs.list, i, ks, cap(ks))
			}
		}
		if hs.get("nope") != nil || bs.get("nope") != nil {
			t.Fatalf("%d entries: an unknown id or key was found", n+1)
		}
		hc, bc := hs.clone(), bs.clone()
		hc.get("h0").Quantity, bc.get("k0").Capacity = 99, 99
		hc.add(&Hold{ID: "extra"})
		bc.add(Bucket{Key: "extra"})
		bc.keys[0] = "changed"
		if hs.get("h0").Quantity != 0 || bs.get("k0").Capacity != 0 || hs.get("extra") != nil || bs.get("extra") != nil || bs.keys[0] != "k0" {
			t.Fatalf("%d entries: changing a clone changed the original", n+1)
		}
	}
}
