package certreload

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/allot/allot/api/certreload/certtest"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type files struct {
	ca              *certtest.CA
	cert, key       string
	certPEM, keyPEM map[int64][]byte
}

func newFiles(t *testing.T) *files {
	dir := t.TempDir()
	f := &files{ca: certtest.NewCA(t, "edge test CA"), cert: filepath.Join(dir, "tls.crt"), key: filepath.Join(dir, "tls.key"),
		certPEM: map[int64][]byte{}, keyPEM: map[int64][]byte{}}
	for serial := int64(1); serial <= 3; serial++ {
		f.certPEM[serial], f.keyPEM[serial] = f.ca.Issue(t, certtest.Leaf{Serial: serial, DNSNames: []string{"localhost"},
			IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true})
	}
	f.write(t, 1)
	return f
}

func (f *files) write(t *testing.T, serial int64) {
	certtest.WriteFile(t, f.cert, f.certPEM[serial])
	certtest.WriteFile(t, f.key, f.keyPEM[serial])
}

// serveTLS serves HTTP/2 over TLS on 127.0.0.1 with src's certificates.
func serveTLS(t *testing.T, src *Source) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.Proto) }),
		TLSConfig:         src.ServerConfig(),
		ReadHeaderTimeout: 5 * time.Second,
	}
	done := make(chan error, 1)
	go func() { done <- srv.ServeTLS(ln, "", "") }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("ServeTLS: %v", err)
		}
	})
	return "https://" + ln.Addr().String() + "/"
}

// client is one HTTP/2 client; its connection is reused across requests.
func client(t *testing.T, ca *certtest.CA) *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.PEM)
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 5 * time.Second}
}

// serial makes a request and returns the serial of the server certificate seen, and whether
// the request reused an established connection.
func serial(t *testing.T, c *http.Client, url string) (int64, bool) {
	t.Helper()
	var reused bool
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused },
	})
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.ProtoMajor != 2 || string(body) != "HTTP/2.0" {
		t.Fatalf("protocol %s / %q, want HTTP/2", resp.Proto, body)
	}
	return resp.TLS.PeerCertificates[0].SerialNumber.Int64(), reused
}

func TestRotationWithoutRestart(t *testing.T) {
	f := newFiles(t)
	clk := &fakeClock{t: time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)}
	src, err := New(f.cert, f.key, Options{Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	url := serveTLS(t, src)
	old := client(t, f.ca)
	if s, _ := serial(t, old, url); s != 1 {
		t.Fatalf("first handshake: serial %d", s)
	}

	f.write(t, 2)
	if s, _ := serial(t, client(t, f.ca), url); s != 1 {
		t.Fatalf("before the check interval passed: serial %d, want the files not checked yet", s)
	}
	clk.Advance(time.Second)
	if s, _ := serial(t, client(t, f.ca), url); s != 2 {
		t.Fatalf("new handshake after the rotation: serial %d, want 2", s)
	}
	if s, reused := serial(t, old, url); s != 1 || !reused {
		t.Fatalf("established connection after the rotation: serial %d, reused %v; want it kept", s, reused)
	}

	// A rotation caught half-way (new certificate, old key) keeps the previous pair.
	certtest.WriteFile(t, f.cert, f.certPEM[3])
	clk.Advance(time.Second)
	if s, _ := serial(t, client(t, f.ca), url); s != 2 {
		t.Fatalf("half-written rotation: serial %d, want the previous pair", s)
	}
	certtest.WriteFile(t, f.key, f.keyPEM[3])
	clk.Advance(time.Second)
	if s, _ := serial(t, client(t, f.ca), url); s != 3 {
		t.Fatalf("completed rotation: serial %d, want 3", s)
	}

	// Files that vanish (a Secret being remounted) keep the pair too.
	os.Remove(f.cert)
	clk.Advance(time.Second)
	if s, _ := serial(t, client(t, f.ca), url); s != 3 {
		t.Fatalf("missing files: serial %d, want the previous pair", s)
	}
}

func TestNewRefuses(t *testing.T) {
	f := newFiles(t)
	if _, err := New(f.cert, "", Options{}); err == nil {
		t.Error("accepted a missing key file name")
	}
	if _, err := New(f.cert, filepath.Join(t.TempDir(), "none"), Options{}); err == nil {
		t.Error("accepted a key file that does not exist")
	}
	certtest.WriteFile(t, f.key, f.keyPEM[2])
	if _, err := New(f.cert, f.key, Options{}); err == nil {
		t.Error("accepted a key that does not match the certificate")
	}
	if _, err := New(f.cert, f.key, Options{Interval: -1}); err == nil {
		t.Error("accepted a negative interval")
	}
}

func TestServerConfig(t *testing.T) {
	f := newFiles(t)
	src, err := New(f.cert, f.key, Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := src.ServerConfig()
	if c.MinVersion != tls.VersionTLS12 || len(c.NextProtos) != 2 || c.NextProtos[0] != "h2" {
		t.Fatalf("server config: min version %x, protos %v", c.MinVersion, c.NextProtos)
	}
	cc, _ := src.GetClientCertificate(nil)
	if cc != src.Certificate() {
		t.Fatal("GetClientCertificate does not return the current pair")
	}
}
