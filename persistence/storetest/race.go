package storetest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

// testConcurrentActivations: n goroutines activate the same resource at once and each commits
// twice with the epoch it got. Epochs are handed out exactly once each; a fenced activation
// stays fenced; the newest activation is never fenced; exactly the acknowledged writes are
// visible, and the last after-image is the newest activation's.
func testConcurrentActivations(f *fixture) {
	const n = 8
	id := f.id("r")
	const capacity = 1 << 30
	f.create(id, booking.Bucket{Key: "a", Capacity: capacity})
	u := f.id("u")
	type result struct {
		activateErr error
		epoch, base uint64 // the activation's epoch and the version it loaded
		holds       [2]booking.Hold
		errs        [2]error
	}
	results := make([]result, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := &results[i]
			<-start
			snap, err := f.s.Activate(context.Background(), id, time.Time{})
			if err != nil {
				r.activateErr = err
				return
			}
			r.epoch, r.base = snap.Epoch, snap.Version
			for k := range 2 {
				r.holds[k] = hold(id, f.id(fmt.Sprintf("g%d-%d", i, k)), u, int64(10*i+k), 1, "a")
				r.errs[k] = f.s.Commit(context.Background(), &persistence.Batch{
					ResourceID: id, Epoch: snap.Epoch, Version: snap.Version + 1 + uint64(k), Resource: f.resource(id),
					Buckets: []booking.Bucket{{Key: "a", Capacity: capacity, Held: int64(snap.Epoch)}},
					Holds:   []booking.Hold{r.holds[k]},
				})
			}
		})
	}
	close(start)
	wg.Wait()

	var epochs []int
	var landed []booking.Hold
	var newest *result
	for i := range results {
		r := &results[i]
		if r.activateErr != nil {
			f.Fatalf("goroutine %d: activate: %v", i, r.activateErr)
		}
		epochs = append(epochs, int(r.epoch))
		if newest == nil || r.epoch > newest.epoch {
			newest = r
		}
		for k, err := range r.errs {
			switch {
			case err == nil:
				landed = append(landed, r.holds[k])
			case !errors.Is(err, persistence.ErrFenced):
				f.Fatalf("goroutine %d (epoch %d) commit %d: %v, want nil or ErrFenced", i, r.epoch, k, err)
			default:
				f.expectNoHold(id, r.holds[k].ID)
			}
		}
		if errors.Is(r.errs[0], persistence.ErrFenced) && r.errs[1] == nil {
			f.Fatalf("epoch %d: first commit fenced, second landed: fencing must be permanent", r.epoch)
		}
	}
	sort.Ints(epochs)
	for i, e := range epochs {
		if e != i+2 {
			f.Fatalf("activation epochs %v, want each of 2..%d exactly once", epochs, n+1)
		}
	}
	if newest.errs[0] != nil || newest.errs[1] != nil {
		f.Fatalf("newest activation (epoch %d) was fenced: %v", newest.epoch, newest.errs)
	}
	f.expectSnapshot(f.activate(id, time.Time{}), persistence.Snapshot{
		Exists: true, Epoch: n + 2, Version: newest.base + 2, Resource: f.resource(id),
		Buckets: []booking.Bucket{{Key: "a", Capacity: capacity, Held: int64(newest.epoch)}},
		Holds:   landed,
	})
}

// testConcurrentCreations: n goroutines create the same resource at once; exactly one wins,
// the others are fenced, and only the winner's batch is visible.
func testConcurrentCreations(f *fixture) {
	const n = 8
	id := f.id("r")
	u := f.id("u")
	batches := make([]*persistence.Batch, n)
	for i := range batches {
		res := f.resource(id)
		res.Name = fmt.Sprintf("creator %d", i)
		batches[i] = &persistence.Batch{
			ResourceID: id, Version: 1, Create: true, Resource: res,
			Buckets: []booking.Bucket{{Key: "a", Capacity: 10, Held: 1}},
			Holds:   []booking.Hold{hold(id, f.id(fmt.Sprintf("h%d", i)), u, int64(i), 1, "a")},
		}
	}
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = f.s.Commit(context.Background(), batches[i])
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			f.Fatalf("creations %d and %d both succeeded", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, persistence.ErrFenced):
			f.Fatalf("creation %d: %v, want nil or ErrFenced", i, err)
		default:
			f.expectNoHold(id, batches[i].Holds[0].ID)
		}
	}
	if winner < 0 {
		f.Fatalf("no creation succeeded: %v", errs)
	}
	w := batches[winner]
	f.expectSnapshot(f.activate(id, time.Time{}), persistence.Snapshot{
		Exists: true, Epoch: 2, Version: 1, Resource: w.Resource, Buckets: w.Buckets, Holds: w.Holds,
	})
}
