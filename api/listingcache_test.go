package api

import (
	"context"
	"fmt"
	"net/http"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/api/wire"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/persistence/pgtest"
	"github.com/allot/allot/persistence/postgres"
)

// TestPastBookingsWhileTheDatabaseIsDown: with PostgreSQL stopped, a user whose bookings were
// listed recently still gets them, marked X-Allot-Stale and not to be stored by caches; a user
// never listed gets 503 with Retry-After; once the database is back, listings are current
// again, by themselves.
func TestPastBookingsWhileTheDatabaseIsDown(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and stops a PostgreSQL server")
	}
	pg := pgtest.MustNewServer(t)
	cfg := postgres.DefaultConfig()
	cfg.URL = pg.MustDatabase(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	store, err := postgres.Open(ctx, cfg)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { _ = store.Close() })

	// Two bookings of u-1, written as an actor would.
	base := time.UnixMilli(1_900_000_000_000).UTC()
	res := booking.Resource{ID: "hotel", Name: "Hotel", HoldTTL: 10 * time.Minute, CreatedAt: base, UpdatedAt: base}
	hold := func(id string) booking.Hold {
		return booking.Hold{ID: id, ResourceID: "hotel", UserID: "u-1", Buckets: []string{"2026-12-24"}, Quantity: 1,
			Status: booking.StatusConfirmed, CreatedAt: base, ExpiresAt: base.Add(10 * time.Minute), UpdatedAt: base}
	}
	if err := store.Commit(ctx, &persistence.Batch{ResourceID: "hotel", Version: 1, Create: true, Resource: res,
		Buckets: []booking.Bucket{{Key: "2026-12-24", Capacity: 5, Confirmed: 2}}, Holds: []booking.Hold{hold("h-1"), hold("h-2")}}); err != nil {
		t.Fatalf("commit: %v", err)
	}

	e := MustServer(t, func(c *Config) {
		c.Holds, c.Waitlist, c.Resources = store, store, store
		c.RequestTimeout = 2 * time.Second
	})
	var before wire.HoldList
	e.ok(e.do("GET", "/v1/users/u-1/holds", ""), http.StatusOK, &before)
	if len(before.Holds) != 2 {
		t.Fatalf("listed %+v", before)
	}

	if err := pg.Stop(); err != nil {
		t.Fatalf("stop PostgreSQL: %v", err)
	}
	rec := e.do("GET", "/v1/users/u-1/holds", "")
	var during wire.HoldList
	e.ok(rec, http.StatusOK, &during)
	if !reflect.DeepEqual(during, before) || rec.Header().Get(StaleHeader) != "true" || rec.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("with the database down: %v %+v", rec.Header(), during)
	}
	rec = e.do("GET", "/v1/users/u-2/holds", "")
	mustProblem(t, rec, http.StatusServiceUnavailable, "unavailable")
	if rec.Header().Get("Retry-After") == "" {
		t.Fatalf("503 without Retry-After: %v", rec.Header())
	}

	if err := pg.Start(); err != nil {
		t.Fatalf("start PostgreSQL: %v", err)
	}
	// The store reconnects by itself: the next listing is current again.
	rec = e.do("GET", "/v1/users/u-1/holds", "")
	if rec.Code != http.StatusOK || rec.Header().Get(StaleHeader) != "" {
		t.Fatalf("after the restart: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
}

// stubLister answers ListHolds with holds until down is set, then with ErrUnavailable.
type stubLister struct {
	down  atomic.Bool
	calls atomic.Int64
}

func (l *stubLister) ListHolds(_ context.Context, f persistence.HoldFilter) ([]booking.Hold, error) {
	l.calls.Add(1)
	if l.down.Load() {
		return nil, fmt.Errorf("query: %w", persistence.ErrUnavailable)
	}
	return []booking.Hold{{ID: "h-" + f.UserID, ResourceID: "r", UserID: f.UserID, Buckets: []string{"all"}, Quantity: 1,
		Status: booking.StatusHeld}}, nil
}

// TestListingCacheBounds: the cache keeps at most StaleListings user listings, least recently
// served out first, none older than StaleListingMaxAge, and only listings that name a user.
func TestListingCacheBounds(t *testing.T) {
	l := &stubLister{}
	e := MustServer(t, func(c *Config) {
		c.Holds = l
		c.StaleListings = 2
		c.StaleListingMaxAge = time.Hour
	})
	for _, u := range []string{"u-1", "u-2", "u-1", "u-3"} { // u-2 is the least recently served
		e.ok(e.do("GET", "/v1/users/"+u+"/holds", ""), http.StatusOK, nil)
	}
	e.ok(e.do("GET", "/v1/resources/r/holds", ""), http.StatusOK, nil)
	l.down.Store(true)
	for u, want := range map[string]int{"u-1": 200, "u-2": 503, "u-3": 200} {
		if rec := e.do("GET", "/v1/users/"+u+"/holds", ""); rec.Code != want {
			t.Errorf("%s: %d, want %d", u, rec.Code, want)
		}
	}
	mustProblem(t, e.do("GET", "/v1/resources/r/holds", ""), http.StatusServiceUnavailable, "unavailable")
	e.clock.Advance(time.Hour + time.Second)
	mustProblem(t, e.do("GET", "/v1/users/u-1/holds", ""), http.StatusServiceUnavailable, "unavailable")
}
