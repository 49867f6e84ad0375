package cmd

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/allot/allot/api/client"
	"github.com/allot/allot/api/wire"
	"github.com/allot/allot/cluster/clustertest"
	"github.com/allot/allot/persistence/pgtest"
)

// TestDatabaseRestartUnderLoad restarts PostgreSQL in the middle of a load of holds on a node
// that keeps running: writes get 503 while the database is down, sold-out and reads are still
// answered from memory, the node serves again by itself when the database is back, and every
// acknowledged hold is in the database with no bucket oversold.
// TestMain shares one throwaway PostgreSQL among the package's tests and stops it at the end.
func TestMain(m *testing.M) { pgtest.Main(m) }

func TestDatabaseRestartUnderLoad(t *testing.T) {
	pg := pgtest.MustNewServer(t)
	if pg.External() {
		t.Skip("needs a database the test can restart")
	}
	db := pg.MustDatabase(t)
	m := MustRunMain(t, func(c *NodeConfig) {
		c.DBURL = db
		c.DBStatementTimeout = time.Second
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := clustertest.NewClient(3*time.Second, m.DevIssuer())
	c.MaxRetries = 0
	base := m.HTTPURL()
	const stock = 2000
	if err := c.CreateResource(ctx, base, "flash", map[string]int64{"all": stock}, "1h"); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateResource(ctx, base, "gone", map[string]int64{"all": 1}, "1h"); err != nil {
		t.Fatal(err)
	}
	if _, p, err := c.PlaceHold(ctx, base, "gone", "g1", "u", []string{"all"}, 1); err != nil || p != nil {
		t.Fatalf("fill gone: %v %+v", err, p)
	}

	var mu sync.Mutex
	acked := map[string]string{}
	statuses := map[int]int{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				r, _ := c.Do(ctx, "POST", base+"/v1/resources/flash/holds", fmt.Sprintf("w%d-%d", w, i),
					map[string]any{"buckets": []string{"all"}, "quantity": 1, "user_id": "u"})
				if r == nil {
					continue // a transport error: unacknowledged
				}
				mu.Lock()
				statuses[r.Status]++
				mu.Unlock()
				if h, _, err := decodeTestHold(r); err == nil && h != "" {
					mu.Lock()
					acked[h] = "held"
					mu.Unlock()
				}
				time.Sleep(2 * time.Millisecond)
			}
		}(w)
	}
	waitFor(t, 20*time.Second, "holds before the restart", func() bool { mu.Lock(); defer mu.Unlock(); return len(acked) >= 50 })
	if err := pg.Stop(); err != nil {
		t.Fatal(err)
	}
	// While the database is down: writes fail fast with 503, sold out and reads still answer.
	waitFor(t, 20*time.Second, "503 while the database is down", func() bool { mu.Lock(); defer mu.Unlock(); return statuses[503] > 0 })
	if _, p, err := c.PlaceHold(ctx, base, "gone", "g2", "u", []string{"all"}, 1); err != nil || p == nil || p.Code != "sold_out" {
		t.Fatalf("sold out while the database is down: %v %+v", err, p)
	}
	if _, err := c.Availability(ctx, base, "flash"); err != nil {
		t.Fatalf("read while the database is down: %v", err)
	}
	mu.Lock()
	before := len(acked)
	mu.Unlock()
	if err := pg.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "holds after the restart", func() bool { mu.Lock(); defer mu.Unlock(); return len(acked) >= before+50 })
	close(stop)
	wg.Wait()
	t.Logf("statuses %v, %d acknowledged (%d before the restart)", statuses, len(acked), before)
	rep, err := clustertest.Audit(ctx, db, "", acked)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("audit: %s", rep)
	}
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var jsonUnmarshal = json.Unmarshal

func decodeTestHold(r *client.Response) (string, string, error) {
	if r.Status != 201 {
		return "", "", nil
	}
	var h wire.Hold
	if err := jsonUnmarshal(r.Body, &h); err != nil {
		return "", "", err
	}
	return h.ID, h.Status, nil
}
