// Package twiliotest is a local HTTP server on 127.0.0.1 speaking the part of Twilio's REST
// API that notify.TwilioSMS uses: POST /2010-04-01/Accounts/{sid}/Messages.json with basic
// auth and a form body, answered 201 with the message resource, or Twilio's error document.
// The notify package's tests and the node's end-to-end tests (cmd) share it.
package twiliotest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// Credentials the server accepts.
const (
	AccountSID = "AC0123456789abcdef0123456789abcdef"
	AuthToken  = "0123456789abcdef0123456789abcdef"
)

// SMS is one message the server accepted.
type SMS struct{ To, From, Body string }

// Server is a running server; it stops when the test ends. Safe for concurrent use.
type Server struct {
	URL string
	// Arrived gets a value per accepted message (dropped when it is full).
	Arrived chan struct{}

	mu     sync.Mutex
	sent   []SMS
	status int
}

// New starts a server.
func New(t testing.TB) *Server {
	s := &Server{Arrived: make(chan struct{}, 64)}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

func fail(w http.ResponseWriter, status, code int, msg string) {
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"code": code, "message": msg, "status": status})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	user, pass, ok := r.BasicAuth()
	w.Header().Set("Content-Type", "application/json")
	if r.Method != http.MethodPost || r.URL.Path != "/2010-04-01/Accounts/"+AccountSID+"/Messages.json" {
		fail(w, http.StatusNotFound, 20404, "not found")
		return
	}
	if !ok || user != AccountSID || pass != AuthToken {
		fail(w, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	if err := r.ParseForm(); err != nil {
		fail(w, http.StatusBadRequest, 20001, "bad form")
		return
	}
	m := SMS{To: r.PostForm.Get("To"), From: r.PostForm.Get("From"), Body: r.PostForm.Get("Body")}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.status != 0 {
		fail(w, s.status, 21211, "refused")
		return
	}
	if !strings.HasPrefix(m.To, "+") || m.Body == "" {
		fail(w, http.StatusBadRequest, 21211, "invalid To")
		return
	}
	s.sent = append(s.sent, m)
	select {
	case s.Arrived <- struct{}{}:
	default:
	}
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{"sid": "SM" + strings.Repeat("0", 32), "status": "queued",
		"to": m.To, "from": m.From, "body": m.Body})
}

// Messages returns the accepted messages.
func (s *Server) Messages() []SMS {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SMS(nil), s.sent...)
}

// Answer makes the server refuse every message with status from now on (0: accept again).
func (s *Server) Answer(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status = status
}
