// Package apnstest is a local HTTP/2 TLS server on 127.0.0.1 speaking the APNs provider API,
// so that github.com/sideshow/apns2 runs its real protocol against it. The notify package's
// tests and the node's end-to-end tests (cmd) share it.
package apnstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/allot/allot/api/certreload/certtest"
)

// Server speaks the APNs provider API: POST /3/device/{token} over HTTP/2 with a bearer JWT
// (three parts) and the apns-topic it was made for. A token marked Gone answers 410
// Unregistered, a wrong topic 403 InvalidProviderToken, anything else 404 BadPath.
type Server struct {
	// URL is the server's https:// base URL (the APNs host).
	URL string
	// Clients trusts the server's certificate (issued by a test CA for 127.0.0.1).
	Clients *tls.Config
	// Arrived gets a value per accepted notification (dropped when it is full).
	Arrived chan struct{}

	topic string
	mu    sync.Mutex
	gone  map[string]bool
	got   []Notification
}

// Notification is a notification the server accepted.
type Notification struct {
	Token string
	// Payload is the JSON body: {"aps": {"alert": {"title", "body"}}, custom keys...}.
	Payload map[string]any
}

// Alert returns the payload's alert title and body.
func (n Notification) Alert() (title, body string) {
	aps, _ := n.Payload["aps"].(map[string]any)
	alert, _ := aps["alert"].(map[string]any)
	title, _ = alert["title"].(string)
	body, _ = alert["body"].(string)
	return title, body
}

// New starts a server for the app topic (bundle id); it stops when the test ends.
func New(t testing.TB, topic string) *Server {
	t.Helper()
	a := &Server{topic: topic, gone: map[string]bool{}, Arrived: make(chan struct{}, 64)}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(a.serve))
	ca := certtest.NewCA(t, "apns test CA")
	certPEM, keyPEM := ca.Issue(t, certtest.Leaf{Serial: 3, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true})
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	srv.EnableHTTP2 = true
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	a.URL, a.Clients = srv.URL, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return a
}

func (a *Server) serve(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.URL.Path, "/3/device/")
	if r.Method != http.MethodPost || !ok || r.ProtoMajor != 2 {
		http.Error(w, `{"reason":"BadPath"}`, http.StatusNotFound)
		return
	}
	jwt, ok := strings.CutPrefix(r.Header.Get("Authorization"), "bearer ")
	if !ok || len(strings.Split(jwt, ".")) != 3 || r.Header.Get("apns-topic") != a.topic {
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"reason":"InvalidProviderToken"}`))
		return
	}
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"reason":"PayloadEmpty"}`))
		return
	}
	a.mu.Lock()
	if a.gone[tok] {
		a.mu.Unlock()
		w.WriteHeader(http.StatusGone)
		_, _ = w.Write([]byte(`{"reason":"Unregistered","timestamp":1700000000000}`))
		return
	}
	a.got = append(a.got, Notification{Token: tok, Payload: body})
	a.mu.Unlock()
	w.Header().Set("apns-id", "00000000-0000-0000-0000-000000000001")
	w.WriteHeader(http.StatusOK)
	select {
	case a.Arrived <- struct{}{}:
	default:
	}
}

// Gone makes the server answer 410 Unregistered for tok, as for an uninstalled app.
func (a *Server) Gone(tok string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.gone[tok] = true
}

// Received returns the notifications accepted so far.
func (a *Server) Received() []Notification {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]Notification(nil), a.got...)
}

// P8Key returns a new token signing key as Apple issues it: a PKCS #8 P-256 key in PEM
// (the .p8 file).
func P8Key(t testing.TB) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}
