package cmd

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/allot/allot/api/auth"
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
