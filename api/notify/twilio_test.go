package notify_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/allot/allot/api/notify"
	"github.com/allot/allot/api/notify/twiliotest"
)

func TestTwilioSMS(t *testing.T) {
	ts := twiliotest.New(t)
	sms, err := notify.NewTwilioSMS(notify.TwilioConfig{AccountSID: twiliotest.AccountSID, AuthToken: twiliotest.AuthToken,
		From: "+15005550006", BaseURL: ts.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := sms.SendSMS(ctx, "+4915112345678", "Your booking is confirmed"); err != nil {
		t.Fatal(err)
	}
	got := ts.Messages()
	if len(got) != 1 || got[0] != (twiliotest.SMS{To: "+4915112345678", From: "+15005550006", Body: "Your booking is confirmed"}) {
		t.Fatalf("server got %+v", got)
	}

	// A refused number is permanent; a 429 or 5xx is retried.
	if err := sms.SendSMS(ctx, "015112345678", "x"); !errors.Is(err, notify.ErrPermanent) {
		t.Fatalf("invalid number: %v, want permanent", err)
	}
	for _, st := range []int{http.StatusTooManyRequests, http.StatusServiceUnavailable} {
		ts.Answer(st)
		if err := sms.SendSMS(ctx, "+4915112345678", "x"); err == nil || errors.Is(err, notify.ErrPermanent) {
			t.Fatalf("status %d: %v, want a transient error", st, err)
		}
	}
	ts.Answer(0)

	// Wrong credentials are refused by the server (401), permanently.
	bad, err := notify.NewTwilioSMS(notify.TwilioConfig{AccountSID: twiliotest.AccountSID, AuthToken: "wrongwrongwrong", From: "+15005550006", BaseURL: ts.URL})
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.SendSMS(ctx, "+4915112345678", "x"); !errors.Is(err, notify.ErrPermanent) {
		t.Fatalf("bad credentials: %v, want permanent", err)
	}
	if len(ts.Messages()) != 1 {
		t.Fatalf("refused sends were recorded: %+v", ts.Messages())
	}
	for _, c := range []notify.TwilioConfig{
		{AccountSID: twiliotest.AccountSID, AuthToken: twiliotest.AuthToken, From: "+1", BaseURL: "ftp://x"},
		{AccountSID: twiliotest.AccountSID, AuthToken: "has-dashes", From: "+1"},
		{AccountSID: twiliotest.AccountSID, AuthToken: twiliotest.AuthToken},
	} {
		if _, err := notify.NewTwilioSMS(c); err == nil {
			t.Errorf("config %+v accepted", c)
		}
	}
}
