package notify_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/allot/allot/api/notify"
)

// smsLog is an SMSSender that keeps what it is given: the SMS channel has no provider in
// this package yet (the seam is the contract under test).
type smsLog struct {
	mu   sync.Mutex
	sent []string
}

func (s *smsLog) SendSMS(_ context.Context, to, body string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sent = append(s.sent, to+": "+body)
	return nil
}

// TestPreferencesChooseChannelsAndZone: a user who wants confirmations by SMS only, read in
// New York time, gets one text with the slot in their zone, and no e-mail; a user without a
// phone number is skipped on that channel.
func TestPreferencesChooseChannelsAndZone(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	sms := &smsLog{}
	s, err := notify.New(notify.DefaultConfig(), notify.Deps{Store: r.store, Resources: dir, Contacts: dir, SMS: sms,
		Mailer: mailerFor(t, r.smtp, "smtp://127.0.0.1:"+itoa(r.smtp.port)), Now: r.clock.Now,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	only := notify.Preferences{Timezone: "America/New_York",
		Channels: map[notify.Kind][]notify.Channel{notify.KindConfirmation: {notify.ChannelSMS}}}
	for _, u := range []string{"cy", "ann"} {
		if err := r.store.PutPreferences(ctx, u, only, start); err != nil {
			t.Fatal(err)
		}
	}
	for i, u := range []string{"cy", "ann"} {
		h := "h" + itoa(i)
		if err := s.Handle(ctx, event(notify.EventConfirmed, "ev-"+h, 1, hold(h, "sauna", u, "confirmed", []string{"2026-12-24T10:00"}, nil))); err != nil {
			t.Fatal(err)
		}
	}
	r.drain(t, s)
	if len(sms.sent) != 1 || !strings.HasPrefix(sms.sent[0], "+4915112345678: Your booking of Sauna on Thu, Dec 24, 2026, 4:00 AM EST") {
		t.Fatalf("sms %q", sms.sent)
	}
	if n := len(r.smtp.messages()); n != 0 {
		t.Fatalf("%d e-mails despite the preferences", n)
	}
	skipped, _ := r.store.Notifications(ctx, notify.StatusSkipped, 10)
	if len(skipped) != 1 || skipped[0].UserID != "ann" || skipped[0].LastError != "no phone number" {
		t.Fatalf("skipped %+v", skipped)
	}
}
