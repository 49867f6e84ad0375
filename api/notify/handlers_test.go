package notify_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	ics "github.com/arran4/golang-ical"
	"github.com/gin-gonic/gin"

	"github.com/allot/allot/api"
	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/mount"
	"github.com/allot/allot/api/notify"
)

// apiRig mounts the handlers on a gin engine as api.Server does; the caller is taken from a
// test header in place of a verified token (authentication is api's, tested there).
func apiRig(t *testing.T) (*rig, http.Handler, []mount.Route) {
	t.Helper()
	gin.SetMode(gin.TestMode)
	r := newRig(t)
	h := notify.NewHandlers(r.svc, api.Fail, func(c *gin.Context) string { return c.GetHeader("X-Test-User") })
	e := gin.New()
	routes := h.Routes()
	mount.Mount(e, routes)
	return r, e, routes
}

func do(t *testing.T, h http.Handler, method, path, user, body string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if user != "" {
		req.Header.Set("X-Test-User", user)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

func TestRoutePolicies(t *testing.T) {
	_, _, routes := apiRig(t)
	want := map[string]auth.Policy{
		"POST /v1/me/devices": auth.Customer, "DELETE /v1/me/devices/:did": auth.Customer,
		"GET /v1/me/notification-preferences": auth.Customer, "PUT /v1/me/notification-preferences": auth.Customer,
		"POST /v1/me/calendar-token": auth.Customer, "GET /v1/me/calendar.ics": auth.Public,
		"GET /v1/resources/:rid/calendar.ics": auth.Operator, "GET /v1/notifications": auth.Operator,
		"POST /v1/notifications/:id/retry": auth.Operator,
	}
	if len(routes) != len(want) {
		t.Fatalf("%d routes", len(routes))
	}
	for _, rt := range routes {
		if p, ok := want[rt.Method+" "+rt.Path]; !ok || p != rt.Policy {
			t.Errorf("%s %s: policy %v", rt.Method, rt.Path, rt.Policy)
		}
	}
}

func TestDevicesAPI(t *testing.T) {
	r, h, _ := apiRig(t)
	w := do(t, h, "POST", "/v1/me/devices", "ann", `{"token":"tok-1","platform":"android"}`)
	if w.Code != http.StatusCreated {
		t.Fatalf("add: %d %s", w.Code, w.Body)
	}
	var d notify.DeviceBody
	_ = json.Unmarshal(w.Body.Bytes(), &d)
	for _, bad := range []struct{ body, ctype string }{
		{`{"token":"","platform":"android"}`, "422"}, {`{"token":"x","platform":"symbian"}`, "422"},
		{`{"token":"x","platform":"ios","extra":1}`, "400"}, {`not json`, "400"},
	} {
		if w := do(t, h, "POST", "/v1/me/devices", "ann", bad.body); itoa(w.Code) != bad.ctype {
			t.Errorf("%s: %d", bad.body, w.Code)
		}
	}
	if w := do(t, h, "DELETE", "/v1/me/devices/"+d.ID, "bob", ""); w.Code != http.StatusNotFound {
		t.Fatalf("bob deletes ann's device: %d", w.Code)
	}
	if w := do(t, h, "DELETE", "/v1/me/devices/"+d.ID, "ann", ""); w.Code != http.StatusNoContent {
		t.Fatalf("delete: %d", w.Code)
	}
	if ds, _ := r.store.Devices(context.Background(), "ann"); len(ds) != 0 {
		t.Fatalf("devices left: %+v", ds)
	}
}

func TestPreferencesAPI(t *testing.T) {
	_, h, _ := apiRig(t)
	w := do(t, h, "GET", "/v1/me/notification-preferences", "ann", "")
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"reminder":["email","push"]`) || !strings.Contains(w.Body.String(), `"locale":"en"`) {
		t.Fatalf("defaults: %d %s", w.Code, w.Body)
	}
	w = do(t, h, "PUT", "/v1/me/notification-preferences", "ann", `{"channels":{"reminder":["sms"]},"locale":"de-DE","timezone":"Europe/Berlin"}`)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"reminder":["sms"]`) || !strings.Contains(w.Body.String(), `"confirmation":["email","push"]`) {
		t.Fatalf("put: %d %s", w.Code, w.Body)
	}
	for _, bad := range []string{`{"timezone":"Mars/Olympus"}`, `{"locale":"x"}`, `{"channels":{"spam":["email"]}}`, `{"channels":{"reminder":["fax"]}}`} {
		if w := do(t, h, "PUT", "/v1/me/notification-preferences", "ann", bad); w.Code != 422 {
			t.Errorf("%s: %d %s", bad, w.Code, w.Body)
		}
	}
	if w := do(t, h, "GET", "/v1/me/notification-preferences", "ann", ""); !strings.Contains(w.Body.String(), `"locale":"de-DE"`) {
		t.Fatalf("bad input changed the preferences: %s", w.Body)
	}
}

func TestCalendarFeeds(t *testing.T) {
	r, h, _ := apiRig(t)
	r.handle(t, event(notify.EventConfirmed, "ev-1", 3, hold("h1", "hotel", "ann", "confirmed", []string{"2026-12-24"}, nil)))
	r.handle(t, event(notify.EventConfirmed, "ev-2", 4, hold("h2", "sauna", "ann", "confirmed", []string{"2026-12-24T10:00"}, nil)))
	r.handle(t, event(notify.EventConfirmed, "ev-3", 5, hold("h3", "hotel", "bob", "confirmed", []string{"2026-12-25"}, nil)))

	if w := do(t, h, "GET", "/v1/me/calendar.ics?token=cal_nope", "", ""); w.Code != 401 {
		t.Fatalf("unknown token: %d", w.Code)
	}
	w := do(t, h, "POST", "/v1/me/calendar-token", "ann", "")
	var tok notify.TokenBody
	if err := json.Unmarshal(w.Body.Bytes(), &tok); w.Code != 201 || err != nil || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("rotate: %d %s", w.Code, w.Body)
	}
	w = do(t, h, "GET", tok.URL, "", "")
	cal, err := ics.ParseCalendar(strings.NewReader(w.Body.String()))
	if w.Code != 200 || err != nil || len(cal.Events()) != 2 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/calendar") {
		t.Fatalf("feed: %d %v %s", w.Code, err, w.Body)
	}
	// Rotating revokes the old URL.
	_ = do(t, h, "POST", "/v1/me/calendar-token", "ann", "")
	if w := do(t, h, "GET", tok.URL, "", ""); w.Code != 401 {
		t.Fatalf("old token after rotation: %d", w.Code)
	}
	w = do(t, h, "GET", "/v1/resources/hotel/calendar.ics", "op", "")
	cal, err = ics.ParseCalendar(strings.NewReader(w.Body.String()))
	if w.Code != 200 || err != nil || len(cal.Events()) != 2 {
		t.Fatalf("resource feed: %d %v %s", w.Code, err, w.Body)
	}
}

func TestFailedNotificationsAPI(t *testing.T) {
	r, h, _ := apiRig(t)
	r.smtp.setRefuse(smtpErr(550))
	r.handle(t, event(notify.EventConfirmed, "ev-1", 1, hold("h1", "hotel", "ann", "confirmed", []string{"2026-12-24"}, nil)))
	r.drain(t, r.svc)
	w := do(t, h, "GET", "/v1/notifications?status=failed", "op", "")
	var out struct {
		Notifications []notify.NotificationBody `json:"notifications"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &out); w.Code != 200 || err != nil || len(out.Notifications) != 1 ||
		out.Notifications[0].Kind != notify.KindConfirmation || !strings.Contains(out.Notifications[0].LastError, "550") {
		t.Fatalf("failed list: %d %s", w.Code, w.Body)
	}
	for _, q := range []string{"?status=lost", "?limit=0", "?limit=x"} {
		if w := do(t, h, "GET", "/v1/notifications"+q, "op", ""); w.Code != 422 {
			t.Errorf("%s: %d", q, w.Code)
		}
	}
}

// TestRetryNotificationAPI: a failed notification is made due again and sent by the next
// delivery; anything else is 409 conflict and unchanged, an unknown id 404, both problem+json.
func TestRetryNotificationAPI(t *testing.T) {
	r, h, _ := apiRig(t)
	r.smtp.setRefuse(smtpErr(550))
	r.handle(t, event(notify.EventConfirmed, "ev-1", 1, hold("h1", "hotel", "ann", "confirmed", []string{"2026-12-24"}, nil)))
	r.drain(t, r.svc)
	id := notify.NotificationID("ev-1", notify.ChannelEmail)

	problem := func(w *httptest.ResponseRecorder, status int, code string) {
		t.Helper()
		var p struct {
			Code string `json:"code"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &p); w.Code != status || err != nil || p.Code != code ||
			w.Header().Get("Content-Type") != "application/problem+json" {
			t.Fatalf("want %d %s: %d %s %s", status, code, w.Code, w.Header().Get("Content-Type"), w.Body)
		}
	}
	problem(do(t, h, "POST", "/v1/notifications/nt_nope/retry", "op", ""), 404, "not_found")

	r.smtp.setRefuse(nil)
	w := do(t, h, "POST", "/v1/notifications/"+id+"/retry", "op", "")
	var n notify.NotificationBody
	if err := json.Unmarshal(w.Body.Bytes(), &n); w.Code != http.StatusAccepted || err != nil || n.ID != id ||
		n.Status != notify.StatusPending || n.Attempts != 1 || !strings.Contains(n.LastError, "550") {
		t.Fatalf("retry: %d %s", w.Code, w.Body)
	}
	problem(do(t, h, "POST", "/v1/notifications/"+id+"/retry", "op", ""), 409, "conflict") // pending

	r.drain(t, r.svc)
	if ms := r.mails(t); len(ms) != 1 {
		t.Fatalf("%d mails after the retry", len(ms))
	}
	sent, err := r.store.Notifications(context.Background(), notify.StatusSent, 10)
	if err != nil || len(sent) != 1 || sent[0].ID != id || sent[0].Attempts != 2 {
		t.Fatalf("sent after retry: %+v %v", sent, err)
	}
	problem(do(t, h, "POST", "/v1/notifications/"+id+"/retry", "op", ""), 409, "conflict") // sent
	if again, _ := r.store.Notifications(context.Background(), notify.StatusSent, 10); len(again) != 1 || again[0] != sent[0] {
		t.Fatalf("a refused retry changed the notification: %+v", again)
	}
}
