package cluster

// Peer security between real member processes (node_proc_test.go): gossip encryption with a
// key file and the actor remote over mutual TLS, configured as cmd configures them.

import (
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/allot/allot/api/certreload"
	"github.com/allot/allot/api/certreload/certtest"
)

// secure applies the spec's peer security to cfg (nothing when the spec has none).
func (s childSpec) secure(cfg *NodeConfig) error {
	if s.GossipKeyFile != "" {
		ring, err := LoadGossipKeyring(s.GossipKeyFile)
		if err != nil {
			return err
		}
		cfg.Gossip.Keyring = ring
	}
	if s.Peer.CA != "" {
		p, err := LoadPeerTLS(s.Peer, certreload.Options{})
		if err != nil {
			return err
		}
		cfg.PeerTLS = p
	}
	return nil
}

// peerSecrets writes a gossip key file (key k) and a peer certificate from ca, trusting
// trust, into a new directory, and returns the child spec that uses them.
func peerSecrets(t *testing.T, k byte, ca, trust *certtest.CA, serial int64, join ...string) childSpec {
	t.Helper()
	dir := t.TempDir()
	spec := childSpec{Join: join, GossipKeyFile: filepath.Join(dir, "gossip-keys"), Peer: PeerTLSFiles{
		CA: filepath.Join(dir, "ca.crt"), Cert: filepath.Join(dir, "peer.crt"), Key: filepath.Join(dir, "peer.key"),
	}}
	if err := os.WriteFile(spec.GossipKeyFile, []byte(base64.StdEncoding.EncodeToString(gossipKey(k))+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, key := ca.Issue(t, certtest.Leaf{Serial: serial, DNSNames: []string{DefaultPeerServerName}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, Server: true, Client: true})
	certtest.WriteFile(t, spec.Peer.CA, trust.PEM)
	certtest.WriteFile(t, spec.Peer.Cert, cert)
	certtest.WriteFile(t, spec.Peer.Key, key)
	return spec
}

func mustProcNodeSpec(t *testing.T, spec childSpec) *procNode {
	t.Helper()
	p, err := startProcNodeSpec(t, spec)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func lists(members []MemberInfo, id string) bool {
	return slices.ContainsFunc(members, func(m MemberInfo) bool { return m.ID == id })
}

// TestSecureClusterServesAcrossMembers: two members with the same gossip key and peer
// certificates from the cluster CA form one cluster, and each serves the other's
// identities over the mutual-TLS remote.
func TestSecureClusterServesAcrossMembers(t *testing.T) {
	ca := certtest.NewCA(t, "cluster CA")
	a := mustProcNodeSpec(t, peerSecrets(t, 1, ca, ca, 1))
	b := mustProcNodeSpec(t, peerSecrets(t, 1, ca, ca, 2, a.self.GossipAddr))
	nodes := []*procNode{a, b}
	waitProcTopology(t, 10*time.Second, nodes, nodes)
	served := requestVia(t, identities(40), nodes)
	if served[a.addr()] == 0 || served[b.addr()] == 0 {
		t.Fatalf("served per member %v: want both to serve (requests crossed the remote both ways)", served)
	}
}

// TestGossipWithWrongKeyNeverJoins: a member whose gossip key differs keeps trying its seed;
// the seed refuses every message (it cannot decrypt them) and never lists it.
func TestGossipWithWrongKeyNeverJoins(t *testing.T) {
	ca := certtest.NewCA(t, "cluster CA")
	a := mustProcNodeSpec(t, peerSecrets(t, 1, ca, ca, 1))
	intruder := mustProcNodeSpec(t, peerSecrets(t, 2, ca, ca, 2, a.self.GossipAddr))
	// The event that shows the intruder tried, several times: a logs undecryptable gossip.
	waitFor(t, 20*time.Second, func() (bool, string) {
		n := strings.Count(a.stderr.String(), "decrypt")
		return n >= 3, fmt.Sprintf("the seed logged %d undecryptable messages", n)
	})
	if lists(a.members(), intruder.self.ID) {
		t.Fatal("the seed lists the member with the wrong gossip key")
	}
	if ms := intruder.members(); len(ms) != 1 {
		t.Fatalf("the member with the wrong key knows %d members: %+v", len(ms), ms)
	}
	if got := a.topology(); !slices.Equal(got, []string{a.addr()}) {
		t.Fatalf("the seed's topology %v includes others", got)
	}
}

// TestPeerFromAnotherCACannotExchangeMessages: a member with the right gossip key but a peer
// certificate from another CA is listed by gossip (which it can decrypt), but no actor
// message crosses between it and the cluster: the seed refuses its client certificate and it
// refuses the seed's server certificate. Identities it owns fail from the seed, identities
// the seed owns fail through it, and the seed's own identities keep working.
func TestPeerFromAnotherCACannotExchangeMessages(t *testing.T) {
	clusterCA, otherCA := certtest.NewCA(t, "cluster CA"), certtest.NewCA(t, "another CA")
	a := mustProcNodeSpec(t, peerSecrets(t, 1, clusterCA, clusterCA, 1))
	rogue := mustProcNodeSpec(t, peerSecrets(t, 1, otherCA, otherCA, 2, a.self.GossipAddr))
	nodes := []*procNode{a, rogue}
	waitProcTopology(t, 10*time.Second, nodes, nodes)

	var ownedByA, ownedByRogue []string
	for _, r := range a.call(childCmd{Op: "owners", IDs: identities(40)}).Results {
		if r.Owner == a.addr() {
			ownedByA = append(ownedByA, r.ID)
		} else {
			ownedByRogue = append(ownedByRogue, r.ID)
		}
	}
	if len(ownedByA) < 3 || len(ownedByRogue) < 3 {
		t.Fatalf("owners split %d/%d; want both to own some", len(ownedByA), len(ownedByRogue))
	}
	check := func(via *procNode, ids []string, wantOK bool) {
		t.Helper()
		for _, r := range via.call(childCmd{Op: "request", IDs: ids, Value: "who", TimeoutMS: 2000}).Results {
			if ok := r.Err == ""; ok != wantOK {
				t.Errorf("request %s via %s (owner %s): err %q, reply %q", r.ID, via.addr(), r.Owner, r.Err, r.Reply)
			}
		}
	}
	check(a, ownedByRogue[:3], false)
	check(rogue, ownedByA[:3], false)
	check(a, ownedByA[:3], true)
	for _, log := range []string{a.stderr.String(), rogue.stderr.String()} {
		if !strings.Contains(log, "tls: failed to verify certificate") {
			t.Errorf("no refused peer certificate logged:\n%s", log)
		}
	}
}
