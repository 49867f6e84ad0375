package webhooks

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/mount"
)

// testErrors stands in for api's ErrorWriter: the status by code, the code in the body.
func testErrors(c *gin.Context, err error) {
	status := map[string]int{booking.CodeMalformed: 400, booking.CodeInvalid: 422, booking.CodeNotFound: 404,
		booking.CodeConflict: 409}[booking.ErrorCode(err)]
	if status == 0 {
		status = 500
	}
	c.JSON(status, gin.H{"code": booking.ErrorCode(err)})
}

func serve(t *testing.T, h *harness) http.Handler {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	routes := NewHandlers(h.d, testErrors).Routes()
	mount.Mount(e, routes)
	rp := auth.RoutePolicies{}
	mount.AddPolicies(rp, routes)
	if m := rp.Missing(e); len(m) != 0 {
		t.Fatalf("routes without policy: %v", m)
	}
	for _, r := range routes {
		if r.Policy != auth.Admin {
			t.Fatalf("%s %s is %s, want admin", r.Method, r.Path, r.Policy)
		}
	}
	return e
}

func do(t *testing.T, h http.Handler, method, path, body string) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	var out map[string]any
	_ = json.Unmarshal(w.Body.Bytes(), &out)
	return w, out
}

func TestAdminAPI(t *testing.T) {
	rcv := newReceiver(t, nil)
	rcv.status.Store(500)
	h := newHarness(t, nil)
	api := serve(t, h)

	w, created := do(t, api, "POST", "/v1/webhooks", `{"url":"`+rcv.srv.URL+`","event_types":["hold.placed","hold.placed"],"description":"crm"}`)
	if w.Code != 201 {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	id, _ := created["id"].(string)
	secret, _ := created["secret"].(string)
	if !strings.HasPrefix(secret, "whsec_") || w.Header().Get("Location") != "/v1/webhooks/"+id || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("create answer %s %v", w.Body, w.Header())
	}
	if types := created["event_types"].([]any); len(types) != 1 {
		t.Fatalf("event types not deduplicated: %v", types)
	}
	w, got := do(t, api, "GET", "/v1/webhooks/"+id, "")
	if w.Code != 200 || got["secret"] != nil || strings.Contains(w.Body.String(), secret[6:]) {
		t.Fatalf("get: %d %s (the secret is shown only once)", w.Code, w.Body)
	}
	if w, list := do(t, api, "GET", "/v1/webhooks", ""); w.Code != 200 || len(list["webhooks"].([]any)) != 1 || strings.Contains(w.Body.String(), secret[6:]) {
		t.Fatalf("list: %d %s", w.Code, w.Body)
	}

	for _, tc := range []struct {
		body string
		code int
	}{
		{`{"url":"http://x.test","event_types":["nope"]}`, 422},
		{`{"url":"http://x.test","event_types":[]}`, 422},
		{`{"url":"not a url","event_types":["hold.placed"]}`, 422},
		{`{"url":"http://x.test","event_types":["hold.placed"],"extra":1}`, 400},
		{`{"url":`, 400},
		{`{"url":"http://x.test","event_types":["hold.placed"]} {}`, 400},
	} {
		if w, _ := do(t, api, "POST", "/v1/webhooks", tc.body); w.Code != tc.code {
			t.Errorf("create %s: %d, want %d", tc.body, w.Code, tc.code)
		}
	}

	if err := h.d.Handle(context.Background(), event("hotel-1/7/0", "hold.placed", h.clock.Now())); err != nil {
		t.Fatal(err)
	}
	rcv.next(t)
	h.nextAttempt(t)
	w, page := do(t, api, "GET", "/v1/webhooks/"+id+"/deliveries?attempts=true", "")
	if w.Code != 200 {
		t.Fatalf("deliveries: %d %s", w.Code, w.Body)
	}
	ds := page["deliveries"].([]any)
	if len(ds) != 1 {
		t.Fatalf("deliveries = %s", w.Body)
	}
	d := ds[0].(map[string]any)
	if d["status"] != "pending" || d["attempts"].(float64) != 1 || d["last_status_code"].(float64) != 500 || d["next_attempt_at"] == nil ||
		len(d["attempt_list"].([]any)) != 1 {
		t.Fatalf("delivery = %v", d)
	}
	if w, _ := do(t, api, "GET", "/v1/webhooks/"+id+"/deliveries?limit=0", ""); w.Code != 422 {
		t.Fatalf("limit=0: %d", w.Code)
	}
	// Retry by hand: due now, sent at the next poll.
	rcv.status.Store(200)
	w, rd := do(t, api, "POST", "/v1/webhooks/"+id+"/deliveries/"+d["id"].(string)+"/retry", "")
	// The answer is read after the retry was scheduled: the attempt may already have run.
	if w.Code != 202 || rd["id"] != d["id"] {
		t.Fatalf("retry: %d %s", w.Code, w.Body)
	}
	rcv.next(t)
	if r := h.nextAttempt(t); r.o.Status != StatusSucceeded || r.a.N != 2 {
		t.Fatalf("attempt after retry = %+v", r)
	}
	if w, _ := do(t, api, "POST", "/v1/webhooks/"+id+"/deliveries/dlv_none/retry", ""); w.Code != 404 {
		t.Fatalf("retry of a missing delivery: %d", w.Code)
	}

	if w, _ := do(t, api, "DELETE", "/v1/webhooks/"+id, ""); w.Code != 204 {
		t.Fatalf("delete: %d", w.Code)
	}
	for _, p := range []string{"/v1/webhooks/" + id, "/v1/webhooks/" + id + "/deliveries"} {
		if w, _ := do(t, api, "GET", p, ""); w.Code != 404 {
			t.Fatalf("GET %s after delete: %d", p, w.Code)
		}
	}
	if w, _ := do(t, api, "DELETE", "/v1/webhooks/"+id, ""); w.Code != 404 {
		t.Fatalf("second delete: %d", w.Code)
	}
}
