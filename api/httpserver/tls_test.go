package httpserver

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/allot/allot/api/certreload"
	"github.com/allot/allot/api/certreload/certtest"
)

// TestTLSWiring serves the edge the way the package documentation says the node will: the
// per-IP cap on the TCP listener, TLS with certreload on top, HTTP/2. An over-cap connection
// is closed before any handshake.
func TestTLSWiring(t *testing.T) {
	ca := certtest.NewCA(t, "edge CA")
	certPEM, keyPEM := ca.Issue(t, certtest.Leaf{Serial: 7, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true})
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	certtest.WriteFile(t, certFile, certPEM)
	certtest.WriteFile(t, keyFile, keyPEM)
	certs, err := certreload.New(certFile, keyFile, certreload.Options{})
	if err != nil {
		t.Fatal(err)
	}

	cfg := DefaultConfig()
	cfg.MaxConnsPerIP = 1
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := Listen(tcp, cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.Proto) }), cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv.TLSConfig = certs.ServerConfig()
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("ServeTLS: %v", err)
		}
	})

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.PEM)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get("https://" + tcp.Addr().String() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "HTTP/2.0" || resp.TLS.PeerCertificates[0].SerialNumber.Int64() != 7 {
		t.Fatalf("answer %q over %s", body, resp.Proto)
	}
	// The client's connection is kept alive, so a second one from 127.0.0.1 is over the cap.
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", tcp.Addr().String(), &tls.Config{RootCAs: pool})
	if err == nil {
		c.Close()
		t.Fatal("a TLS handshake completed on an over-cap connection")
	}
}
