package cluster

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/cluster"
	"github.com/prometheus/client_golang/prometheus"
)

// NodeConfig configures a Node. Start from DefaultNodeConfig; validate (called by
// NewNode) rejects inconsistent values. NewNode copies it; Kinds are shared, not copied.
type NodeConfig struct {
	// ClusterName names the protoactor cluster; members of different clusters ignore
	// each other (it is also the gossip Label unless Gossip.Label is set). Default
	// "allot".
	ClusterName string

	// RemoteAddr is the host:port protoactor remote (gRPC) listens on. Default ":8090".
	// Port 0 picks a free port. With a specific IP and no AdvertiseRemoteAddr,
	// protoactor itself binds port 0 and advertises the real listener address;
	// otherwise the Node reserves a free port first (listen, close, reuse: another
	// process could take it in between, in which case Start fails).
	RemoteAddr string

	// AdvertiseRemoteAddr is the host:port other members dial (e.g. the pod IP).
	// Optional; a missing or zero port means the bound port. Without it the Node
	// advertises the bind IP, or the gossip layer's advertised IP when bound to all
	// interfaces.
	AdvertiseRemoteAddr string

	// PeerTLS, if set, puts the actor remote (gRPC between members) on mutual TLS 1.3 with
	// the cluster CA (LoadPeerTLS: `--peer-ca`, `--peer-cert`, `--peer-key`): a member
	// serves and dials only peers whose certificate the CA issued. Nil means plaintext gRPC;
	// the node's configuration decides when that is allowed (cmd: loopback or
	// --insecure-peers). Shared, not copied.
	PeerTLS *PeerTLS

	// Gossip configures the memberlist Provider.
	Gossip ProviderConfig

	// Kinds are the virtual-actor kinds this member hosts. Build them with
	// cluster.NewKind (it installs the middleware that gives activations their
	// identity), or of IdentifiedActors that announce their own stop (placement.go;
	// resource.Kind). Every member of a kind must host the same props. Kind names must be
	// unique and free of '/' and '.' (protoactor builds keys with them); their total
	// length is bounded by memberlist's 512-byte metadata limit.
	Kinds []*cluster.Kind

	// RequestTimeout bounds Node.Request when the caller's context has no earlier
	// deadline, and protoactor's own Cluster.Request. Default 5s.
	RequestTimeout time.Duration

	// HandoverGrace is how long a member that saw itself in a minority of the members it
	// knows (cut off from its peers; it activates nothing meanwhile) holds activation
	// requests once it sees a majority again, so that the members that own its resources
	// meanwhile learn it is back and stop their activations gracefully first (ending their
	// leases) instead of being fenced and waited out (placement.go). Zero: no wait.
	// Default 1s.
	HandoverGrace time.Duration

	// Registerer receives the Node's metrics; nil disables them. Use one registry per
	// Node: the collectors are registered by NewNode and never unregistered.
	Registerer prometheus.Registerer

	// Logger receives Node and gossip logs (Gossip.Logger, if set, takes precedence for
	// gossip) and, filtered by ProtoActorLogLevel, protoactor's logs. Nil discards.
	Logger *slog.Logger

	// ProtoActorLogLevel is the minimum level of protoactor's (very chatty) logs.
	// Nil means slog.LevelWarn.
	ProtoActorLogLevel slog.Leveler
}

// DefaultNodeConfig returns the defaults documented on NodeConfig.
func DefaultNodeConfig() NodeConfig {
	return NodeConfig{
		ClusterName:    "allot",
		RemoteAddr:     ":8090",
		Gossip:         DefaultProviderConfig(),
		RequestTimeout: 5 * time.Second,
		HandoverGrace:  time.Second,
	}
}

func (c NodeConfig) validate() error {
	if c.ClusterName == "" {
		return errors.New("cluster name: empty")
	}
	if _, _, err := splitHostPortDefault(c.RemoteAddr, -1); err != nil {
		return fmt.Errorf("remote addr: %w", err)
	}
	if c.AdvertiseRemoteAddr != "" {
		h, _, err := splitHostPortDefault(c.AdvertiseRemoteAddr, 0)
		if err != nil {
			return fmt.Errorf("advertise remote addr: %w", err)
		}
		if h == "" {
			return fmt.Errorf("advertise remote addr %q: empty host", c.AdvertiseRemoteAddr)
		}
		if ip := net.ParseIP(h); ip != nil && ip.IsUnspecified() {
			return fmt.Errorf("advertise remote addr %q: unspecified host", c.AdvertiseRemoteAddr)
		}
	}
	if c.RequestTimeout <= 0 {
		return fmt.Errorf("request timeout: must be > 0, got %v", c.RequestTimeout)
	}
	if c.HandoverGrace < 0 {
		return fmt.Errorf("handover grace: must be >= 0, got %v", c.HandoverGrace)
	}
	seen := map[string]bool{}
	for i, k := range c.Kinds {
		if k == nil || k.Kind == "" || k.Props == nil {
			return fmt.Errorf("kind %d: nil, unnamed or without props", i)
		}
		if strings.ContainsAny(k.Kind, "/.") {
			// protoactor joins kind and identity with "/" (placement) and "." (PID cache).
			return fmt.Errorf("kind %q: must not contain '/' or '.'", k.Kind)
		}
		if seen[k.Kind] {
			return fmt.Errorf("kind %q: duplicate", k.Kind)
		}
		seen[k.Kind] = true
	}
	if err := c.Gossip.validate(); err != nil {
		return fmt.Errorf("gossip: %w", err)
	}
	return nil
}
