package cmd

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/cluster/clustertest"
)

// TestKill9KeepsAcknowledgedHolds runs the real binary on the embedded store, books under
// concurrent load, SIGKILLs it mid-stream, restarts it on the same data dir and checks that
// every acknowledged hold survived and nothing is oversold.
func TestKill9KeepsAcknowledgedHolds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := clustertest.MustBinary(t)
	dataDir := t.TempDir()
	n := clustertest.StartNode(t, bin, clustertest.NodeOptions{Name: "solo", DataDir: dataDir})
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c := clustertest.NewClient(5*time.Second, clustertest.DevIssuer(t, auth.DevKeyFile(dataDir)))
	c.MaxRetries = 0 // a request in flight at the kill is simply unacknowledged
	const capacity = 500
	if err := c.CreateResource(ctx, n.URL(), "flash-1", map[string]int64{"all": capacity}, "1h"); err != nil {
		t.Fatal(err)
	}
	// The walk-through's 2-night stay, acknowledged before the kill.
	if err := c.CreateResource(ctx, n.URL(), "hotel-1", map[string]int64{"2026-12-24": 3, "2026-12-25": 3}, "1h"); err != nil {
		t.Fatal(err)
	}
	stay, p, err := c.PlaceHold(ctx, n.URL(), "hotel-1", "stay-1", "u-1", []string{"2026-12-24", "2026-12-25"}, 2)
	if err != nil || p != nil {
		t.Fatalf("stay: %v %+v", err, p)
	}
	if _, p, err = c.Transition(ctx, n.URL(), "hotel-1", stay.ID, "confirm"); err != nil || p != nil {
		t.Fatalf("confirm stay: %v %+v", err, p)
	}

	var mu sync.Mutex
	acked := map[string]bool{}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				h, _, err := c.PlaceHold(ctx, n.URL(), "flash-1", fmt.Sprintf("w%d-%d", w, i), fmt.Sprintf("u%d", w), []string{"all"}, 1)
				if err != nil {
					continue // unacknowledged (the node died under it)
				}
				if h != nil {
					mu.Lock()
					acked[h.ID] = true
					mu.Unlock()
				}
			}
		}(w)
	}
	// Kill once a good number of holds are acknowledged.
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		k := len(acked)
		mu.Unlock()
		if k >= 100 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	n.Kill()
	close(stop)
	wg.Wait()
	if len(acked) == 0 {
		t.Fatal("no hold was acknowledged before the kill")
	}

	n.Start()
	n.WaitReady(30 * time.Second)
	c.MaxRetries = 20
	for id := range acked {
		r, err := c.Do(ctx, "GET", n.URL()+"/v1/resources/flash-1/holds/"+id, "", nil)
		if err != nil || r.Status != 200 {
			t.Fatalf("acknowledged hold %s lost after kill -9: %v %+v", id, err, r)
		}
	}
	a, err := c.Availability(ctx, n.URL(), "flash-1")
	if err != nil {
		t.Fatal(err)
	}
	b := a.Buckets["all"]
	if b.Held+b.Confirmed > capacity || b.Held < int64(len(acked)) {
		t.Fatalf("after restart: %+v with %d acknowledged", b, len(acked))
	}
	r, err := c.Do(ctx, "GET", n.URL()+"/v1/resources/hotel-1/holds/"+stay.ID, "", nil)
	if err != nil || r.Status != 200 {
		t.Fatalf("stay lost: %v %+v", err, r)
	}
	hs, err := c.Availability(ctx, n.URL(), "hotel-1")
	if err != nil || hs.Buckets["2026-12-25"].Confirmed != 2 {
		t.Fatalf("stay not confirmed after restart: %v %+v", err, hs)
	}
	t.Logf("%d holds acknowledged before kill -9, all present after restart (bucket %+v)", len(acked), b)
}
