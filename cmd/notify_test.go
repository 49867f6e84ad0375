package cmd

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"

	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/notify"
	"github.com/allot/allot/api/notify/fcmtest"
	"github.com/allot/allot/api/notify/smtptest"
	"github.com/allot/allot/api/notify/twiliotest"
	"github.com/allot/allot/api/wire"
	"github.com/allot/allot/persistence/pii"
)

// invite is a received notification e-mail with its invitation read back.
type invite struct {
	to, messageID, subject string
	method, uid, sequence  string
}

// readInvites parses every message the server took; a message without a valid invitation
// fails the test (every confirmation and cancellation carries one).
func readInvites(t *testing.T, s *smtptest.Server) []invite {
	t.Helper()
	var out []invite
	for _, m := range s.Messages() {
		p := smtptest.ParseMail(t, m.Data)
		cal, err := ics.ParseCalendar(strings.NewReader(p.Calendar))
		if err != nil || len(cal.Events()) != 1 {
			t.Fatalf("message %s: invitation does not parse: %v\n%s", p.MessageID, err, p.Calendar)
		}
		in := invite{to: strings.Join(m.To, ","), messageID: p.MessageID, subject: p.Subject}
		for _, pr := range cal.CalendarProperties {
			if pr.IANAToken == "METHOD" {
				in.method = pr.Value
			}
		}
		if in.method != p.CalendarMethod {
			t.Fatalf("message %s: METHOD %s, Content-Type method %s", p.MessageID, in.method, p.CalendarMethod)
		}
		ev := cal.Events()[0]
		in.uid = ev.Id()
		if sq := ev.GetProperty(ics.ComponentPropertySequence); sq != nil {
			in.sequence = sq.Value
		}
		out = append(out, in)
	}
	return out
}

// waitMail waits until the server holds at least n messages.
func waitMail(t *testing.T, s *smtptest.Server, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.After(timeout)
	for len(s.Messages()) < n {
		select {
		case <-s.Arrived:
		case <-time.After(time.Second):
		case <-deadline:
			t.Fatalf("%d of %d e-mails arrived within %s", len(s.Messages()), n, timeout)
		}
	}
}

func writeDataKey(t *testing.T) string {
	t.Helper()
	line, err := pii.NewKeyLine("k1")
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "data.keys")
	if err := os.WriteFile(f, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// TestMainMailsConfirmationAndCancellation boots the node with --smtp-url to an SMTP server
// on 127.0.0.1: a customer whose token carries an email claim places and confirms a hold
// through the HTTP API and receives the confirmation with a METHOD:REQUEST invitation for
// the hold; cancelling sends METHOD:CANCEL for the same UID with a higher SEQUENCE. The
// contact is stored sealed, and the notification routes are mounted with their policies.
func TestMainMailsConfirmationAndCancellation(t *testing.T) {
	mail := smtptest.New(t, smtptest.Options{})
	dir := t.TempDir()
	m := MustRunMain(t, func(c *NodeConfig) {
		c.DataDir = dir
		c.DataKeyFile = writeDataKey(t)
		c.Notify.SMTPURL = fmt.Sprintf("smtp://127.0.0.1:%d", mail.Port)
		c.Notify.MailFrom = "Allot <bookings@allot.test>"
	})
	c := nodeClient{t: t, m: m, base: m.HTTPURL()}
	ann := auth.TokenSpec{Subject: "u-ann", Email: "ann@example.com", TTL: time.Hour}

	c.do(http.MethodPost, "/v1/resources", webhookAdmin,
		`{"id":"hotel-1","name":"Hotel Sonne","buckets":{"2026-12-24":2,"2026-12-25":2},"hold_ttl":"10m","price":{"amount":12000,"currency":"EUR"}}`, nil)
	var prefs notify.PreferencesBody
	c.do(http.MethodGet, "/v1/me/notification-preferences", ann, "", &prefs)
	if prefs.Locale != "en" || len(prefs.Channels[notify.KindConfirmation]) == 0 {
		t.Fatalf("default preferences %+v", prefs)
	}
	var h wire.Hold
	c.do(http.MethodPost, "/v1/resources/hotel-1/holds", ann, `{"buckets":["2026-12-24","2026-12-25"],"quantity":1}`, &h)
	c.do(http.MethodPost, "/v1/resources/hotel-1/holds/"+h.ID+"/confirm", ann, "", nil)
	waitMail(t, mail, 1, 30*time.Second)
	got := readInvites(t, mail)
	if len(got) != 1 || got[0].to != "ann@example.com" || got[0].method != "REQUEST" || got[0].uid != h.ID ||
		!strings.Contains(got[0].subject, "Hotel Sonne") || !strings.HasSuffix(got[0].messageID, "@allot.test>") {
		t.Fatalf("confirmation: %+v, want a REQUEST for %s to ann@example.com", got, h.ID)
	}

	c.do(http.MethodPost, "/v1/resources/hotel-1/holds/"+h.ID+"/cancel", ann, "", nil)
	waitMail(t, mail, 2, 30*time.Second)
	got = readInvites(t, mail)
	if len(got) != 2 || got[1].method != "CANCEL" || got[1].uid != h.ID || got[1].sequence <= got[0].sequence {
		t.Fatalf("cancellation: %+v, want CANCEL of %s with a higher SEQUENCE", got, h.ID)
	}

	// The contact is at rest sealed: the address appears nowhere in the database file.
	for _, f := range []string{"allot.db", "allot.db-wal"} {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "ann@example.com") {
			t.Fatalf("%s holds the e-mail address in clear", f)
		}
	}

	// The mounted routes refuse anonymous callers and customers where operators are needed.
	for _, r := range []struct {
		method, path string
		spec         *auth.TokenSpec
		want         int
	}{
		{http.MethodPost, "/v1/me/devices", nil, http.StatusUnauthorized},
		{http.MethodGet, "/v1/me/notification-preferences", nil, http.StatusUnauthorized},
		{http.MethodGet, "/v1/notifications?status=sent", &ann, http.StatusForbidden},
		{http.MethodGet, "/v1/notifications?status=sent", &webhookAdmin, http.StatusOK},
		{http.MethodPost, "/v1/notifications/nt_nope/retry", nil, http.StatusUnauthorized},
		{http.MethodPost, "/v1/notifications/nt_nope/retry", &ann, http.StatusForbidden},
		{http.MethodPost, "/v1/notifications/nt_nope/retry", &webhookAdmin, http.StatusNotFound},
	} {
		req, _ := http.NewRequest(r.method, c.base+r.path, strings.NewReader(`{"token":"t","platform":"android"}`))
		req.Header.Set("Content-Type", "application/json")
		if r.spec != nil {
			req.Header.Set("Authorization", "Bearer "+c.token(*r.spec))
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != r.want {
			t.Errorf("%s %s: %d %s, want %d", r.method, r.path, res.StatusCode, body, r.want)
		}
		if r.want == http.StatusOK && (!strings.Contains(string(body), `"status":"sent"`) || strings.Contains(string(body), "ann@example.com")) {
			t.Errorf("sent notifications: %s", body)
		}
	}
}

// TestMainWithoutChannelsHasNoNotifications: with no channel configured nothing is started
// and the routes are not served.
func TestMainWithoutChannelsHasNoNotifications(t *testing.T) {
	m := MustRunMain(t)
	c := nodeClient{t: t, m: m, base: m.HTTPURL()}
	req, _ := http.NewRequest(http.MethodGet, c.base+"/v1/me/notification-preferences", nil)
	req.Header.Set("Authorization", "Bearer "+c.token(auth.TokenSpec{Subject: "u-1", TTL: time.Hour}))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("preferences without notifications: %d, want 404", res.StatusCode)
	}
	if m.notifier.svc != nil || m.notifier.db != nil {
		t.Fatal("the notification service started without a channel")
	}
}

// TestNotifyConfigValidate: the notification flags' mistakes are refused at start, and no
// error quotes the SMTP URL's password; the URL and the Twilio token come from files too.
func TestNotifyConfigValidate(t *testing.T) {
	for _, c := range []struct {
		name   string
		mutate func(*NotifyConfig)
	}{
		{"url and file", func(c *NotifyConfig) { c.SMTPURL, c.SMTPURLFile = "smtp://127.0.0.1:25", "/x" }},
		{"bad url", func(c *NotifyConfig) { c.SMTPURL = "http://user:hunter2@mail.example.com" }},
		{"bad sender", func(c *NotifyConfig) { c.MailFrom = "not an address" }},
		{"twilio without token", func(c *NotifyConfig) { c.TwilioAccountSID, c.SMSFrom = "AC1", "+15005550006" }},
		{"twilio without sender", func(c *NotifyConfig) { c.TwilioAccountSID, c.TwilioAuthToken = "AC1", "tok" }},
		{"apns without ids", func(c *NotifyConfig) { c.APNsKeyFile = "/k.p8" }},
		{"negative rule", func(c *NotifyConfig) { c.ReminderBefore = -time.Hour }},
		{"bad endpoint", func(c *NotifyConfig) { c.FCMEndpoint = "localhost:9" }},
	} {
		cfg := DefaultNodeConfig()
		c.mutate(&cfg.Notify)
		err := cfg.validate()
		if err == nil {
			t.Errorf("%s: accepted", c.name)
		} else if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: the error quotes the password: %v", c.name, err)
		}
	}
	cfg := DefaultNodeConfig()
	if err := cfg.validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	f := filepath.Join(t.TempDir(), "smtp-url")
	if err := os.WriteFile(f, []byte("smtps://relay:hunter2@mail.example.com:465\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Notify.SMTPURLFile = f
	if u, err := cfg.Notify.smtpURL(); err != nil || u != "smtps://relay:hunter2@mail.example.com:465" {
		t.Fatalf("url from file: %q %v", u, err)
	}
	cfg.Notify.SMTPURLFile = filepath.Join(t.TempDir(), "missing")
	if _, err := cfg.Notify.smtpURL(); err == nil || !strings.Contains(err.Error(), "--smtp-url-file") {
		t.Fatalf("missing file: %v", err)
	}
}

// TestMainTextsTheConfirmation: a node with only SMS configured (Twilio's client against a
// local server speaking its Messages API; the auth token from ALLOT_TWILIO_AUTH_TOKEN's flag):
// a customer whose token carries a phone_number claim chooses SMS for confirmations and gets
// one when the hold is confirmed.
func TestMainTextsTheConfirmation(t *testing.T) {
	tw := twiliotest.New(t)
	m := MustRunMain(t, func(c *NodeConfig) {
		c.Notify.TwilioAccountSID, c.Notify.TwilioAuthToken = twiliotest.AccountSID, twiliotest.AuthToken
		c.Notify.SMSFrom, c.Notify.TwilioBaseURL = "+15005550006", tw.URL
	})
	c := nodeClient{t: t, m: m, base: m.HTTPURL()}
	bob := auth.TokenSpec{Subject: "u-bob", Phone: "+4915112345678", TTL: time.Hour}
	c.do(http.MethodPost, "/v1/resources", webhookAdmin, `{"id":"sauna-1","name":"Sauna","buckets":{"2026-12-24T18:00":4},"hold_ttl":"10m"}`, nil)
	var prefs notify.PreferencesBody
	c.do(http.MethodPut, "/v1/me/notification-preferences", bob, `{"channels":{"confirmation":["sms"]},"locale":"de-DE","timezone":"Europe/Berlin"}`, &prefs)
	if got := prefs.Channels[notify.KindConfirmation]; len(got) != 1 || got[0] != notify.ChannelSMS || prefs.Locale != "de-DE" {
		t.Fatalf("preferences after PUT: %+v", prefs)
	}
	var h wire.Hold
	c.do(http.MethodPost, "/v1/resources/sauna-1/holds", bob, `{"buckets":["2026-12-24T18:00"],"quantity":1}`, &h)
	c.do(http.MethodPost, "/v1/resources/sauna-1/holds/"+h.ID+"/confirm", bob, "", nil)
	select {
	case <-tw.Arrived:
	case <-time.After(30 * time.Second):
		t.Fatal("no SMS within 30 s")
	}
	got := tw.Messages()
	if len(got) != 1 || got[0].To != "+4915112345678" || got[0].From != "+15005550006" || !strings.Contains(got[0].Body, "Sauna") {
		t.Fatalf("SMS %+v", got)
	}
	t.Logf("SMS: %q", got[0].Body)
}

// TestMainPushesToARegisteredDevice: a node with push through FCM (the SDK's real OAuth and
// v1 flow against a local server, from --fcm-credentials-file and --fcm-endpoint): a customer
// registers a device at POST /v1/me/devices and gets the confirmation pushed to it; once the
// device is deleted (DELETE /v1/me/devices/{id}) the cancellation reaches no device.
func TestMainPushesToARegisteredDevice(t *testing.T) {
	fcm := fcmtest.New(t, "allot-test")
	keyFile := filepath.Join(t.TempDir(), "fcm.json")
	if err := os.WriteFile(keyFile, fcm.ServiceAccountKey(t), 0o600); err != nil {
		t.Fatal(err)
	}
	m := MustRunMain(t, func(c *NodeConfig) {
		c.Notify.FCMProject, c.Notify.FCMCredentialsFile, c.Notify.FCMEndpoint = "allot-test", keyFile, fcm.URL+"/v1"
	})
	c := nodeClient{t: t, m: m, base: m.HTTPURL()}
	cy := auth.TokenSpec{Subject: "u-cy", TTL: time.Hour}
	c.do(http.MethodPost, "/v1/resources", webhookAdmin, `{"id":"court-1","name":"Court 1","buckets":{"2026-12-24":1,"2026-12-25":1},"hold_ttl":"10m"}`, nil)
	var dev notify.DeviceBody
	c.do(http.MethodPost, "/v1/me/devices", cy, `{"token":"tok-pixel","platform":"android"}`, &dev)
	var h wire.Hold
	c.do(http.MethodPost, "/v1/resources/court-1/holds", cy, `{"buckets":["2026-12-24"],"quantity":1}`, &h)
	c.do(http.MethodPost, "/v1/resources/court-1/holds/"+h.ID+"/confirm", cy, "", nil)
	select {
	case <-fcm.Arrived:
	case <-time.After(30 * time.Second):
		t.Fatal("no push within 30 s")
	}
	got := fcm.Messages()
	if len(got) != 1 || got[0].Token != "tok-pixel" || got[0].Data["kind"] != "confirmation" || got[0].Data["hold_id"] != h.ID {
		t.Fatalf("pushes %+v", got)
	}

	c.do(http.MethodDelete, "/v1/me/devices/"+dev.ID, cy, "", nil)
	var h2 wire.Hold
	c.do(http.MethodPost, "/v1/resources/court-1/holds", cy, `{"buckets":["2026-12-25"],"quantity":1}`, &h2)
	c.do(http.MethodPost, "/v1/resources/court-1/holds/"+h2.ID+"/confirm", cy, "", nil)
	// The second confirmation is recorded and skipped (no device): wait for its outcome.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var list struct {
			Notifications []notify.NotificationBody `json:"notifications"`
		}
		c.do(http.MethodGet, "/v1/notifications?status=skipped", webhookAdmin, "", &list)
		if len(list.Notifications) == 1 && list.Notifications[0].HoldID == h2.ID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("skipped notifications: %+v", list.Notifications)
		}
		time.Sleep(50 * time.Millisecond) // polls the operators' list: the outcome is a row, not an event
	}
	if n := len(fcm.Messages()); n != 1 {
		t.Fatalf("%d pushes after the device was deleted, want 1", n)
	}
}
