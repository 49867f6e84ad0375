package cmd

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/loadgen"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/persistence/pgtest"
)

// The package's TestMain (pgtest.Main, in dbrestart_test.go) stops the shared PostgreSQL
// that the tests on PostgreSQL start.

// tinyLoad is a small load against target that ends by itself: a few clients, a small stock,
// a bounded number of requests, and a duration that is only a safety net.
func tinyLoad(m *Main, scenario, runID string) loadgen.Config {
	cfg := loadgen.DefaultConfig()
	cfg.Targets = []string{m.HTTPURL()}
	cfg.KeyFile = m.Config.devKeyFile() // every simulated client carries its own user's token
	cfg.Scenario = scenario
	cfg.Clients = 6
	cfg.Stock = 30
	cfg.CancelRatio = 0.2
	cfg.Resources = 3
	cfg.Days = 5
	cfg.Rooms = 2
	cfg.Nights = 2
	cfg.Duration = 30 * time.Second
	cfg.MaxRetryWait = 50 * time.Millisecond
	cfg.RunID = runID
	cfg.Quiet = true
	return cfg
}

// mustLoad runs cfg and fails the test unless the run finished and its audit is OK.
func mustLoad(t *testing.T, cfg loadgen.Config) *loadgen.Report {
	t.Helper()
	rep, err := loadgen.Run(t.Context(), cfg, nil)
	if err != nil {
		t.Fatalf("loadgen run: %v", err)
	}
	if !rep.Audit.OK {
		var b strings.Builder
		_ = rep.WriteText(&b)
		t.Fatalf("audit failed:\n%s", b.String())
	}
	if rep.Errors != 0 {
		t.Fatalf("%d requests failed: %q", rep.Errors, rep.ErrorSamples)
	}
	if rep.Elapsed <= 0 || rep.Elapsed >= cfg.Duration {
		t.Fatalf("elapsed %s: the run should end by itself well within the %s safety net", rep.Elapsed, cfg.Duration)
	}
	return rep
}

// checkStatusCounts checks that the HTTP statuses the report counted are the answers the
// load should get: 201 holds, 200 confirms/cancels/reads, 409 sold out, 429 busy (retried),
// nothing else; and that their sums match the operations.
func checkStatusCounts(t *testing.T, rep *loadgen.Report) {
	t.Helper()
	var total int64
	for code, n := range rep.StatusCodes {
		total += n
		switch code {
		case http.StatusOK, http.StatusCreated, http.StatusConflict, http.StatusTooManyRequests:
		default:
			t.Errorf("status %d answered %d times: %v", code, n, rep.StatusCodes)
		}
	}
	// Every logical request is one attempt plus its retries, and setup created each resource
	// once (no retries: nothing fails here); the audit's reads are not counted.
	if want := rep.Ops + rep.Retries + int64(rep.Audit.Resources); total != want {
		t.Errorf("%d attempts counted by status, want ops %d + retries %d + creations %d", total, rep.Ops, rep.Retries, rep.Audit.Resources)
	}
	// Setup's creations are counted too (one 201 per resource), as in package loadgen.
	if c := rep.StatusCodes[http.StatusCreated]; c != rep.Holds+int64(rep.Audit.Resources) {
		t.Errorf("%d answers 201, want %d holds + %d creations", c, rep.Holds, rep.Audit.Resources)
	}
	if c := rep.StatusCodes[http.StatusOK]; c != rep.Confirms+rep.Cancels+rep.Reads {
		t.Errorf("%d answers 200, want confirms %d + cancels %d + reads %d", c, rep.Confirms, rep.Cancels, rep.Reads)
	}
	if c := rep.StatusCodes[http.StatusConflict]; c != rep.SoldOut {
		t.Errorf("%d answers 409, %d sold out", c, rep.SoldOut)
	}
	if l := rep.Latency[loadgen.OpHold]; rep.Holds > 0 && (l.Count < rep.Holds || l.P50 <= 0 || l.P99 < l.P50 || l.Max < l.P99) {
		t.Errorf("hold latency %+v for %d holds", l, rep.Holds)
	}
}

// checkFlashSale checks a flash sale that ran to the end: the whole stock is sold, every
// client was turned away once, and the ledger adds up.
func checkFlashSale(t *testing.T, cfg loadgen.Config, rep *loadgen.Report) {
	t.Helper()
	a := rep.Audit
	if rep.Stock != cfg.Stock || rep.Sold != cfg.Stock {
		t.Errorf("sold %d of stock %d, want exactly %d", rep.Sold, rep.Stock, cfg.Stock)
	}
	if rep.Holds-rep.Cancels != cfg.Stock {
		t.Errorf("holds %d - cancels %d != stock %d: oversold or lost", rep.Holds, rep.Cancels, cfg.Stock)
	}
	if rep.Confirms+rep.Cancels != rep.Holds {
		t.Errorf("confirms %d + cancels %d != holds %d", rep.Confirms, rep.Cancels, rep.Holds)
	}
	if rep.SoldOut != int64(cfg.Clients) {
		t.Errorf("%d sold-out answers, want one per client (%d)", rep.SoldOut, cfg.Clients)
	}
	if a.Acknowledged != rep.Holds || a.Cancelled != rep.Cancels || a.Unknown != 0 || a.Uncertain != 0 {
		t.Errorf("audit ledger %+v, report holds %d cancels %d", a, rep.Holds, rep.Cancels)
	}
	if a.Resources != 1 || a.Buckets != 1 {
		t.Errorf("audit checked %d resources, %d buckets; want the one flash bucket", a.Resources, a.Buckets)
	}
	checkStatusCounts(t, rep)
}

func TestLoadgenFlashSaleAgainstNode(t *testing.T) {
	m := MustRunMain(t)
	cfg := tinyLoad(m, loadgen.ScenarioFlashSale, "flash-embedded")
	rep := mustLoad(t, cfg)
	checkFlashSale(t, cfg, rep)
	// Every client held as its own user: the node takes the hold's user from the token, so
	// distinct users in the store mean distinct tokens.
	holds, err := m.Store().ListHolds(t.Context(), persistence.HoldFilter{ResourceID: cfg.ResourcePrefix + "-" + cfg.RunID + "-flash", Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	users := map[string]bool{}
	for _, h := range holds {
		users[h.UserID] = true
	}
	if len(users) != cfg.Clients {
		t.Errorf("holds of %d users, want one per client (%d)", len(users), cfg.Clients)
	}
	if rep.Audit.Database != nil {
		t.Errorf("database audit without --db-url: %+v", rep.Audit.Database)
	}
}

func TestLoadgenFlashSaleAgainstNodeOnPostgres(t *testing.T) {
	url := pgtest.MustServer(t).MustDatabase(t)
	m := MustRunMain(t, func(c *NodeConfig) { c.DBURL = url })
	cfg := tinyLoad(m, loadgen.ScenarioFlashSale, "flash-pg")
	cfg.DBURL = url
	rep := mustLoad(t, cfg)
	checkFlashSale(t, cfg, rep)
	d := rep.Audit.Database
	if d == nil {
		t.Fatal("no database audit with DBURL set")
	}
	if d.Missing != 0 || d.Holds != rep.Holds {
		t.Errorf("database has %d holds (%d acknowledged missing), %d acknowledged", d.Holds, d.Missing, rep.Holds)
	}
	if d.ByStatus["confirmed"] != rep.Confirms || d.ByStatus["cancelled"] != rep.Cancels || d.ByStatus["held"] != 0 {
		t.Errorf("database holds by status %v, confirms %d, cancels %d", d.ByStatus, rep.Confirms, rep.Cancels)
	}
}

func TestLoadgenHoldOnlyFlashSaleAgainstNode(t *testing.T) {
	m := MustRunMain(t)
	cfg := tinyLoad(m, loadgen.ScenarioFlashSale, "flash-hold-only")
	cfg.HoldOnly = true
	rep := mustLoad(t, cfg)
	if rep.Sold != cfg.Stock || rep.Holds != cfg.Stock || rep.Confirms != 0 || rep.Cancels != 0 {
		t.Errorf("hold-only: sold %d, holds %d, confirms %d, cancels %d; want %d holds only", rep.Sold, rep.Holds, rep.Confirms, rep.Cancels, cfg.Stock)
	}
	checkStatusCounts(t, rep)
}

func TestLoadgenHotelAgainstNode(t *testing.T) {
	m := MustRunMain(t)
	cfg := tinyLoad(m, loadgen.ScenarioHotel, "hotel")
	cfg.Requests = 120
	rep := mustLoad(t, cfg)
	a := rep.Audit
	if a.Resources != cfg.Resources || a.Buckets != cfg.Resources*cfg.Days {
		t.Errorf("audit checked %d resources, %d buckets; want %d, %d", a.Resources, a.Buckets, cfg.Resources, cfg.Resources*cfg.Days)
	}
	// A session is a hold, then a confirm or cancel; sessions in progress finish after the bound.
	if rep.Ops < cfg.Requests || rep.Ops > cfg.Requests+2*int64(cfg.Clients) {
		t.Errorf("%d operations for a bound of %d requests and %d clients", rep.Ops, cfg.Requests, cfg.Clients)
	}
	if rep.Holds == 0 || rep.SoldOut == 0 {
		t.Errorf("holds %d, sold out %d: 3 hotels of 2 rooms should both book and sell out", rep.Holds, rep.SoldOut)
	}
	if rep.Ops != rep.Holds+rep.SoldOut+rep.Confirms+rep.Cancels || rep.Confirms+rep.Cancels != rep.Holds {
		t.Errorf("ops %d != holds %d + sold out %d + confirms %d + cancels %d", rep.Ops, rep.Holds, rep.SoldOut, rep.Confirms, rep.Cancels)
	}
	if a.Acknowledged != rep.Holds || a.Cancelled != rep.Cancels {
		t.Errorf("audit ledger %+v, report holds %d cancels %d", a, rep.Holds, rep.Cancels)
	}
	checkStatusCounts(t, rep)
}

func TestLoadgenBrowseAgainstNode(t *testing.T) {
	m := MustRunMain(t)
	cfg := tinyLoad(m, loadgen.ScenarioBrowse, "browse")
	cfg.Requests = 100
	rep := mustLoad(t, cfg)
	if rep.Reads != rep.Ops || rep.Ops < cfg.Requests || rep.Ops > cfg.Requests+int64(cfg.Clients) || rep.Holds != 0 {
		t.Errorf("browse: ops %d, reads %d, holds %d for a bound of %d requests", rep.Ops, rep.Reads, rep.Holds, cfg.Requests)
	}
	if l := rep.Latency[loadgen.OpAvailability]; l.Count != rep.Reads {
		t.Errorf("availability latency counted %d of %d reads", l.Count, rep.Reads)
	}
	if rep.Audit.Resources != cfg.Resources || rep.Audit.Acknowledged != 0 {
		t.Errorf("audit %+v", rep.Audit)
	}
	checkStatusCounts(t, rep)
}

// TestLoadgenCommandAgainstNode runs `allot loadgen` through Execute, as the binary does.
func TestLoadgenCommandAgainstNode(t *testing.T) {
	m := MustRunMain(t)
	path := filepath.Join(t.TempDir(), "report.json")
	var stdout, stderr bytes.Buffer
	code := Execute([]string{"loadgen", "--target", m.HTTPURL(), "--data-dir", m.Config.DataDir, "--clients", "4", "--stock", "20",
		"--cancel-ratio", "0.25", "--duration", "30s", "--run-id", "execute", "--json", path, "--quiet"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("allot loadgen exited %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"flash-sale, 4 clients against " + m.HTTPURL(), "sold 20 of stock 20", "audit OK: 1 resources, 1 buckets"} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		RunID  string `json:"run_id"`
		Sold   int64  `json:"sold"`
		Holds  int64  `json:"holds"`
		Cancel int64  `json:"cancels"`
		Audit  struct {
			OK bool `json:"ok"`
		} `json:"audit"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatalf("%v in %s", err, b)
	}
	if rep.RunID != "execute" || rep.Sold != 20 || rep.Holds-rep.Cancel != 20 || !rep.Audit.OK {
		t.Fatalf("json report %s", b)
	}

	// A second run with the same --run-id would reuse the resource ids: refused, exit 3.
	stdout.Reset()
	stderr.Reset()
	code = Execute([]string{"loadgen", "--target", m.HTTPURL(), "--key-file", auth.DevKeyFile(m.Config.DataDir), "--clients", "1", "--stock", "1", "--run-id", "execute", "--quiet"}, &stdout, &stderr)
	if code != loadgen.ExitFailed || !strings.Contains(stderr.String(), "already exists") {
		t.Fatalf("reused run id: exit %d, stderr %s", code, stderr.String())
	}
}
