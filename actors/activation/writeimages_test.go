package activation

import (
	"fmt"
	"reflect"
	"testing"

	"github.com/allot/allot/actors/booking"
)

// TestWriteKeepsOneImagePerKey: a group commit's write has one image per hold and per bucket,
// the last one decided, in the order of their first appearance, placements first
// (Write.NewHolds), whether write finds earlier images without a map (placements only; a few
// buckets) or with one (made at the first change of a hold, or past maxBucketScan buckets:
// round 20). A map made late must know the images before it: a change of a hold placed
// earlier in the batch replaces its image.
func TestWriteKeepsOneImagePerKey(t *testing.T) {
	var bks []booking.Bucket
	for i := range maxBucketScan + 4 {
		bks = append(bks, booking.Bucket{Key: fmt.Sprintf("b%02d", i), Capacity: 100})
	}
	c, _ := loadedCore(t, bks...)
	hold := func(id string, qty int64) booking.Hold { return booking.Hold{ID: id, Quantity: qty} }
	bucket := func(i int, held int64) booking.Bucket {
		b := bks[i]
		b.Held = held
		return b
	}
	ds := []*decision{
		{holds: []booking.Hold{hold("h1", 1)}, placed: 1, buckets: []booking.Bucket{bucket(0, 1)}},
		{holds: []booking.Hold{hold("h2", 1)}, placed: 1, buckets: []booking.Bucket{bucket(1, 1), bucket(0, 2)}},
		{holds: []booking.Hold{hold("h1", 2)}}, // a change of h1, placed above: the map starts here
		{holds: []booking.Hold{hold("hx", 1)}}, // a change of a hold from an earlier commit
		{holds: []booking.Hold{hold("h3", 1), hold("h3", 3)}, placed: 1},
		{buckets: bks[2:]}, // past maxBucketScan: a map
		{buckets: []booking.Bucket{bucket(0, 5), bucket(maxBucketScan+3, 7), bucket(3, 9)}},
		{holds: []booking.Hold{hold("hx", 4), hold("h2", 5)}},
	}
	w := c.write(ds)
	wantHolds := []booking.Hold{hold("h1", 2), hold("h2", 5), hold("h3", 3), hold("hx", 4)}
	if w.NewHolds != 3 || !reflect.DeepEqual(w.Holds, wantHolds) {
		t.Errorf("holds: new %d, %+v; want 3, %+v", w.NewHolds, w.Holds, wantHolds)
	}
	wantBuckets := []booking.Bucket{bucket(0, 5), bucket(1, 1)}
	for i := 2; i < len(bks); i++ {
		wantBuckets = append(wantBuckets, bks[i])
	}
	wantBuckets[3], wantBuckets[maxBucketScan+3] = bucket(3, 9), bucket(maxBucketScan+3, 7)
	if !reflect.DeepEqual(w.Buckets, wantBuckets) {
		t.Errorf("buckets:\n%+v\nwant\n%+v", w.Buckets, wantBuckets)
	}

	// Placements only, a bucket each: no map, one image each.
	w = c.write([]*decision{
		{holds: []booking.Hold{hold("p1", 1)}, placed: 1, buckets: []booking.Bucket{bucket(0, 1)}},
		{holds: []booking.Hold{hold("p2", 1)}, placed: 1, buckets: []booking.Bucket{bucket(0, 2)}},
	})
	if w.NewHolds != 2 || !reflect.DeepEqual(w.Holds, []booking.Hold{hold("p1", 1), hold("p2", 1)}) ||
		!reflect.DeepEqual(w.Buckets, []booking.Bucket{bucket(0, 2)}) {
		t.Errorf("placements: new %d, holds %+v, buckets %+v", w.NewHolds, w.Holds, w.Buckets)
	}
}
