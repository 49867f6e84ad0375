package notify_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// fcmServer is a local HTTP server speaking the FCM HTTP v1 API
// (POST /v1/projects/{project}/messages:send) and the OAuth 2.0 token endpoint a service
// account key names (token_uri, the JWT bearer grant of RFC 7523). Tokens in unregistered
// answer 404 UNREGISTERED as FCM does for an uninstalled app.
type fcmServer struct {
	url     string
	project string

	mu           sync.Mutex
	unregistered map[string]bool
	sent         []fcmMessage
	tokenGrants  int
}

type fcmMessage struct {
	Token        string            `json:"token"`
	Notification map[string]string `json:"notification"`
	Data         map[string]string `json:"data"`
}

const fcmAccessToken = "ya29.local-test-token"

func newFCMServer(t *testing.T, project string) *fcmServer {
	t.Helper()
	f := &fcmServer{project: project, unregistered: map[string]bool{}}
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
		_, _ = w.Write([]byte(`{"access_token":"` + fcmAccessToken + `","token_type":"Bearer","expires_in":3600}`))
	})
	mux.HandleFunc("POST /v1/projects/{project}/messages:send", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bearer "+fcmAccessToken {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"code":401,"message":"Request had invalid authentication credentials.","status":"UNAUTHENTICATED"}}`))
			return
		}
		if r.PathValue("project") != f.project {
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"error":{"code":403,"message":"SenderId mismatch","status":"PERMISSION_DENIED","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"SENDER_ID_MISMATCH"}]}}`))
			return
		}
		var req struct {
			Message fcmMessage `json:"message"`
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
		_, _ = w.Write([]byte(`{"name":"projects/` + f.project + `/messages/` + itoa(len(f.sent)) + `"}`))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

func (f *fcmServer) unregister(token string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unregistered[token] = true
}

func (f *fcmServer) messages() []fcmMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fcmMessage(nil), f.sent...)
}

// serviceAccountKey is a service account key whose token_uri is the local server, signed
// with a fresh RSA key, so the SDK runs its real OAuth flow against 127.0.0.1.
func (f *fcmServer) serviceAccountKey(t *testing.T) []byte {
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
		"type": "service_account", "project_id": f.project, "private_key_id": "k1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "notify@" + f.project + ".iam.gserviceaccount.com", "client_id": "1",
		"token_uri": f.url + "/token",
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
