package notify_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/allot/allot/api/certreload/certtest"
	"github.com/allot/allot/api/notify"
)

// apnsServer is a local HTTP/2 server speaking the APNs provider API
// (POST /3/device/{token}, bearer JWT, apns-topic), answering 410 Unregistered for the tokens
// in gone.
type apnsServer struct {
	url     string
	clients *tls.Config
	mu      sync.Mutex
	gone    map[string]bool
	got     []map[string]any
}

func newAPNsServer(t *testing.T) *apnsServer {
	t.Helper()
	a := &apnsServer{gone: map[string]bool{}}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.URL.Path, "/3/device/")
		if r.Method != http.MethodPost || !ok || r.ProtoMajor != 2 {
			http.Error(w, `{"reason":"BadPath"}`, http.StatusNotFound)
			return
		}
		if !strings.HasPrefix(r.Header.Get("Authorization"), "bearer ") || r.Header.Get("apns-topic") != "com.allot.app" {
			w.WriteHeader(http.StatusForbidden)
			_, _ = w.Write([]byte(`{"reason":"InvalidProviderToken"}`))
			return
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.gone[tok] {
			w.WriteHeader(http.StatusGone)
			_, _ = w.Write([]byte(`{"reason":"Unregistered","timestamp":1700000000000}`))
			return
		}
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		a.got = append(a.got, body)
		w.Header().Set("apns-id", "00000000-0000-0000-0000-000000000001")
		w.WriteHeader(http.StatusOK)
	}))
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
	a.url, a.clients = srv.URL, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return a
}

func p8Key(t *testing.T) []byte {
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

func TestAPNsPush(t *testing.T) {
	a := newAPNsServer(t)
	p, err := notify.NewAPNsPusher(notify.APNsConfig{KeyPEM: p8Key(t), KeyID: "K1", TeamID: "T1", Topic: "com.allot.app",
		Host: a.url, TLS: a.clients})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := p.Push(ctx, "tok-ios", notify.Push{Title: "Booking confirmed", Body: "Sauna", Data: map[string]string{"hold_id": "h1"}}); err != nil {
		t.Fatal(err)
	}
	a.mu.Lock()
	got := a.got
	a.gone["tok-old"] = true
	a.mu.Unlock()
	aps, _ := got[0]["aps"].(map[string]any)
	alert, _ := aps["alert"].(map[string]any)
	if len(got) != 1 || alert["title"] != "Booking confirmed" || got[0]["hold_id"] != "h1" {
		t.Fatalf("received %+v", got)
	}
	if err := p.Push(ctx, "tok-old", notify.Push{Title: "x"}); !errors.Is(err, notify.ErrUnregistered) {
		t.Fatalf("410: %v", err)
	}
	wrong, _ := notify.NewAPNsPusher(notify.APNsConfig{KeyPEM: p8Key(t), KeyID: "K1", TeamID: "T1", Topic: "com.other",
		Host: a.url, TLS: a.clients})
	if err := wrong.Push(ctx, "tok-ios", notify.Push{Title: "x"}); !errors.Is(err, notify.ErrPermanent) {
		t.Fatalf("403: %v", err)
	}
}

// TestPushRoutesByPlatform: with APNs configured, iOS devices go to APNs and the rest to FCM;
// an iOS token APNs reports gone is removed.
func TestPushRoutesByPlatform(t *testing.T) {
	r := newRig(t)
	a := newAPNsServer(t)
	ctx := context.Background()
	ap, err := notify.NewAPNsPusher(notify.APNsConfig{KeyPEM: p8Key(t), KeyID: "K1", TeamID: "T1", Topic: "com.allot.app", Host: a.url, TLS: a.clients})
	if err != nil {
		t.Fatal(err)
	}
	s, err := notify.New(notify.DefaultConfig(), notify.Deps{Store: r.store, Resources: dir, Contacts: dir,
		Pusher: newPusher(t, r.fcm, "allot-test"), APNs: ap, Now: r.clock.Now, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []notify.Device{
		{ID: "d1", UserID: "ann", Token: "tok-iphone", Platform: "ios", CreatedAt: start},
		{ID: "d2", UserID: "ann", Token: "tok-old-iphone", Platform: "ios", CreatedAt: start},
		{ID: "d3", UserID: "ann", Token: "tok-pixel", Platform: "android", CreatedAt: start},
	} {
		if err := r.store.AddDevice(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	a.mu.Lock()
	a.gone["tok-old-iphone"] = true
	a.mu.Unlock()
	if err := s.Handle(ctx, event(notify.EventConfirmed, "ev-1", 1, hold("h1", "hotel", "ann", "confirmed", []string{"2026-12-24"}, nil))); err != nil {
		t.Fatal(err)
	}
	r.drain(t, s)
	a.mu.Lock()
	apnsGot := len(a.got)
	a.mu.Unlock()
	if fcm := r.fcm.messages(); apnsGot != 1 || len(fcm) != 1 || fcm[0].Token != "tok-pixel" {
		t.Fatalf("apns %d, fcm %+v", apnsGot, fcm)
	}
	if ds, _ := r.store.Devices(ctx, "ann"); len(ds) != 2 {
		t.Fatalf("devices %+v", ds)
	}
}
