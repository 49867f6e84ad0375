package notify_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"
	"github.com/emersion/go-smtp"

	"github.com/allot/allot/api/notify"
)

func TestParseSMTPURL(t *testing.T) {
	for _, c := range []struct {
		in   string
		want notify.SMTPConfig
	}{
		{"smtps://user:p%40ss@mail.example.com", notify.SMTPConfig{Host: "mail.example.com", Port: 465, Username: "user", Password: "p@ss", ImplicitTLS: true}},
		{"smtp://u:p@mail.example.com:587?starttls=required", notify.SMTPConfig{Host: "mail.example.com", Port: 587, Username: "u", Password: "p", RequireSTARTTLS: true}},
		{"smtp://localhost", notify.SMTPConfig{Host: "localhost", Port: 25}},
	} {
		got, err := notify.ParseSMTPURL(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseSMTPURL(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"http://x", "smtp://", "smtp://x:0", "smtp://x?starttls=maybe", "smtps://x?starttls=required", "smtp://x?foo=1"} {
		if _, err := notify.ParseSMTPURL(bad); err == nil {
			t.Errorf("ParseSMTPURL(%q) accepted", bad)
		}
	}
}

func testMail(id string) notify.Mail {
	inv := notify.Invite{HoldID: "h_1", Sequence: 3, Summary: "Sauna", Stamp: time.Now(), Zone: "UTC"}
	return notify.Mail{MessageID: notify.MessageID(id, notify.ChannelEmail, "allot.example"), To: "ann@example.com",
		Subject: "Booking confirmed: Sauna", Text: "Ihre Buchung ist bestätigt.", HTML: "<p>confirmed</p>",
		Calendar: notify.InvitationICS(inv), CalendarMethod: "REQUEST", Date: time.Now()}
}

func mailerFor(t *testing.T, s *smtpServer, rawURL string) *notify.SMTPMailer {
	t.Helper()
	cfg, err := notify.ParseSMTPURL(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.TLS, cfg.Timeout = s.clients, 10*time.Second
	m, err := notify.NewSMTPMailer(cfg, "Allot <notifications@allot.example>")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestSMTPModes sends through each --smtp-url mode to a real SMTP server and parses what
// arrived: the invitation in the text/calendar part and the attachment.
func TestSMTPModes(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name    string
		o       smtpOpts
		url     string
		wantTLS bool
	}{
		{"plain relay", smtpOpts{}, "smtp://127.0.0.1:%d", false},
		{"opportunistic STARTTLS", smtpOpts{StartTLS: true}, "smtp://127.0.0.1:%d", true},
		{"mandatory STARTTLS with auth", smtpOpts{StartTLS: true, User: "relay", Pass: "s3cret"}, "smtp://relay:s3cret@127.0.0.1:%d?starttls=required", true},
		{"implicit TLS with auth", smtpOpts{ImplicitTLS: true, User: "relay", Pass: "s3cret"}, "smtps://relay:s3cret@127.0.0.1:%d", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newSMTPServer(t, c.o)
			m := mailerFor(t, s, strings.Replace(c.url, "%d", itoa(s.port), 1))
			want := testMail("ev-1")
			if err := m.Send(ctx, want); err != nil {
				t.Fatal(err)
			}
			got := s.messages()
			if len(got) != 1 || got[0].TLS != c.wantTLS || got[0].AuthAs != c.o.User || got[0].To[0] != "ann@example.com" {
				t.Fatalf("received %+v", got)
			}
			p := parseMail(t, got[0].Data)
			if p.MessageID != "<"+want.MessageID+">" || p.Subject != want.Subject || !strings.Contains(p.Text, "bestätigt") ||
				p.CalendarMethod != "REQUEST" || p.Attachment == "" {
				t.Fatalf("parsed %+v", p)
			}
			cal, err := ics.ParseCalendar(strings.NewReader(p.Calendar))
			if err != nil || len(cal.Events()) != 1 || cal.Events()[0].Id() != "h_1" {
				t.Fatalf("calendar part: %v\n%s", err, p.Calendar)
			}
		})
	}
}

func TestSMTPRefusals(t *testing.T) {
	ctx := context.Background()
	// Mandatory STARTTLS against a server without it: nothing is sent in clear.
	s := newSMTPServer(t, smtpOpts{})
	m := mailerFor(t, s, "smtp://127.0.0.1:"+itoa(s.port)+"?starttls=required")
	if err := m.Send(ctx, testMail("e")); err == nil || len(s.messages()) != 0 {
		t.Fatalf("sent without TLS: %v", err)
	}
	// 5xx is permanent, 4xx transient.
	plain := mailerFor(t, s, "smtp://127.0.0.1:"+itoa(s.port))
	s.setRefuse(&smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "rejected"})
	if err := plain.Send(ctx, testMail("e")); !errors.Is(err, notify.ErrPermanent) {
		t.Fatalf("554: %v", err)
	}
	s.setRefuse(&smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"})
	if err := plain.Send(ctx, testMail("e")); err == nil || errors.Is(err, notify.ErrPermanent) {
		t.Fatalf("451: %v", err)
	}
}

func itoa(n int) string {
	const digits = "0123456789"
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{digits[n%10]}, b...)
	}
	return string(b)
}

// TestSMTPSessionsReused: messages one after another go on one kept session; a kept session
// the server closed is noticed and the message goes on a fresh one; a refused message drops
// its session (the next dials again); after Close every message has a session of its own.
func TestSMTPSessionsReused(t *testing.T) {
	s := newSMTPServer(t, smtpOpts{StartTLS: true})
	m := mailerFor(t, s, "smtp://127.0.0.1:"+strconv.Itoa(s.port)+"?starttls=required")
	ctx := context.Background()
	for i := range 5 {
		if err := m.Send(ctx, testMail("ev-"+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.Sessions(); n != 1 {
		t.Fatalf("5 messages took %d sessions, want 1", n)
	}
	s.DropSessions()
	if err := m.Send(ctx, testMail("ev-after-drop")); err != nil {
		t.Fatalf("after the server dropped the kept session: %v", err)
	}
	s.setRefuse(smtpErr(550))
	if err := m.Send(ctx, testMail("ev-refused")); !errors.Is(err, notify.ErrPermanent) {
		t.Fatalf("refused: %v", err)
	}
	s.setRefuse(nil)
	if err := m.Send(ctx, testMail("ev-next")); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if err := m.Send(ctx, testMail("ev-closed-"+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	msgs := s.messages()
	if len(msgs) != 9 {
		t.Fatalf("%d messages arrived, want 9", len(msgs))
	}
	var sessions []int
	for _, r := range msgs {
		if !r.TLS {
			t.Fatal("a message without STARTTLS on a kept session")
		}
		sessions = append(sessions, r.Session)
	}
	// 1-5 on the first session; the drop: a second; the refusal dropped it: a third for the
	// next; after Close a session each.
	if fmt.Sprint(sessions) != "[1 1 1 1 1 2 3 4 5]" {
		t.Fatalf("sessions of the messages: %v", sessions)
	}
}
