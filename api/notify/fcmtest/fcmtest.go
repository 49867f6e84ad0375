// Package fcmtest is a local HTTP server on 127.0.0.1 speaking the FCM HTTP v1 API and the
// OAuth 2.0 token endpoint of a service account key, so that the Firebase Admin SDK runs its
// real flow against it. The notify package's tests and the node's end-to-end tests (cmd)
// share it.
package fcmtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Server is a local HTTP server speaking the FCM HTTP v1 API
// (POST /v1/projects/{project}/messages:send) and the OAuth 2.0 token endpoint a service
// account key names (token_uri, the JWT bearer grant of RFC 7523). Tokens in unregistered
// answer 404 UNREGISTERED as FCM does for an uninstalled app.
type Server struct {
	URL     string
	Project string
	// Arrived gets a value per accepted message (dropped when it is full).
	Arrived chan struct{}

	mu           sync.Mutex
	unregistered map[string]bool
	sent         []Message
	tokenGrants  int
}

// Message is a message the server accepted.
type Message struct {
	Token        string            `json:"token"`
	Notification map[string]string `json:"notification"`
	Data         map[string]string `json:"data"`
}

const accessToken = "ya29.local-test-token"

// New starts a server for the Firebase project; it stops when the test ends.
func New(t testing.TB, project string) *Server {
	t.Helper()
	f := &Server{Project: project, Arrived: make(chan struct{}, 64), unregistered: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil || r.Form.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" ||
			len(strings.Split(r.Form.Get("assertion"), ".")) != 3 {
			http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.tokenGrants++
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"access_token":"` + accessToken + `","token_type":"Bearer","expires_in":3600}`))
	})
	mux.HandleFunc("POST /v1/projects/{project}/messages:send", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bearer "+accessToken {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}`))
			return
		}
		if r.PathValue("project") != f.Project {
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"error":{"code":403,"message":"SenderId mismatch","status":"PERMISSION_DENIED","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"SENDER_ID_MISMATCH"}]}}`))
			return
		}
		var req struct {
			Message Message `json:"message"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.Message.Token == "" {
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"error":{"code":400,"message":"bad message","status":"INVALID_ARGUMENT","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"INVALID_ARGUMENT"}]}}`))
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.unregistered[req.Message.Token] {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}`))
			return
		}
		f.sent = append(f.sent, req.Message)
		select {
		case f.Arrived <- struct{}{}:
		default:
		}
		_, _ = w.Write([]byte(`{"name":"projects/` + f.Project + `/messages/` + strconv.Itoa(len(f.sent)) + `"}`))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

// TokenGrants is how many access tokens the token endpoint granted.
func (f *Server) TokenGrants() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokenGrants
}

// Unregister makes the server answer UNREGISTERED for token from now on.
func (f *Server) Unregister(token string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unregistered[token] = true
}

// Messages returns the accepted messages.
func (f *Server) Messages() []Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Message(nil), f.sent...)
}

// ServiceAccountKey is a service account key whose token_uri is the local server, signed
// with a fresh RSA key, so the SDK runs its real OAuth flow against 127.0.0.1.
func (f *Server) ServiceAccountKey(t testing.TB) []byte {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(map[string]string{
		"type": "service_account", "project_id": f.Project, "private_key_id": "k1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "notify@" + f.Project + ".iam.gserviceaccount.com", "client_id": "1",
		"token_uri": f.URL + "/token",
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
