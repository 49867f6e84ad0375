package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/allot/allot/api/notify"
)

// twilioServer speaks the part of Twilio's REST API the sender uses: POST
// /2010-04-01/Accounts/{sid}/Messages.json with basic auth and a form body, answering 201
// with the message resource, or Twilio's error document.
type twilioServer struct {
	srv       *httptest.Server
	sid, auth string

	mu     sync.Mutex
	sent   []map[string]string
	status int // answer with this error status when set
}

func newTwilioServer(t *testing.T) *twilioServer {
	ts := &twilioServer{sid: "AC0123456789abcdef0123456789abcdef", auth: "0123456789abcdef0123456789abcdef"}
	ts.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		w.Header().Set("Content-Type", "application/json")
		if r.Method != http.MethodPost || r.URL.Path != "/2010-04-01/Accounts/"+ts.sid+"/Messages.json" {
			w.WriteHeader(http.StatusNotFound)
			_ = json.NewEncoder(w).Encode(map[string]any{"code": 20404, "message": "not found", "status": 404})
			return
		}
		if !ok || user != ts.sid || pass != ts.auth {
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(map[string]any{"code": 20003, "message": "Authenticate", "status": 401})
			return
		}
		if err := r.ParseForm(); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		ts.mu.Lock()
		defer ts.mu.Unlock()
		if ts.status != 0 {
			w.WriteHeader(ts.status)
			_ = json.NewEncoder(w).Encode(map[string]any{"code": 21211, "message": "refused", "status": ts.status})
			return
		}
		if !strings.HasPrefix(r.PostForm.Get("To"), "+") || r.PostForm.Get("Body") == "" {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]any{"code": 21211, "message": "invalid To", "status": 400})
			return
		}
		ts.sent = append(ts.sent, map[string]string{"To": r.PostForm.Get("To"), "From": r.PostForm.Get("From"), "Body": r.PostForm.Get("Body")})
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(map[string]any{"sid": "SM" + strings.Repeat("0", 32), "status": "queued",
			"to": r.PostForm.Get("To"), "from": r.PostForm.Get("From"), "body": r.PostForm.Get("Body")})
	}))
	t.Cleanup(ts.srv.Close)
	return ts
}

func (ts *twilioServer) messages() []map[string]string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return append([]map[string]string(nil), ts.sent...)
}

func (ts *twilioServer) answer(status int) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.status = status
}

func TestTwilioSMS(t *testing.T) {
	ts := newTwilioServer(t)
	sms, err := notify.NewTwilioSMS(notify.TwilioConfig{AccountSID: ts.sid, AuthToken: ts.auth, From: "+15005550006", BaseURL: ts.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := sms.SendSMS(ctx, "+4915112345678", "Your booking is confirmed"); err != nil {
		t.Fatal(err)
	}
	got := ts.messages()
	if len(got) != 1 || got[0]["To"] != "+4915112345678" || got[0]["From"] != "+15005550006" || got[0]["Body"] != "Your booking is confirmed" {
		t.Fatalf("server got %+v", got)
	}

	// A refused number is permanent; a 429 or 5xx is retried.
	if err := sms.SendSMS(ctx, "015112345678", "x"); !errors.Is(err, notify.ErrPermanent) {
		t.Fatalf("invalid number: %v, want permanent", err)
	}
	for _, st := range []int{http.StatusTooManyRequests, http.StatusServiceUnavailable} {
		ts.answer(st)
		if err := sms.SendSMS(ctx, "+4915112345678", "x"); err == nil || errors.Is(err, notify.ErrPermanent) {
			t.Fatalf("status %d: %v, want a transient error", st, err)
		}
	}
	ts.answer(0)

	// Wrong credentials are refused by the server (401), permanently.
	bad, err := notify.NewTwilioSMS(notify.TwilioConfig{AccountSID: ts.sid, AuthToken: "wrongwrongwrong", From: "+15005550006", BaseURL: ts.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.SendSMS(ctx, "+4915112345678", "x"); !errors.Is(err, notify.ErrPermanent) {
		t.Fatalf("bad credentials: %v, want permanent", err)
	}
	if len(ts.messages()) != 1 {
		t.Fatalf("refused sends were recorded: %+v", ts.messages())
	}
	if _, err := notify.NewTwilioSMS(notify.TwilioConfig{AccountSID: ts.sid, AuthToken: ts.auth, From: "+1", BaseURL: "ftp://x"}); err == nil {
		t.Fatal("an ftp base URL was accepted")
	}
}
