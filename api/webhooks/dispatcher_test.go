package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/allot/allot/api/feed"
)

// receiver is a real HTTP server on 127.0.0.1 that records what it gets and answers with
// status (200 if zero).
type receiver struct {
	srv    *httptest.Server
	got    chan received
	status atomic.Int32
	block  chan struct{} // when not nil, handlers wait for it to close
	active atomic.Int32
	peak   atomic.Int32
}

type received struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, block chan struct{}) *receiver {
	r := &receiver{got: make(chan received, 100), block: block}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		n := r.active.Add(1)
		defer r.active.Add(-1)
		for {
			p := r.peak.Load()
			if n <= p || r.peak.CompareAndSwap(p, n) {
				break
			}
		}
		body, _ := io.ReadAll(req.Body)
		r.got <- received{req.Header.Clone(), body}
		if r.block != nil {
			select {
			case <-r.block:
			case <-req.Context().Done():
				return
			}
		}
		if s := r.status.Load(); s != 0 {
			w.WriteHeader(int(s))
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) next(t *testing.T) received {
	t.Helper()
	select {
	case g := <-r.got:
		return g
	case <-time.After(10 * time.Second):
		t.Fatal("the receiver got nothing")
		return received{}
	}
}

// nextAdvancing is next for a test that drives retries with the fake clock: the attempt's
// outcome is reported (h.attempts) a moment before the store holds it, so a poll that the
// clock fires in between finds nothing due and arms its next poll on the fake clock. While
// nothing arrives, the clock moves on a second at a time, as time would.
func (r *receiver) nextAdvancing(t *testing.T, clock *fakeClock) received {
	t.Helper()
	g, _ := r.nextAdvancingBy(t, clock)
	return g
}

// nextAdvancingBy is nextAdvancing that also says how far it moved the clock.
func (r *receiver) nextAdvancingBy(t *testing.T, clock *fakeClock) (received, time.Duration) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	var moved time.Duration
	for {
		select {
		case g := <-r.got:
			return g, moved
		case <-time.After(100 * time.Millisecond):
			clock.Advance(time.Second)
			moved += time.Second
		case <-deadline:
			t.Fatal("the receiver got nothing")
			return received{}, moved
		}
	}
}

type recorded struct {
	a   Attempt
	o   Outcome
	err error
}

// harness is a dispatcher on a MemStore and a fake clock, with its attempts reported.
type harness struct {
	d        *Dispatcher
	store    Store
	clock    *fakeClock
	attempts chan recorded
}

func newHarness(t *testing.T, mod func(*Config)) *harness {
	t.Helper()
	h := &harness{clock: newFakeClock(time.Now().Truncate(time.Second)), attempts: make(chan recorded, 100)}
	cfg := DefaultConfig()
	cfg.Store = NewMemStore()
	cfg.Now, cfg.AfterFunc = h.clock.Now, h.clock.AfterFunc
	cfg.AllowPrivate = true
	cfg.Seed = 1
	cfg.RecordInterval = -1 // each attempt recorded as it ends; TestRecordsArePaced paces
	cfg.Logger = slog.New(slog.DiscardHandler)
	cfg.attempted = func(a Attempt, o Outcome, err error) { h.attempts <- recorded{a, o, err} }
	if mod != nil {
		mod(&cfg)
	}
	h.store = cfg.Store
	d, err := NewDispatcher(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	h.d = d
	return h
}

func (h *harness) nextAttempt(t *testing.T) recorded {
	t.Helper()
	select {
	case r := <-h.attempts:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no attempt was recorded")
		return recorded{}
	}
}

func (h *harness) register(t *testing.T, url string, types ...string) (Endpoint, string) {
	t.Helper()
	e, secret, err := h.d.CreateEndpoint(context.Background(), CreateRequest{URL: url, EventTypes: types})
	if err != nil {
		t.Fatal(err)
	}
	return e, secret
}

func event(id, typ string, at time.Time) feed.Event {
	return feed.Event{ID: id, Type: typ, ResourceID: "hotel-1", Version: 7, OccurredAt: at, Subject: "user-1",
		Data: json.RawMessage(`{"id":"h1","status":"held"}`)}
}

func TestDeliverySignedAndVerifiedByReceiver(t *testing.T) {
	rcv := newReceiver(t, nil)
	h := newHarness(t, nil)
	ep, secret := h.register(t, rcv.srv.URL+"/hooks", "hold.placed")
	if len(secret) < 40 || secret[:6] != "whsec_" {
		t.Fatalf("secret %q is not a whsec_ secret", secret)
	}
	ctx := context.Background()
	// An event the endpoint does not want makes no delivery.
	if err := h.d.Handle(ctx, event("hotel-1/6/0", "resource.updated", h.clock.Now())); err != nil {
		t.Fatal(err)
	}
	ev := event("hotel-1/7/0", "hold.placed", h.clock.Now())
	if err := h.d.Handle(ctx, ev); err != nil {
		t.Fatal(err)
	}
	got := rcv.next(t)
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(got.body, got.header); err != nil {
		t.Fatalf("receiver cannot verify the delivery: %v", err)
	}
	if id := got.header.Get("webhook-id"); id != ev.ID {
		t.Fatalf("webhook-id = %q, want the event id %q", id, ev.ID)
	}
	var p struct {
		ID, Type, ResourceID string
		Version              uint64
		Data                 map[string]any
	}
	if err := json.Unmarshal(got.body, &p); err != nil || p.Type != "hold.placed" || p.Version != 7 || p.Data["id"] != "h1" {
		t.Fatalf("payload %s (%v)", got.body, err)
	}
	r := h.nextAttempt(t)
	if r.err != nil || r.o.Status != StatusSucceeded || r.a.StatusCode != http.StatusNoContent || r.a.N != 1 {
		t.Fatalf("attempt = %+v", r)
	}
	// A redelivered event (the bus delivers at least once) is not sent again.
	if err := h.d.Handle(ctx, ev); err != nil {
		t.Fatal(err)
	}
	ds, _ := h.store.ListDeliveries(ctx, ep.ID, 10, "")
	if len(ds) != 1 || ds[0].Status != StatusSucceeded {
		t.Fatalf("deliveries after redelivery = %+v", ds)
	}
	// The stored secret is not the secret's text, and is sealed when a key is set (see
	// TestSecretSealed); without a key it is kept as is.
	stored, _ := h.store.GetEndpoint(ctx, ep.ID)
	if stored.Secret != secret {
		t.Fatalf("without a key the secret is kept as is")
	}
}

func TestGoneDisablesEndpoint(t *testing.T) {
	rcv := newReceiver(t, nil)
	rcv.status.Store(http.StatusGone)
	h := newHarness(t, nil)
	ep, _ := h.register(t, rcv.srv.URL, "hold.placed", "hold.cancelled")
	ctx := context.Background()
	if err := h.d.Handle(ctx, event("hotel-1/7/0", "hold.placed", h.clock.Now())); err != nil {
		t.Fatal(err)
	}
	rcv.next(t)
	r := h.nextAttempt(t)
	if r.o.Status != StatusFailed || r.a.StatusCode != http.StatusGone {
		t.Fatalf("attempt after 410 = %+v", r)
	}
	e, _ := h.store.GetEndpoint(ctx, ep.ID)
	if !e.Disabled || e.DisabledReason == "" {
		t.Fatalf("endpoint after 410 = %+v", e)
	}
	// No new deliveries for a disabled endpoint, and no retry by hand.
	if err := h.d.Handle(ctx, event("hotel-1/8/0", "hold.cancelled", h.clock.Now())); err != nil {
		t.Fatal(err)
	}
	ds, _ := h.store.ListDeliveries(ctx, ep.ID, 10, "")
	if len(ds) != 1 {
		t.Fatalf("%d deliveries, want only the one that got 410", len(ds))
	}
	if _, err := h.d.Retry(ctx, ep.ID, ds[0].ID); err == nil {
		t.Fatal("retry of a disabled endpoint's delivery was accepted")
	}
	// Nothing further reaches the receiver, whatever time passes.
	h.clock.Advance(time.Hour)
	select {
	case g := <-rcv.got:
		t.Fatalf("sent after 410: %s", g.body)
	default:
	}
}

func TestServerErrorRetriesWithBackoff(t *testing.T) {
	rcv := newReceiver(t, nil)
	rcv.status.Store(http.StatusInternalServerError)
	h := newHarness(t, nil)
	ep, _ := h.register(t, rcv.srv.URL, "hold.placed")
	ctx := context.Background()
	if err := h.d.Handle(ctx, event("hotel-1/7/0", "hold.placed", h.clock.Now())); err != nil {
		t.Fatal(err)
	}
	sched := DefaultSchedule()
	var prev Attempt
	for n := 1; n <= 6; n++ {
		// A poll may read the clock just before the test's Set below and arm its next poll
		// after it; then only more time fires it, so the wait moves the clock on, and the
		// gap's allowance grows by what it moved.
		_, moved := rcv.nextAdvancingBy(t, h.clock)
		r := h.nextAttempt(t)
		if r.err != nil || r.a.N != n || r.a.StatusCode != 500 || r.o.Status != StatusPending {
			t.Fatalf("attempt %d = %+v", n, r)
		}
		if n > 1 {
			gap := r.a.At.Sub(prev.At)
			nominal := sched.Nominal(n - 1)
			lo := time.Duration(float64(nominal) * (1 - sched.Jitter))
			hi := time.Duration(float64(nominal)*(1+sched.Jitter)) + time.Second + moved
			if gap < lo || gap > hi {
				t.Fatalf("attempt %d came %s after the previous one; want %s..%s", n, gap, lo, hi)
			}
		}
		wait := r.o.NextAttemptAt.Sub(r.a.At)
		if nominal := sched.Nominal(n); wait < time.Duration(float64(nominal)*0.8) || wait > time.Duration(float64(nominal)*1.2) {
			t.Fatalf("after attempt %d the next is in %s; nominal %s", n, wait, nominal)
		}
		// Just before it is due, a poll claims nothing; at the time, the next attempt goes.
		h.clock.Set(r.o.NextAttemptAt.Add(-time.Millisecond))
		if d, _ := h.store.GetDelivery(ctx, ep.ID, r.a.DeliveryID); d.Attempts != n {
			t.Fatalf("attempted early: %+v", d)
		}
		prev = r.a
		if n == 6 {
			e, _ := h.store.GetEndpoint(ctx, ep.ID)
			if e.Disabled || e.FailingSince.IsZero() {
				t.Fatalf("endpoint after a few failures = %+v; want failing, not disabled", e)
			}
			// It recovers before the next attempt is due (set before the clock passes it,
			// or that attempt could still meet the 500): a 2xx clears the failure run.
			rcv.status.Store(http.StatusOK)
		}
		// The scheduler polls every PollInterval: one interval after it is due, it has gone.
		h.clock.Set(r.o.NextAttemptAt.Add(time.Second))
	}
	rcv.nextAdvancing(t, h.clock)
	if r := h.nextAttempt(t); r.o.Status != StatusSucceeded {
		t.Fatalf("attempt after recovery = %+v", r)
	}
	if e, _ := h.store.GetEndpoint(ctx, ep.ID); !e.FailingSince.IsZero() {
		t.Fatalf("failing since %s after a success", e.FailingSince)
	}
}

func TestPersistentFailureGivesUpAndDisables(t *testing.T) {
	rcv := newReceiver(t, nil)
	rcv.status.Store(http.StatusServiceUnavailable)
	h := newHarness(t, nil)
	ep, _ := h.register(t, rcv.srv.URL, "hold.placed")
	ctx := context.Background()
	start := h.clock.Now()
	if err := h.d.Handle(ctx, event("hotel-1/7/0", "hold.placed", start)); err != nil {
		t.Fatal(err)
	}
	var last recorded
	for {
		rcv.nextAdvancing(t, h.clock)
		last = h.nextAttempt(t)
		if last.o.Status != StatusPending {
			break
		}
		h.clock.Set(last.o.NextAttemptAt.Add(time.Second))
	}
	if last.o.Status != StatusFailed || last.a.N < 15 || last.a.N > 25 {
		t.Fatalf("last attempt = %+v; want failed after about 20", last)
	}
	if span := last.a.At.Sub(start); span > 72*time.Hour+time.Minute || span < 60*time.Hour {
		t.Fatalf("gave up after %s; want within three days", span)
	}
	e, _ := h.store.GetEndpoint(ctx, ep.ID)
	if !e.Disabled {
		t.Fatalf("endpoint failing for %s is not disabled", last.a.At.Sub(start))
	}
}

func TestConcurrencyPerEndpointIsBounded(t *testing.T) {
	block := make(chan struct{})
	rcv := newReceiver(t, block)
	other := newReceiver(t, nil)
	h := newHarness(t, func(c *Config) { c.PerEndpoint = 2 })
	h.register(t, rcv.srv.URL, "hold.placed")
	h.register(t, other.srv.URL, "hold.placed")
	ctx := context.Background()
	for i := range 10 {
		if err := h.d.Handle(ctx, event("hotel-1/"+string(rune('a'+i))+"/0", "hold.placed", h.clock.Now())); err != nil {
			t.Fatal(err)
		}
	}
	// The slow endpoint holds two attempts; the other endpoint still gets all ten.
	rcv.next(t)
	rcv.next(t)
	for range 10 {
		other.next(t)
	}
	if p := rcv.peak.Load(); p != 2 {
		t.Fatalf("peak concurrency at the slow endpoint = %d, want 2", p)
	}
	close(block)
	for range 8 {
		rcv.next(t)
	}
	if p := rcv.peak.Load(); p > 2 {
		t.Fatalf("peak concurrency = %d, want at most 2", p)
	}
}

func TestCloseAbortsAttemptsAndIsSafeTwice(t *testing.T) {
	block := make(chan struct{})
	defer close(block)
	rcv := newReceiver(t, block)
	h := newHarness(t, nil)
	h.register(t, rcv.srv.URL, "hold.placed")
	if err := h.d.Handle(context.Background(), event("hotel-1/7/0", "hold.placed", h.clock.Now())); err != nil {
		t.Fatal(err)
	}
	rcv.next(t) // an attempt is in flight, blocked
	done := make(chan struct{})
	go func() {
		_ = h.d.Close()
		_ = h.d.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return with an attempt in flight")
	}
	select {
	case r := <-h.attempts:
		t.Fatalf("an aborted attempt was recorded: %+v", r)
	default:
	}
}

func TestConfigValidate(t *testing.T) {
	cfg := DefaultConfig()
	if _, err := NewDispatcher(cfg); err == nil {
		t.Fatal("no Store accepted")
	}
	cfg.Store = NewMemStore()
	cfg.ClaimLease = time.Second
	if _, err := NewDispatcher(cfg); err == nil {
		t.Fatal("a lease shorter than the attempt timeout accepted")
	}
	cfg = DefaultConfig()
	cfg.Store = NewMemStore()
	cfg.Schedule.Jitter = 1
	if _, err := NewDispatcher(cfg); err == nil {
		t.Fatal("jitter 1 accepted")
	}
}

func verify(secret string, got received) error {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return err
	}
	return wh.Verify(got.body, got.header)
}

// failingStore fails AddDeliveries, as an unreachable database does.
type failingStore struct{ Store }

func (failingStore) AddDeliveries(context.Context, []Delivery) (int, error) {
	return 0, errors.New("database unreachable")
}

// TestHandleFailsWhenDeliveriesAreNotStored: the event is not acknowledged (the bus
// redelivers it) unless its deliveries are stored.
func TestHandleFailsWhenDeliveriesAreNotStored(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Store = failingStore{NewMemStore()} })
	h.register(t, "http://127.0.0.1:9/", "hold.placed")
	if err := h.d.Handle(context.Background(), event("hotel-1/7/0", "hold.placed", h.clock.Now())); err == nil {
		t.Fatal("Handle acknowledged an event whose deliveries were not stored")
	}
	// An event no endpoint wants needs nothing stored.
	if err := h.d.Handle(context.Background(), event("hotel-1/8/0", "bucket.sold_out", h.clock.Now())); err != nil {
		t.Fatal(err)
	}
}

// TestDeliveryOfDeletedEndpointCloses: a delivery recorded for an endpoint that is gone (a
// node matched the event against a stale cache) is closed, not claimed again forever.
func TestDeliveryOfDeletedEndpointCloses(t *testing.T) {
	h := newHarness(t, nil)
	ctx := context.Background()
	now := h.clock.Now()
	d := Delivery{ID: DeliveryID("we_gone", "r/1/0"), EndpointID: "we_gone", EventID: "r/1/0", EventType: "hold.placed",
		Payload: []byte(`{}`), Status: StatusPending, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
	if _, err := h.store.AddDeliveries(ctx, []Delivery{d}); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(time.Second) // the next poll
	r := h.nextAttempt(t)
	if r.err != nil || r.o.Status != StatusFailed || r.a.Error != "endpoint deleted" {
		t.Fatalf("attempt = %+v", r)
	}
}

// TestRecordsArePaced: attempts that end within RecordInterval of the last record are sent
// at once but recorded together when the interval has passed (one transaction).
func TestRecordsArePaced(t *testing.T) {
	rcv := newReceiver(t, nil)
	h := newHarness(t, func(c *Config) { c.RecordInterval = time.Second })
	h.register(t, rcv.srv.URL, "hold.placed")
	ctx := context.Background()
	if err := h.d.Handle(ctx, event("hotel-1/1/0", "hold.placed", h.clock.Now())); err != nil {
		t.Fatal(err)
	}
	rcv.next(t)
	if r := h.nextAttempt(t); r.err != nil || r.o.Status != StatusSucceeded {
		t.Fatalf("first attempt = %+v", r)
	}
	for _, id := range []string{"hotel-1/2/0", "hotel-1/3/0"} {
		if err := h.d.Handle(ctx, event(id, "hold.placed", h.clock.Now())); err != nil {
			t.Fatal(err)
		}
		rcv.next(t) // sent at once
	}
	select {
	case r := <-h.attempts:
		t.Fatalf("recorded within the interval: %+v", r)
	case <-time.After(200 * time.Millisecond):
	}
	h.clock.Advance(time.Second)
	for range 2 {
		if r := h.nextAttempt(t); r.err != nil || r.o.Status != StatusSucceeded {
			t.Fatalf("paced attempt = %+v", r)
		}
	}
}

// TestHandleBatchDeliversOnceAndReportsBadEvents: a batch's deliveries are sent (straight
// from the intake, without waiting for a poll), a redelivered batch sends nothing again, and
// an event whose payload does not encode gets its own error while the rest are stored.
func TestHandleBatchDeliversOnceAndReportsBadEvents(t *testing.T) {
	rcv := newReceiver(t, nil)
	h := newHarness(t, nil)
	h.register(t, rcv.srv.URL, "hold.placed")
	ctx := context.Background()
	bad := event("hotel-1/3/0", "hold.placed", h.clock.Now())
	bad.Data = json.RawMessage(`{not json`)
	evs := []feed.Event{event("hotel-1/1/0", "hold.placed", h.clock.Now()), bad,
		event("hotel-1/2/0", "hold.placed", h.clock.Now()), event("hotel-1/2/1", "bucket.sold_out", h.clock.Now())}
	errs, err := h.d.HandleBatch(ctx, "webhooks", evs)
	if err != nil || len(errs) != len(evs) || errs[0] != nil || errs[1] == nil || errs[2] != nil || errs[3] != nil {
		t.Fatalf("HandleBatch = %v, %v", errs, err)
	}
	got := map[string]bool{}
	for range 2 {
		got[rcv.next(t).header.Get("webhook-id")] = true
		if r := h.nextAttempt(t); r.err != nil || r.o.Status != StatusSucceeded {
			t.Fatalf("attempt = %+v", r)
		}
	}
	if !got["hotel-1/1/0"] || !got["hotel-1/2/0"] {
		t.Fatalf("delivered %v", got)
	}
	if errs, err := h.d.HandleBatch(ctx, "webhooks", evs[:1]); err != nil || errs != nil {
		t.Fatalf("redelivery: %v, %v", errs, err)
	}
	// A batch whose only wanted event is bad stores nothing and fails that event alone.
	if errs, err := h.d.HandleBatch(ctx, "webhooks", evs[1:2]); err != nil || len(errs) != 1 || errs[0] == nil {
		t.Fatalf("bad event alone: %v, %v", errs, err)
	}
	h.clock.Advance(time.Second) // a poll: nothing is due
	select {
	case r := <-rcv.got:
		t.Fatalf("a redelivered event was sent again: %s", r.header.Get("webhook-id"))
	case <-time.After(200 * time.Millisecond):
	}
}

// TestBacklogBehindABusyLaneDrainsWithoutTimers: deliveries that HandleBatch stores due
// behind a busy lane are claimed as soon as the lane has room, not once per RecordInterval
// (which capped a drained backlog at one claim of claimRounds*PerEndpoint per interval while
// the node sat idle): with the clock frozen, so that neither a record's interval nor a poll
// timer ever fires after the first record, every delivery of a batch larger than a lane still
// arrives.
func TestBacklogBehindABusyLaneDrainsWithoutTimers(t *testing.T) {
	var sent atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_, _ = io.Copy(io.Discard, req.Body)
		sent.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	h := newHarness(t, func(c *Config) {
		c.RecordInterval = time.Hour // on the frozen clock: one record, then never again
		c.attempted = nil
	})
	h.register(t, srv.URL, "hold.placed")
	n := 3*laneRounds*h.d.cfg.PerEndpoint + 5 // two lanes' worth stored due behind the first
	evs := make([]feed.Event, n)
	for i := range evs {
		evs[i] = event("hotel-1/"+strconv.Itoa(i+1)+"/0", "hold.placed", h.clock.Now())
	}
	if errs, err := h.d.HandleBatch(context.Background(), "webhooks", evs); err != nil || errs != nil {
		t.Fatalf("HandleBatch = %v, %v", errs, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for sent.Load() < int32(n) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := sent.Load(); got != int32(n) {
		t.Fatalf("%d of %d deliveries sent with the clock frozen: the backlog waited for a timer", got, n)
	}
}
