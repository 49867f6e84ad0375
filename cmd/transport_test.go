package cmd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/allot/allot/cluster/clustertest"

	"github.com/allot/allot/api/certreload/certtest"
)

// TestEdgeServesTLSAndReloadsTheCertificate boots the real program with --tls-cert and
// --tls-key, checks a request over HTTPS (HTTP/2) against a test CA, then rotates the files
// and waits for the next handshake to present the new certificate.
func TestEdgeServesTLSAndReloadsTheCertificate(t *testing.T) {
	ca := certtest.NewCA(t, "edge test CA")
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	issue := func(serial int64) {
		c, k := ca.Issue(t, certtest.Leaf{Serial: serial, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true})
		certtest.WriteFile(t, keyFile, k)
		certtest.WriteFile(t, certFile, c)
	}
	issue(1)
	m := MustRunMain(t, func(c *NodeConfig) { c.Transport.TLSCert, c.Transport.TLSKey = certFile, keyFile })
	if !strings.HasPrefix(m.HTTPURL(), "https://") {
		t.Fatalf("HTTPURL %q: want https", m.HTTPURL())
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.PEM)
	// served makes a new connection (no reuse) and returns the serial of the certificate the
	// edge presented, and the protocol of the answer to GET /healthz.
	served := func() (*big.Int, string) {
		t.Helper()
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true, DisableKeepAlives: true}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr, Timeout: 5 * time.Second}).Get(m.HTTPURL() + "/healthz")
		if err != nil {
			t.Fatalf("GET /healthz over TLS: %v", err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /healthz over TLS: %d", resp.StatusCode)
		}
		return resp.TLS.PeerCertificates[0].SerialNumber, resp.Proto
	}
	if serial, proto := served(); serial.Int64() != 1 || proto != "HTTP/2.0" {
		t.Fatalf("served certificate %v over %s, want serial 1 over HTTP/2.0", serial, proto)
	}
	// Plain HTTP to a TLS edge gets no answer from the API.
	if resp, err := http.Get("http://" + strings.TrimPrefix(m.HTTPURL(), "https://") + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("plain HTTP served by a TLS edge")
		}
	}
	issue(2)
	deadline := time.Now().Add(10 * time.Second) // certreload checks the files at most once a second
	for {
		serial, _ := served()
		if serial.Int64() == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still serving certificate %v 10s after the rotation", serial)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func writeGossipKeys(t *testing.T, path string, keys ...[]byte) {
	t.Helper()
	var lines []string
	for _, k := range keys {
		lines = append(lines, base64.StdEncoding.EncodeToString(k))
	}
	certtest.WriteFile(t, path, []byte(strings.Join(lines, "\n")+"\n"))
}

// TestGossipKeyFileReloads: a running node applies a changed --gossip-key-file (install,
// switch, retire) to its ring, and keeps its keys when the file turns unreadable.
func TestGossipKeyFileReloads(t *testing.T) {
	oldKey, newKey := []byte(strings.Repeat("o", 32)), []byte(strings.Repeat("n", 32))
	path := filepath.Join(t.TempDir(), "gossip-keys")
	writeGossipKeys(t, path, oldKey)
	m := NewMain()
	m.Config.HTTPAddr, m.Config.GossipAddr, m.Config.RemoteAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	m.Config.AdvertiseAddr, m.Config.DataDir = "127.0.0.1", t.TempDir()
	m.Config.Transport.GossipKeyFile = path
	m.Logger = slog.New(slog.DiscardHandler)
	m.KeyReloadInterval = 20 * time.Millisecond
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	clustertest.BeforeInProcessNode(t, func() bool { return m.Node() != nil && !m.Closed() })
	if err := m.Run(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close() })
	ring := m.gossipKeys.ring
	waitRing := func(primary []byte, n int) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for string(ring.GetPrimaryKey()) != string(primary) || len(ring.GetKeys()) != n {
			if time.Now().After(deadline) {
				t.Fatalf("ring has %d keys, primary %q; want %d, %q", len(ring.GetKeys()), ring.GetPrimaryKey()[:1], n, primary[:1])
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitRing(oldKey, 1)
	writeGossipKeys(t, path, oldKey, newKey) // 1. install
	waitRing(oldKey, 2)
	writeGossipKeys(t, path, newKey, oldKey) // 2. switch
	waitRing(newKey, 2)
	writeGossipKeys(t, path, newKey) // 3. retire
	waitRing(newKey, 1)
	// A key file others can read is refused, and the ring kept.
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(base64.StdEncoding.EncodeToString(oldKey)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	m.gossipKeys.check()
	if string(ring.GetPrimaryKey()) != string(newKey) || len(ring.GetKeys()) != 1 {
		t.Fatal("a refused key file changed the ring")
	}
}

// TestPeerSecurityRule: a cluster member reachable beyond loopback needs gossip encryption
// and peer mTLS, or --insecure-peers; on loopback it runs without; a single node never needs
// them.
func TestPeerSecurityRule(t *testing.T) {
	ca := certtest.NewCA(t, "peer CA")
	dir := t.TempDir()
	caFile, certFile, keyFile, gossipFile := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "peer.crt"), filepath.Join(dir, "peer.key"), filepath.Join(dir, "gossip")
	c, k := ca.Issue(t, certtest.Leaf{Serial: 2, DNSNames: []string{"allot-peer"}, Server: true, Client: true})
	certtest.WriteFile(t, caFile, ca.PEM)
	certtest.WriteFile(t, certFile, c)
	certtest.WriteFile(t, keyFile, k)
	writeGossipKeys(t, gossipFile, []byte(strings.Repeat("k", 32)))
	gossip := func(c *NodeConfig) { c.Transport.GossipKeyFile = gossipFile }
	mtls := func(c *NodeConfig) {
		c.Transport.PeerCA, c.Transport.PeerCert, c.Transport.PeerKey = caFile, certFile, keyFile
	}
	exposed := func(c *NodeConfig) {
		c.DBURL = "postgresql://db/allot"
		c.GossipAddr, c.RemoteAddr, c.AdvertiseAddr = "10.1.2.3:7946", "10.1.2.3:8090", "10.1.2.3"
	}
	loopback := func(c *NodeConfig) {
		c.DBURL = "postgresql://db/allot"
		c.GossipAddr, c.RemoteAddr, c.AdvertiseAddr = "127.0.0.1:7946", "127.0.0.1:8090", "127.0.0.1"
	}
	for _, tc := range []struct {
		name string
		muts []func(*NodeConfig)
		want string // "" accepts
	}{
		{"exposed, nothing", []func(*NodeConfig){exposed}, "gossip encryption (--gossip-key-file) and peer mutual TLS"},
		{"exposed, gossip only", []func(*NodeConfig){exposed, gossip}, "needs peer mutual TLS"},
		{"exposed, mTLS only", []func(*NodeConfig){exposed, mtls}, "needs gossip encryption"},
		{"exposed, all interfaces", []func(*NodeConfig){exposed, func(c *NodeConfig) { c.GossipAddr = ":7946" }}, "--insecure-peers"},
		{"exposed, both", []func(*NodeConfig){exposed, gossip, mtls}, ""},
		{"exposed, insecure", []func(*NodeConfig){exposed, func(c *NodeConfig) { c.Transport.InsecurePeers = true }}, ""},
		{"loopback, nothing", []func(*NodeConfig){loopback}, ""},
		{"single node", nil, ""},
		{"bad gossip key file", []func(*NodeConfig){loopback, func(c *NodeConfig) { c.Transport.GossipKeyFile = certFile }}, "--gossip-key-file"},
		{"peer CA that is no certificate", []func(*NodeConfig){loopback, mtls, func(c *NodeConfig) { c.Transport.PeerCA = gossipFile }}, "peer TLS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMain()
			m.Logger = slog.New(slog.DiscardHandler)
			m.Config.KeyFile = filepath.Join(dir, "dev-signing-key.pem") // a cluster member in dev auth mode shares a key
			for _, f := range tc.muts {
				f(&m.Config)
			}
			if err := m.Config.validate(); err != nil {
				t.Fatalf("validate: %v", err)
			}
			cfg, _, err := m.clusterConfig()
			m.gossipKeys.stop()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want an error mentioning %q", err, tc.want)
			case tc.want == "" && m.Config.Transport.GossipKeyFile != "" && cfg.Gossip.Keyring == nil:
				t.Fatal("key file given but no key ring configured")
			case tc.want == "" && m.Config.Transport.PeerCA != "" && cfg.PeerTLS == nil:
				t.Fatal("peer files given but no peer TLS configured")
			}
		})
	}
}

func TestTransportConfigValidate(t *testing.T) {
	for name, mut := range map[string]func(*TransportConfig){
		"cert without key":        func(c *TransportConfig) { c.TLSCert = "x" },
		"peer CA alone":           func(c *TransportConfig) { c.PeerCA = "x" },
		"zero write timeout":      func(c *TransportConfig) { c.HTTPWriteTimeout = 0 },
		"header timeout too long": func(c *TransportConfig) { c.HTTPReadHeaderTimeout = time.Hour },
		"tiny header cap":         func(c *TransportConfig) { c.HTTPMaxHeaderBytes = 100 },
		"negative conn cap":       func(c *TransportConfig) { c.MaxConnsPerIP = -1 },
	} {
		c := DefaultTransportConfig()
		mut(&c)
		if err := c.validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	c := DefaultNodeConfig()
	c.GossipKey, c.Transport.GossipKeyFile = "a2V5", "/keys"
	if err := c.validate(); err == nil {
		t.Error("--gossip-key with --gossip-key-file accepted")
	}
	c = DefaultNodeConfig()
	c.RequestTimeout = c.Transport.HTTPWriteTimeout
	if err := c.validate(); err == nil {
		t.Error("a write timeout that cuts requests still within --request-timeout accepted")
	}
}
