package console_test

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/console/consoletest"
	"github.com/allot/allot/api/reports"
	"github.com/allot/allot/api/webhooks"
	"github.com/allot/allot/api/wire"
)

var screenshots = flag.String("screenshots", "", "directory to save the console's screenshots in (make console-screenshots: docs/img)")

// The browser helpers are consoletest's, which tests of a real node (cmd) share.
func mustBrowser(t *testing.T) context.Context { return consoletest.Browser(t) }

func waitText(t *testing.T, ctx context.Context, sel, want string) {
	t.Helper()
	consoletest.WaitText(t, ctx, sel, want)
}

func waitPoll(t *testing.T, ctx context.Context, expr string) {
	t.Helper()
	consoletest.WaitPoll(t, ctx, expr)
}

func waitVisible(t *testing.T, ctx context.Context, sel string) {
	t.Helper()
	consoletest.WaitVisible(t, ctx, sel)
}

func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png := consoletest.Screenshot(t, ctx)
	if *screenshots == "" {
		return
	}
	if err := os.WriteFile(filepath.Join(*screenshots, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func signIn(t *testing.T, ctx context.Context, tok string) {
	t.Helper()
	consoletest.SignIn(t, ctx, tok)
}

// TestConsoleInBrowser drives the console in chromium against a real in-process edge: sign-in
// is refused for a customer and for an operator without MFA, and works for an operator with
// MFA; the cluster page lists the members; holds placed through the API move the live sale's
// sold count; the report page shows the API's numbers; the deliveries page lists webhook
// deliveries and retries one.
func TestConsoleInBrowser(t *testing.T) {
	n := mustNode(t)
	ctx := mustBrowser(t) // closed first, before the node
	admin := n.token(t, "ops-1", true, auth.RoleOperator, auth.RoleAdmin)

	receiver := newReceiver(t)
	ep, _, err := n.hooks.CreateEndpoint(context.Background(), webhooks.CreateRequest{URL: receiver, Description: "tests",
		EventTypes: []string{"hold.confirmed"}})
	if err != nil {
		t.Fatal(err)
	}
	eur := &wire.Money{Amount: 4900, Currency: "EUR"}
	days := []string{"2026-12-24", "2026-12-25", "2026-12-26", "2026-12-27", "2026-12-28", "2026-12-29", "2026-12-30", "2026-12-31"}
	buckets := map[string]int64{}
	for _, d := range days {
		buckets[d] = 10
	}
	n.createResource(t, admin, wire.CreateResource{ID: "gala", Name: "New Year gala", Buckets: buckets, Price: eur})
	n.createResource(t, admin, wire.CreateResource{ID: "spa", Name: "Spa day", Buckets: map[string]int64{"all": 50}, Price: eur})

	// Without an operator token with MFA, the API refuses and the console says so.
	if code := n.call(t, http.MethodGet, "/v1/reports/bookings", "", nil, nil); code != http.StatusUnauthorized {
		t.Fatalf("no token: %d", code)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(n.url+"/console")); err != nil {
		t.Fatal(err)
	}
	signIn(t, ctx, n.token(t, "guest", true))
	waitText(t, ctx, "#status", "Not allowed (403): the token's roles do not allow this. The console needs the operator role and a second factor (MFA).")
	shot(t, ctx, "console-signin-refused")
	signIn(t, ctx, n.token(t, "ops-2", false, auth.RoleOperator))
	waitText(t, ctx, "#status", "Not allowed (403): this needs a token that proves a second factor. The console needs the operator role and a second factor (MFA).")

	signIn(t, ctx, admin)
	waitText(t, ctx, "#members-count", "3")
	waitText(t, ctx, "#members-alive", "3 / 3")
	shot(t, ctx, "console-cluster")

	// Live sale: holds placed through the API move the sold count.
	if err := chromedp.Do(ctx, chromedp.Navigate(n.url+"/console/#/live/gala")); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "#sold-total", "0")
	waitText(t, ctx, "#stock-total", "80")
	sold := 0
	for i := 0; i < 12; i++ {
		then := []string{"confirm", "confirm", "cancel", ""}[i%4]
		d := days[i%len(days)]
		n.placeHold(t, admin, "gala", fmt.Sprintf("user-%d", i), []string{d}, 2, then)
		if then == "confirm" {
			sold += 2
		}
		if i == 5 {
			waitText(t, ctx, "#sold-total", strconv.Itoa(sold)) // the chart follows while the sale goes on
		}
	}
	waitText(t, ctx, "#sold-total", strconv.Itoa(sold))
	waitText(t, ctx, "#held-total", "6")
	// The node's stats (GET /v1/cluster/stats, from its metrics): no 429s, a p99, holds per
	// second during the sale, and the three members.
	waitText(t, ctx, "#rate-429", "0")
	waitPoll(t, ctx, `Number(document.querySelector("#holds-peak").textContent) > 0`)
	waitPoll(t, ctx, `/ ms$/.test(document.querySelector("#p99").textContent)`)
	waitPoll(t, ctx, `document.querySelectorAll("#live-members tbody tr").length === 3`)
	if mode, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#live-mode"))); !strings.Contains(mode, "Live") {
		t.Fatalf("live mode: %q", mode)
	}
	shot(t, ctx, "console-live")
	n.placeHold(t, admin, "spa", "user-x", []string{"all"}, 3, "confirm")
	n.placeHold(t, admin, "spa", "user-y", []string{"all"}, 1, "")

	// Resources: search and the heat map (its availability read counts a view).
	if err := chromedp.Do(ctx, chromedp.Navigate(n.url+"/console/#/resources/gala")); err != nil {
		t.Fatal(err)
	}
	waitVisible(t, ctx, "#resources-table")
	waitVisible(t, ctx, "#heat .cell")
	shot(t, ctx, "console-resources")

	// Reports: the page shows what the API answers.
	var rep reports.BookingsReport
	if code := n.call(t, http.MethodGet, "/v1/reports/bookings", admin, nil, &rep); code != 200 {
		t.Fatalf("bookings: %d", code)
	}
	if rep.Total.Placed != 14 || rep.Total.Confirmed != 7 || rep.Total.Cancelled != 3 {
		t.Fatalf("bookings total %+v", rep.Total)
	}
	if err := n.views.Flush(context.Background()); err != nil { // views are written in batches
		t.Fatal(err)
	}
	var fun reports.FunnelReport
	n.call(t, http.MethodGet, "/v1/reports/funnel", admin, nil, &fun)
	if fun.Total.Views != 1 {
		t.Fatalf("funnel views %d, want 1 (ops-1 viewed gala)", fun.Total.Views)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(n.url+"/console/#/reports")); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "#rep-total-placed", strconv.FormatInt(rep.Total.Placed, 10))
	waitText(t, ctx, "#rep-total-confirmed", strconv.FormatInt(rep.Total.Confirmed, 10))
	waitText(t, ctx, "#rep-conversion", fmt.Sprintf("%.1f%%", rep.Total.Conversion*100))
	var rev reports.RevenueReport
	n.call(t, http.MethodGet, "/v1/reports/revenue", admin, nil, &rev)
	if len(rev.Totals) != 1 || rev.Totals[0].Net != 4900*(12+3) {
		t.Fatalf("revenue %+v", rev.Totals)
	}
	net, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#rep-net-EUR")))
	if err != nil || !strings.Contains(strings.ReplaceAll(net, ",", ""), "735") {
		t.Fatalf("net revenue shown %q (%v), API %d", net, err, rev.Totals[0].Net)
	}
	shot(t, ctx, "console-reports")

	// Deliveries: the confirmations were delivered to the receiver; retry one.
	if err := chromedp.Do(ctx, chromedp.Navigate(n.url+"/console/#/deliveries")); err != nil {
		t.Fatal(err)
	}
	waitVisible(t, ctx, "#endpoints-table")
	waitPoll(t, ctx, `/active/.test(document.querySelector("#endpoints-table tbody tr").textContent)`)
	waitVisible(t, ctx, "#deliveries-table tbody tr button")
	waitPoll(t, ctx, `[...document.querySelectorAll("#deliveries-table th")].map(th => th.textContent).join("|") ===
		"Event|Type|Status|Attempts|Next attempt|Last answer|Action"`)
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#deliveries-table tbody tr button"))); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "#status", "Retry scheduled.")
	waitPoll(t, ctx, `document.activeElement && document.activeElement.classList.contains("retry")`) // focus kept for the keyboard
	// The notifications the holds' events made (e-mails, pending: no worker runs here).
	waitText(t, ctx, "#notifications caption", "0 most recent failed notifications")
	if err := chromedp.Do(ctx, chromedp.SetValue(chromedp.CSS("#nt-status"), "pending"), chromedp.Click(chromedp.CSS("#nt-form button"))); err != nil {
		t.Fatal(err)
	}
	waitPoll(t, ctx, `document.querySelectorAll("#notifications-table tbody tr").length > 0 && /pending/.test(document.querySelector("#notifications caption").textContent)`)
	// Only a failed notification has a Retry button (POST /v1/notifications/{id}/retry); pending ones are the workers'.
	if rows, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#notifications-table tbody button.retry").length`)); rows != 0 {
		t.Fatalf("%d retry buttons on pending notifications", rows)
	}
	shot(t, ctx, "console-deliveries")
	// A refused retry (the endpoint was removed meanwhile) shows the problem's title.
	if code := n.call(t, http.MethodDelete, "/v1/webhooks/"+ep.ID, admin, nil, nil); code != http.StatusNoContent {
		t.Fatalf("delete endpoint: %d", code)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#deliveries-table tbody tr button"))); err != nil {
		t.Fatal(err)
	}
	waitPoll(t, ctx, `/^Retry refused: Not found \(404\)/.test(document.querySelector("#status").textContent)`)

	// An operator without the admin role sees no webhook calls, and is told why.
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#sign-out"))); err != nil {
		t.Fatal(err)
	}
	signIn(t, ctx, n.token(t, "ops-3", true, auth.RoleOperator))
	waitVisible(t, ctx, "#webhooks-admin-only")
	if rows, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#deliveries-table button").length`)); rows != 0 {
		t.Fatalf("%d retry buttons shown to an operator without the admin role", rows)
	}

	// A phone-sized screen.
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844), chromedp.Navigate(n.url+"/console/#/live/gala")); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "#sold-total", strconv.Itoa(sold))
	shot(t, ctx, "console-phone")
	consoletest.Navigate(t, ctx, n.url+"/console/#/deliveries")
	waitVisible(t, ctx, "#webhooks-admin-only")
	waitPoll(t, ctx, `document.documentElement.scrollWidth <= 390`) // tables scroll in their own box
}

// newReceiver is a webhook endpoint on loopback that accepts every delivery.
func newReceiver(t *testing.T) string {
	t.Helper()
	srv := httpServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	return srv
}
