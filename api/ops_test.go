package api

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/allot/allot/api/wire"
)

func TestHealthzAndReadyz(t *testing.T) {
	e := MustServer(t)
	var st wire.Status
	e.ok(e.do("GET", HealthzPath, ""), http.StatusOK, &st)
	if st.Status != "ok" {
		t.Fatalf("%+v", st)
	}
	e.ok(e.do("GET", ReadyzPath, ""), http.StatusOK, &st)
	if st.Status != "ready" {
		t.Fatalf("%+v", st)
	}

	e.ready.Store(false) // draining
	rec := e.do("GET", ReadyzPath, "")
	mustProblem(t, rec, http.StatusServiceUnavailable, "unavailable")
	if rec.Header().Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
	e.ok(e.do("GET", HealthzPath, ""), http.StatusOK, nil) // liveness does not follow readiness

	e.ready.Store(true)
	e.ok(e.do("GET", ReadyzPath, ""), http.StatusOK, nil)
}

func TestMetricsEndpoint(t *testing.T) {
	e := MustServer(t)
	e.mustCreate()
	e.do("GET", "/v1/resources/hotel-1", "")
	e.do("GET", "/v1/resources/nope", "")
	e.do("GET", "/no/such/route/abc123", "")

	rec := e.doAdmin("GET", MetricsPath)
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	body := rec.Body.String()
	for _, want := range []string{
		`allot_http_requests_total{code="201",route="/v1/resources"} 1`,
		`allot_http_requests_total{code="200",route="/v1/resources/:rid"} 1`,
		`allot_http_requests_total{code="404",route="/v1/resources/:rid"} 1`,
		`allot_http_requests_total{code="404",route="unmatched"} 1`,
		`allot_http_request_seconds_bucket{route="/v1/resources/:rid",le="+Inf"} 2`,
		`allot_http_request_seconds_count{route="/v1/resources"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(body, "hotel-1") || strings.Contains(body, "abc123") || strings.Contains(body, "nope") {
		t.Error("a raw URL became a label value")
	}

	// The same numbers through the Gatherer.
	mfs, err := e.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var total float64
	for _, mf := range mfs {
		if mf.GetName() == "allot_http_requests_total" {
			for _, m := range mf.GetMetric() {
				total += m.GetCounter().GetValue()
				if label(m, "route") == "" || label(m, "code") == "" {
					t.Errorf("metric without labels: %v", m)
				}
			}
		}
	}
	if total < 4 {
		t.Fatalf("counted %v requests, want at least 4", total)
	}
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

func TestOpenAPIServed(t *testing.T) {
	e := MustServer(t)
	rec := e.do("GET", OpenAPIPath, "")
	if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/yaml" {
		t.Fatalf("status %d headers %v", rec.Code, rec.Header())
	}
	got, _ := io.ReadAll(rec.Body)
	if !bytes.Equal(got, openAPIDocument) || !bytes.HasPrefix(got, []byte("openapi: 3.1")) {
		t.Fatal("served document differs from the embedded one")
	}
}

type staticMembers []wire.Member

func (m staticMembers) Members() []wire.Member { return m }

func TestMembers(t *testing.T) {
	e := MustServer(t) // no MemberLister: just this node
	var list wire.MemberList
	e.ok(e.do("GET", "/v1/cluster/members", ""), http.StatusOK, &list)
	if len(list.Members) != 1 || list.Members[0] != (wire.Member{ID: "node-1", Status: "alive", Self: true}) {
		t.Fatalf("%+v", list)
	}

	lister := staticMembers{
		{ID: "b", Address: "10.0.0.2:8090", Status: "suspect", Activations: 3},
		{ID: "a", Address: "10.0.0.1:8090", Status: "alive", Self: true, Activations: 7},
	}
	e = MustServer(t, func(c *Config) { c.Members = lister })
	rec := e.do("GET", "/v1/cluster/members", "")
	if !strings.Contains(rec.Body.String(), `{"id":"a","address":"10.0.0.1:8090","status":"alive","self":true,"activations":7}`) {
		t.Fatalf("snake_case member JSON: %s", rec.Body)
	}
	e.ok(rec, http.StatusOK, &list)
	if len(list.Members) != 2 || list.Members[0].ID != "a" || list.Members[1] != lister[0] {
		t.Fatalf("%+v", list)
	}
	if lister[0].ID != "b" {
		t.Fatal("the lister's slice was reordered")
	}
}
