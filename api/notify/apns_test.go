package notify_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/allot/allot/api/notify"
	"github.com/allot/allot/api/notify/apnstest"
)

func TestAPNsPush(t *testing.T) {
	a := apnstest.New(t, "com.allot.app")
	p, err := notify.NewAPNsPusher(notify.APNsConfig{KeyPEM: apnstest.P8Key(t), KeyID: "K1", TeamID: "T1", Topic: "com.allot.app",
		Host: a.URL, TLS: a.Clients})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := p.Push(ctx, "tok-ios", notify.Push{Title: "Booking confirmed", Body: "Sauna", Data: map[string]string{"hold_id": "h1"}}); err != nil {
		t.Fatal(err)
	}
	got := a.Received()
	a.Gone("tok-old")
	if len(got) != 1 {
		t.Fatalf("received %+v", got)
	}
	if title, _ := got[0].Alert(); title != "Booking confirmed" || got[0].Payload["hold_id"] != "h1" || got[0].Token != "tok-ios" {
		t.Fatalf("received %+v", got)
	}
	if err := p.Push(ctx, "tok-old", notify.Push{Title: "x"}); !errors.Is(err, notify.ErrUnregistered) {
		t.Fatalf("410: %v", err)
	}
	wrong, _ := notify.NewAPNsPusher(notify.APNsConfig{KeyPEM: apnstest.P8Key(t), KeyID: "K1", TeamID: "T1", Topic: "com.other",
		Host: a.URL, TLS: a.Clients})
	if err := wrong.Push(ctx, "tok-ios", notify.Push{Title: "x"}); !errors.Is(err, notify.ErrPermanent) {
		t.Fatalf("403: %v", err)
	}
}

// TestPushRoutesByPlatform: with APNs configured, iOS devices go to APNs and the rest to FCM;
// an iOS token APNs reports gone is removed.
func TestPushRoutesByPlatform(t *testing.T) {
	r := newRig(t)
	a := apnstest.New(t, "com.allot.app")
	ctx := context.Background()
	ap, err := notify.NewAPNsPusher(notify.APNsConfig{KeyPEM: apnstest.P8Key(t), KeyID: "K1", TeamID: "T1", Topic: "com.allot.app", Host: a.URL, TLS: a.Clients})
	if err != nil {
		t.Fatal(err)
	}
	s, err := notify.New(notify.DefaultConfig(), notify.Deps{Store: r.store, Resources: dir, Contacts: dir,
		Pusher: newPusher(t, r.fcm, "allot-test"), APNs: ap, Now: r.clock.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []notify.Device{
		{ID: "d1", UserID: "ann", Token: "tok-iphone", Platform: "ios", CreatedAt: start},
		{ID: "d2", UserID: "ann", Token: "tok-old-iphone", Platform: "ios", CreatedAt: start},
		{ID: "d3", UserID: "ann", Token: "tok-pixel", Platform: "android", CreatedAt: start},
	} {
		if err := r.store.AddDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	a.Gone("tok-old-iphone")
	if err := s.Handle(ctx, event(notify.EventConfirmed, "ev-1", 1, hold("h1", "hotel", "ann", "confirmed", []string{"2026-12-24"}, nil))); err != nil {
		t.Fatal(err)
	}
	r.drain(t, s)
	apnsGot := len(a.Received())
	if fcm := r.fcm.messages(); apnsGot != 1 || len(fcm) != 1 || fcm[0].Token != "tok-pixel" {
		t.Fatalf("apns %d, fcm %+v", apnsGot, fcm)
	}
	if ds, _ := r.store.Devices(ctx, "ann"); len(ds) != 2 {
		t.Fatalf("devices %+v", ds)
	}
}
