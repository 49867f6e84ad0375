package notify_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"

	"github.com/allot/allot/api/feed"
	"github.com/allot/allot/api/notify"
)

// clock is the tests' injected clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// directory is a fixed table of resources and contacts, standing in for the node's resource
// actors and identity store.
type directory struct {
	resources map[string]notify.ResourceInfo
	contacts  map[string]notify.Contact
}

func (d directory) Resource(_ context.Context, id string) (notify.ResourceInfo, error) {
	r, ok := d.resources[id]
	if !ok {
		return notify.ResourceInfo{}, notify.ErrNotFound
	}
	return r, nil
}

func (d directory) Contact(_ context.Context, id string) (notify.Contact, error) {
	return d.contacts[id], nil
}

var dir = directory{
	resources: map[string]notify.ResourceInfo{
		"sauna": {Name: "Sauna", Timezone: "Europe/Berlin", SlotEvery: time.Hour, Price: &notify.Money{Amount: 1250, Currency: "EUR"}},
		"hotel": {Name: "Seaside Room", Timezone: "Europe/Berlin", Price: &notify.Money{Amount: 9900, Currency: "EUR"}},
	},
	contacts: map[string]notify.Contact{"ann": {Email: "ann@example.com"}, "bob": {Email: "bob@example.com"},
		"cy": {Email: "cy@example.com", Phone: "+4915112345678"}},
}

// rig is one or more services on one SQLite database with a real SMTP and FCM server.
type rig struct {
	clock *clock
	store notify.Store
	smtp  *smtpServer
	fcm   *fcmServer
	svc   *notify.Service
}

var start = time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{clock: &clock{t: start}, store: mustSQLiteStore(t), smtp: newSMTPServer(t, smtpOpts{StartTLS: true}),
		fcm: newFCMServer(t, "allot-test")}
	r.svc = r.newService(t)
	return r
}

// newService is another node's service on the same database and servers.
func (r *rig) newService(t *testing.T) *notify.Service {
	t.Helper()
	return r.newServiceOn(t, r.store)
}

// newServiceOn is a node's service on store (a view of the rig's database).
func (r *rig) newServiceOn(t *testing.T, store notify.Store) *notify.Service {
	t.Helper()
	cfg, err := notify.ParseSMTPURL("smtp://127.0.0.1:" + strconv.Itoa(r.smtp.port) + "?starttls=required")
	if err != nil {
		t.Fatal(err)
	}
	cfg.TLS = r.smtp.clients
	mailer, err := notify.NewSMTPMailer(cfg, "Allot <notifications@allot.example>")
	if err != nil {
		t.Fatal(err)
	}
	c := notify.DefaultConfig()
	c.MailFrom = "Allot <notifications@allot.example>"
	s, err := notify.New(c, notify.Deps{Store: store, Resources: dir, Contacts: dir, Mailer: mailer,
		Pusher: newPusher(t, r.fcm, "allot-test"), Now: r.clock.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// event builds a hold event as the bus delivers it.
func event(typ, id string, version uint64, hold map[string]any) feed.Event {
	data, _ := json.Marshal(hold)
	return feed.Event{ID: id, Type: typ, ResourceID: hold["resource_id"].(string), Version: version, Data: data,
		Subject: hold["user_id"].(string)}
}

func hold(id, rid, user, status string, buckets []string, exp *time.Time) map[string]any {
	h := map[string]any{"id": id, "resource_id": rid, "user_id": user, "status": status, "buckets": buckets, "quantity": 2}
	if exp != nil {
		h["expires_at"] = exp.Format(time.RFC3339Nano)
	}
	return h
}

func (r *rig) handle(t *testing.T, ev feed.Event) {
	t.Helper()
	if err := r.svc.Handle(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
}

// drain fires due timers and delivers until nothing is due.
func (r *rig) drain(t *testing.T, s *notify.Service) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.FireTimers(ctx); err != nil {
		t.Fatal(err)
	}
	for {
		n, err := s.Deliver(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

func (r *rig) mails(t *testing.T) []parsedMail {
	var out []parsedMail
	for _, m := range r.smtp.messages() {
		out = append(out, parseMail(t, m.Data))
	}
	return out
}

func invitation(t *testing.T, p parsedMail) (method, uid, seq string, ev *ics.VEvent) {
	t.Helper()
	cal, err := ics.ParseCalendar(strings.NewReader(p.Calendar))
	if err != nil || len(cal.Events()) != 1 {
		t.Fatalf("invitation: %v\n%s", err, p.Calendar)
	}
	for _, pr := range cal.CalendarProperties {
		if pr.IANAToken == "METHOD" {
			method = pr.Value
		}
	}
	ev = cal.Events()[0]
	return method, ev.Id(), ev.GetProperty(ics.ComponentPropertySequence).Value, ev
}

// TestConfirmationAndCancellation: the confirmation arrives with a REQUEST invitation for the
// hold, in the resource's zone, with price and German wording; the cancellation cancels the
// same UID with a higher SEQUENCE; the push reaches the device.
func TestConfirmationAndCancellation(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	if err := r.store.PutPreferences(ctx, "ann", notify.Preferences{Locale: "de-DE"}, start); err != nil {
		t.Fatal(err)
	}
	if err := r.store.AddDevice(ctx, notify.Device{ID: "d1", UserID: "ann", Token: "tok-ann", Platform: "android", CreatedAt: start}); err != nil {
		t.Fatal(err)
	}
	exp := start.Add(10 * time.Minute)
	slots := []string{"2026-12-24T10:00", "2026-12-24T11:00"}
	r.handle(t, event(notify.EventPlaced, "ev-1", 7, hold("h1", "sauna", "ann", "held", slots, &exp)))
	r.clock.Set(start.Add(time.Minute))
	r.handle(t, event(notify.EventConfirmed, "ev-2", 8, hold("h1", "sauna", "ann", "confirmed", slots, nil)))
	r.drain(t, r.svc)

	ms := r.mails(t)
	if len(ms) != 1 {
		t.Fatalf("%d mails", len(ms))
	}
	m := ms[0]
	if m.Subject != "Buchung bestätigt: Sauna" || !strings.Contains(m.Text, "50,00\u00a0€") || !strings.Contains(m.Text, "24. Dezember 2026, 10:00 CET") {
		t.Fatalf("confirmation: %q\n%s", m.Subject, m.Text)
	}
	method, uid, seq, ev := invitation(t, m)
	if method != "REQUEST" || m.CalendarMethod != "REQUEST" || uid != "h1" || seq != "8" {
		t.Fatalf("invitation %s %s %s", method, uid, seq)
	}
	berlin, _ := time.LoadLocation("Europe/Berlin")
	if st, err := ev.GetStartAt(); err != nil || !st.Equal(time.Date(2026, 12, 24, 10, 0, 0, 0, berlin)) {
		t.Fatalf("DTSTART %v %v", st, err)
	}
	if pushes := r.fcm.messages(); len(pushes) != 1 || pushes[0].Token != "tok-ann" || pushes[0].Data["kind"] != "confirmation" {
		t.Fatalf("pushes %+v", pushes)
	}

	r.handle(t, event(notify.EventCancelled, "ev-3", 9, hold("h1", "sauna", "ann", "cancelled", slots, nil)))
	r.drain(t, r.svc)
	ms = r.mails(t)
	if len(ms) != 2 {
		t.Fatalf("%d mails", len(ms))
	}
	method, uid, seq, _ = invitation(t, ms[1])
	if method != "CANCEL" || ms[1].CalendarMethod != "CANCEL" || uid != "h1" || seq != "9" || !strings.HasPrefix(ms[1].Subject, "Buchung storniert") {
		t.Fatalf("cancellation %s %s %s %q", method, uid, seq, ms[1].Subject)
	}
}

// TestExpiryWarning: sent when the hold is still held at the warning time; not sent when it
// was confirmed before the timer fired, nor when the confirm came between firing and sending.
func TestExpiryWarning(t *testing.T) {
	ctx := context.Background()
	days := []string{"2026-12-24"}
	exp := start.Add(10 * time.Minute)

	t.Run("sent while held", func(t *testing.T) {
		r := newRig(t)
		r.handle(t, event(notify.EventPlaced, "ev-1", 1, hold("h1", "hotel", "ann", "held", days, &exp)))
		r.clock.Set(exp.Add(-3 * time.Minute))
		r.drain(t, r.svc)
		if n := len(r.smtp.messages()); n != 0 {
			t.Fatalf("%d mails before the warning time", n)
		}
		r.clock.Set(exp.Add(-2 * time.Minute))
		r.drain(t, r.svc)
		ms := r.mails(t)
		if len(ms) != 1 || !strings.HasPrefix(ms[0].Subject, "Complete your booking") || ms[0].Calendar != "" {
			t.Fatalf("warning: %+v", ms)
		}
		r.clock.Set(exp.Add(time.Hour))
		r.drain(t, r.svc)
		if n := len(r.smtp.messages()); n != 1 {
			t.Fatalf("timer fired twice: %d mails", n)
		}
	})
	t.Run("not sent after a confirm", func(t *testing.T) {
		r := newRig(t)
		r.handle(t, event(notify.EventPlaced, "ev-1", 1, hold("h1", "hotel", "ann", "held", days, &exp)))
		r.clock.Set(start.Add(5 * time.Minute))
		r.handle(t, event(notify.EventConfirmed, "ev-2", 2, hold("h1", "hotel", "ann", "confirmed", days, nil)))
		r.clock.Set(exp.Add(-2 * time.Minute))
		r.drain(t, r.svc)
		ms := r.mails(t)
		if len(ms) != 1 || !strings.HasPrefix(ms[0].Subject, "Booking confirmed") {
			t.Fatalf("mails: %+v", ms)
		}
	})
	t.Run("not sent when the confirm races the send", func(t *testing.T) {
		r := newRig(t)
		r.handle(t, event(notify.EventPlaced, "ev-1", 1, hold("h1", "hotel", "ann", "held", days, &exp)))
		r.clock.Set(exp.Add(-2 * time.Minute))
		if n, err := r.svc.FireTimers(ctx); err != nil || n != 1 {
			t.Fatalf("fire: %d %v", n, err)
		}
		r.handle(t, event(notify.EventConfirmed, "ev-2", 2, hold("h1", "hotel", "ann", "confirmed", days, nil)))
		r.drain(t, r.svc)
		for _, m := range r.mails(t) {
			if strings.HasPrefix(m.Subject, "Complete") {
				t.Fatalf("warning sent after the confirm")
			}
		}
		skipped, err := r.store.Notifications(ctx, notify.StatusSkipped, 10)
		moot := 0
		for _, n := range skipped {
			if n.Kind == notify.KindExpiring && n.LastError == "made moot by the hold's state" {
				moot++
			}
		}
		if err != nil || moot != 2 { // e-mail and push
			t.Fatalf("skipped: %+v %v", skipped, err)
		}
	})
}

// TestReminder: a confirmed stay gets a reminder 24 h before check-in, after a restart of the
// service (the timer is durable), and not when cancelled meanwhile.
func TestReminder(t *testing.T) {
	r := newRig(t)
	nights := []string{"2026-12-24", "2026-12-25"}
	r.handle(t, event(notify.EventConfirmed, "ev-1", 1, hold("h1", "hotel", "ann", "confirmed", nights, nil)))
	r.handle(t, event(notify.EventConfirmed, "ev-2", 1, hold("h2", "hotel", "bob", "confirmed", nights, nil)))
	r.drain(t, r.svc)
	r.handle(t, event(notify.EventCancelled, "ev-3", 2, hold("h2", "hotel", "bob", "cancelled", nights, nil)))
	r.drain(t, r.svc)
	if n := len(r.smtp.messages()); n != 3 {
		t.Fatalf("%d mails before the reminder", n)
	}
	_ = r.svc.Close()
	restarted := r.newService(t)
	berlin, _ := time.LoadLocation("Europe/Berlin")
	r.clock.Set(time.Date(2026, 12, 23, 0, 0, 0, 0, berlin))
	r.drain(t, restarted)
	ms := r.mails(t)
	if len(ms) != 4 || !strings.HasPrefix(ms[3].Subject, "Reminder: Seaside Room") || !strings.Contains(ms[3].Text, "Dec 24, 2026 – Sat, Dec 26, 2026") {
		t.Fatalf("reminder: %+v", ms[len(ms)-1])
	}
}

// TestRedeliveryAndTwoNodesSendOnce: the same event handled again and again, by two nodes
// delivering concurrently, gives one e-mail per (event, channel).
func TestRedeliveryAndTwoNodesSendOnce(t *testing.T) {
	r := newRig(t)
	other := r.newService(t)
	days := []string{"2026-12-24"}
	const n = 12
	for i := range n {
		h := "h" + strconv.Itoa(i)
		ev := event(notify.EventConfirmed, "ev-"+h, 1, hold(h, "hotel", "ann", "confirmed", days, nil))
		for range 3 {
			r.handle(t, ev)
			if err := other.Handle(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
		}
	}
	var wg sync.WaitGroup
	for _, s := range []*notify.Service{r.svc, other} {
		wg.Add(1)
		go func() { defer wg.Done(); r.drain(t, s) }()
	}
	wg.Wait()
	ms := r.mails(t)
	ids := map[string]int{}
	for _, m := range ms {
		ids[m.MessageID]++
	}
	if len(ms) != n || len(ids) != n {
		t.Fatalf("%d mails, %d distinct Message-IDs, want %d", len(ms), len(ids), n)
	}
}

// TestCrashAfterHandOff: a node that handed a message to the server but died before
// recording it leaves the notification claimed; after the lease another node sends it again
// with the same Message-ID, so the receiver keeps one.
func TestCrashAfterHandOff(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.handle(t, event(notify.EventConfirmed, "ev-1", 1, hold("h1", "hotel", "ann", "confirmed", []string{"2026-12-24"}, nil)))
	// The dying node: claims and sends, never finishes.
	cl, err := r.store.ClaimNotifications(ctx, r.clock.Now(), r.clock.Now().Add(time.Minute), 10)
	if err != nil || len(cl) != 2 {
		t.Fatalf("claim %d %v", len(cl), err)
	}
	r.drain(t, r.svc) // leased: nothing to do
	if len(r.smtp.messages()) != 0 {
		t.Fatal("leased notification sent")
	}
	cfg, _ := notify.ParseSMTPURL("smtp://127.0.0.1:" + strconv.Itoa(r.smtp.port))
	cfg.TLS = r.smtp.clients
	m, _ := notify.NewSMTPMailer(cfg, "notifications@allot.example")
	if err := m.Send(ctx, notify.Mail{MessageID: notify.MessageID("ev-1", notify.ChannelEmail, "allot.example"),
		To: "ann@example.com", Subject: "x", Text: "x", Date: start}); err != nil {
		t.Fatal(err)
	}
	r.clock.Set(start.Add(2 * time.Minute))
	r.drain(t, r.svc)
	ms := r.mails(t)
	if len(ms) != 2 || ms[0].MessageID != ms[1].MessageID {
		t.Fatalf("want the resend under the same Message-ID: %+v", ms)
	}
	sent, _ := r.store.Notifications(ctx, notify.StatusSent, 10)
	if len(sent) != 1 || sent[0].Channel != notify.ChannelEmail || sent[0].Attempts != 2 {
		t.Fatalf("sent = %+v", sent)
	}
}

// TestUnregisteredDeviceRemoved: FCM says UNREGISTERED; the device is removed, and the
// notification is done (skipped: no device left) rather than retried.
func TestUnregisteredDeviceRemoved(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	if err := r.store.AddDevice(ctx, notify.Device{ID: "d1", UserID: "ann", Token: "tok-gone", Platform: "ios", CreatedAt: start}); err != nil {
		t.Fatal(err)
	}
	if err := r.store.AddDevice(ctx, notify.Device{ID: "d2", UserID: "ann", Token: "tok-live", Platform: "android", CreatedAt: start}); err != nil {
		t.Fatal(err)
	}
	r.fcm.unregister("tok-gone")
	r.handle(t, event(notify.EventConfirmed, "ev-1", 1, hold("h1", "hotel", "ann", "confirmed", []string{"2026-12-24"}, nil)))
	r.drain(t, r.svc)
	ds, err := r.store.Devices(ctx, "ann")
	if err != nil || len(ds) != 1 || ds[0].ID != "d2" {
		t.Fatalf("devices %+v %v", ds, err)
	}
	if p := r.fcm.messages(); len(p) != 1 || p[0].Token != "tok-live" {
		t.Fatalf("pushes %+v", p)
	}
}

// TestRetryThenFail: a server answering 4xx is retried with backoff; 5xx fails at once and
// is listed as failed.
func TestRetryThenFail(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	r.smtp.setRefuse(smtpErr(451))
	r.handle(t, event(notify.EventConfirmed, "ev-1", 1, hold("h1", "hotel", "ann", "confirmed", []string{"2026-12-24"}, nil)))
	r.drain(t, r.svc)
	pending, _ := r.store.Notifications(ctx, notify.StatusPending, 10)
	var mail notify.Notification
	for _, p := range pending {
		if p.Channel == notify.ChannelEmail {
			mail = p
		}
	}
	if mail.Attempts != 1 || !mail.NextAttemptAt.Equal(start.Add(10*time.Second)) || !strings.Contains(mail.LastError, "451") {
		t.Fatalf("after 451: %+v", mail)
	}
	r.smtp.setRefuse(smtpErr(550))
	r.clock.Set(start.Add(10 * time.Second))
	r.drain(t, r.svc)
	failed, _ := r.store.Notifications(ctx, notify.StatusFailed, 10)
	if len(failed) != 1 || failed[0].Attempts != 2 || !strings.Contains(failed[0].LastError, "550") {
		t.Fatalf("failed: %+v", failed)
	}
}

// TestCancelBeforeConfirmationWentOut: a confirm and a cancel handled before the workers ran
// send only the cancellation; a REQUEST sent after it would put the event back.
func TestCancelBeforeConfirmationWentOut(t *testing.T) {
	r := newRig(t)
	days := []string{"2026-12-24"}
	r.handle(t, event(notify.EventConfirmed, "ev-1", 1, hold("h1", "hotel", "ann", "confirmed", days, nil)))
	r.handle(t, event(notify.EventCancelled, "ev-2", 2, hold("h1", "hotel", "ann", "cancelled", days, nil)))
	r.drain(t, r.svc)
	ms := r.mails(t)
	if len(ms) != 1 {
		t.Fatalf("%d mails", len(ms))
	}
	if method, uid, seq, _ := invitation(t, ms[0]); method != "CANCEL" || uid != "h1" || seq != "2" {
		t.Fatalf("%s %s %s", method, uid, seq)
	}
}
