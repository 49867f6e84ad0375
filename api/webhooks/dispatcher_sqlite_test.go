package webhooks

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/allot/allot/persistence/sidedbtest"
)

// TestDeliveryOnSQLite runs a delivery, a retry and a success on the real SQLite store, beside
// the node's main store on the same file, as a single node does.
func TestDeliveryOnSQLite(t *testing.T) {
	db := sidedbtest.SQLite(t, "") // the main store applies the migrations
	store, err := NewSQLStore(db, SQLite)
	if err != nil {
		t.Fatal(err)
	}
	rcv := newReceiver(t, nil)
	rcv.status.Store(http.StatusBadGateway)
	h := newHarness(t, func(c *Config) { c.Store = store })
	ep, secret := h.register(t, rcv.srv.URL, "hold.confirmed")
	if err := h.d.Handle(context.Background(), event("hotel-1/9/0", "hold.confirmed", h.clock.Now())); err != nil {
		t.Fatal(err)
	}
	rcv.next(t)
	r := h.nextAttempt(t)
	if r.err != nil || r.o.Status != StatusPending {
		t.Fatalf("first attempt = %+v", r)
	}
	rcv.status.Store(http.StatusOK)
	h.clock.Set(r.o.NextAttemptAt.Add(time.Second))
	got := rcv.next(t)
	if err := verify(secret, got); err != nil {
		t.Fatal(err)
	}
	if r := h.nextAttempt(t); r.err != nil || r.o.Status != StatusSucceeded || r.a.N != 2 {
		t.Fatalf("second attempt = %+v", r)
	}
	ds, err := store.ListDeliveries(context.Background(), ep.ID, 10, "")
	if err != nil || len(ds) != 1 || ds[0].Status != StatusSucceeded || ds[0].Attempts != 2 {
		t.Fatalf("deliveries = %+v, %v", ds, err)
	}
	as, err := store.ListAttempts(context.Background(), ds[0].ID)
	if err != nil || len(as) != 2 || as[0].StatusCode != http.StatusBadGateway || as[1].StatusCode != http.StatusOK {
		t.Fatalf("attempts = %+v, %v", as, err)
	}
}
