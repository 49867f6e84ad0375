package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/memberlist"
)

// ProviderConfig configures the memberlist-based Provider. Start from
// DefaultProviderConfig and override fields; validate rejects inconsistent values.
// A ProviderConfig is copied by NewProvider; later changes to the caller's value (or
// to its slices) have no effect.
type ProviderConfig struct {
	// BindAddr is the host:port memberlist listens on, UDP and TCP. An empty host binds
	// all IPv4 interfaces. Port 0 picks a free port; Provider.GossipAddr reports the
	// advertised address, including the real port, once started. Default ":7946".
	BindAddr string

	// AdvertiseAddr is the host:port other members use to reach this one (e.g. the pod
	// IP). Optional: by default the bind IP, or a private interface IP when bound to all
	// interfaces. Port 0 (or no port) means the bound port. The host must be an IP.
	AdvertiseAddr string

	// Join lists seed members as host:port (a missing port means this member's gossip
	// port). Unreachable seeds are not fatal: the member retries them with backoff
	// (JoinRetryMin to JoinRetryMax) until it has joined, and every RejoinInterval while
	// it is alone afterwards. Until it has joined, Joined stays open (see provider_join.go
	// for the bootstrap rules).
	Join []string

	// JoinDNS is a DNS name whose address records are seed members, e.g. a Kubernetes
	// headless service. The port is this member's own gossip port unless the name
	// carries one ("name:port"). It is resolved at start and re-resolved every
	// RejoinInterval while this member knows no other member.
	JoinDNS string

	// LookupHost resolves JoinDNS. Nil means net.DefaultResolver.LookupHost. Injected by
	// tests; it must be safe for concurrent use and honour ctx.
	LookupHost func(ctx context.Context, host string) ([]string, error)

	// RejoinInterval is how often a joined member that knows no peer (any more) retries
	// Join and JoinDNS. Default 5s.
	RejoinInterval time.Duration

	// ReachDeadInterval is how often a joined member tries to reach, with a push/pull join,
	// the members it declared dead (not those that left) within DeadMemberRetention.
	// memberlist probes and syncs with live members only, so without it a healed partition
	// merges only when the cut-off side, alone, rejoins its seeds (RejoinInterval), and two
	// sides of several members each may not merge at all; ownership of the cut-off side's
	// resources ping-pongs while the views differ (docs/PERFORMANCE.md, round 18). Each
	// attempt costs a refused connection (a member that crashed) or a dial of up to
	// TCPTimeout on a goroutine of its own (one still cut off). Default 1s.
	ReachDeadInterval time.Duration

	// JoinRetryMin and JoinRetryMax bound the backoff between attempts to reach a seed
	// before the first join: JoinRetryMin doubling per attempt up to JoinRetryMax, each
	// pause spread by Jitter. Defaults 100ms and 2s.
	JoinRetryMin time.Duration
	JoinRetryMax time.Duration

	// Jitter turns a nominal retry pause into the one waited. Nil means uniformly random
	// in [d/2, d). Injected by tests; called from the Provider's goroutine only.
	Jitter func(d time.Duration) time.Duration

	// Bootstrap marks this member as a first member: it counts as joined at once even if
	// no seed answers (it keeps trying them). Without it a member with seeds other than
	// itself is joined only once it reached one (or one reached it), or after
	// BootstrapAfter.
	Bootstrap bool

	// BootstrapAfter is how long a member that reached no seed waits before it forms a new
	// cluster on its own (counts as joined). Zero waits for a seed forever. Default 0.
	BootstrapAfter time.Duration

	// SecretKey enables memberlist gossip encryption (AES-GCM); 16, 24 or 32 bytes, the
	// same on every member. Nil disables encryption.
	SecretKey []byte

	// Keyring holds the gossip encryption keys of `--gossip-key-file` (LoadGossipKeyring):
	// the primary encrypts, every key decrypts, so keys rotate without a restart
	// (SyncGossipKeyring). Mutually exclusive with SecretKey. Shared, not copied: the
	// Provider's memberlist uses this ring, and whoever keeps the pointer may change its keys
	// while the Provider runs (the ring is safe for concurrent use). Nil: SecretKey decides.
	// Unencrypted gossip is refused whenever either is set.
	Keyring *memberlist.Keyring

	// Label is put on every gossip packet; members with different labels ignore each
	// other (authenticated when SecretKey is set). Node sets it to the cluster name when
	// empty. At most 255 bytes.
	Label string

	// ProbeInterval, ProbeTimeout, SuspicionMult and SuspicionMaxTimeoutMult are
	// memberlist's failure-detector knobs. The defaults (500ms, 250ms, 3, 4) detect a
	// dead member in about 2-4 s on a LAN with a handful of members: a dead member is
	// probed within ~ProbeInterval, suspected after ProbeTimeout plus indirect probes,
	// and declared dead after SuspicionMult*max(1, log10(n))*ProbeInterval (sooner with
	// confirmations). Lower values detect faster but risk false positives under CPU
	// starvation, and protoactor never re-admits a member id it has removed (see Node).
	ProbeInterval           time.Duration
	ProbeTimeout            time.Duration
	SuspicionMult           int
	SuspicionMaxTimeoutMult int

	// GossipInterval is how often memberlist gossips queued broadcasts. Default 100ms.
	GossipInterval time.Duration

	// PushPullInterval is the period of full state syncs with a random member (anti-
	// entropy). Default 15s.
	PushPullInterval time.Duration

	// TCPTimeout bounds memberlist stream connections (join, push/pull). Default 3s.
	TCPTimeout time.Duration

	// LeaveTimeout bounds the wait for the leave broadcast on graceful Shutdown.
	// Default 2s.
	LeaveTimeout time.Duration

	// MetaRefreshInterval is how often the local activation count is re-published in
	// the gossip metadata (only when it changed). Default 3s.
	MetaRefreshInterval time.Duration

	// DeadMemberRetention is how long dead and left members are still reported by
	// Members. Default 1m.
	DeadMemberRetention time.Duration

	// Logger receives memberlist and provider logs. Nil discards.
	Logger *slog.Logger
}

// DefaultProviderConfig returns the defaults documented on ProviderConfig.
func DefaultProviderConfig() ProviderConfig {
	return ProviderConfig{
		BindAddr:                ":7946",
		RejoinInterval:          5 * time.Second,
		ReachDeadInterval:       time.Second,
		JoinRetryMin:            100 * time.Millisecond,
		JoinRetryMax:            2 * time.Second,
		ProbeInterval:           500 * time.Millisecond,
		ProbeTimeout:            250 * time.Millisecond,
		SuspicionMult:           3,
		SuspicionMaxTimeoutMult: 4,
		GossipInterval:          100 * time.Millisecond,
		PushPullInterval:        15 * time.Second,
		TCPTimeout:              3 * time.Second,
		LeaveTimeout:            2 * time.Second,
		MetaRefreshInterval:     3 * time.Second,
		DeadMemberRetention:     time.Minute,
	}
}

func (c ProviderConfig) validate() error {
	if _, _, err := splitHostPortDefault(c.BindAddr, -1); err != nil {
		return fmt.Errorf("bind addr: %w", err)
	}
	bindHost, _, _ := splitHostPortDefault(c.BindAddr, -1)
	if c.AdvertiseAddr != "" {
		h, _, err := splitHostPortDefault(c.AdvertiseAddr, 0)
		if err != nil {
			return fmt.Errorf("advertise addr: %w", err)
		}
		if net.ParseIP(h) == nil {
			return fmt.Errorf("advertise addr %q: host must be an IP address", c.AdvertiseAddr)
		}
	} else if ip := net.ParseIP(bindHost); ip != nil && ip.IsUnspecified() && ip.To4() == nil {
		return fmt.Errorf("bind addr %q: advertise addr required when bound to [::]", c.BindAddr)
	}
	for _, j := range c.Join {
		if j == "" {
			return errors.New("join: empty seed address")
		}
	}
	if c.JoinDNS != "" {
		if _, _, err := splitHostPortDefault(c.JoinDNS, 0); err != nil {
			return fmt.Errorf("join dns: %w", err)
		}
	}
	switch len(c.SecretKey) {
	case 0, 16, 24, 32:
	default:
		return fmt.Errorf("secret key: %d bytes, want 16, 24 or 32", len(c.SecretKey))
	}
	if len(c.SecretKey) > 0 && c.Keyring != nil {
		return errors.New("secret key and key ring: set one, not both")
	}
	if len(c.Label) > 255 {
		return fmt.Errorf("label: %d bytes, max 255", len(c.Label))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"rejoin interval", c.RejoinInterval},
		{"reach dead interval", c.ReachDeadInterval},
		{"join retry min", c.JoinRetryMin},
		{"join retry max", c.JoinRetryMax},
		{"probe interval", c.ProbeInterval},
		{"probe timeout", c.ProbeTimeout},
		{"gossip interval", c.GossipInterval},
		{"push/pull interval", c.PushPullInterval},
		{"tcp timeout", c.TCPTimeout},
		{"leave timeout", c.LeaveTimeout},
		{"meta refresh interval", c.MetaRefreshInterval},
		{"dead member retention", c.DeadMemberRetention},
	} {
		if d.v <= 0 {
			return fmt.Errorf("%s: must be > 0, got %v", d.name, d.v)
		}
	}
	if c.JoinRetryMax < c.JoinRetryMin {
		return fmt.Errorf("join retry max %v must be >= join retry min %v", c.JoinRetryMax, c.JoinRetryMin)
	}
	if c.BootstrapAfter < 0 {
		return fmt.Errorf("bootstrap after: must be >= 0, got %v", c.BootstrapAfter)
	}
	if c.ProbeTimeout >= c.ProbeInterval {
		return fmt.Errorf("probe timeout %v must be < probe interval %v", c.ProbeTimeout, c.ProbeInterval)
	}
	if c.SuspicionMult < 1 || c.SuspicionMaxTimeoutMult < 1 {
		return fmt.Errorf("suspicion multipliers must be >= 1, got %d and %d", c.SuspicionMult, c.SuspicionMaxTimeoutMult)
	}
	return nil
}

// splitHostPortDefault splits "host:port" or a bare "host". A missing port yields def;
// def < 0 makes the port mandatory.
func splitHostPortDefault(addr string, def int) (string, int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		if def < 0 {
			return "", 0, fmt.Errorf("%q: %w", addr, err)
		}
		if addr == "" {
			return "", 0, errors.New("empty address")
		}
		// A bare host (possibly a bracket-less IPv6 literal).
		if _, _, err2 := net.SplitHostPort(addr + ":0"); err2 != nil && net.ParseIP(addr) == nil {
			return "", 0, fmt.Errorf("%q: %w", addr, err)
		}
		return addr, def, nil
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("%q: bad port %q", addr, portStr)
	}
	return host, port, nil
}
