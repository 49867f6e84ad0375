package notify_test

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allot/allot/api/notify"
)

// dyingStore is a node's view of the store that goes dark after its first outcomes,
// as when the process is killed: every later write fails, so what that node handed to the
// SMTP server after that point is never recorded.
type dyingStore struct {
	notify.Store
	finishes atomic.Int32
	after    int32
}

var errKilled = errors.New("node killed")

func (d *dyingStore) Finish(ctx context.Context, n notify.Notification, o notify.Outcome, now time.Time) error {
	if d.finishes.Add(1) > d.after {
		return errKilled
	}
	return d.Store.Finish(ctx, n, o, now)
}

// FinishAll records the batch only while the node lives: a batch reaching past the moment it
// dies is not recorded at all, as a transaction cut by the kill.
func (d *dyingStore) FinishAll(ctx context.Context, fs []notify.Finished, now time.Time) ([]string, error) {
	if d.finishes.Add(int32(len(fs))) > d.after {
		return nil, errKilled
	}
	return d.Store.FinishAll(ctx, fs, now)
}

// TestBurstWithAKilledNode: a burst of confirmations; one node dies in the middle of
// delivering (after handing some messages over without recording them); the survivor takes
// over once the leases run out. Every confirmation arrives at least once, the only duplicates
// are the messages handed over but not recorded, and they share their original's Message-ID,
// so deduplication by Message-ID leaves exactly one of each.
func TestBurstWithAKilledNode(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	const n = 40
	// E-mail only, so every claimed row is a message handed to the server.
	if err := r.store.PutPreferences(ctx, "ann", notify.Preferences{
		Channels: map[notify.Kind][]notify.Channel{notify.KindConfirmation: {notify.ChannelEmail}}}, start); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		h := "h" + strconv.Itoa(i)
		r.handle(t, event(notify.EventConfirmed, "ev-"+h, 1, hold(h, "hotel", "ann", "confirmed", []string{"2026-12-24"}, nil)))
	}
	dying := &dyingStore{Store: r.store, after: 5}
	victim := r.newServiceOn(t, dying)
	if _, err := victim.Deliver(ctx); !errors.Is(err, errKilled) {
		t.Fatalf("victim: %v", err)
	}
	// The victim recorded at most 5 outcomes (its outcomes are group-committed: the batch
	// reaching past the 5th is lost whole); the attempts whose outcomes were not recorded
	// were handed over unrecorded.
	handedOver := len(r.smtp.messages())
	done, err := r.store.Notifications(ctx, notify.StatusSent, 2*n)
	if err != nil {
		t.Fatal(err)
	}
	recorded := len(done)
	if recorded > 5 || handedOver <= recorded {
		t.Fatalf("victim handed over %d and recorded %d", handedOver, recorded)
	}
	r.clock.Set(start.Add(2 * time.Minute)) // past the victim's leases
	r.drain(t, r.svc)

	byID := map[string]int{}
	for _, m := range r.mails(t) {
		byID[m.MessageID]++
	}
	if len(byID) != n {
		t.Fatalf("%d distinct confirmations arrived, want %d", len(byID), n)
	}
	dups := 0
	for _, c := range byID {
		dups += c - 1
	}
	if dups != handedOver-recorded { // exactly those handed over but not recorded
		t.Fatalf("%d duplicates, want %d", dups, handedOver-recorded)
	}
	sent, err := r.store.Notifications(ctx, notify.StatusSent, 2*n)
	if err != nil || len(sent) != n {
		t.Fatalf("%d recorded sent, %v", len(sent), err)
	}
}
