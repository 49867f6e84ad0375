package clustertest

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/allot/allot/api/certreload/certtest"
	"github.com/allot/allot/cluster"
)

// PeerSecrets are one test cluster's secrets between nodes, as an operator's mounted Secrets
// provide them: a gossip key file and a cluster CA that issues each node its peer
// certificate. Nodes started with the same PeerSecrets (NodeOptions.Secrets) gossip
// encrypted and talk over mutual TLS, so the cluster tests exercise both. Safe for
// concurrent use.
type PeerSecrets struct {
	// Dir holds the files: gossip-keys, ca.crt, and <node>.crt/<node>.key per node.
	Dir           string
	GossipKeyFile string
	CAFile        string

	ca     *certtest.CA
	mu     sync.Mutex
	serial int64
}

// NewPeerSecrets makes a random gossip key and a CA in a temporary directory of tb.
func NewPeerSecrets(tb testing.TB) *PeerSecrets {
	tb.Helper()
	s := &PeerSecrets{Dir: tb.TempDir(), ca: certtest.NewCA(tb, "allot test cluster CA")}
	s.GossipKeyFile = filepath.Join(s.Dir, "gossip-keys")
	s.CAFile = filepath.Join(s.Dir, "ca.crt")
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(s.GossipKeyFile, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	certtest.WriteFile(tb, s.CAFile, s.ca.PEM)
	return s
}

// Args issues node name a peer certificate (DNS name allot-peer and host as IP, server and
// client auth) and returns the node flags that use the secrets.
func (s *PeerSecrets) Args(tb testing.TB, name, host string) []string {
	tb.Helper()
	s.mu.Lock()
	s.serial++
	serial := s.serial
	s.mu.Unlock()
	leaf := certtest.Leaf{Serial: serial + 1, DNSNames: []string{cluster.DefaultPeerServerName}, Server: true, Client: true}
	if ip := net.ParseIP(host); ip != nil {
		leaf.IPs = []net.IP{ip}
	}
	cert, key := s.ca.Issue(tb, leaf)
	certFile := filepath.Join(s.Dir, fmt.Sprintf("%s-%d.crt", name, serial))
	keyFile := filepath.Join(s.Dir, fmt.Sprintf("%s-%d.key", name, serial))
	certtest.WriteFile(tb, certFile, cert)
	certtest.WriteFile(tb, keyFile, key)
	return []string{"--gossip-key-file", s.GossipKeyFile, "--peer-ca", s.CAFile, "--peer-cert", certFile, "--peer-key", keyFile}
}
