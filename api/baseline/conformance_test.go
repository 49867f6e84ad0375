package baseline

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allot/allot/api/loadgen"
	"github.com/allot/allot/api/wire"
)

// Bounds of the concurrent tests: 64 clients, small stock.
const (
	testClients = 64
	testStock   = 100
)

// mustServe serves h on 127.0.0.1 until the test ends and returns its base URL.
func mustServe(tb testing.TB, h http.Handler) string {
	tb.Helper()
	s, err := Serve("127.0.0.1:0", h)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		// The client's transport may hold a connection it dialed for a request that another
		// connection served first: the server sees it as new (no request yet), and Shutdown
		// waits up to 5 s for such a connection before it counts as idle, as long as Close's
		// whole graceful budget. Closing the client's idle connections ends it at once.
		testClient.CloseIdleConnections()
		if err := s.Close(); err != nil {
			tb.Errorf("close: %v", err)
		}
	})
	return s.URL()
}

// answer is a decoded response.
type answer struct {
	Status   int
	Code     string
	Body     []byte
	Replayed bool
}

var testClient = &http.Client{
	Timeout:   10 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: testClients},
}

func call(t testing.TB, method, url, key, contentType string, body any) answer {
	var rd io.Reader
	if body != nil {
		b, ok := body.([]byte)
		if !ok {
			var err error
			if b, err = json.Marshal(body); err != nil {
				t.Fatal(err)
			}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", contentType)
	}
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := testClient.Do(req)
	if err != nil {
		t.Error(err)
		return answer{}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{Status: resp.StatusCode, Body: b, Replayed: resp.Header.Get("Idempotent-Replayed") == "true"}
	if resp.StatusCode >= 400 {
		if ct := resp.Header.Get("Content-Type"); ct != "application/problem+json" {
			t.Errorf("%s %s: %d with Content-Type %q", method, url, resp.StatusCode, ct)
		}
		var p wire.Problem
		if err := json.Unmarshal(b, &p); err != nil || p.Status != resp.StatusCode || p.Type == "" {
			t.Errorf("%s %s: problem %s", method, url, b)
		}
		a.Code = p.Code
	}
	return a
}

func createResource(t testing.TB, base, id string, buckets map[string]int64) {
	t.Helper()
	a := call(t, http.MethodPost, base+"/v1/resources", "", "application/json", map[string]any{
		"id": id, "name": "test " + id, "buckets": buckets, "hold_ttl": "10m",
		"price": map[string]any{"amount": 12000, "currency": "EUR"},
	})
	if a.Status != http.StatusCreated {
		t.Fatalf("create %s: %d %s", id, a.Status, a.Body)
	}
}

func placeHold(t testing.TB, base, rid, key string, buckets []string, qty int64, user string) answer {
	return call(t, http.MethodPost, base+"/v1/resources/"+rid+"/holds", key, "application/json",
		map[string]any{"buckets": buckets, "quantity": qty, "user_id": user})
}

func availability(t testing.TB, base, rid string) map[string]wire.Bucket {
	t.Helper()
	a := call(t, http.MethodGet, base+"/v1/resources/"+rid+"/availability", "", "", nil)
	var av wire.Availability
	if a.Status != http.StatusOK || json.Unmarshal(a.Body, &av) != nil || av.ResourceID != rid {
		t.Fatalf("availability %s: %d %s", rid, a.Status, a.Body)
	}
	return av.Buckets
}

// race runs testClients clients; each calls attempt until it returns false, at most limit
// times (a store that never sells out must not loop the test forever).
func race(t *testing.T, limit int, attempt func(client, n int) bool) {
	var wg sync.WaitGroup
	for c := range testClients {
		wg.Go(func() {
			for n := 0; n < limit && attempt(c, n); n++ {
			}
		})
	}
	wg.Wait()
}

// testStore is the behaviour every stateful baseline shares.
func testStore(t *testing.T, base string) {
	t.Run("sells exactly its stock", func(t *testing.T) {
		createResource(t, base, "flash", map[string]int64{"all": testStock})
		var sold, soldOut atomic.Int64
		ids := sync.Map{}
		race(t, 2*testStock, func(c, n int) bool {
			a := placeHold(t, base, "flash", fmt.Sprintf("k-%d-%d", c, n), []string{"all"}, 1, fmt.Sprintf("u-%d", c))
			switch {
			case a.Status == http.StatusCreated:
				var h wire.Hold
				if err := json.Unmarshal(a.Body, &h); err != nil || h.ID == "" || h.Status != "held" || h.ResourceID != "flash" {
					t.Errorf("hold %s", a.Body)
				}
				if _, dup := ids.LoadOrStore(h.ID, true); dup {
					t.Errorf("hold id %s given twice", h.ID)
				}
				sold.Add(1)
				return true
			case a.Status == http.StatusConflict && a.Code == "sold_out":
				soldOut.Add(1)
				return false
			default:
				t.Errorf("hold: %d %s", a.Status, a.Body)
				return false
			}
		})
		if sold.Load() != testStock {
			t.Fatalf("sold %d holds of stock %d", sold.Load(), testStock)
		}
		if soldOut.Load() != testClients {
			t.Errorf("%d sold-out answers, want one per client", soldOut.Load())
		}
		if b := availability(t, base, "flash")["all"]; b != (wire.Bucket{Capacity: testStock, Held: testStock}) {
			t.Fatalf("availability %+v, want all %d held", b, testStock)
		}
	})

	t.Run("multi-bucket holds are all or nothing", func(t *testing.T) {
		createResource(t, base, "hotel", map[string]int64{"2026-12-24": 5, "2026-12-25": 1000})
		var sold atomic.Int64
		race(t, 1, func(c, n int) bool {
			a := placeHold(t, base, "hotel", fmt.Sprintf("h-%d", c), []string{"2026-12-25", "2026-12-24"}, 1, "u")
			switch {
			case a.Status == http.StatusCreated:
				sold.Add(1)
			case a.Status != http.StatusConflict || a.Code != "sold_out":
				t.Errorf("hold: %d %s", a.Status, a.Body)
			}
			return false
		})
		av := availability(t, base, "hotel")
		if sold.Load() != 5 || av["2026-12-24"].Held != 5 || av["2026-12-25"].Held != 5 || av["2026-12-25"].Available != 995 {
			t.Fatalf("sold %d, availability %+v: want 5 on both nights", sold.Load(), av)
		}
	})

	t.Run("idempotent replay", func(t *testing.T) {
		createResource(t, base, "idem", map[string]int64{"all": 3})
		first := placeHold(t, base, "idem", "key-1", []string{"all"}, 2, "u-1")
		again := placeHold(t, base, "idem", "key-1", []string{"all"}, 2, "u-1")
		if first.Status != 201 || again.Status != 201 || first.Replayed || !again.Replayed {
			t.Fatalf("first %d (replayed %v), again %d (replayed %v)", first.Status, first.Replayed, again.Status, again.Replayed)
		}
		var h1, h2 wire.Hold
		_ = json.Unmarshal(first.Body, &h1)
		_ = json.Unmarshal(again.Body, &h2)
		if h1.ID == "" || h1.ID != h2.ID || h2.Quantity != 2 || len(h2.Buckets) != 1 || !h1.CreatedAt.Equal(h2.CreatedAt) {
			t.Fatalf("replay %s, want %s", again.Body, first.Body)
		}
		if a := placeHold(t, base, "idem", "key-1", []string{"all"}, 1, "u-1"); a.Status != 422 || a.Code != "idempotency_mismatch" {
			t.Fatalf("key reused for another request: %d %s", a.Status, a.Body)
		}
		if b := availability(t, base, "idem")["all"]; b.Held != 2 {
			t.Fatalf("held %d after a replay, want 2", b.Held)
		}
		if a := placeHold(t, base, "idem", "key-2", []string{"all"}, 2, "u-1"); a.Status != 409 || a.Code != "sold_out" {
			t.Fatalf("2 of 1 left: %d %s", a.Status, a.Body)
		}
	})

	t.Run("one key raced by every client", func(t *testing.T) {
		createResource(t, base, "same-key", map[string]int64{"all": 10})
		var ids sync.Map
		race(t, 1, func(c, n int) bool {
			a := placeHold(t, base, "same-key", "the-key", []string{"all"}, 1, "u")
			var h wire.Hold
			if a.Status != http.StatusCreated || json.Unmarshal(a.Body, &h) != nil {
				t.Errorf("hold: %d %s", a.Status, a.Body)
			}
			ids.Store(h.ID, true)
			return false
		})
		n := 0
		ids.Range(func(any, any) bool { n++; return true })
		if b := availability(t, base, "same-key")["all"]; n != 1 || b.Held != 1 {
			t.Fatalf("%d hold ids, held %d: want one hold for one key", n, b.Held)
		}
	})

	t.Run("errors", func(t *testing.T) {
		createResource(t, base, "errs", map[string]int64{"all": 1})
		for _, c := range []struct {
			name   string
			got    answer
			status int
			code   string
		}{
			{"exists", call(t, http.MethodPost, base+"/v1/resources", "", "application/json",
				map[string]any{"id": "errs", "name": "x", "buckets": map[string]int64{"all": 1}}), 409, "already_exists"},
			{"no resource", placeHold(t, base, "nope", "", []string{"all"}, 1, "u"), 404, "not_found"},
			{"no bucket", placeHold(t, base, "errs", "", []string{"other"}, 1, "u"), 422, "invalid"},
			{"quantity", placeHold(t, base, "errs", "", []string{"all"}, 0, "u"), 422, "invalid"},
			{"repeated bucket", placeHold(t, base, "errs", "", []string{"all", "all"}, 1, "u"), 422, "invalid"},
			{"malformed", call(t, http.MethodPost, base+"/v1/resources/errs/holds", "", "application/json", []byte(`{"buckets":`)), 400, "malformed"},
			{"unknown field", call(t, http.MethodPost, base+"/v1/resources/errs/holds", "", "application/json",
				[]byte(`{"buckets":["all"],"quantity":1,"user_id":"u","extra":1}`)), 400, "malformed"},
			{"media type", call(t, http.MethodPost, base+"/v1/resources/errs/holds", "", "text/plain", []byte(`{}`)), 415, "malformed"},
			{"availability", call(t, http.MethodGet, base+"/v1/resources/nope/availability", "", "", nil), 404, "not_found"},
		} {
			if c.got.Status != c.status || c.got.Code != c.code {
				t.Errorf("%s: %d %s, want %d %s", c.name, c.got.Status, c.got.Body, c.status, c.code)
			}
		}
	})
}

// runLoadgen drives base with the load generator's flash sale, hold-only, and checks its
// audit: the baselines are what `make bench` compares Allot with.
func runLoadgen(t *testing.T, base, dbURL string) *loadgen.Report {
	cfg := loadgen.DefaultConfig()
	cfg.Targets = []string{base}
	cfg.Clients = testClients
	cfg.Stock = 2 * testStock
	cfg.HoldOnly = true
	cfg.Duration = 30 * time.Second // a safety net: the run ends on sold out
	cfg.RunID = "baseline"
	cfg.Quiet = true
	cfg.DBURL = dbURL
	rep, err := loadgen.Run(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Audit.OK || rep.Sold != cfg.Stock || rep.Holds != cfg.Stock || rep.Errors != 0 {
		var b bytes.Buffer
		_ = rep.WriteText(&b)
		t.Fatalf("loadgen against the baseline:\n%s", b.String())
	}
	if dbURL != "" && (rep.Audit.Database == nil || rep.Audit.Database.Holds != cfg.Stock) {
		t.Fatalf("database audit %+v", rep.Audit.Database)
	}
	return rep
}
