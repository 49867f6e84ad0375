package cmd

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/memberlist"

	"github.com/allot/allot/api/certreload"
	"github.com/allot/allot/cluster"
)

// peerSecurity configures gossip encryption and the remote's mutual TLS from the flags, and
// enforces the node's rule for peers without them:
//
//   - a single node (no --db-url, no --join) talks to no peer: nothing is required;
//   - a cluster member whose gossip bind, remote bind and advertised hosts are all loopback
//     may run without either, with a warning (make cluster, tests on one machine);
//   - any other cluster member needs both gossip encryption (--gossip-key-file, or the
//     single --gossip-key) and peer mutual TLS (--peer-ca/--peer-cert/--peer-key), or
//     --insecure-peers, which starts it anyway with a warning.
//
// hosts are the gossip bind, remote bind and advertised hosts as resolved by clusterConfig.
func (m *Main) peerSecurity(cfg *cluster.NodeConfig, hosts []string) error {
	c := &m.Config
	tc := &c.Transport
	switch {
	case tc.GossipKeyFile != "":
		ring, err := cluster.LoadGossipKeyring(tc.GossipKeyFile)
		if err != nil {
			return fmt.Errorf("--gossip-key-file: %w", err)
		}
		cfg.Gossip.Keyring = ring
		every := m.KeyReloadInterval
		if every <= 0 {
			every = DefaultKeyReloadInterval
		}
		m.gossipKeys = watchGossipKeys(tc.GossipKeyFile, ring, every, m.Logger.With("component", "gossip"))
	case c.GossipKey != "":
		key, err := base64.StdEncoding.DecodeString(c.GossipKey)
		if err != nil {
			return fmt.Errorf("--gossip-key: not base64: %w", err)
		}
		cfg.Gossip.SecretKey = key
	}
	if tc.peerTLS() {
		p, err := cluster.LoadPeerTLS(cluster.PeerTLSFiles{CA: tc.PeerCA, Cert: tc.PeerCert, Key: tc.PeerKey},
			certreload.Options{Logger: m.Logger.With("component", "cluster")})
		if err != nil {
			return fmt.Errorf("peer TLS: %w", err)
		}
		cfg.PeerTLS = p
	}
	if c.Single() {
		return nil
	}
	var missing string
	switch gossip := cfg.Gossip.Keyring != nil || len(cfg.Gossip.SecretKey) > 0; {
	case !gossip && cfg.PeerTLS == nil:
		missing = "gossip encryption (--gossip-key-file) and peer mutual TLS (--peer-ca, --peer-cert, --peer-key)"
	case !gossip:
		missing = "gossip encryption (--gossip-key-file)"
	case cfg.PeerTLS == nil:
		missing = "peer mutual TLS (--peer-ca, --peer-cert, --peer-key)"
	default:
		return nil
	}
	switch {
	case loopbackOnly(hosts...):
		m.Logger.Warn("cluster traffic is not protected; allowed because every peer address is loopback", "missing", missing)
	case tc.InsecurePeers:
		m.Logger.Warn("cluster traffic is not protected (--insecure-peers): any host that reaches the gossip or remote port can join or send commands", "missing", missing, "addresses", hosts)
	default:
		return errInsecurePeers(missing, hosts)
	}
	return nil
}

// gossipKeyWatcher re-reads the gossip key file when it changes and applies it to the
// running ring with cluster.SyncGossipKeyring (install new keys, switch the primary, remove
// the keys no longer listed). A file that does not load is logged and the ring kept. Its
// goroutine runs until stop.
type gossipKeyWatcher struct {
	path string
	ring *memberlist.Keyring
	log  *slog.Logger

	mu   sync.Mutex // serializes check (its goroutine, tests)
	last os.FileInfo

	quit     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

func watchGossipKeys(path string, ring *memberlist.Keyring, every time.Duration, log *slog.Logger) *gossipKeyWatcher {
	w := &gossipKeyWatcher{path: path, ring: ring, log: log, quit: make(chan struct{}), done: make(chan struct{})}
	w.last, _ = os.Stat(path)
	go w.run(every)
	return w
}

func (w *gossipKeyWatcher) run(every time.Duration) {
	defer close(w.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-w.quit:
			return
		case <-t.C:
			w.check()
		}
	}
}

// check applies the file if it changed (identity, size or modification time: a Kubernetes
// Secret update swaps a symlink, an operator's edit changes the time).
func (w *gossipKeyWatcher) check() {
	w.mu.Lock()
	defer w.mu.Unlock()
	st, err := os.Stat(w.path)
	if err != nil {
		w.log.Warn("gossip key file unreadable; keeping the current keys", "err", err)
		return
	}
	if w.last != nil && os.SameFile(st, w.last) && st.Size() == w.last.Size() && st.ModTime().Equal(w.last.ModTime()) {
		return
	}
	keys, err := cluster.LoadGossipKeys(w.path)
	if err != nil {
		w.log.Warn("gossip key file changed but does not load; keeping the current keys", "err", err)
		return
	}
	if err := cluster.SyncGossipKeyring(w.ring, keys); err != nil {
		w.log.Error("applying the changed gossip key file", "err", err)
		return
	}
	w.last = st
	w.log.Info("gossip keys reloaded", "keys", len(keys)) // never the keys themselves
}

// stop ends the watcher and waits for it; safe on nil and twice.
func (w *gossipKeyWatcher) stop() {
	if w == nil {
		return
	}
	w.stopOnce.Do(func() { close(w.quit) })
	<-w.done
}

// hostOf is the host of a host:port address (the address itself when it has no port).
func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}
