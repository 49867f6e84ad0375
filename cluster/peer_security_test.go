package cluster

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/remote"
	"github.com/hashicorp/memberlist"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/allot/allot/api/certreload"
	"github.com/allot/allot/api/certreload/certtest"
)

// gossipKey is a fixed 32-byte key made from b, so that tests are repeatable.
func gossipKey(b byte) []byte { return []byte(strings.Repeat(string(rune('A'+b%26)), 32)) }

func keyFile(t *testing.T, keys ...[]byte) string {
	t.Helper()
	var lines []string
	for _, k := range keys {
		lines = append(lines, base64.StdEncoding.EncodeToString(k))
	}
	path := filepath.Join(t.TempDir(), "gossip-keys")
	if err := os.WriteFile(path, []byte("# gossip keys, primary first\n"+strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// gossiper starts a bare memberlist on 127.0.0.1 with ring, as Provider will.
func gossiper(t *testing.T, name string, ring *memberlist.Keyring) *memberlist.Memberlist {
	t.Helper()
	mc := memberlist.DefaultLocalConfig()
	mc.Name = name
	mc.BindAddr, mc.BindPort, mc.AdvertisePort = "127.0.0.1", 0, 0
	mc.Keyring = ring
	mc.TCPTimeout = 2 * time.Second
	mc.LogOutput = io.Discard
	ml, err := memberlist.Create(mc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ml.Shutdown() })
	return ml
}

func ring(t *testing.T, keys ...[]byte) *memberlist.Keyring {
	t.Helper()
	r, err := LoadGossipKeyring(keyFile(t, keys...))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestGossipSameKeyJoinsOtherKeyCannot(t *testing.T) {
	a := gossiper(t, "a", ring(t, gossipKey(1)))
	b := gossiper(t, "b", ring(t, gossipKey(1)))
	if n, err := b.Join([]string{a.LocalNode().Address()}); err != nil || n != 1 {
		t.Fatalf("same key: joined %d, %v", n, err)
	}
	if b.NumMembers() != 2 { // b merged a's state in the exchange; a merges b's on its own goroutine
		t.Fatalf("members of b after join: %d", b.NumMembers())
	}
	intruder := gossiper(t, "intruder", ring(t, gossipKey(2)))
	if n, err := intruder.Join([]string{a.LocalNode().Address()}); err == nil || n != 0 {
		t.Fatalf("other key: joined %d, %v", n, err)
	}
	if intruder.NumMembers() != 1 {
		t.Fatalf("after the refused join the intruder knows %d members", intruder.NumMembers())
	}
	for _, m := range a.Members() {
		if m.Name == "intruder" {
			t.Fatal("a lists the intruder")
		}
	}
}

// TestGossipKeyRotation rotates the key of a running two-node cluster the way
// docs/SECURITY.md says, applying each step with SyncGossipKeyring, and shows that nodes stay
// connected throughout, that a node with only the new key can join after step 2, and that a
// node with only the old key cannot after step 3.
func TestGossipKeyRotation(t *testing.T) {
	oldKey, newKey := gossipKey(1), gossipKey(2)
	ra, rb := ring(t, oldKey), ring(t, oldKey)
	a, b := gossiper(t, "a", ra), gossiper(t, "b", rb)
	if _, err := b.Join([]string{a.LocalNode().Address()}); err != nil {
		t.Fatal(err)
	}
	step := func(keys ...[]byte) {
		t.Helper()
		for _, r := range []*memberlist.Keyring{ra, rb} {
			if err := SyncGossipKeyring(r, keys); err != nil {
				t.Fatal(err)
			}
		}
		// A push/pull exchange, both ways, proves the two still understand each other.
		if _, err := b.Join([]string{a.LocalNode().Address()}); err != nil {
			t.Fatalf("b to a after the step: %v", err)
		}
		if _, err := a.Join([]string{b.LocalNode().Address()}); err != nil {
			t.Fatalf("a to b after the step: %v", err)
		}
	}
	step(oldKey, newKey) // 1. install the new key everywhere
	step(newKey, oldKey) // 2. make it primary everywhere
	c := gossiper(t, "c", ring(t, newKey))
	if n, err := c.Join([]string{a.LocalNode().Address()}); err != nil || n != 1 {
		t.Fatalf("a node with only the new key: %d, %v", n, err)
	}
	step(newKey) // 3. drop the old key
	if got := ra.GetKeys(); len(got) != 1 || string(got[0]) != string(newKey) || string(ra.GetPrimaryKey()) != string(newKey) {
		t.Fatalf("ring after rotation holds %d keys", len(got))
	}
	stale := gossiper(t, "stale", ring(t, oldKey))
	if n, err := stale.Join([]string{a.LocalNode().Address()}); err == nil || n != 0 {
		t.Fatalf("a node with only the old key joined after the rotation: %d, %v", n, err)
	}
}

func TestParseGossipKeysRefuses(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString
	for name, content := range map[string]string{
		"empty":      "\n# none\n",
		"not base64": "%%%",
		"short":      b64([]byte("0123456789")),
		"odd size":   b64([]byte(strings.Repeat("x", 20))),
		"repeated":   b64(gossipKey(1)) + "\n" + b64(gossipKey(1)),
	} {
		_, err := ParseGossipKeys([]byte(content))
		if !errors.Is(err, ErrKeyFile) {
			t.Errorf("%s: %v, want ErrKeyFile", name, err)
		}
		if err != nil && strings.Contains(err.Error(), b64(gossipKey(1))[:8]) {
			t.Errorf("%s: the error quotes the key", name)
		}
	}
	for _, n := range []int{16, 24, 32} {
		if keys, err := ParseGossipKeys([]byte(b64([]byte(strings.Repeat("k", n))))); err != nil || len(keys) != 1 {
			t.Errorf("%d-byte key: %v", n, err)
		}
	}
	path := keyFile(t, gossipKey(1))
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadGossipKeyring(path); err == nil {
		t.Error("loaded a key file others may read")
	}
	if err := SyncGossipKeyring(ring(t, gossipKey(1)), nil); err == nil {
		t.Error("synced a ring to no key")
	}
}

// peerFiles issues a node certificate from ca and writes the three peer files.
func peerFiles(t *testing.T, trust, issuer *certtest.CA, serial int64) PeerTLSFiles {
	t.Helper()
	dir := t.TempDir()
	certPEM, keyPEM := issuer.Issue(t, certtest.Leaf{Serial: serial, DNSNames: []string{DefaultPeerServerName}, Server: true, Client: true})
	f := PeerTLSFiles{CA: filepath.Join(dir, "ca.crt"), Cert: filepath.Join(dir, "tls.crt"), Key: filepath.Join(dir, "tls.key")}
	for path, data := range map[string][]byte{f.CA: trust.PEM, f.Cert: certPEM, f.Key: keyPEM} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func loadPeer(t *testing.T, f PeerTLSFiles) *PeerTLS {
	t.Helper()
	p, err := LoadPeerTLS(f, certreload.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// grpcServer serves the gRPC health service over p's server side on 127.0.0.1.
func grpcServer(t *testing.T, p *PeerTLS) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer(p.ServerOption())
	healthpb.RegisterHealthServer(s, health.NewServer())
	go func() { _ = s.Serve(ln) }()
	t.Cleanup(s.Stop)
	return ln.Addr().String()
}

// check makes one health RPC to addr with dial, waiting at most 3 s.
func check(t *testing.T, addr string, dial grpc.DialOption) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	conn, err := grpc.DialContext(ctx, addr, dial)
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err == nil && resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return errors.New("not serving")
	}
	return err
}

func TestPeerMutualTLS(t *testing.T) {
	clusterCA, otherCA := certtest.NewCA(t, "allot cluster CA"), certtest.NewCA(t, "some other CA")
	server := loadPeer(t, peerFiles(t, clusterCA, clusterCA, 1))
	addr := grpcServer(t, server)

	if err := check(t, addr, loadPeer(t, peerFiles(t, clusterCA, clusterCA, 2)).DialOption()); err != nil {
		t.Fatalf("a peer with a cluster certificate: %v", err)
	}
	if err := check(t, addr, loadPeer(t, peerFiles(t, clusterCA, otherCA, 3)).DialOption()); err == nil {
		t.Fatal("a client whose certificate is from another CA was accepted")
	}
	// A client that trusts another CA refuses the server.
	if err := check(t, addr, loadPeer(t, peerFiles(t, otherCA, otherCA, 4)).DialOption()); err == nil {
		t.Fatal("a client accepted a server it does not trust")
	}
	// A client with no certificate, or no TLS at all, is refused.
	noCert := loadPeer(t, peerFiles(t, clusterCA, clusterCA, 5)).ClientConfig()
	noCert.GetClientCertificate = nil
	if err := check(t, addr, grpc.WithTransportCredentials(credentials.NewTLS(noCert))); err == nil {
		t.Fatal("a client without a certificate was accepted")
	}
	if err := check(t, addr, grpc.WithTransportCredentials(insecure.NewCredentials())); err == nil {
		t.Fatal("a plaintext client was accepted")
	}
}

func TestPeerTLSSettings(t *testing.T) {
	ca := certtest.NewCA(t, "allot cluster CA")
	f := peerFiles(t, ca, ca, 1)
	p := loadPeer(t, f)
	s, c := p.ServerConfig(), p.ClientConfig()
	if s.MinVersion != 0x0304 || c.MinVersion != 0x0304 || s.ClientAuth != 4 || c.ServerName != DefaultPeerServerName || c.InsecureSkipVerify {
		t.Fatalf("server %+v / client %+v", s, c)
	}
	rc := remote.Configure("127.0.0.1", 0, p.RemoteOptions()...)
	if len(rc.ServerOptions) != 1 || len(rc.DialOptions) != 1 {
		t.Fatalf("remote options: %d server, %d dial (the default plaintext dial option must be replaced)", len(rc.ServerOptions), len(rc.DialOptions))
	}
	bad := f
	bad.CA = f.Key // no certificate in it
	if _, err := LoadPeerTLS(bad, certreload.Options{}); err == nil {
		t.Error("accepted a CA file with no certificate")
	}
	if _, err := LoadPeerTLS(PeerTLSFiles{CA: f.CA, Cert: f.Cert}, certreload.Options{}); err == nil {
		t.Error("accepted a missing key")
	}
	if err := os.Chmod(f.Key, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadPeerTLS(f, certreload.Options{}); err == nil {
		t.Error("accepted a key file others may read")
	}
}
