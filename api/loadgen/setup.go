package loadgen

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/allot/allot/api/client"
	"github.com/allot/allot/api/wire"
)

// setup creates the run's resources: the flash-sale resource and/or the hotels.
func (r *runner) setup(ctx context.Context) error {
	cfg := &r.cfg
	prefix := cfg.ResourcePrefix + "-" + cfg.RunID
	r.created = map[string]map[string]int64{}
	if cfg.usesFlash() {
		r.flashID = prefix + "-flash"
		r.created[r.flashID] = map[string]int64{flashBucket: cfg.Stock}
		r.readable = append(r.readable, r.flashID)
	}
	if cfg.usesHotels() {
		first := time.Now().UTC().AddDate(0, 0, 1)
		for d := range cfg.Days {
			r.nights = append(r.nights, first.AddDate(0, 0, d).Format(time.DateOnly))
		}
		for i := range cfg.Resources {
			id := fmt.Sprintf("%s-hotel-%04d", prefix, i)
			caps := make(map[string]int64, len(r.nights))
			for _, k := range r.nights {
				caps[k] = cfg.Rooms
			}
			r.hotels = append(r.hotels, id)
			r.readable = append(r.readable, id)
			r.created[id] = caps
		}
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	ids := make(chan string)
	var wg sync.WaitGroup
	for range min(cfg.Clients, 16, len(r.created)) {
		wg.Go(func() {
			for id := range ids {
				if err := r.create(ctx, id); err != nil {
					cancel(err)
				}
			}
		})
	}
	for _, id := range sortedKeys(r.created) {
		select {
		case ids <- id:
		case <-ctx.Done():
		}
	}
	close(ids)
	wg.Wait()
	return context.Cause(ctx)
}

// create creates one resource.
func (r *runner) create(ctx context.Context, id string) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	body := wire.CreateResource{
		ID:      id,
		Name:    "loadgen " + id,
		Buckets: r.created[id],
		HoldTTL: holdTTL,
		Price:   &wire.Money{Amount: 12000, Currency: "EUR"},
	}
	start := time.Now()
	_, info, err := r.c.CreateResource(ctx, body)
	res := resultOf(info, err)
	r.stats.observe(OpCreate, time.Since(start))
	switch {
	case res.Status == http.StatusCreated && res.Err == nil:
		return nil
	case res.Status == http.StatusConflict && res.Code == "already_exists" && res.Retries > 0:
		return nil // an earlier attempt of ours was applied
	case res.Status == http.StatusConflict && res.Code == "already_exists":
		return fmt.Errorf("resource %s already exists: choose another --run-id", id)
	default:
		return fmt.Errorf("create %s: %s", id, res)
	}
}

// readAvailability reads the availability of resources with par concurrent requests. It
// returns what it could read and the first error.
func readAvailability(ctx context.Context, c *client.Client, resources []string, par int) (map[string]map[string]wire.Bucket, error) {
	var (
		mu    sync.Mutex
		out   = make(map[string]map[string]wire.Bucket, len(resources))
		first error
		wg    sync.WaitGroup
	)
	ids := make(chan string)
	for range max(par, 1) {
		wg.Go(func() {
			for id := range ids {
				ans, _, err := c.Availability(ctx, id)
				if err != nil {
					err = fmt.Errorf("%s: %w", id, err)
				}
				mu.Lock()
				if err != nil && first == nil {
					first = err
				} else if err == nil {
					out[id] = ans.Buckets
				}
				mu.Unlock()
			}
		})
	}
	for _, id := range resources {
		ids <- id
	}
	close(ids)
	wg.Wait()
	return out, first
}
