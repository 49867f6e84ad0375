package notify_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/allot/allot/api/notify"
)

// holdBook is a fixed table of holds' own contacts (the node reads them from the holds'
// owners); a hold in fail has an unreachable owner.
type holdBook struct {
	contacts map[string]notify.Contact
	fail     map[string]bool
}

func (b holdBook) HoldContact(_ context.Context, resourceID, holdID, userID string) (notify.Contact, error) {
	if b.fail[holdID] {
		return notify.Contact{}, errors.New("hold owner unreachable")
	}
	return b.contacts[resourceID+"/"+holdID+"/"+userID], nil
}

// TestHoldContactWins: a hold carrying a guest's contact is mailed to the guest, not to the
// booking user, and is not texted to the booking user's phone (the guest gave none); a hold
// without a contact (or with a name only) reaches the user; a lookup that fails is retried,
// never sent to the user instead.
func TestHoldContactWins(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	sms := &smsLog{}
	holds := holdBook{
		contacts: map[string]notify.Contact{"sauna/h-guest/cy": {Email: "guest@example.org"}},
		fail:     map[string]bool{"h-down": true},
	}
	s, err := notify.New(notify.DefaultConfig(), notify.Deps{Store: r.store, Resources: dir, Contacts: dir, HoldContacts: holds,
		SMS: sms, Mailer: mailerFor(t, r.smtp, "smtp://127.0.0.1:"+itoa(r.smtp.port)), Now: r.clock.Now,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	both := notify.Preferences{Channels: map[notify.Kind][]notify.Channel{notify.KindConfirmation: {notify.ChannelEmail, notify.ChannelSMS}}}
	if err := r.store.PutPreferences(ctx, "cy", both, start); err != nil {
		t.Fatal(err)
	}
	for i, h := range []string{"h-guest", "h-own", "h-down"} {
		if err := s.Handle(ctx, event(notify.EventConfirmed, "ev-"+h, uint64(i+1), hold(h, "sauna", "cy", "confirmed", []string{"2026-12-24T10:00"}, nil))); err != nil {
			t.Fatal(err)
		}
	}
	r.drain(t, s)
	to := map[string]int{}
	for _, m := range r.smtp.messages() {
		for _, a := range m.To {
			to[a]++
		}
	}
	if len(to) != 2 || to["guest@example.org"] != 1 || to["cy@example.com"] != 1 {
		t.Fatalf("e-mails to %v, want one to the guest (h-guest) and one to cy (h-own)", to)
	}
	if len(sms.sent) != 1 || sms.sent[0][:14] != "+4915112345678" {
		t.Fatalf("sms %q, want one to cy's phone (h-own)", sms.sent)
	}
	skipped, _ := r.store.Notifications(ctx, notify.StatusSkipped, 10)
	if len(skipped) != 1 || skipped[0].HoldID != "h-guest" || skipped[0].Channel != notify.ChannelSMS || skipped[0].LastError != "no phone number" {
		t.Fatalf("skipped %+v, want h-guest's SMS (the guest gave no phone)", skipped)
	}
	pending, _ := r.store.Notifications(ctx, notify.StatusPending, 10)
	if len(pending) != 2 || pending[0].HoldID != "h-down" || pending[1].HoldID != "h-down" {
		t.Fatalf("pending %+v, want h-down's two sends waiting for a retry", pending)
	}
}
