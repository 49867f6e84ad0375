package notify_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allot/allot/api/feed"
	"github.com/allot/allot/api/notify"
)

// handleBatch consumes evs as the node's batch consumer does and fails on a batch error.
func (r *rig) handleBatch(t *testing.T, s *notify.Service, evs ...feed.Event) []error {
	t.Helper()
	errs, err := s.HandleBatch(context.Background(), "notify", evs)
	if err != nil {
		t.Fatal(err)
	}
	if errs != nil && len(errs) != len(evs) {
		t.Fatalf("%d outcomes for %d events", len(errs), len(evs))
	}
	return errs
}

// mailsByHold counts the confirmations and cancellations per hold (by the invitation's UID).
func (r *rig) mailsByHold(t *testing.T) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, m := range r.mails(t) {
		_, uid, _, _ := invitation(t, m)
		out[uid]++
	}
	return out
}

func emailOnly(t *testing.T, r *rig, users ...string) {
	t.Helper()
	for _, u := range users {
		if err := r.store.PutPreferences(context.Background(), u, notify.Preferences{Channels: map[notify.Kind][]notify.Channel{
			notify.KindConfirmation: {notify.ChannelEmail}, notify.KindCancellation: {notify.ChannelEmail}}}, start); err != nil {
			t.Fatal(err)
		}
	}
}

// TestBatchRedeliveredAddsNothing: a batch is stored with its inbox rows; the same batch
// again (its acknowledgement lost), and a redelivery that mixes old and new events in other
// batch boundaries, add only the new events' notifications: each confirmation is mailed once.
func TestBatchRedeliveredAddsNothing(t *testing.T) {
	r := newRig(t)
	emailOnly(t, r, "ann", "bob")
	ctx := context.Background()
	exp := start.Add(10 * time.Minute)
	day := []string{"2026-12-24"}
	placed := event(notify.EventPlaced, "ev-p1", 1, hold("h1", "hotel", "ann", "held", day, &exp))
	conf1 := event(notify.EventConfirmed, "ev-c1", 2, hold("h1", "hotel", "ann", "confirmed", day, nil))
	conf2 := event(notify.EventConfirmed, "ev-c2", 1, hold("h2", "hotel", "bob", "confirmed", day, nil))
	conf3 := event(notify.EventConfirmed, "ev-c3", 1, hold("h3", "hotel", "ann", "confirmed", day, nil))

	// A hold placed and confirmed in one batch: the confirm is decided against the placement.
	if errs := r.handleBatch(t, r.svc, placed, conf1, conf2); errs != nil {
		t.Fatalf("errs = %v", errs)
	}
	h, err := r.store.Hold(ctx, "h1")
	if err != nil || h.Status != notify.StatusConfirmed || h.Version != 2 || !h.Invited {
		t.Fatalf("h1 = %+v, %v", h, err)
	}
	r.handleBatch(t, r.svc, placed, conf1, conf2) // the whole batch again
	r.handleBatch(t, r.svc, conf2, conf3, conf1)  // other boundaries, one new event
	r.drain(t, r.svc)
	got := r.mailsByHold(t)
	if len(got) != 3 || got["h1"] != 1 || got["h2"] != 1 || got["h3"] != 1 {
		t.Fatalf("mails by hold = %v", got)
	}
	pending, err := r.store.Notifications(ctx, notify.StatusPending, 10)
	if err != nil || len(pending) != 0 {
		t.Fatalf("pending = %d, %v", len(pending), err)
	}
}

// flakyResources fails the lookups of one resource while broken is set.
type flakyResources struct {
	notify.Resources
	id     string
	broken atomic.Bool
}

var errResourceDown = errors.New("resource owner unreachable")

func (f *flakyResources) Resource(ctx context.Context, id string) (notify.ResourceInfo, error) {
	if id == f.id && f.broken.Load() {
		return notify.ResourceInfo{}, errResourceDown
	}
	return f.Resources.Resource(ctx, id)
}

// TestBatchWithBadEvents: an event that is not a hold is acknowledged without effect; an
// event whose resource cannot be read gets its own error, and so does the later event of
// the same hold (they come back in order), while the rest of the batch is stored. Redelivered
// once the resource answers, they are stored too.
func TestBatchWithBadEvents(t *testing.T) {
	r := newRig(t)
	emailOnly(t, r, "ann", "bob")
	res := &flakyResources{Resources: dir, id: "sauna"}
	res.broken.Store(true)
	c := notify.DefaultConfig()
	c.MailFrom = "Allot <notifications@allot.example>"
	svc, err := notify.New(c, notify.Deps{Store: r.store, Resources: res, Contacts: dir, Mailer: r.svcMailer(t),
		Now: r.clock.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Close() })

	exp := start.Add(10 * time.Minute)
	slot := []string{"2026-12-24T10:00"}
	day := []string{"2026-12-24"}
	garbage := feed.Event{ID: "ev-bad", Type: notify.EventConfirmed, ResourceID: "hotel", Version: 1, Data: []byte(`{"not":"a hold"}`)}
	sPlaced := event(notify.EventPlaced, "ev-s1", 1, hold("s1", "sauna", "bob", "held", slot, &exp))
	hConf := event(notify.EventConfirmed, "ev-h1", 1, hold("h1", "hotel", "ann", "confirmed", day, nil))
	sConf := event(notify.EventConfirmed, "ev-s2", 2, hold("s1", "sauna", "bob", "confirmed", slot, nil))
	batch := []feed.Event{garbage, sPlaced, hConf, sConf}
	errs := r.handleBatch(t, svc, batch...)
	if errs == nil || errs[0] != nil || !errors.Is(errs[1], errResourceDown) || errs[2] != nil || errs[3] == nil {
		t.Fatalf("errs = %v", errs)
	}
	if _, err := r.store.Hold(context.Background(), "s1"); !errors.Is(err, notify.ErrNotFound) {
		t.Fatalf("s1 stored: %v", err)
	}
	r.drain(t, svc)
	if got := r.mailsByHold(t); len(got) != 1 || got["h1"] != 1 {
		t.Fatalf("mails by hold = %v", got)
	}

	res.broken.Store(false)
	if errs := r.handleBatch(t, svc, sPlaced, sConf); errs != nil { // the bus redelivers the failed ones
		t.Fatalf("redelivery: %v", errs)
	}
	r.drain(t, svc)
	if got := r.mailsByHold(t); len(got) != 2 || got["h1"] != 1 || got["s1"] != 1 {
		t.Fatalf("mails by hold = %v", got)
	}
}

// svcMailer is a mailer to the rig's SMTP server.
func (r *rig) svcMailer(t *testing.T) notify.Mailer {
	t.Helper()
	cfg, err := notify.ParseSMTPURL("smtp://127.0.0.1:" + strconv.Itoa(r.smtp.port) + "?starttls=required")
	if err != nil {
		t.Fatal(err)
	}
	cfg.TLS = r.smtp.clients
	m, err := notify.NewSMTPMailer(cfg, "Allot <notifications@allot.example>")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// cutStore is a node's store whose batch write fails as a kill in the middle of the
// transaction would: nothing of the batch is stored.
type cutStore struct {
	notify.Store
	cut atomic.Bool
}

func (c *cutStore) ApplyEvents(ctx context.Context, consumer string, at time.Time, evs []notify.Consumed) (int, error) {
	if c.cut.Load() {
		return 0, errKilled
	}
	return c.Store.ApplyEvents(ctx, consumer, at, evs)
}

// TestBatchCrashBetweenStoreAndAck: a node dies while storing a batch (nothing stored: the
// batch fails and is redelivered whole), and another node dies after storing one but before
// its acknowledgement (the batch is redelivered to a survivor, which adds nothing). Every
// confirmation is mailed exactly once.
func TestBatchCrashBetweenStoreAndAck(t *testing.T) {
	r := newRig(t)
	emailOnly(t, r, "ann")
	ctx := context.Background()
	day := []string{"2026-12-24"}
	var evs []feed.Event
	for i := range 20 {
		h := "h" + strconv.Itoa(i)
		evs = append(evs, event(notify.EventConfirmed, "ev-"+h, 1, hold(h, "hotel", "ann", "confirmed", day, nil)))
	}
	dying := &cutStore{Store: r.store}
	dying.cut.Store(true)
	victim := r.newServiceOn(t, dying)
	if _, err := victim.HandleBatch(ctx, "notify", evs[:10]); !errors.Is(err, errKilled) {
		t.Fatalf("victim: %v", err)
	}
	if n, err := r.store.Notifications(ctx, notify.StatusPending, 100); err != nil || len(n) != 0 {
		t.Fatalf("after the cut transaction: %d pending, %v", len(n), err)
	}
	// A node stores the next batch and dies before its acknowledgement.
	second := r.newService(t)
	r.handleBatch(t, second, evs[5:15]...)
	// The bus redelivers both batches, unacknowledged, to the survivor in other boundaries.
	r.handleBatch(t, r.svc, evs[:12]...)
	r.handleBatch(t, r.svc, evs[12:]...)
	r.drain(t, r.svc)
	got := r.mailsByHold(t)
	if len(got) != 20 {
		t.Fatalf("%d holds mailed, want 20", len(got))
	}
	for h, n := range got {
		if n != 1 {
			t.Fatalf("%s mailed %d times", h, n)
		}
	}
}

// TestBatchesDecideAsOneAtATime: the life of several holds, consumed one event at a time by
// Handle and in random batches (with redeliveries) by HandleBatch on another database, leaves
// the same holds, timers due and notifications.
func TestBatchesDecideAsOneAtATime(t *testing.T) {
	rng := rand.New(rand.NewPCG(18, 37))
	exp := start.Add(30 * time.Minute)
	slot := []string{"2027-01-10T10:00"}
	lives := make([][]feed.Event, 12)
	for i := range lives {
		h, u := "h"+strconv.Itoa(i), []string{"ann", "bob", "cy"}[i%3]
		l := []feed.Event{event(notify.EventPlaced, "ev-"+h+"-1", 1, hold(h, "sauna", u, "held", slot, &exp))}
		switch i % 4 {
		case 0:
			l = append(l, event(notify.EventConfirmed, "ev-"+h+"-2", 2, hold(h, "sauna", u, "confirmed", slot, nil)))
		case 1:
			l = append(l, event(notify.EventConfirmed, "ev-"+h+"-2", 2, hold(h, "sauna", u, "confirmed", slot, nil)),
				event(notify.EventCancelled, "ev-"+h+"-3", 3, hold(h, "sauna", u, "cancelled", slot, nil)))
		case 2:
			l = append(l, event(notify.EventExpired, "ev-"+h+"-2", 2, hold(h, "sauna", u, "expired", slot, nil)))
		}
		lives[i] = l
	}
	// Interleave the holds' lives, keeping each hold's order (as the stream does per resource).
	var evs []feed.Event
	for left := len(lives); left > 0; {
		i := rng.IntN(len(lives))
		if len(lives[i]) == 0 {
			continue
		}
		evs, lives[i] = append(evs, lives[i][0]), lives[i][1:]
		if len(lives[i]) == 0 {
			left--
		}
	}
	one, batched := newRig(t), newRig(t)
	for _, ev := range evs {
		one.handle(t, ev)
	}
	for i := 0; i < len(evs); {
		n := 1 + rng.IntN(6)
		end := min(len(evs), i+n)
		batched.handleBatch(t, batched.svc, evs[i:end]...)
		if rng.IntN(3) == 0 { // a redelivery of what was just stored
			batched.handleBatch(t, batched.svc, evs[max(0, i-2):end]...)
		}
		i = end
	}
	ctx := context.Background()
	for i := range 12 {
		h := "h" + strconv.Itoa(i)
		a, errA := one.store.Hold(ctx, h)
		b, errB := batched.store.Hold(ctx, h)
		if errA != nil || errB != nil || a.Status != b.Status || a.Version != b.Version || a.Invited != b.Invited {
			t.Fatalf("%s: one at a time %+v (%v), batched %+v (%v)", h, a, errA, b, errB)
		}
	}
	for _, st := range []string{notify.StatusPending} {
		a, _ := one.store.Notifications(ctx, st, 1000)
		b, _ := batched.store.Notifications(ctx, st, 1000)
		if len(a) != len(b) || len(a) == 0 {
			t.Fatalf("%s notifications: %d one at a time, %d batched", st, len(a), len(b))
		}
		ids := map[string]bool{}
		for _, n := range a {
			ids[n.ID] = true
		}
		for _, n := range b {
			if !ids[n.ID] {
				t.Fatalf("batched recorded %s (%s of %s) that one at a time did not", n.ID, n.Kind, n.HoldID)
			}
		}
	}
	later := start.Add(29 * time.Minute)
	a, _ := one.store.ClaimTimers(ctx, later, later.Add(time.Minute), 100)
	b, _ := batched.store.ClaimTimers(ctx, later, later.Add(time.Minute), 100)
	if len(a) != len(b) || len(a) == 0 {
		t.Fatalf("timers due: %d one at a time, %d batched", len(a), len(b))
	}
}
