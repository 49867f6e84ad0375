package cmd

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/notify"
	"github.com/allot/allot/api/notify/apnstest"
	"github.com/allot/allot/api/notify/smtptest"
	"github.com/allot/allot/api/wire"
)

// TestMainMailsTheHoldsContact boots the node with --smtp-url and a data key ring: user u-1,
// whose token carries u1@example.com, places a hold for a guest with the guest's contact
// (sealed at the edge; the event carries none) and confirms it: the confirmation goes to the
// guest, read from the hold at send time. A second hold of u-1 without a contact is mailed to
// u-1's own address from the token's claim (recorded by the edge's OnPrincipal hook). Neither
// address reaches the node's debug log.
func TestMainMailsTheHoldsContact(t *testing.T) {
	mail := smtptest.New(t, smtptest.Options{})
	logs := &lockedBuffer{}
	m := runLoggedNode(t, logs, func(c *NodeConfig) {
		c.DataKeyFile = writeDataKey(t)
		c.Notify.SMTPURL = fmt.Sprintf("smtp://127.0.0.1:%d", mail.Port)
		c.Notify.MailFrom = "Allot <bookings@allot.test>"
	})
	c := nodeClient{t: t, m: m, base: m.HTTPURL()}
	u1 := auth.TokenSpec{Subject: "u-1", Email: "u1@example.com", TTL: time.Hour}

	c.do(http.MethodPost, "/v1/resources", webhookAdmin,
		`{"id":"hotel-1","name":"Hotel Sonne","buckets":{"2026-12-24":2,"2026-12-25":2},"hold_ttl":"10m"}`, nil)
	var guest wire.Hold
	c.do(http.MethodPost, "/v1/resources/hotel-1/holds", u1,
		`{"buckets":["2026-12-24"],"quantity":1,"contact":{"name":"Gina Guest","email":"guest@example.org"}}`, &guest)
	c.do(http.MethodPost, "/v1/resources/hotel-1/holds/"+guest.ID+"/confirm", u1, "", nil)
	waitMail(t, mail, 1, 30*time.Second)
	got := readInvites(t, mail)
	if len(got) != 1 || got[0].to != "guest@example.org" || got[0].uid != guest.ID || got[0].method != "REQUEST" {
		t.Fatalf("confirmation of the guest's hold: %+v, want a REQUEST for %s to guest@example.org", got, guest.ID)
	}

	var own wire.Hold
	c.do(http.MethodPost, "/v1/resources/hotel-1/holds", u1, `{"buckets":["2026-12-25"],"quantity":1}`, &own)
	c.do(http.MethodPost, "/v1/resources/hotel-1/holds/"+own.ID+"/confirm", u1, "", nil)
	waitMail(t, mail, 2, 30*time.Second)
	got = readInvites(t, mail)
	if len(got) != 2 || got[1].to != "u1@example.com" || got[1].uid != own.ID {
		t.Fatalf("confirmation of u-1's own hold: %+v, want one for %s to u1@example.com", got, own.ID)
	}

	out := logs.String()
	if !strings.Contains(out, "notifications on") {
		t.Fatalf("the node's log has no start record of the notifications:\n%s", out)
	}
	for _, s := range []string{"guest@example.org", "u1@example.com", "Gina Guest"} {
		if strings.Contains(out, s) {
			t.Fatalf("the node's log holds %q", s)
		}
	}
}

// TestMainPushesToAnIPhone boots the node with APNs on (--apns-key-file, --apns-key-id,
// --apns-team-id, --apns-topic, --apns-host at a local HTTP/2 TLS server speaking the APNs
// provider API) and no FCM: an iOS device registered at POST /v1/me/devices gets the
// confirmation through sideshow/apns2; once APNs reports the token unregistered (410), the
// next confirmation removes the device and is skipped.
func TestMainPushesToAnIPhone(t *testing.T) {
	apns := apnstest.New(t, "com.allot.app")
	keyFile := filepath.Join(t.TempDir(), "AuthKey_K1.p8")
	if err := os.WriteFile(keyFile, apnstest.P8Key(t), 0o600); err != nil {
		t.Fatal(err)
	}
	m := MustRunMain(t, func(c *NodeConfig) {
		c.Notify.APNsKeyFile, c.Notify.APNsKeyID, c.Notify.APNsTeamID = keyFile, "K1", "T1"
		c.Notify.APNsTopic, c.Notify.APNsHost, c.Notify.APNsTLS = "com.allot.app", apns.URL, apns.Clients
	})
	c := nodeClient{t: t, m: m, base: m.HTTPURL()}
	dee := auth.TokenSpec{Subject: "u-dee", TTL: time.Hour}
	c.do(http.MethodPost, "/v1/resources", webhookAdmin, `{"id":"court-1","name":"Court 1","buckets":{"2026-12-24":1,"2026-12-25":1},"hold_ttl":"10m"}`, nil)
	c.do(http.MethodPost, "/v1/me/devices", dee, `{"token":"tok-iphone","platform":"ios"}`, nil)
	var h wire.Hold
	c.do(http.MethodPost, "/v1/resources/court-1/holds", dee, `{"buckets":["2026-12-24"],"quantity":1}`, &h)
	c.do(http.MethodPost, "/v1/resources/court-1/holds/"+h.ID+"/confirm", dee, "", nil)
	select {
	case <-apns.Arrived:
	case <-time.After(30 * time.Second):
		t.Fatal("no push within 30 s")
	}
	got := apns.Received()
	if len(got) != 1 {
		t.Fatalf("pushes %+v", got)
	}
	if title, _ := got[0].Alert(); got[0].Token != "tok-iphone" || got[0].Payload["kind"] != "confirmation" ||
		got[0].Payload["hold_id"] != h.ID || !strings.Contains(title, "Court 1") {
		t.Fatalf("push %+v (title %q)", got[0], title)
	}

	apns.Gone("tok-iphone")
	var h2 wire.Hold
	c.do(http.MethodPost, "/v1/resources/court-1/holds", dee, `{"buckets":["2026-12-25"],"quantity":1}`, &h2)
	c.do(http.MethodPost, "/v1/resources/court-1/holds/"+h2.ID+"/confirm", dee, "", nil)
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
	if n := len(apns.Received()); n != 1 {
		t.Fatalf("%d pushes accepted, want 1", n)
	}
}
