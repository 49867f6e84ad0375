package booking

import (
	"fmt"
	"slices"
	"testing"
)

// TestListsFindEveryEntryAcrossTheIndex: the hold and bucket lists answer the same before and
// after they outgrow smallIndex and build their index, and their clones stay apart.
func TestListsFindEveryEntryAcrossTheIndex(t *testing.T) {
	var hs holdList
	var bs bucketList
	for n := range 3 * smallIndex {
		bs.add(Bucket{Key: fmt.Sprintf("k%d", n), Capacity: int64(n)})
		hs.add(&hold{ID: fmt.Sprintf("h%d", n), bkAt: int32(n), bkN: 1}) // a run of the bucket keys
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
		bc := bs.clone()
		hc := hs.clone()
		for i, h := range hc.list {
			// The same hold, its run of keys the same positions of the clone's keys, in a
			// hold of its own.
			if *h != *hs.list[i] || h == hs.list[i] || !slices.Equal(bc.keysAt(int(h.bkAt), int(h.bkN)), bs.keysAt(int(h.bkAt), int(h.bkN))) {
				t.Fatalf("%d entries: the clone of hold %d is %+v, the original %+v", n+1, i, *h, *hs.list[i])
			}
		}
		hc.get("h0").Quantity, bc.get("k0").Capacity = 99, 99
		hc.add(&hold{ID: "extra"})
		bc.add(Bucket{Key: "extra"})
		bc.keys[0] = "changed"
		if hs.get("h0").Quantity != 0 || bs.get("k0").Capacity != 0 || hs.get("extra") != nil || bs.get("extra") != nil || bs.keys[0] != "k0" {
			t.Fatalf("%d entries: changing a clone changed the original", n+1)
		}
	}
}

// TestBucketIndexFindsEveryKey checks the index of a list longer than smallIndex: buckets in
// calendar order, out of order, with gaps and with keys that are not days.
func TestBucketIndexFindsEveryKey(t *testing.T) {
	lists := [][]string{
		{"2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05", "2026-03-06", "2026-03-07", "2026-03-08", "2026-03-09", "2026-03-10"},
		{"2026-03-10", "2026-03-02", "2026-03-03", "2026-03-01", "2026-03-05", "2026-03-06", "2026-03-07", "2026-03-08", "2026-03-09", "2026-03-04"},
		{"2026-02-27", "2026-02-28", "2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05", "2026-03-06", "2026-03-07", "2026-03-08", "2026-03-01"},
		{"all", "2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04", "2026-03-05", "2026-03-06", "2026-03-07", "2026-03-08", "2026-03-09"},
		{"2024-02-28", "2024-02-29", "2024-03-01", "2024-03-02", "2024-03-03", "2024-03-04", "2024-03-05", "2024-03-06", "2024-03-07", "x"},
	}
	probes := []string{"2026-02-26", "2026-02-29", "2026-02-30", "2026-03-00", "2026-03-11", "2024-02-30", "all", "x", ""}
	for _, keys := range lists {
		var l bucketList
		for _, k := range keys {
			l.add(Bucket{Key: k})
		}
		for i, k := range keys {
			if got := l.index(k); got != i {
				t.Errorf("%v: index(%s) = %d, want %d", keys, k, got, i)
			}
		}
		for _, k := range probes {
			want := slices.Index(keys, k)
			if got := l.index(k); got != want {
				t.Errorf("%v: index(%q) = %d, want %d", keys, k, got, want)
			}
		}
	}
}

// TestHoldListArrayOutOfTheIndexLeavesClass: the first holds of a list, new or cloned, share
// one array of firstHolds pointers (24 bytes), never the 32-byte array of 4 that append makes
// from 2, the size class of JetStream's per-subject index leaves (docs/PERFORMANCE.md, Round 8);
// from the first array on, the list grows as append grows it.
func TestHoldListArrayOutOfTheIndexLeavesClass(t *testing.T) {
	for cloneAt := range firstHolds + 1 {
		var l holdList
		for n := range 2 * firstHolds {
			if n == cloneAt && n > 0 {
				l = l.clone()
			}
			var first *(*hold)
			if len(l.list) > 0 {
				first = &l.list[0]
			}
			l.add(&hold{ID: fmt.Sprintf("h%d", n)})
			switch c := cap(l.list); {
			case n < firstHolds && c != firstHolds:
				t.Fatalf("clone at %d: %d holds in an array of %d, want %d", cloneAt, n+1, c, firstHolds)
			case n > 0 && n < firstHolds && n != cloneAt && &l.list[0] != first:
				t.Fatalf("clone at %d: hold %d moved the array", cloneAt, n+1)
			case c == 4:
				t.Fatalf("clone at %d: %d holds in an array of 4 pointers", cloneAt, n+1)
			}
			for i := 0; i <= n; i++ {
				if h := l.get(fmt.Sprintf("h%d", i)); h == nil {
					t.Fatalf("clone at %d: hold h%d lost after %d adds", cloneAt, i, n+1)
				}
			}
		}
	}
	var l holdList
	hs := []*hold{{ID: "a"}, {ID: "b"}, {ID: "c"}}
	if allocs := testing.AllocsPerRun(100, func() {
		l = holdList{}
		for _, h := range hs {
			l.add(h)
		}
	}); allocs != 1 {
		t.Fatalf("adding %d holds to a new list: %.0f allocations, want 1", len(hs), allocs)
	}
}
