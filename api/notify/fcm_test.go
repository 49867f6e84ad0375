package notify_test

import (
	"context"
	"errors"
	"testing"

	"github.com/allot/allot/api/notify"
)

func newPusher(t *testing.T, f *fcmServer, project string) *notify.FCMPusher {
	t.Helper()
	p, err := notify.NewFCMPusher(context.Background(), notify.FCMConfig{ProjectID: project,
		CredentialsJSON: f.serviceAccountKey(t), Endpoint: f.url + "/v1"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFCMPush(t *testing.T) {
	ctx := context.Background()
	f := newFCMServer(t, "allot-test")
	p := newPusher(t, f, "allot-test")
	push := notify.Push{Title: "Booking confirmed", Body: "Sauna", Data: map[string]string{"hold_id": "h1"}, CollapseKey: "h1"}
	if err := p.Push(ctx, "tok-ok", push); err != nil {
		t.Fatal(err)
	}
	got := f.messages()
	if len(got) != 1 || got[0].Token != "tok-ok" || got[0].Notification["title"] != "Booking confirmed" || got[0].Data["hold_id"] != "h1" {
		t.Fatalf("sent %+v", got)
	}
	if f.TokenGrants() == 0 {
		t.Fatal("no OAuth token was fetched from token_uri")
	}
	f.unregister("tok-gone")
	if err := p.Push(ctx, "tok-gone", push); !errors.Is(err, notify.ErrUnregistered) {
		t.Fatalf("unregistered: %v", err)
	}
	wrong := newPusher(t, f, "other-project")
	if err := wrong.Push(ctx, "tok-ok", push); !errors.Is(err, notify.ErrPermanent) {
		t.Fatalf("sender id mismatch: %v", err)
	}
}
