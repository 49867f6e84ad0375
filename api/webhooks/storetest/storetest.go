// Package storetest is the contract suite every webhooks.Store passes.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/allot/allot/api/webhooks"
)

// Run runs the suite; newStore returns an empty store, cleaned up with t.
func Run(t *testing.T, newStore func(t *testing.T) webhooks.Store) {
	t.Run("Endpoints", func(t *testing.T) { testEndpoints(t, newStore(t)) })
	t.Run("DeliveriesIdempotent", func(t *testing.T) { testDeliveriesIdempotent(t, newStore(t)) })
	t.Run("ListDeliveriesPages", func(t *testing.T) { testListDeliveries(t, newStore(t)) })
	t.Run("ClaimAndRecord", func(t *testing.T) { testClaimAndRecord(t, newStore(t)) })
	t.Run("ConcurrentClaimsShareNothing", func(t *testing.T) { testConcurrentClaims(t, newStore(t)) })
	t.Run("DeleteCascades", func(t *testing.T) { testDeleteCascades(t, newStore(t)) })
	t.Run("ClaimExcludesEndpoints", func(t *testing.T) { testClaimExcludes(t, newStore(t)) })
	t.Run("AddEventsOncePerConsumer", func(t *testing.T) { testAddEvents(t, newStore(t)) })
	t.Run("RecordAttemptsEachItsOutcome", func(t *testing.T) { testRecordAttempts(t, newStore(t)) })
	t.Run("RecordAttemptsInOrder", func(t *testing.T) { testRecordAttemptsInOrder(t, newStore(t)) })
}

func ids(ds []webhooks.Delivery) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.ID)
	}
	return out
}

func testAddEvents(t *testing.T, s webhooks.Store) {
	ctx := context.Background()
	must(t, s.CreateEndpoint(ctx, endpoint("we_a", t0)))
	must(t, s.CreateEndpoint(ctx, endpoint("we_b", t0)))
	batch := []webhooks.EventDeliveries{
		{EventID: "r/1/0", Deliveries: []webhooks.Delivery{delivery("we_a", "r/1/0", t0), delivery("we_b", "r/1/0", t0)}},
		{EventID: "r/2/0", Deliveries: []webhooks.Delivery{delivery("we_a", "r/2/0", t0)}},
	}
	added, err := s.AddEvents(ctx, "webhooks", t0, batch)
	must(t, err)
	want := []string{webhooks.DeliveryID("we_a", "r/1/0"), webhooks.DeliveryID("we_b", "r/1/0"), webhooks.DeliveryID("we_a", "r/2/0")}
	if fmt.Sprint(ids(added)) != fmt.Sprint(want) {
		t.Fatalf("added %v, want %v", ids(added), want)
	}
	// Redelivered, now also for an endpoint registered since: the inbox holds both events,
	// so nothing is added; a new event in the same batch is.
	must(t, s.CreateEndpoint(ctx, endpoint("we_c", t0)))
	batch[1].Deliveries = append(batch[1].Deliveries, delivery("we_c", "r/2/0", t0))
	batch = append(batch, webhooks.EventDeliveries{EventID: "r/3/0", Deliveries: []webhooks.Delivery{delivery("we_c", "r/3/0", t0)}})
	added, err = s.AddEvents(ctx, "webhooks", t0, batch)
	must(t, err)
	if fmt.Sprint(ids(added)) != fmt.Sprint([]string{webhooks.DeliveryID("we_c", "r/3/0")}) {
		t.Fatalf("redelivery added %v, want only the new event's delivery", ids(added))
	}
	if _, err := s.GetDelivery(ctx, "we_c", webhooks.DeliveryID("we_c", "r/2/0")); !errors.Is(err, webhooks.ErrNotFound) {
		t.Fatalf("a redelivered event added a delivery: %v", err)
	}
	// Another consumer has its own inbox; deliveries stay unique per (endpoint, event).
	added, err = s.AddEvents(ctx, "other", t0, batch[1:2])
	must(t, err)
	if fmt.Sprint(ids(added)) != fmt.Sprint([]string{webhooks.DeliveryID("we_c", "r/2/0")}) {
		t.Fatalf("other consumer added %v", ids(added))
	}
	if added, err := s.AddEvents(ctx, "webhooks", t0, nil); err != nil || len(added) != 0 {
		t.Fatalf("empty batch: %v, %v", added, err)
	}
	// A delivery stored by an earlier build, whose ids hashed the whole event, is found by
	// (endpoint, event): the same event under today's id adds nothing (a redelivery across
	// an upgrade, with its inbox row pruned or from another consumer).
	old := delivery("we_a", "r/4/0", t0)
	old.ID = "dlv_0123456789abcdef01234567"
	added, err = s.AddEvents(ctx, "before", t0, []webhooks.EventDeliveries{{EventID: "r/4/0", Deliveries: []webhooks.Delivery{old}}})
	must(t, err)
	if fmt.Sprint(ids(added)) != fmt.Sprint([]string{old.ID}) {
		t.Fatalf("earlier id: added %v", ids(added))
	}
	added, err = s.AddEvents(ctx, "after", t0, []webhooks.EventDeliveries{{EventID: "r/4/0", Deliveries: []webhooks.Delivery{delivery("we_a", "r/4/0", t0)}}})
	must(t, err)
	if len(added) != 0 {
		t.Fatalf("the event stored under an earlier id was added again as %v", ids(added))
	}
}

func testRecordAttempts(t *testing.T, s webhooks.Store) {
	ctx := context.Background()
	must(t, s.CreateEndpoint(ctx, endpoint("we_a", t0)))
	_, err := s.AddDeliveries(ctx, []webhooks.Delivery{delivery("we_a", "r/1/0", t0), delivery("we_a", "r/2/0", t0)})
	must(t, err)
	d1, d2 := webhooks.DeliveryID("we_a", "r/1/0"), webhooks.DeliveryID("we_a", "r/2/0")
	next := t0.Add(time.Minute)
	rs := []webhooks.AttemptRecord{
		{Attempt: webhooks.Attempt{DeliveryID: d1, N: 1, At: t0, StatusCode: 204}, Outcome: webhooks.Outcome{Status: webhooks.StatusSucceeded, LastStatusCode: 204}},
		{Attempt: webhooks.Attempt{DeliveryID: d2, N: 2, At: t0, StatusCode: 500}, Outcome: webhooks.Outcome{Status: webhooks.StatusPending}},
		{Attempt: webhooks.Attempt{DeliveryID: "dlv_none", N: 1, At: t0}, Outcome: webhooks.Outcome{Status: webhooks.StatusFailed}},
		{Attempt: webhooks.Attempt{DeliveryID: d2, N: 1, At: t0, StatusCode: 500, Error: "HTTP 500"},
			Outcome: webhooks.Outcome{Status: webhooks.StatusPending, NextAttemptAt: next, LastStatusCode: 500, LastError: "HTTP 500"}},
	}
	errs, err := s.RecordAttempts(ctx, rs)
	must(t, err)
	if len(errs) != len(rs) || errs[0] != nil || !errors.Is(errs[1], webhooks.ErrStale) || !errors.Is(errs[2], webhooks.ErrNotFound) || errs[3] != nil {
		t.Fatalf("errs = %v", errs)
	}
	got1, err := s.GetDelivery(ctx, "we_a", d1)
	must(t, err)
	got2, err := s.GetDelivery(ctx, "we_a", d2)
	must(t, err)
	if got1.Status != webhooks.StatusSucceeded || got1.Attempts != 1 || got2.Status != webhooks.StatusPending ||
		got2.Attempts != 1 || !got2.NextAttemptAt.Equal(next) || got2.LastError != "HTTP 500" {
		t.Fatalf("after records: %+v, %+v", got1, got2)
	}
	as, err := s.ListAttempts(ctx, d2)
	must(t, err)
	if len(as) != 1 || as[0].N != 1 || as[0].StatusCode != 500 {
		t.Fatalf("attempts of %s = %+v", d2, as)
	}
}

// testRecordAttempts with more attempts than one statement takes, and a delivery's later
// attempts in the same call: each attempt sees what the ones before it did (the second
// attempt of a delivery takes it after the first did, a repeated one is stale).
func testRecordAttemptsInOrder(t *testing.T, s webhooks.Store) {
	ctx := context.Background()
	must(t, s.CreateEndpoint(ctx, endpoint("we_a", t0)))
	const n = 150
	var ds []webhooks.Delivery
	for i := range n {
		ds = append(ds, delivery("we_a", "r/"+strconv.Itoa(i+1)+"/0", t0))
	}
	_, err := s.AddDeliveries(ctx, ds)
	must(t, err)
	failed := webhooks.Outcome{Status: webhooks.StatusPending, NextAttemptAt: t0.Add(time.Minute), LastStatusCode: 500, LastError: "HTTP 500"}
	ok := webhooks.Outcome{Status: webhooks.StatusSucceeded, LastStatusCode: 204}
	var rs []webhooks.AttemptRecord
	for i, d := range ds { // every delivery's first attempt; every third one's second right after it
		rs = append(rs, webhooks.AttemptRecord{Attempt: webhooks.Attempt{DeliveryID: d.ID, N: 1, At: t0, StatusCode: 500}, Outcome: failed})
		if i%3 == 0 {
			rs = append(rs, webhooks.AttemptRecord{Attempt: webhooks.Attempt{DeliveryID: d.ID, N: 2, At: t0, StatusCode: 204}, Outcome: ok})
		}
	}
	for i, d := range ds { // every fifth one's first attempt again, later in the call: stale
		if i%5 == 0 {
			rs = append(rs, webhooks.AttemptRecord{Attempt: webhooks.Attempt{DeliveryID: d.ID, N: 1, At: t0, StatusCode: 204}, Outcome: ok})
		}
	}
	errs, err := s.RecordAttempts(ctx, rs)
	must(t, err)
	for j, r := range rs {
		stale := j >= len(rs)-(n+4)/5
		if stale != errors.Is(errs[j], webhooks.ErrStale) || (!stale && errs[j] != nil) {
			t.Fatalf("record %d (%s #%d): %v", j, r.Attempt.DeliveryID, r.Attempt.N, errs[j])
		}
	}
	for i, d := range ds {
		got, err := s.GetDelivery(ctx, "we_a", d.ID)
		must(t, err)
		want, attempts := webhooks.StatusPending, 1
		if i%3 == 0 {
			want, attempts = webhooks.StatusSucceeded, 2
		}
		if got.Status != want || got.Attempts != attempts {
			t.Fatalf("delivery %d: %s after %d attempts, want %s after %d", i, got.Status, got.Attempts, want, attempts)
		}
	}
}

var t0 = time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)

func endpoint(id string, at time.Time) webhooks.Endpoint {
	return webhooks.Endpoint{ID: id, URL: "https://example.com/hooks/" + id, Description: "d " + id,
		EventTypes: []string{"hold.placed", "hold.confirmed"}, Secret: "sealed1:abc", CreatedAt: at, UpdatedAt: at}
}

func delivery(ep, ev string, at time.Time) webhooks.Delivery {
	return webhooks.Delivery{ID: webhooks.DeliveryID(ep, ev), EndpointID: ep, EventID: ev, EventType: "hold.placed",
		Payload: json.RawMessage(`{"id":"` + ev + `"}`), Status: webhooks.StatusPending, NextAttemptAt: at,
		CreatedAt: at, UpdatedAt: at}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func testEndpoints(t *testing.T, s webhooks.Store) {
	ctx := context.Background()
	a, b := endpoint("we_a", t0), endpoint("we_b", t0.Add(time.Second))
	must(t, s.CreateEndpoint(ctx, b))
	must(t, s.CreateEndpoint(ctx, a))
	if err := s.CreateEndpoint(ctx, a); !errors.Is(err, webhooks.ErrExists) {
		t.Fatalf("second create: %v, want ErrExists", err)
	}
	got, err := s.GetEndpoint(ctx, "we_a")
	must(t, err)
	if got.URL != a.URL || got.Description != a.Description || got.Secret != a.Secret || !got.CreatedAt.Equal(t0) ||
		fmt.Sprint(got.EventTypes) != fmt.Sprint(a.EventTypes) || got.Disabled || !got.FailingSince.IsZero() {
		t.Fatalf("get = %+v, want %+v", got, a)
	}
	if _, err := s.GetEndpoint(ctx, "we_none"); !errors.Is(err, webhooks.ErrNotFound) {
		t.Fatalf("get missing: %v", err)
	}
	all, err := s.ListEndpoints(ctx)
	must(t, err)
	if len(all) != 2 || all[0].ID != "we_a" || all[1].ID != "we_b" {
		t.Fatalf("list = %+v", all)
	}
	st := webhooks.EndpointState{Disabled: true, DisabledReason: "410 Gone", FailingSince: t0.Add(time.Minute)}
	must(t, s.SetEndpointState(ctx, "we_a", st, t0.Add(2*time.Minute)))
	got, err = s.GetEndpoint(ctx, "we_a")
	must(t, err)
	if !got.Disabled || got.DisabledReason != "410 Gone" || !got.FailingSince.Equal(st.FailingSince) || !got.UpdatedAt.Equal(t0.Add(2*time.Minute)) {
		t.Fatalf("after state = %+v", got)
	}
	if err := s.SetEndpointState(ctx, "we_none", st, t0); !errors.Is(err, webhooks.ErrNotFound) {
		t.Fatalf("state of missing: %v", err)
	}
	must(t, s.DeleteEndpoint(ctx, "we_a"))
	if err := s.DeleteEndpoint(ctx, "we_a"); !errors.Is(err, webhooks.ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
}

func testDeliveriesIdempotent(t *testing.T, s webhooks.Store) {
	ctx := context.Background()
	must(t, s.CreateEndpoint(ctx, endpoint("we_a", t0)))
	ds := []webhooks.Delivery{delivery("we_a", "r/1/0", t0), delivery("we_a", "r/2/0", t0)}
	n, err := s.AddDeliveries(ctx, ds)
	must(t, err)
	if n != 2 {
		t.Fatalf("added %d, want 2", n)
	}
	// A redelivered event adds nothing, even with other fields.
	again := delivery("we_a", "r/1/0", t0.Add(time.Hour))
	n, err = s.AddDeliveries(ctx, []webhooks.Delivery{again, delivery("we_a", "r/3/0", t0)})
	must(t, err)
	if n != 1 {
		t.Fatalf("added %d on redelivery, want 1", n)
	}
	d, err := s.GetDelivery(ctx, "we_a", webhooks.DeliveryID("we_a", "r/1/0"))
	must(t, err)
	if !d.CreatedAt.Equal(t0) || string(d.Payload) != `{"id":"r/1/0"}` || d.Status != webhooks.StatusPending || d.EventType != "hold.placed" {
		t.Fatalf("delivery = %+v", d)
	}
	if _, err := s.GetDelivery(ctx, "we_other", d.ID); !errors.Is(err, webhooks.ErrNotFound) {
		t.Fatalf("delivery through another endpoint: %v", err)
	}
}

func testListDeliveries(t *testing.T, s webhooks.Store) {
	ctx := context.Background()
	must(t, s.CreateEndpoint(ctx, endpoint("we_a", t0)))
	must(t, s.CreateEndpoint(ctx, endpoint("we_b", t0)))
	var ds []webhooks.Delivery
	for i := range 7 {
		ds = append(ds, delivery("we_a", fmt.Sprintf("r/%d/0", i), t0.Add(time.Duration(i/2)*time.Second)))
	}
	ds = append(ds, delivery("we_b", "r/0/0", t0))
	_, err := s.AddDeliveries(ctx, ds)
	must(t, err)
	var seen []webhooks.Delivery
	before := ""
	for {
		page, err := s.ListDeliveries(ctx, "we_a", 3, before)
		must(t, err)
		seen = append(seen, page...)
		if len(page) < 3 {
			break
		}
		before = page[len(page)-1].ID
	}
	if len(seen) != 7 {
		t.Fatalf("paged through %d deliveries, want 7", len(seen))
	}
	for i, d := range seen {
		if d.EndpointID != "we_a" {
			t.Fatalf("delivery of %s listed", d.EndpointID)
		}
		if i == 0 {
			continue
		}
		prev := seen[i-1]
		if d.CreatedAt.After(prev.CreatedAt) || (d.CreatedAt.Equal(prev.CreatedAt) && d.ID >= prev.ID) {
			t.Fatalf("not newest first: %s after %s", d.ID, prev.ID)
		}
	}
}

func testClaimAndRecord(t *testing.T, s webhooks.Store) {
	ctx := context.Background()
	must(t, s.CreateEndpoint(ctx, endpoint("we_a", t0)))
	_, err := s.AddDeliveries(ctx, []webhooks.Delivery{
		delivery("we_a", "r/1/0", t0), delivery("we_a", "r/2/0", t0.Add(time.Second)), delivery("we_a", "r/3/0", t0.Add(time.Hour)),
	})
	must(t, err)
	lease := t0.Add(time.Minute)
	got, err := s.ClaimDue(ctx, t0.Add(time.Second), lease, 10, nil)
	must(t, err)
	if len(got) != 2 || got[0].EventID != "r/1/0" || got[1].EventID != "r/2/0" || !got[0].NextAttemptAt.Equal(lease) {
		t.Fatalf("claim = %+v", got)
	}
	// Claimed rows are leased: a second claim before the lease ends gets nothing.
	again, err := s.ClaimDue(ctx, t0.Add(2*time.Second), lease, 10, nil)
	must(t, err)
	if len(again) != 0 {
		t.Fatalf("claimed twice: %+v", again)
	}
	// limit: one of the two when the lease has run out.
	one, err := s.ClaimDue(ctx, lease, lease.Add(time.Minute), 1, nil)
	must(t, err)
	if len(one) != 1 {
		t.Fatalf("limit 1 claimed %d", len(one))
	}
	d := got[0]
	a := webhooks.Attempt{DeliveryID: d.ID, N: 1, At: t0.Add(2 * time.Second), Duration: 1500 * time.Millisecond, StatusCode: 500, Error: "HTTP 500"}
	next := t0.Add(10 * time.Second)
	must(t, s.RecordAttempt(ctx, a, webhooks.Outcome{Status: webhooks.StatusPending, NextAttemptAt: next, LastStatusCode: 500, LastError: "HTTP 500"}))
	// The same attempt number again (another node's stale claim) is refused.
	if err := s.RecordAttempt(ctx, a, webhooks.Outcome{Status: webhooks.StatusSucceeded}); !errors.Is(err, webhooks.ErrStale) {
		t.Fatalf("stale attempt: %v", err)
	}
	if err := s.RecordAttempt(ctx, webhooks.Attempt{DeliveryID: "dlv_none", N: 1}, webhooks.Outcome{Status: webhooks.StatusFailed}); !errors.Is(err, webhooks.ErrNotFound) {
		t.Fatalf("attempt of missing delivery: %v", err)
	}
	a2 := webhooks.Attempt{DeliveryID: d.ID, N: 2, At: next, Duration: 20 * time.Millisecond, StatusCode: 204}
	must(t, s.RecordAttempt(ctx, a2, webhooks.Outcome{Status: webhooks.StatusSucceeded, LastStatusCode: 204}))
	d, err = s.GetDelivery(ctx, "we_a", d.ID)
	must(t, err)
	if d.Status != webhooks.StatusSucceeded || d.Attempts != 2 || d.LastStatusCode != 204 || d.LastError != "" || !d.UpdatedAt.Equal(next) {
		t.Fatalf("after two attempts = %+v", d)
	}
	as, err := s.ListAttempts(ctx, d.ID)
	must(t, err)
	if len(as) != 2 || as[0].N != 1 || as[0].StatusCode != 500 || as[0].Error != "HTTP 500" || as[0].Duration != 1500*time.Millisecond ||
		!as[0].At.Equal(a.At) || as[1].N != 2 || as[1].StatusCode != 204 {
		t.Fatalf("attempts = %+v", as)
	}
	// A succeeded delivery is never claimed; a retry by hand makes it due again.
	must(t, s.Reschedule(ctx, "we_a", d.ID, t0.Add(2*time.Hour)))
	if err := s.Reschedule(ctx, "we_b", d.ID, t0); !errors.Is(err, webhooks.ErrNotFound) {
		t.Fatalf("reschedule through another endpoint: %v", err)
	}
	due, err := s.ClaimDue(ctx, t0.Add(2*time.Hour), t0.Add(3*time.Hour), 10, nil)
	must(t, err)
	ids := map[string]bool{}
	for _, x := range due {
		ids[x.EventID] = true
	}
	if !ids["r/1/0"] || !ids["r/3/0"] {
		t.Fatalf("claim after reschedule = %v", ids)
	}
}

func testConcurrentClaims(t *testing.T, s webhooks.Store) {
	ctx := context.Background()
	must(t, s.CreateEndpoint(ctx, endpoint("we_a", t0)))
	var ds []webhooks.Delivery
	for i := range 40 {
		ds = append(ds, delivery("we_a", fmt.Sprintf("r/%d/0", i), t0))
	}
	_, err := s.AddDeliveries(ctx, ds)
	must(t, err)
	var mu sync.Mutex
	claimed := map[string]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				got, err := s.ClaimDue(ctx, t0, t0.Add(time.Hour), 3, nil)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, d := range got {
					claimed[d.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(claimed) != 40 {
		t.Fatalf("claimed %d distinct deliveries, want 40", len(claimed))
	}
	for id, n := range claimed {
		if n != 1 {
			t.Fatalf("%s claimed %d times", id, n)
		}
	}
}

func testDeleteCascades(t *testing.T, s webhooks.Store) {
	ctx := context.Background()
	must(t, s.CreateEndpoint(ctx, endpoint("we_a", t0)))
	must(t, s.CreateEndpoint(ctx, endpoint("we_b", t0)))
	_, err := s.AddDeliveries(ctx, []webhooks.Delivery{delivery("we_a", "r/1/0", t0), delivery("we_b", "r/1/0", t0)})
	must(t, err)
	da := webhooks.DeliveryID("we_a", "r/1/0")
	must(t, s.RecordAttempt(ctx, webhooks.Attempt{DeliveryID: da, N: 1, At: t0, StatusCode: 500},
		webhooks.Outcome{Status: webhooks.StatusPending, NextAttemptAt: t0}))
	must(t, s.DeleteEndpoint(ctx, "we_a"))
	if _, err := s.GetDelivery(ctx, "we_a", da); !errors.Is(err, webhooks.ErrNotFound) {
		t.Fatalf("delivery outlived its endpoint: %v", err)
	}
	as, err := s.ListAttempts(ctx, da)
	must(t, err)
	if len(as) != 0 {
		t.Fatalf("attempts outlived their endpoint: %+v", as)
	}
	due, err := s.ClaimDue(ctx, t0, t0.Add(time.Minute), 10, nil)
	must(t, err)
	if len(due) != 1 || due[0].EndpointID != "we_b" {
		t.Fatalf("claim after delete = %+v", due)
	}
}

func testClaimExcludes(t *testing.T, s webhooks.Store) {
	ctx := context.Background()
	for _, ep := range []string{"we_a", "we_b", "we_c"} {
		must(t, s.CreateEndpoint(ctx, endpoint(ep, t0)))
		_, err := s.AddDeliveries(ctx, []webhooks.Delivery{delivery(ep, "r/1/0", t0), delivery(ep, "r/2/0", t0)})
		must(t, err)
	}
	got, err := s.ClaimDue(ctx, t0, t0.Add(time.Minute), 10, []string{"we_a", "we_c"})
	must(t, err)
	if len(got) != 2 || got[0].EndpointID != "we_b" || got[1].EndpointID != "we_b" {
		t.Fatalf("claim excluding a and c = %+v", got)
	}
	got, err = s.ClaimDue(ctx, t0, t0.Add(time.Minute), 10, []string{"we_a"})
	must(t, err)
	if len(got) != 2 || got[0].EndpointID != "we_c" {
		t.Fatalf("claim excluding a = %+v", got)
	}
	// Only the excluded endpoint has anything due: nothing is claimed, and it is all there
	// for the next claim that does not skip it.
	got, err = s.ClaimDue(ctx, t0, t0.Add(time.Minute), 10, []string{"we_a"})
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("claim excluding the only endpoint with due deliveries = %+v", got)
	}
	got, err = s.ClaimDue(ctx, t0, t0.Add(time.Minute), 10, nil)
	must(t, err)
	if len(got) != 2 || got[0].EndpointID != "we_a" || got[1].EndpointID != "we_a" {
		t.Fatalf("claim after = %+v", got)
	}
}
