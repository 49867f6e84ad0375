package cmd

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/nodestats"
	"github.com/allot/allot/api/reports"
	"github.com/allot/allot/api/wire"
	"github.com/allot/allot/cluster/clustertest"
	"github.com/allot/allot/persistence/pgtest"
)

var reportsOperator = auth.TokenSpec{Subject: "ops-1", Roles: []auth.Role{auth.RoleOperator}, MFA: true, TTL: time.Hour}

// get GETs path as spec (nil: anonymous) with accept, and returns the status, the
// Content-Type and the body.
func (c nodeClient) get(path string, spec *auth.TokenSpec, accept string) (int, string, []byte) {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.base+path, nil)
	if spec != nil {
		req.Header.Set("Authorization", "Bearer "+c.token(*spec))
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header.Get("Content-Type"), b
}

// reportsWalk is what TestMainReports does through the API: the counts the reports must show.
type reportsWalk struct {
	placed, confirmed, cancelled int64
	viewers                      int64
	gross                        int64 // EUR minor units
}

// walkReports creates a priced resource on c, has three users and an anonymous caller read
// its availability, and places, confirms and cancels holds.
func walkReports(t *testing.T, c nodeClient, rid string) reportsWalk {
	c.do(http.MethodPost, "/v1/resources", reportsOperator, `{"id":"`+rid+`","name":"Hall `+rid+`","buckets":{"2026-12-24":10,"2026-12-25":10},"price":{"amount":12000,"currency":"EUR"},"hold_ttl":"10m"}`, nil)
	var w reportsWalk
	users := []auth.TokenSpec{{Subject: "u-1", TTL: time.Hour}, {Subject: "u-2", TTL: time.Hour}, {Subject: "u-3", TTL: time.Hour}}
	for _, u := range append(users[:2], users[0]) { // u-1 twice: one viewer
		c.do(http.MethodGet, "/v1/resources/"+rid+"/availability", u, "", nil)
	}
	w.viewers = 2
	if code, _, _ := c.get("/v1/resources/"+rid+"/availability", nil, ""); code != http.StatusOK { // anonymous: not counted
		t.Fatalf("anonymous availability: %d", code)
	}
	for i, u := range users {
		var h wire.Hold
		c.do(http.MethodPost, "/v1/resources/"+rid+"/holds", u, `{"buckets":["2026-12-24","2026-12-25"],"quantity":1}`, &h)
		w.placed++
		switch i {
		case 0, 1:
			c.do(http.MethodPost, "/v1/resources/"+rid+"/holds/"+h.ID+"/confirm", u, "", nil)
			w.confirmed++
			w.gross += 2 * 12000 // two nights
		case 2:
			c.do(http.MethodPost, "/v1/resources/"+rid+"/holds/"+h.ID+"/cancel", u, "", nil)
			w.cancelled++
		}
	}
	var h wire.Hold
	c.do(http.MethodPost, "/v1/resources/"+rid+"/holds", users[1], `{"buckets":["2026-12-25"],"quantity":2}`, &h) // stays held
	w.placed++
	return w
}

// waitReports polls the bookings report of rid until it shows want's counts: the consumer
// applies events as the bus delivers them, a few milliseconds after each commit.
func waitReports(t *testing.T, c nodeClient, rid string, want reportsWalk) reports.BookingsReport {
	t.Helper()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(30 * time.Second)
	for {
		var b reports.BookingsReport
		c.do(http.MethodGet, "/v1/reports/bookings?resource_id="+rid+"&group_by=resource", reportsOperator, "", &b)
		if b.Total.Placed == want.placed && b.Total.Confirmed == want.confirmed && b.Total.Cancelled == want.cancelled {
			return b
		}
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("bookings total %+v, want placed %d, confirmed %d, cancelled %d", b.Total, want.placed, want.confirmed, want.cancelled)
		}
	}
}

// TestMainReports boots the real program, makes holds and confirmations through HTTP, and
// reads every report (JSON and CSV): the totals are what was done. Views of availability are
// counted per signed-in user. The reports, the stats and the console's data need an
// operator with a second factor; the console's files are public.
func TestMainReports(t *testing.T) {
	m := MustRunMain(t)
	c := nodeClient{t: t, m: m, base: m.HTTPURL()}
	w := walkReports(t, c, "hall-1")
	b := waitReports(t, c, "hall-1", w)
	if len(b.Rows) != 1 || b.Rows[0].Group != "hall-1" || b.Total.UnitsConfirmed != 4 || b.Total.Conversion != float64(w.confirmed)/float64(w.placed) {
		t.Fatalf("bookings %+v", b)
	}
	var rev reports.RevenueReport
	c.do(http.MethodGet, "/v1/reports/revenue?resource_id=hall-1", reportsOperator, "", &rev)
	if len(rev.Totals) != 1 || rev.Totals[0].Currency != "EUR" || rev.Totals[0].Gross != w.gross || rev.Totals[0].Net != w.gross {
		t.Fatalf("revenue totals %+v, want EUR %d", rev.Totals, w.gross)
	}
	var top reports.TopResourcesReport
	c.do(http.MethodGet, "/v1/reports/top-resources", reportsOperator, "", &top)
	if len(top.Resources) != 1 || top.Resources[0].ResourceID != "hall-1" || top.Resources[0].Confirmed != w.confirmed || top.Resources[0].Name != "Hall hall-1" {
		t.Fatalf("top resources %+v", top)
	}

	// Views are written in batches off the request path; Close would write them too.
	if err := m.reports.views.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var f reports.FunnelReport
	c.do(http.MethodGet, "/v1/reports/funnel?group_by=resource", reportsOperator, "", &f)
	if f.Total.Views != w.viewers || f.Total.Placed != w.placed || f.Total.Confirmed != w.confirmed || f.Total.Cancelled != w.cancelled {
		t.Fatalf("funnel total %+v, want views %d, placed %d", f.Total, w.viewers, w.placed)
	}

	code, ct, body := c.get("/v1/reports/bookings?resource_id=hall-1&group_by=resource", &reportsOperator, "text/csv")
	if code != http.StatusOK || !strings.HasPrefix(ct, "text/csv") {
		t.Fatalf("CSV: %d %s %s", code, ct, body)
	}
	rows, err := csv.NewReader(strings.NewReader(string(body))).ReadAll()
	if err != nil || len(rows) != 3 || rows[0][1] != "placed" {
		t.Fatalf("CSV rows %q (%v)", rows, err)
	}
	if total := rows[2]; total[1] != fmt.Sprint(w.placed) || total[2] != fmt.Sprint(w.confirmed) || total[3] != fmt.Sprint(w.cancelled) {
		t.Fatalf("CSV total %q, want placed %d, confirmed %d, cancelled %d", total, w.placed, w.confirmed, w.cancelled)
	}

	// The node's stats: holds per second over the window, and the members.
	var st nodestats.Body
	c.do(http.MethodGet, nodestats.Path, reportsOperator, "", &st)
	if len(st.Members) != 1 || !st.Members[0].Self || st.Members[0].Activations < 1 {
		t.Fatalf("stats members %+v", st.Members)
	}

	customer := auth.TokenSpec{Subject: "u-1", TTL: time.Hour}
	noMFA := auth.TokenSpec{Subject: "ops-2", Roles: []auth.Role{auth.RoleOperator}, TTL: time.Hour}
	for _, path := range []string{"/v1/reports/bookings", "/v1/reports/funnel", "/v1/reports/resources", nodestats.Path} {
		if code, _, _ := c.get(path, nil, ""); code != http.StatusUnauthorized {
			t.Errorf("anonymous %s: %d, want 401", path, code)
		}
		for _, spec := range []*auth.TokenSpec{&customer, &noMFA} {
			if code, _, _ := c.get(path, spec, ""); code != http.StatusForbidden {
				t.Errorf("%s %s: %d, want 403", spec.Subject, path, code)
			}
		}
	}
	code, ct, body = c.get("/console/", nil, "")
	if code != http.StatusOK || !strings.HasPrefix(ct, "text/html") || !strings.Contains(string(body), "Allot") {
		t.Fatalf("console: %d %s", code, ct)
	}
	code, _, body = c.get("/console/config.json", nil, "")
	var cfg struct {
		DevTokens bool `json:"dev_tokens"`
	}
	if code != http.StatusOK || json.Unmarshal(body, &cfg) != nil || !cfg.DevTokens {
		t.Fatalf("console config: %d %s", code, body)
	}

	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil { // safe twice
		t.Fatal(err)
	}
}

// TestMainReportsOnPostgres: the same walk on PostgreSQL (the reports on the main store's
// pool, the dialect told by SELECT version()) and a NATS server of its own (--nats-url);
// then the node restarts, resumes its durable consumer, and one more hold counts once:
// nothing from before is counted again.
func TestMainReportsOnPostgres(t *testing.T) {
	url := pgtest.MustServer(t).MustDatabase(t)
	nats := startNATS(t)
	cfg := func(c *NodeConfig) { c.DBURL, c.NATSURL = url, nats }
	m := MustRunMain(t, cfg)
	c := nodeClient{t: t, m: m, base: m.HTTPURL()}
	w := walkReports(t, c, "hall-pg")
	waitReports(t, c, "hall-pg", w)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	m = MustRunMain(t, cfg)
	c = nodeClient{t: t, m: m, base: m.HTTPURL()}
	var h wire.Hold
	c.do(http.MethodPost, "/v1/resources/hall-pg/holds", auth.TokenSpec{Subject: "u-9", TTL: time.Hour}, `{"buckets":["2026-12-24"],"quantity":1}`, &h)
	w.placed++
	b := waitReports(t, c, "hall-pg", w)
	if b.Total.Placed != w.placed || b.Total.Confirmed != w.confirmed {
		t.Fatalf("after the restart: %+v, want placed %d, confirmed %d", b.Total, w.placed, w.confirmed)
	}
	var rev reports.RevenueReport
	c.do(http.MethodGet, "/v1/reports/revenue?resource_id=hall-pg", reportsOperator, "", &rev)
	if len(rev.Totals) != 1 || rev.Totals[0].Gross != w.gross {
		t.Fatalf("revenue after the restart %+v, want gross %d", rev.Totals, w.gross)
	}
}

// TestMainReportsSharedByTwoNodes: two nodes on one PostgreSQL database and one NATS server
// (the second a process of its own: two cluster members in one process race in the actor
// library's global gRPC logger) share the durable reports consumer (each event is applied by
// one of them, once) and the view key: a user reading availability on both nodes is one
// viewer. The second node writes its pending views when it drains on SIGTERM (v-b viewed only
// there).
func TestMainReportsSharedByTwoNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	url := pgtest.MustServer(t).MustDatabase(t)
	nats := startNATS(t)
	key := clustertest.KeyFile(t)
	bin := clustertest.MustBinary(t)
	a := MustRunMain(t, func(c *NodeConfig) { c.DBURL, c.NATSURL, c.KeyFile, c.Bootstrap = url, nats, key, true })
	b := startProc(t, bin, "--db-url", url, "--nats-url", nats, "--key-file", key, "--join", a.Node().Self().GossipAddr,
		"--advertise-addr", "127.0.0.1", "--gossip-addr", "127.0.0.1:0", "--remote-addr", "127.0.0.1:0")
	b.waitReady(30 * time.Second)
	ca, cb := nodeClient{t: t, m: a, base: a.HTTPURL()}, nodeClient{t: t, m: a, base: "http://" + b.http}
	w := walkReports(t, ca, "hall-2")
	for i, c := range []nodeClient{ca, cb, cb, ca} {
		u := auth.TokenSpec{Subject: fmt.Sprint("v-", i%2), TTL: time.Hour}
		c.do(http.MethodGet, "/v1/resources/hall-2/availability", u, "", nil)
		var h wire.Hold
		c.do(http.MethodPost, "/v1/resources/hall-2/holds", u, `{"buckets":["2026-12-24"],"quantity":1}`, &h)
		c.do(http.MethodPost, "/v1/resources/hall-2/holds/"+h.ID+"/confirm", u, "", nil)
		w.placed++
		w.confirmed++
		w.gross += 12000
	}
	w.viewers += 2 // v-0 and v-1, each on both nodes
	cb.do(http.MethodGet, "/v1/resources/hall-2/availability", auth.TokenSpec{Subject: "v-b", TTL: time.Hour}, "", nil)
	w.viewers++ // v-b only on the second node: counted once it drains
	for _, c := range []nodeClient{ca, cb} {
		waitReports(t, c, "hall-2", w)
		var rev reports.RevenueReport
		c.do(http.MethodGet, "/v1/reports/revenue?resource_id=hall-2", reportsOperator, "", &rev)
		if len(rev.Totals) != 1 || rev.Totals[0].Gross != w.gross {
			t.Fatalf("revenue %+v, want gross %d", rev.Totals, w.gross)
		}
	}
	b.signal(syscall.SIGTERM)
	if code := b.wait(30 * time.Second); code != 0 {
		t.Fatalf("the second node exited %d", code)
	}
	if err := a.reports.views.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	var f reports.FunnelReport
	ca.do(http.MethodGet, "/v1/reports/funnel?resource_id=hall-2", reportsOperator, "", &f)
	if f.Total.Views != w.viewers || f.Total.Placed != w.placed {
		t.Fatalf("funnel %+v, want views %d, placed %d", f.Total, w.viewers, w.placed)
	}
}
