package api

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/allot/allot/api/audit"
	"github.com/allot/allot/api/ratelimit"
)

// auditedServer is a testEnv with an audit log in memory and GET /v1/audit mounted.
func auditedServer(t *testing.T, store audit.Store) *testEnv {
	t.Helper()
	return MustServer(t, func(c *Config) {
		c.Audit = store
		c.Mounted = append(c.Mounted, audit.NewHandlers(store, Fail).Routes()...)
	})
}

// listAudit reads the audit log as an admin with query q.
func (e *testEnv) listAudit(q string) audit.ListBody {
	e.tb.Helper()
	var out audit.ListBody
	e.ok(e.do("GET", "/v1/audit"+q, "", e.bearer(asAdmin)...), http.StatusOK, &out)
	return out
}

// TestAuditRecordsOperatorAndAdminActions: an operator's changes, refused attempts of
// signed-in callers and admin reads are recorded with subject, action, target, request id and
// outcome; customers' own actions and operators' reads are not; nothing else of the request
// is kept.
func TestAuditRecordsOperatorAndAdminActions(t *testing.T) {
	store := audit.NewMemStore()
	e := auditedServer(t, store)

	rec := e.do("POST", "/v1/resources", walkResource, append(e.bearer(asOperator), RequestIDHeader, "trace-42")...)
	if rec.Code != http.StatusCreated || rec.Header().Get(RequestIDHeader) != "trace-42" {
		t.Fatalf("create: %d, request id %q", rec.Code, rec.Header().Get(RequestIDHeader))
	}
	// The log orders entries by time: the fake clock moves between requests.
	e.clock.Advance(time.Second)
	mustProblem(t, e.do("PATCH", "/v1/resources/hotel-1", `{"name":"x"}`, e.bearer(asCustomer)...), http.StatusForbidden, "forbidden")
	e.clock.Advance(time.Second)
	mustProblem(t, e.do("DELETE", "/v1/resources/hotel-1", "", e.bearer(asOperatorNoM)...), http.StatusForbidden, "mfa-required")
	mustProblem(t, e.do("DELETE", "/v1/resources/hotel-1", "", anonymous...), http.StatusUnauthorized, "unauthenticated")
	e.clock.Advance(time.Second)
	// Not audited: a customer's own hold, an operator's read.
	h := e.mustHold(`{"quantity":1,"buckets":["2026-12-24"]}`, e.bearer(asCustomer)...)
	e.ok(e.do("GET", "/v1/resources/hotel-1/holds", "", e.bearer(asOperator)...), http.StatusOK, nil)
	// Audited: an operator cancelling the customer's hold at the front desk.
	e.ok(e.do("POST", "/v1/resources/hotel-1/holds/"+h.ID+"/cancel", "", e.bearer(asOperator)...), http.StatusOK, nil)

	got := e.listAudit("")
	type row struct{ subject, action, target, outcome string }
	var rows []row
	for _, en := range got.Entries {
		rows = append(rows, row{en.Subject, en.Action, en.Target, en.Outcome})
	}
	want := []row{
		{"op-1", "hold.cancel", "rid=hotel-1,hid=" + h.ID, "succeeded"},
		{"op-2", "resource.archive", "rid=hotel-1", "refused"},
		{"u-1", "resource.update", "rid=hotel-1", "refused"},
		{"op-1", "resource.create", "", "succeeded"},
	}
	if len(rows) != len(want) {
		t.Fatalf("audit log %+v\nwant %+v", rows, want)
	}
	for i := range want {
		if rows[i] != want[i] {
			t.Fatalf("entry %d: %+v, want %+v (log %+v)", i, rows[i], want[i], rows)
		}
	}
	create := got.Entries[3]
	if create.RequestID != "trace-42" || create.Status != http.StatusCreated || create.Method != "POST" || create.Route != "/v1/resources" {
		t.Fatalf("create entry %+v", create)
	}
	// The admin's read of the log is itself in the log.
	if again := e.listAudit("?action=audit.list"); len(again.Entries) != 1 || again.Entries[0].Subject != "admin-1" {
		t.Fatalf("reads of the audit log: %+v", again.Entries)
	}
}

// TestAuditListFiltersAndPages: GET /v1/audit filters by subject, action and time and pages
// with next_cursor; bad queries are refused; only admins may read it.
func TestAuditListFiltersAndPages(t *testing.T) {
	store := audit.NewMemStore()
	e := auditedServer(t, store)
	e.mustCreate()
	for i := range 3 {
		e.clock.Advance(time.Minute)
		e.ok(e.do("PATCH", "/v1/resources/hotel-1", `{"name":"Room `+string(rune('A'+i))+`"}`, e.bearer(asOperator)...), http.StatusOK, nil)
	}
	if got := e.listAudit("?subject=op-1&action=resource.update"); len(got.Entries) != 3 {
		t.Fatalf("%d updates by op-1, want 3", len(got.Entries))
	}
	from := e.clock.Now().Add(-90 * time.Second).UTC().Format(time.RFC3339Nano)
	if got := e.listAudit("?action=resource.update&from=" + from); len(got.Entries) != 2 {
		t.Fatalf("%d updates since %s, want 2", len(got.Entries), from)
	}
	first := e.listAudit("?action=resource.update&limit=2")
	if len(first.Entries) != 2 || first.NextCursor == "" {
		t.Fatalf("first page %+v", first)
	}
	second := e.listAudit("?action=resource.update&limit=2&cursor=" + first.NextCursor)
	if len(second.Entries) != 1 || second.NextCursor != "" || !second.Entries[0].At.Before(first.Entries[1].At) {
		t.Fatalf("second page %+v after %+v", second, first)
	}
	for q, slug := range map[string]string{
		"?limit=0": "invalid", "?limit=5000": "invalid", "?from=yesterday": "invalid", "?cursor=%%%": "malformed",
		"?cursor=bm9wZQ": "invalid", "?sort=asc": "invalid", "?subject=a&subject=b": "malformed",
		"?from=2026-12-06T00:00:00Z&to=2026-12-05T00:00:00Z": "invalid",
	} {
		status := http.StatusUnprocessableEntity
		if slug == "malformed" {
			status = http.StatusBadRequest
		}
		mustProblem(t, e.do("GET", "/v1/audit"+q, "", e.bearer(asAdmin)...), status, slug)
	}
	mustProblem(t, e.do("GET", "/v1/audit", "", anonymous...), http.StatusUnauthorized, "unauthenticated")
	mustProblem(t, e.do("GET", "/v1/audit", "", e.bearer(asOperator)...), http.StatusForbidden, "forbidden")
}

// failingAudit is an audit store that cannot store.
type failingAudit struct{ audit.MemStore }

func (*failingAudit) Append(context.Context, audit.Entry) error { return errors.New("disk full") }

// TestAuditStoreFailureDoesNotFailTheAction: the action has happened; the failure is logged
// and counted.
func TestAuditStoreFailureDoesNotFailTheAction(t *testing.T) {
	e := auditedServer(t, &failingAudit{})
	e.ok(e.do("POST", "/v1/resources", walkResource, e.bearer(asOperator)...), http.StatusCreated, nil)
	if got := e.doAdmin("GET", MetricsPath).Body.String(); !strings.Contains(got, "allot_audit_failures_total 1") {
		t.Fatalf("the failure is not counted:\n%s", got)
	}
	if !strings.Contains(e.logs.String(), "audit entry not stored") {
		t.Fatalf("the failure is not logged:\n%s", e.logs.String())
	}
}

// TestRequestID: every answer carries X-Request-Id: the client's when usable, else a fresh
// one (a value that could forge a log line is replaced).
func TestRequestID(t *testing.T) {
	e := MustServer(t)
	seen := map[string]bool{}
	for _, sent := range []string{"", "has space", strings.Repeat("a", 65), "line\nbreak"} {
		id := e.do("GET", HealthzPath, "", RequestIDHeader, sent).Header().Get(RequestIDHeader)
		if len(id) != 24 || id == sent || seen[id] {
			t.Fatalf("sent %q: got %q, want a fresh 24-character id", sent, id)
		}
		seen[id] = true
	}
	if id := e.do("GET", HealthzPath, "", RequestIDHeader, "a-B.c_9:1").Header().Get(RequestIDHeader); id != "a-B.c_9:1" {
		t.Fatalf("a usable id came back as %q", id)
	}
}

// TestAuditRecordsClientAddress: an entry says where the request came from, as the rate
// limits resolve the client: X-Forwarded-For only from a trusted proxy.
func TestAuditRecordsClientAddress(t *testing.T) {
	for _, c := range []struct {
		name    string
		trusted string
		want    string
	}{
		{"direct peer, header ignored", "", "192.0.2.1"}, // httptest's RemoteAddr
		{"behind a trusted proxy", "192.0.2.0/24", "203.0.113.7"},
	} {
		t.Run(c.name, func(t *testing.T) {
			store := audit.NewMemStore()
			rc := ratelimit.DefaultConfig()
			rc.Off = true
			if c.trusted != "" {
				rc.TrustedProxies = []netip.Prefix{netip.MustParsePrefix(c.trusted)}
			}
			e := MustServer(t, func(cfg *Config) {
				cfg.Audit = store
				cfg.RateLimits = &rc
				cfg.Mounted = append(cfg.Mounted, audit.NewHandlers(store, Fail).Routes()...)
			})
			rec := e.do("POST", "/v1/resources", walkResource, append(e.bearer(asOperator), "X-Forwarded-For", "203.0.113.7")...)
			if rec.Code != http.StatusCreated {
				t.Fatalf("create: %d", rec.Code)
			}
			got := e.listAudit("?action=resource.create")
			if len(got.Entries) != 1 || got.Entries[0].ClientIP != c.want {
				t.Fatalf("entries %+v, want one from %s", got.Entries, c.want)
			}
		})
	}
}
