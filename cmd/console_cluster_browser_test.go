package cmd

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/console/consoletest"
	"github.com/allot/allot/api/wire"
	"github.com/allot/allot/cluster/clustertest"
	"github.com/allot/allot/persistence/pgtest"
)

// consoleAdmin is the operator of the 3-node console test: operator and admin roles, with a
// second factor (the deliveries' retry needs the admin role).
var consoleAdmin = auth.TokenSpec{Subject: "ops-c", Roles: []auth.Role{auth.RoleOperator, auth.RoleAdmin}, MFA: true, TTL: time.Hour}

// TestMainConsoleInBrowserThreeNodes drives the console of a real 3-node cluster in chromium:
// this process's Main and two `allot node` processes (two cluster members in one process race
// in the actor library's global gRPC logger) joined by gossip, on one PostgreSQL database and
// one NATS server. An operator with MFA signs in with a dev token and sees the three members;
// holds placed through the API move the live sale's sold count; a webhook delivery that the
// receiver (on loopback) refused shows as pending with its error, and the Retry button sends
// it again, now accepted.
func TestMainConsoleInBrowserThreeNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	url := pgtest.MustServer(t).MustDatabase(t)
	nats := startNATS(t)
	key := clustertest.KeyFile(t)
	bin := clustertest.MustBinary(t)
	a := MustRunMain(t, func(c *NodeConfig) {
		c.DBURL, c.NATSURL, c.KeyFile, c.Bootstrap, c.WebhookAllowPrivate = url, nats, key, true, true
	})
	var others []*proc
	for range 2 {
		p := startProc(t, bin, "--db-url", url, "--nats-url", nats, "--key-file", key, "--join", a.Node().Self().GossipAddr,
			"--advertise-addr", "127.0.0.1", "--gossip-addr", "127.0.0.1:0", "--remote-addr", "127.0.0.1:0", "--webhook-allow-private")
		others = append(others, p)
	}
	for _, p := range others {
		p.waitReady(30 * time.Second)
	}
	c := nodeClient{t: t, m: a, base: a.HTTPURL()}

	// The receiver refuses deliveries until accept is set.
	var accept atomic.Bool
	var got atomic.Int64
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		if !accept.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rcv.Close)
	c.do(http.MethodPost, "/v1/webhooks", consoleAdmin, `{"url":"`+rcv.URL+`/hook","event_types":["hold.confirmed"]}`, nil)
	c.do(http.MethodPost, "/v1/resources", consoleAdmin, `{"id":"gala-3","name":"Gala","buckets":{"2026-12-31":40},"hold_ttl":"10m"}`, nil)

	ctx := consoletest.Browser(t) // closed before the nodes (cleanups run last first)
	consoletest.Navigate(t, ctx, c.base+"/console")
	consoletest.SignIn(t, ctx, c.token(consoleAdmin))
	consoletest.WaitText(t, ctx, "#members-count", "3")
	consoletest.WaitText(t, ctx, "#members-alive", "3 / 3")

	consoletest.Navigate(t, ctx, c.base+"/console/#/live/gala-3")
	consoletest.WaitText(t, ctx, "#sold-total", "0")
	consoletest.WaitText(t, ctx, "#stock-total", "40")
	sold := 0
	for i := range 3 {
		u := auth.TokenSpec{Subject: fmt.Sprint("buyer-", i), TTL: time.Hour}
		var h wire.Hold
		c.do(http.MethodPost, "/v1/resources/gala-3/holds", u, `{"buckets":["2026-12-31"],"quantity":2}`, &h)
		c.do(http.MethodPost, "/v1/resources/gala-3/holds/"+h.ID+"/confirm", u, "", nil)
		sold += 2
		consoletest.WaitText(t, ctx, "#sold-total", strconv.Itoa(sold))
	}

	// The three confirmations' deliveries were refused: pending, with the receiver's answer.
	consoletest.Navigate(t, ctx, c.base+"/console/#/deliveries")
	consoletest.WaitPoll(t, ctx, `(() => {
		const rows = [...document.querySelectorAll("#deliveries-table tbody tr")];
		return rows.length === 3 && rows.every(r => /pending/.test(r.textContent) && /HTTP 503/.test(r.textContent));
	})()`)
	accept.Store(true)
	before := got.Load()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#deliveries-table tbody tr:first-child button"))); err != nil {
		t.Fatal(err)
	}
	consoletest.WaitText(t, ctx, "#status", "Retry scheduled.")
	// The receiver gets the retried delivery; then the deliveries page, opened afresh, shows
	// it succeeded (the page skips its periodic reads while focus is in the table).
	for deadline := time.Now().Add(time.Minute); got.Load() <= before; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the receiver got no request after the retry (%d before)", before)
		}
	}
	consoletest.Navigate(t, ctx, c.base+"/console/#/cluster")
	consoletest.WaitText(t, ctx, "#members-count", "3")
	consoletest.Navigate(t, ctx, c.base+"/console/#/deliveries")
	consoletest.WaitPoll(t, ctx, `(() => {
		const rows = [...document.querySelectorAll("#deliveries-table tbody tr")];
		return rows.some(r => /succeeded/.test(r.textContent));
	})()`)
}
