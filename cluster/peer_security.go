package cluster

// Node-to-node security: the memberlist gossip key ring (`--gossip-key-file`) and mutual TLS
// for the actor remote (`--peer-ca`, `--peer-cert`, `--peer-key`). This file only builds the
// pieces; Node and Provider take them as described below.
//
// # How Node takes them (for the lead; node.go and provider*.go are not changed here)
//
// Gossip key ring:
//   - ProviderConfig gets `Keyring *memberlist.Keyring` (documented as: the gossip
//     encryption keys; takes precedence over SecretKey; owned by the Provider once passed).
//     validate: SecretKey and Keyring are not both set.
//   - provider.go, where the memberlist config is built: `mc.Keyring = p.cfg.Keyring`
//     (keep `mc.SecretKey = p.cfg.SecretKey` for the single-key flag; memberlist installs it
//     as primary into the ring if both were set). GossipVerifyIncoming and
//     GossipVerifyOutgoing stay at memberlist's default, true: unencrypted packets are
//     refused.
//   - cmd: `--gossip-key-file` (ALLOT_GOSSIP_KEY_FILE) -> LoadGossipKeyring(path) ->
//     NodeConfig.Gossip.Keyring. A fresh Keyring per Node (memberlist mutates it). For a
//     rotation without restart, keep the Keyring and on SIGHUP (or a 10 s poll of the file's
//     modification time) call LoadGossipKeys + SyncGossipKeyring(ring, keys).
//
// Actor remote over mutual TLS:
//   - cmd: `--peer-ca`, `--peer-cert`, `--peer-key` (all three or none; ALLOT_PEER_*) and
//     optionally `--peer-server-name` -> LoadPeerTLS(PeerTLSFiles{...}, certreload.Options{
//     Logger: log}) -> NodeConfig.PeerTLS (a new field, *PeerTLS; nil = plaintext, allowed
//     only with --insecure-peers or on loopback).
//   - node.go, in NewNode: `n.remote = remote.Configure("", 0, cfg.PeerTLS.RemoteOptions()...)`
//     when cfg.PeerTLS != nil (RemoteOptions replaces protoactor's default
//     grpc.WithInsecure dial option). configureRemote only sets Host, Port and
//     AdvertisedHost on that config afterwards, so nothing else changes.
//   - Every node's certificate is issued by the cluster's own CA (never a public CA), with
//     both server and client extended key usage and the DNS name PeerTLSFiles.ServerName
//     (default "allot-peer"); peers are dialled by IP, so the name, not the address, is what
//     the client verifies. The certificate and key are reloaded when their files change
//     (cert-manager renewals need no restart); the CA file is read at start.

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/asynkron/protoactor-go/remote"
	"github.com/hashicorp/memberlist"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/allot/allot/api/certreload"
)

// ErrKeyFile is wrapped by every error about the content of a gossip key file.
var ErrKeyFile = errors.New("cluster: bad gossip key file")

// ParseGossipKeys reads a gossip key file: one base64 key (16, 24 or 32 bytes: AES-128,
// -192 or -256) a line, blank lines and # comments ignored. The first key is the primary,
// which encrypts; all of them decrypt. Errors name the line, never the key.
func ParseGossipKeys(data []byte) ([][]byte, error) {
	var keys [][]byte
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := base64.StdEncoding.DecodeString(line)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d is not standard base64", ErrKeyFile, n+1)
		}
		if err := memberlist.ValidateKey(k); err != nil {
			return nil, fmt.Errorf("%w: line %d: %d bytes, want 16, 24 or 32", ErrKeyFile, n+1, len(k))
		}
		for i, prev := range keys {
			if slices.Equal(prev, k) {
				return nil, fmt.Errorf("%w: line %d repeats key %d", ErrKeyFile, n+1, i+1)
			}
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no key", ErrKeyFile)
	}
	return keys, nil
}

// LoadGossipKeys reads the gossip key file at path (`--gossip-key-file`), refusing one that
// group or others may read.
func LoadGossipKeys(path string) ([][]byte, error) {
	data, err := readSecretFile(path)
	if err != nil {
		return nil, err
	}
	defer clear(data)
	keys, err := ParseGossipKeys(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return keys, nil
}

// LoadGossipKeyring reads the gossip key file at path into a new memberlist key ring whose
// primary is the file's first key. Each memberlist instance needs a ring of its own.
func LoadGossipKeyring(path string) (*memberlist.Keyring, error) {
	keys, err := LoadGossipKeys(path)
	if err != nil {
		return nil, err
	}
	return NewGossipKeyring(keys)
}

// NewGossipKeyring returns a memberlist key ring holding keys, the first as primary.
func NewGossipKeyring(keys [][]byte) (*memberlist.Keyring, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no key", ErrKeyFile)
	}
	ring, err := memberlist.NewKeyring(keys, keys[0])
	if err != nil {
		return nil, fmt.Errorf("cluster: gossip key ring: %w", err)
	}
	return ring, nil
}

// SyncGossipKeyring makes a running node's ring hold exactly keys, keys[0] primary: it
// installs new keys, switches the primary, then removes keys no longer listed, in that order
// so that the ring never lacks a key a peer may still use. It is how a changed key file is
// applied without a restart.
func SyncGossipKeyring(ring *memberlist.Keyring, keys [][]byte) error {
	if len(keys) == 0 {
		return fmt.Errorf("%w: no key", ErrKeyFile)
	}
	for _, k := range keys {
		if err := ring.AddKey(k); err != nil { // no-op for an installed key
			return fmt.Errorf("cluster: install gossip key: %w", err)
		}
	}
	if err := ring.UseKey(keys[0]); err != nil {
		return fmt.Errorf("cluster: use gossip key: %w", err)
	}
	for _, k := range ring.GetKeys() {
		if !slices.ContainsFunc(keys, func(w []byte) bool { return slices.Equal(w, k) }) {
			if err := ring.RemoveKey(k); err != nil {
				return fmt.Errorf("cluster: remove gossip key: %w", err)
			}
		}
	}
	return nil
}

// DefaultPeerServerName is the DNS name every node's peer certificate carries and every
// client verifies.
const DefaultPeerServerName = "allot-peer"

// PeerTLSFiles names the PEM files of the actor remote's mutual TLS.
type PeerTLSFiles struct {
	CA   string // --peer-ca: the cluster CA's certificate(s); only it is trusted
	Cert string // --peer-cert: this node's certificate (server and client auth)
	Key  string // --peer-key: its private key
	// ServerName is the name clients verify in a peer's certificate; default
	// DefaultPeerServerName.
	ServerName string
}

// PeerTLS is the mutual TLS of the actor remote: a server that requires and verifies client
// certificates, and a client that verifies the server, both against the cluster CA only,
// TLS 1.3 only. Safe for concurrent use.
type PeerTLS struct {
	pool       *x509.CertPool
	certs      *certreload.Source
	serverName string
}

// LoadPeerTLS reads the CA and this node's certificate and key; opts configures the
// certificate's reload (see certreload).
func LoadPeerTLS(files PeerTLSFiles, opts certreload.Options) (*PeerTLS, error) {
	if files.CA == "" || files.Cert == "" || files.Key == "" {
		return nil, errors.New("cluster: peer TLS needs a CA, a certificate and a key file")
	}
	if files.ServerName == "" {
		files.ServerName = DefaultPeerServerName
	}
	caPEM, err := os.ReadFile(files.CA)
	if err != nil {
		return nil, fmt.Errorf("cluster: peer CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("cluster: peer CA %s holds no PEM certificate", files.CA)
	}
	if _, err := readSecretFile(files.Key); err != nil {
		return nil, fmt.Errorf("cluster: peer key: %w", err)
	}
	certs, err := certreload.New(files.Cert, files.Key, opts)
	if err != nil {
		return nil, fmt.Errorf("cluster: peer certificate: %w", err)
	}
	return &PeerTLS{pool: pool, certs: certs, serverName: files.ServerName}, nil
}

// ServerConfig is the remote's server side: client certificates required and verified.
func (p *PeerTLS) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS13,
		ClientAuth:     tls.RequireAndVerifyClientCert,
		ClientCAs:      p.pool,
		GetCertificate: p.certs.GetCertificate,
	}
}

// ClientConfig is the remote's client side: the server verified against the CA under
// ServerName, and this node's certificate offered.
func (p *PeerTLS) ClientConfig() *tls.Config {
	return &tls.Config{
		MinVersion:           tls.VersionTLS13,
		RootCAs:              p.pool,
		ServerName:           p.serverName,
		GetClientCertificate: p.certs.GetClientCertificate,
	}
}

// ServerOption and DialOption are the gRPC options for the two sides.
func (p *PeerTLS) ServerOption() grpc.ServerOption {
	return grpc.Creds(credentials.NewTLS(p.ServerConfig()))
}

func (p *PeerTLS) DialOption() grpc.DialOption {
	return grpc.WithTransportCredentials(credentials.NewTLS(p.ClientConfig()))
}

// RemoteOptions configure a protoactor remote for mutual TLS (remote.Configure(host, port,
// p.RemoteOptions()...)). They replace protoactor's default dial options, which are
// plaintext.
func (p *PeerTLS) RemoteOptions() []remote.ConfigOption {
	return []remote.ConfigOption{
		remote.WithServerOptions(p.ServerOption()),
		remote.WithDialOptions(p.DialOption()),
	}
}

// readSecretFile reads a key file, refusing one that group or others may read.
func readSecretFile(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("cluster: %s: mode %#o lets others read the key; chmod 600 it (Kubernetes: defaultMode 0400)", path, st.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	return data, nil
}
