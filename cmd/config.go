// Package cmd holds Allot's program: Main (Run/Close), the node configuration and its flags.
// The binary in cmd/allot is a thin wrapper, so end-to-end tests boot the real program
// in-process.
package cmd

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/allot/allot/actors/payment"
	"github.com/allot/allot/actors/resource"
	"github.com/allot/allot/api"
	"github.com/allot/allot/api/audit"
	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/payments"
	"github.com/allot/allot/api/ratelimit"
	"github.com/allot/allot/cluster"
	"github.com/allot/allot/cluster/bus"
	"github.com/allot/allot/persistence/postgres"
)

// NodeConfig configures one Allot node. Every field has a flag (RegisterFlags) and an
// environment fallback ALLOT_<FLAG_NAME> (EnvName); a flag given on the command line wins.
// DefaultNodeConfig is the one place of the node's defaults: it takes each component's own
// default (resource.DefaultConfig, postgres.DefaultConfig, cluster.DefaultNodeConfig) where
// the node merely passes a value on, and the README's flag table is checked against it
// (TestREADMEFlagTable).
//
// A node is a single node when it has neither DBURL nor Join, and a cluster member
// otherwise; GossipAddr, RemoteAddr and AdvertiseAddr default by mode (see Single).
type NodeConfig struct {
	// HTTPAddr is where the HTTP edge listens (host:port; port 0 picks a free one). It
	// binds all interfaces by default, in both modes: it is the one port meant to be
	// reached (from a container's published port, too).
	HTTPAddr string
	// DataDir holds the embedded SQLite store; used only when DBURL is empty.
	DataDir string
	// DBURL selects the CockroachDB/PostgreSQL store (postgresql://...). Required for a
	// cluster of more than one node: fencing needs one shared database.
	DBURL string
	// DBMaxConns sizes the database connection pool.
	DBMaxConns int
	// DBStatementTimeout bounds every SQL statement on the server.
	DBStatementTimeout time.Duration
	// DBIdempotencyRows writes every idempotency key as a row of its own, as releases before
	// schema step 18 (PostgreSQL) or 21 (SQLite) read them (postgres.Config.IdempotencyRows,
	// sqlite.Config.IdempotencyRows): for a rolling upgrade from one, until every node runs
	// this release, and for a day before going back to one (docs/OPERATIONS.md).
	DBIdempotencyRows bool
	// CommitTimeout bounds every store call of a resource actor (load, group commit, lease
	// renewal) and the final flush of a stopping one (resource.Config.CommitTimeout). A
	// commit that runs out is uncertain: the actor reloads before answering again.
	CommitTimeout time.Duration
	// GossipAddr is the memberlist bind address (host:port). Empty means by mode:
	// ClusterGossipAddr() in a cluster, LoopbackAnyPort for a single node (which gossips with
	// nobody, but protoactor's cluster needs a member list).
	GossipAddr string
	// AdvertiseAddr is the host (or host:port for gossip) peers use to reach this node; empty
	// means the bind address, or the first private address when binding to all interfaces
	// (127.0.0.1 for a single node on its default addresses).
	AdvertiseAddr string
	// RemoteAddr is the protoactor remote (gRPC) bind address between nodes. Empty means by
	// mode: ClusterRemoteAddr() in a cluster, LoopbackAnyPort for a single node.
	RemoteAddr string
	// Join lists gossip seeds: host:port entries, or dns:NAME:PORT for a name whose A records
	// are the peers (a Kubernetes headless service). A node with seeds other than itself is
	// not ready until it reached one (or Bootstrap, or BootstrapAfter).
	Join []string
	// Bootstrap makes this node a first member: ready without reaching a seed (it still
	// joins its seeds when they answer). Not needed when the node has no seeds, or its seeds
	// are only itself.
	Bootstrap bool
	// BootstrapAfter is how long a node that reached none of its seeds waits before it
	// forms a new cluster on its own; 0 waits forever.
	BootstrapAfter time.Duration
	// GossipKey is a base64 16, 24 or 32 byte key that encrypts gossip; empty disables it.
	// It cannot rotate without stopping every node: prefer Transport.GossipKeyFile.
	GossipKey string
	// LeaveTimeout bounds a graceful leave on SIGTERM or SIGINT.
	LeaveTimeout time.Duration
	// RequestTimeout bounds one request through the cluster (edge to owner and back).
	RequestTimeout time.Duration
	// IdleTimeout passivates a resource actor after this long without commands.
	IdleTimeout time.Duration
	// QuietAfter packs an idle resource actor's booking state after this long without
	// commands (resource.Config.QuietAfter); 0: never.
	QuietAfter time.Duration
	// MemoryLimit is the Go runtime's soft memory limit (memlimit.go): auto (default: 90% of
	// the cgroup's memory limit when there is one and GOMEMLIMIT is not set), off, or a size.
	MemoryLimit string
	// MaxPending bounds the commands one resource holds in memory awaiting commit; beyond
	// it requests get 429 busy.
	MaxPending int
	// MaxBatch bounds the commands in one group commit.
	MaxBatch int
	// MaxCommitsInFlight bounds one resource's group commits at the store at once (pipelined
	// group commit, resource.Config.MaxInFlight; PostgreSQL uses at most 2 of them).
	MaxCommitsInFlight int
	// Lease is how long one store write lets a resource actor answer from memory, and so how
	// long a crashed owner's resources wait before a new owner answers (resource.Config.Lease).
	Lease time.Duration
	// MaxClockOffset bounds the wall-clock difference between nodes that leases tolerate.
	MaxClockOffset time.Duration
	// LogLevel is debug, info, warn or error.
	LogLevel string
	// AdminAddr is the admin listener (host:port): Prometheus /metrics and net/http/pprof's
	// /debug/pprof/, never on the edge. Loopback by default; in a pod, the pod IP so that
	// Prometheus can scrape it (keep it off the internet). Empty: no admin listener.
	AdminAddr string
	// NodeName names this node in X-Allot-Owner (shown to operators) and its logs. Empty
	// means the host name (a pod's name in Kubernetes).
	NodeName string

	// Auth selects where bearer tokens come from: "oidc" (an external OpenID Connect
	// provider at OIDCIssuer) or "dev" (the node's own dev issuer, whose signing key is
	// KeyFile, or dev-signing-key.pem under DataDir). A cluster member (DBURL or Join) in dev
	// mode needs KeyFile, the key every node shares: each node's own key would refuse the
	// others' tokens, and a dev key is no protection on a network anyway.
	Auth string
	// KeyFile is the dev issuer's signing key (created if missing, mode 0600), the same flag
	// `allot token` takes. Empty means <DataDir>/dev-signing-key.pem.
	KeyFile string
	// OIDCIssuer is the issuer URL exactly as tokens carry it in "iss". Required for oidc;
	// in dev mode empty means auth.DefaultDevIssuer.
	OIDCIssuer string
	// OIDCAudience must be one of a token's "aud" values.
	OIDCAudience string
	// OIDCRolesClaim is the claim (a dotted path) holding the roles operator and admin.
	OIDCRolesClaim string
	// OIDCUserClaim is the claim (a dotted path) naming the user.
	OIDCUserClaim string
	// OIDCMFAACR, if set, is an "acr" value that proves a second factor.
	OIDCMFAACR string
	// OIDCMFAClaim, if set, names a claim whose presence proves a second factor (Firebase's
	// firebase.sign_in_second_factor, an Auth0 Action's namespaced claim).
	OIDCMFAClaim string

	// Transport is the edge's limits and TLS and the security between nodes (transport.go).
	Transport TransportConfig
	// NATSURL is the NATS cluster the outbox relay publishes events to (docs/EVENTS.md).
	// Empty: a single node starts an embedded nats-server (JetStream files under DataDir);
	// a cluster member then publishes nothing (its events stay in the outbox, listed by
	// GET /v1/events) and says so at start-up.
	NATSURL string
	// NATSReplicas is the replication factor of the event streams on --nats-url (3 on a
	// three-server JetStream cluster); the embedded server keeps 1.
	NATSReplicas int
	// EventRetention is how long events are kept: in the JetStream stream and, once
	// published, in the outbox.
	EventRetention time.Duration
	// WebhookAllowPrivate lets webhook targets be on loopback, private and link-local
	// addresses (a receiver on 127.0.0.1): tests and local development only.
	WebhookAllowPrivate bool
	// Events off (cmd/events.go, docs/EVENTS.md "Cost"): Events is EventsOn (the default)
	// or EventsOff. Off is for operators who need no event stream: commits write no outbox
	// rows, no bus, relay or consumer is started, and so webhooks, live streams, reports and
	// GET /v1/events get nothing. validate() refuses it with --nats-url.
	Events string
	// DataKeyFile is the data key ring (persistence/pii) that seals guests' contacts (see
	// Contacts), notification contacts and webhook signing secrets at rest; empty keeps
	// secrets unsealed.
	DataKeyFile string

	// Reports and console (cmd/reports.go, docs/REPORTS.md): ConsoleClientID is the OIDC
	// client id (a public client) of the console's sign-in with PKCE against OIDCIssuer;
	// empty in oidc mode: the console has no sign-in. Dev mode signs in with a pasted token.
	ConsoleClientID string
	// Contacts (guests' contacts on holds, contacts.go): auto, on or off. The contacts are
	// sealed with DataKeyFile's ring, or, on a single --auth dev node on the embedded store
	// without one, with a dev ring kept under DataDir. auto accepts contacts when there is a
	// ring; on refuses to start without one; off refuses every contact.
	Contacts string
	// Payments (issue 13; cmd/payments.go, docs/PAYMENTS.md). The Stripe secrets never come
	// from a flag's value: from files, or from ALLOT_STRIPE_SECRET_KEY and
	// ALLOT_STRIPE_WEBHOOK_SECRET. No secret key: payments are off.
	StripeSecretKeyFile     string
	StripeWebhookSecretFile string
	// StripeAPIURL is Stripe's API base URL: empty for Stripe, a stripe-mock's for tests.
	StripeAPIURL string
	// PaymentGrace extends a held hold once when its payment starts (at most 1h).
	PaymentGrace time.Duration
	// PaymentReconcileEvery is how often open payments are re-read from Stripe and resumed.
	PaymentReconcileEvery time.Duration
	// RefundPolicy is the node's default cancellation policy for the paid holds of resources
	// without one of their own: comma-separated NOTICE:PERCENT tiers, longest notice first
	// ("48h:100,24h:50,0s:0": full refund until 48 h before the first bucket, half until 24 h,
	// nothing after). Empty: a full refund whenever the owner cancels.
	RefundPolicy string
	// Notify configures the notification service (notify_config.go); off unless a channel
	// is configured. --data-key-file also seals the users' contacts it keeps.
	Notify NotifyConfig

	// Abuse control (issue 11; cmd/abuse.go, docs/SECURITY.md "Abuse control").
	// RateLimits is "on" or "off": off (trusted load tests only) passes every request.
	RateLimits string
	// RateLimitSubject is each signed-in user's budget (all requests), RateLimitAnonymous
	// each client IP's (IPv6: /64) for requests without a token, RateLimitHolds the stricter
	// extra budget of hold creation per user, RateLimitAuthFailures the failed
	// authentications (401) per client IP. The client IP is the TCP peer unless it is one of
	// Transport.TrustedProxies.
	RateLimitSubject, RateLimitAnonymous, RateLimitHolds, RateLimitAuthFailures ratelimit.Limit
	// RateLimitMaxKeys bounds the callers each budget remembers.
	RateLimitMaxKeys int
	// UnknownResourceTTL is how long the edge remembers that a resource id does not exist,
	// answering 404 without activating its actor (0: not remembered); UnknownResources
	// bounds how many ids it remembers. A resource created through another node is seen
	// here at most this late.
	UnknownResourceTTL time.Duration
	UnknownResources   int
	// MaxActiveResources caps the resource actors active on this node; a new activation
	// beyond it passivates the least recently used idle one, and is refused 503 with
	// Retry-After only when all are busy (0: no cap).
	MaxActiveResources int
	// Audit log (audit.go): AuditRetention is how long entries are kept before the node's
	// pruning job deletes them (0: forever).
	AuditRetention time.Duration
}

// Auth modes (NodeConfig.Auth).
const (
	AuthOIDC = string(auth.ModeOIDC)
	AuthDev  = string(auth.ModeDev)
	// DefaultAdminAddr keeps metrics and profiles on this machine unless told otherwise.
	DefaultAdminAddr = "127.0.0.1:9090"
)

// Addresses a node binds by default (NodeConfig documents which mode uses which).
const (
	DefaultHTTPAddr = ":8080"
	// LoopbackAnyPort is where a single node binds gossip and remote: loopback only, on
	// ports the kernel picks, so that several single nodes run side by side.
	LoopbackAnyPort = "127.0.0.1:0"
	// DefaultBootstrapAfter: long enough for a seed started at about the same time (the
	// join backoff reaches it within a fraction of a second), short enough that a lone
	// restarted node does not wait for peers that are all gone.
	DefaultBootstrapAfter = 10 * time.Second
	// DefaultLeaveTimeout leaves room for actors to flush and the leave to spread, inside
	// Kubernetes' default 30 s grace period (minus the 5 s preStop sleep).
	DefaultLeaveTimeout = 20 * time.Second
)

// ClusterGossipAddr and ClusterRemoteAddr are a cluster member's default bind addresses:
// the cluster package's own defaults.
func ClusterGossipAddr() string { return cluster.DefaultProviderConfig().BindAddr }

// ClusterRemoteAddr: see ClusterGossipAddr.
func ClusterRemoteAddr() string { return cluster.DefaultNodeConfig().RemoteAddr }

// DefaultNodeConfig returns the node's defaults (documented on NodeConfig and its flags).
func DefaultNodeConfig() NodeConfig {
	actor := resource.DefaultConfig()
	db := postgres.DefaultConfig()
	return NodeConfig{
		HTTPAddr:           DefaultHTTPAddr,
		DataDir:            "./data",
		DBMaxConns:         db.MaxConns,
		DBStatementTimeout: db.StatementTimeout,
		CommitTimeout:      actor.CommitTimeout,
		BootstrapAfter:     DefaultBootstrapAfter,
		LeaveTimeout:       DefaultLeaveTimeout,
		RequestTimeout:     cluster.DefaultNodeConfig().RequestTimeout,
		IdleTimeout:        actor.IdleTimeout,
		QuietAfter:         actor.QuietAfter,
		MemoryLimit:        MemoryLimitAuto,
		MaxPending:         actor.MaxPending,
		MaxBatch:           actor.MaxBatch,
		MaxCommitsInFlight: actor.MaxInFlight,
		Lease:              actor.Lease,
		MaxClockOffset:     actor.MaxClockOffset,
		LogLevel:           "info",
		Transport:          DefaultTransportConfig(),
		AdminAddr:          DefaultAdminAddr,
		Auth:               AuthDev,
		OIDCAudience:       auth.DefaultDevAudience,
		OIDCRolesClaim:     auth.DefaultRolesClaim,
		OIDCUserClaim:      auth.DefaultUserClaim,
		EventRetention:     bus.DefaultConfig().Retention,
		NATSReplicas:       bus.DefaultConfig().Replicas,
		Events:             EventsOn,
		Contacts:           ContactsAuto,
		// Payments
		PaymentGrace:          payment.DefaultConfig.Grace,
		PaymentReconcileEvery: payments.DefaultConfig.ReconcileEvery,
		Notify:                DefaultNotifyConfig(),

		RateLimits:            rateLimitsOn,
		RateLimitSubject:      ratelimit.DefaultSubject,
		RateLimitAnonymous:    ratelimit.DefaultAnonymous,
		RateLimitHolds:        ratelimit.DefaultHolds,
		RateLimitAuthFailures: ratelimit.DefaultAuthFailures,
		RateLimitMaxKeys:      ratelimit.DefaultMaxKeys,
		UnknownResourceTTL:    api.DefaultUnknownResourceTTL,
		UnknownResources:      api.DefaultUnknownResources,
		MaxActiveResources:    DefaultMaxActiveResources,
		AuditRetention:        audit.DefaultRetention,
	}
}

// authConfig turns the auth flags into api/auth's configuration, on the node's clock.
func (c *NodeConfig) authConfig(now func() time.Time) auth.Config {
	cfg := auth.DefaultConfig()
	cfg.Mode = auth.Mode(c.Auth)
	if c.OIDCIssuer != "" {
		cfg.Issuer = c.OIDCIssuer
	}
	cfg.Audience, cfg.RolesClaim, cfg.UserClaim = c.OIDCAudience, c.OIDCRolesClaim, c.OIDCUserClaim
	cfg.MFAACR, cfg.MFAClaim = c.OIDCMFAACR, c.OIDCMFAClaim
	if now != nil {
		cfg.Now = now
	}
	return cfg
}

// devKeyFile is the dev issuer's key file: KeyFile, else the one under DataDir.
func (c *NodeConfig) devKeyFile() string {
	if c.KeyFile != "" {
		return c.KeyFile
	}
	return auth.DevKeyFile(c.DataDir)
}

// Single reports whether this is a single node: no shared database and no seeds.
func (c *NodeConfig) Single() bool { return c.DBURL == "" && len(c.Join) == 0 }

// gossipAddr, remoteAddr and advertiseAddr apply the defaults by mode.
func (c *NodeConfig) gossipAddr() string {
	return byMode(c.GossipAddr, c.Single(), ClusterGossipAddr())
}

func (c *NodeConfig) remoteAddr() string {
	return byMode(c.RemoteAddr, c.Single(), ClusterRemoteAddr())
}

func (c *NodeConfig) advertiseAddr() string {
	if c.AdvertiseAddr == "" && c.Single() && c.GossipAddr == "" && c.RemoteAddr == "" {
		return "127.0.0.1"
	}
	return c.AdvertiseAddr
}

func byMode(set string, single bool, clusterDefault string) string {
	switch {
	case set != "":
		return set
	case single:
		return LoopbackAnyPort
	default:
		return clusterDefault
	}
}

// modeAddr is a flag whose empty value means "by mode"; its help shows both defaults.
type modeAddr struct {
	p              *string
	clusterDefault string
}

func (a modeAddr) String() string {
	switch {
	case a.p == nil: // the zero value flag.PrintDefaults builds
		return ""
	case *a.p == "":
		return a.clusterDefault
	default:
		return *a.p
	}
}

func (a modeAddr) Set(s string) error { *a.p = s; return nil }

// RegisterFlags registers the node's flags on fs, with c's current values as defaults.
func (c *NodeConfig) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.HTTPAddr, "http-addr", c.HTTPAddr, "HTTP edge listen address (host:port); 127.0.0.1:8080 keeps it on this machine")
	fs.StringVar(&c.DataDir, "data-dir", c.DataDir, "directory of the embedded SQLite store (single node, used when --db-url is empty)")
	fs.StringVar(&c.DBURL, "db-url", c.DBURL, "CockroachDB/PostgreSQL URL (postgresql://...); required for more than one node")
	fs.IntVar(&c.DBMaxConns, "db-max-conns", c.DBMaxConns, "database connection pool size")
	fs.DurationVar(&c.DBStatementTimeout, "db-statement-timeout", c.DBStatementTimeout, "timeout of one SQL statement on the server")
	fs.BoolVar(&c.DBIdempotencyRows, "db-idempotency-rows", c.DBIdempotencyRows, "write every idempotency key as a row of its own, as releases before schema step 18 read them: set it during a rolling upgrade from one")
	fs.DurationVar(&c.CommitTimeout, "commit-timeout", c.CommitTimeout, "timeout of one store call of a resource (load, group commit, lease renewal)")
	fs.Var(modeAddr{&c.GossipAddr, ClusterGossipAddr()}, "gossip-addr", "memberlist gossip bind address `host:port` (TCP and UDP); a single node: "+LoopbackAnyPort)
	fs.StringVar(&c.AdvertiseAddr, "advertise-addr", c.AdvertiseAddr, "address peers use to reach this node (host or host:port); pods pass their pod IP")
	fs.Var(modeAddr{&c.RemoteAddr, ClusterRemoteAddr()}, "remote-addr", "actor remote (gRPC) bind address `host:port` between nodes; a single node: "+LoopbackAnyPort)
	fs.Func("join", "comma-separated gossip seeds host:port, or dns:NAME:PORT for a headless service", func(s string) error {
		c.Join = nil
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				c.Join = append(c.Join, p)
			}
		}
		return nil
	})
	fs.BoolVar(&c.Bootstrap, "bootstrap", c.Bootstrap, "this node may start a new cluster: ready without reaching a seed")
	fs.DurationVar(&c.BootstrapAfter, "bootstrap-after", c.BootstrapAfter, "start a new cluster when no seed answered for this long (0: wait for a seed forever)")
	fs.StringVar(&c.GossipKey, "gossip-key", c.GossipKey, "base64 gossip encryption key (16, 24 or 32 bytes); cannot rotate: prefer --gossip-key-file")
	fs.DurationVar(&c.LeaveTimeout, "leave-timeout", c.LeaveTimeout, "deadline for a graceful leave on SIGTERM/SIGINT")
	fs.DurationVar(&c.RequestTimeout, "request-timeout", c.RequestTimeout, "deadline of one request from the edge to the resource's owner, shared by all of its commands (a hold's read and its command); an operator's audit entry gets one more of its own")
	fs.DurationVar(&c.IdleTimeout, "idle-timeout", c.IdleTimeout, "passivate a resource actor after this long idle")
	fs.DurationVar(&c.QuietAfter, "quiet-after", c.QuietAfter, "pack an idle resource actor's booking state into a compact form after this long without commands; it stays active (0: never)")
	fs.StringVar(&c.MemoryLimit, "memory-limit", c.MemoryLimit, "the Go runtime's soft memory limit: auto (90% of the container's cgroup limit, unless GOMEMLIMIT is set), off, or a size such as 1536MiB")
	fs.IntVar(&c.MaxPending, "max-pending", c.MaxPending, "commands one resource may hold awaiting commit before answering 429")
	fs.IntVar(&c.MaxBatch, "max-batch", c.MaxBatch, "commands in one group commit at most")
	// Pipelined group commit.
	fs.IntVar(&c.MaxCommitsInFlight, "max-commits-in-flight", c.MaxCommitsInFlight, "group commits of one resource at the store at once (a pipeline; at most 2 on PostgreSQL)")
	fs.DurationVar(&c.Lease, "lease", c.Lease, "how long a store write lets a resource actor answer from memory; a crashed owner's resources wait at most this long for a new owner")
	fs.DurationVar(&c.MaxClockOffset, "max-clock-offset", c.MaxClockOffset, "largest wall-clock difference between nodes that leases tolerate (keep clocks in sync with NTP)")
	fs.StringVar(&c.LogLevel, "log-level", c.LogLevel, "log level: debug, info, warn or error")
	fs.StringVar(&c.AdminAddr, "admin-addr", c.AdminAddr, "admin listener `host:port` for /metrics and /debug/pprof/ (empty: off); keep it private")
	fs.StringVar(&c.NodeName, "node-name", c.NodeName, "this node's name in X-Allot-Owner (operators only) and logs (empty: the host name)")
	fs.StringVar(&c.Auth, "auth", c.Auth, "where bearer tokens come from: oidc (--oidc-issuer) or dev (the node's own issuer, for allot token); a node with --db-url or --join needs --key-file for dev")
	fs.StringVar(&c.KeyFile, "key-file", c.KeyFile, "dev mode: the shared signing key file (created if missing, mode 0600; as allot token --key-file); empty: dev-signing-key.pem under --data-dir")
	fs.StringVar(&c.OIDCIssuer, "oidc-issuer", c.OIDCIssuer, "issuer URL exactly as in the tokens' iss (https; required for oidc; dev: "+auth.DefaultDevIssuer+")")
	fs.StringVar(&c.OIDCAudience, "oidc-audience", c.OIDCAudience, "audience the tokens must carry in aud (the API identifier or client id)")
	fs.StringVar(&c.OIDCRolesClaim, "oidc-roles-claim", c.OIDCRolesClaim, "claim holding the roles operator and admin (a dotted path, e.g. realm_access.roles)")
	fs.StringVar(&c.OIDCUserClaim, "oidc-user-claim", c.OIDCUserClaim, "claim naming the user (a dotted path)")
	fs.StringVar(&c.OIDCMFAACR, "oidc-mfa-acr", c.OIDCMFAACR, "an acr value that proves a second factor (amr mfa, otp, hwk, swk or sms always does)")
	fs.StringVar(&c.OIDCMFAClaim, "oidc-mfa-claim", c.OIDCMFAClaim, "a claim whose presence proves a second factor (e.g. firebase.sign_in_second_factor)")
	c.Transport.registerFlags(fs)
	fs.StringVar(&c.NATSURL, "nats-url", c.NATSURL, "NATS cluster that events are published to (nats://host:4222,...); empty: an embedded server on a single node")
	fs.IntVar(&c.NATSReplicas, "nats-replicas", c.NATSReplicas, "replicas of the event streams on --nats-url (3 on a three-server JetStream cluster)")
	fs.DurationVar(&c.EventRetention, "event-retention", c.EventRetention, "how long events are kept in the JetStream stream and, once published, in the outbox")
	fs.BoolVar(&c.WebhookAllowPrivate, "webhook-allow-private", c.WebhookAllowPrivate, "let webhook targets be on loopback, private and link-local addresses (tests and local development only)")
	// Events off (cmd/events.go).
	fs.StringVar(&c.Events, "events", c.Events, "on: every commit writes its events to the outbox and they are published; off: no outbox rows, no bus (webhooks, live streams, reports and GET /v1/events get nothing)")
	// Reports and console (cmd/reports.go).
	fs.StringVar(&c.ConsoleClientID, "console-client-id", c.ConsoleClientID, "oidc mode: the console's OIDC client id (public client; redirect URI <node URL>/console/); empty: no console sign-in")
	fs.StringVar(&c.DataKeyFile, "data-key-file", c.DataKeyFile, "data key ring (mode 0600) sealing guests' contacts, notification contacts and webhook signing secrets at rest; empty: no guests' contacts (but on a single --auth dev node), the rest unsealed")
	// Guests' contacts on holds (contacts.go).
	fs.StringVar(&c.Contacts, "contacts", c.Contacts, "guests' contacts on holds, sealed with --data-key-file: auto (when the node has a data key; a single --auth dev node makes one under --data-dir), on (refuse to start without one) or off")
	// Payments (cmd/payments.go)
	fs.StringVar(&c.StripeSecretKeyFile, "stripe-secret-key-file", c.StripeSecretKeyFile, "file holding the Stripe secret key (sk_ or rk_; else $ALLOT_STRIPE_SECRET_KEY); none: payments are off")
	fs.StringVar(&c.StripeWebhookSecretFile, "stripe-webhook-secret-file", c.StripeWebhookSecretFile, "file holding the Stripe webhook signing secret (whsec_; else $ALLOT_STRIPE_WEBHOOK_SECRET)")
	fs.StringVar(&c.StripeAPIURL, "stripe-api-url", c.StripeAPIURL, "Stripe API base URL (empty: Stripe; a stripe-mock's for tests)")
	fs.DurationVar(&c.PaymentGrace, "payment-grace", c.PaymentGrace, "how long a held hold is extended, once, when its payment starts (at most 1h)")
	fs.DurationVar(&c.PaymentReconcileEvery, "payment-reconcile-every", c.PaymentReconcileEvery, "how often open payments are re-read from Stripe and resumed")
	fs.StringVar(&c.RefundPolicy, "refund-policy", c.RefundPolicy, "default cancellation policy of paid holds whose resource has none: NOTICE:PERCENT tiers, longest notice first, e.g. 48h:100,24h:50,0s:0 (empty: full refund)")
	c.Notify.registerFlags(fs) // notifications (notify_config.go)
	// Abuse control (cmd/abuse.go).
	fs.StringVar(&c.RateLimits, "rate-limits", c.RateLimits, "rate limits on or off (off: trusted load tests only)")
	fs.Var(limitFlag{&c.RateLimitSubject}, "rate-limit-subject", "each signed-in user's budget, N/period[:burst]")
	fs.Var(limitFlag{&c.RateLimitAnonymous}, "rate-limit-anonymous", "each client IP's budget (IPv6: /64) for requests without a token, N/period[:burst]")
	fs.Var(limitFlag{&c.RateLimitHolds}, "rate-limit-holds", "each user's extra budget for creating holds, N/period[:burst]")
	fs.Var(limitFlag{&c.RateLimitAuthFailures}, "rate-limit-auth-failures", "refused tokens (401) per client IP, N/period[:burst]")
	fs.IntVar(&c.RateLimitMaxKeys, "rate-limit-max-keys", c.RateLimitMaxKeys, "callers each rate-limit budget remembers")
	fs.DurationVar(&c.UnknownResourceTTL, "unknown-resource-ttl", c.UnknownResourceTTL, "how long an unknown resource id is answered 404 without activating an actor (0: off)")
	fs.IntVar(&c.UnknownResources, "unknown-resources", c.UnknownResources, "unknown resource ids remembered at most")
	fs.IntVar(&c.MaxActiveResources, "max-active-resources", c.MaxActiveResources, "resource actors active on this node at most; beyond it the least recently used idle one is passivated, and new activations get 503 only when all are busy (0: no cap)")
	// Audit log (audit.go).
	fs.DurationVar(&c.AuditRetention, "audit-retention", c.AuditRetention, "how long audit log entries are kept before they are deleted (0: forever)")
}

// EnvName is the environment variable that backs a flag: "db-url" -> "ALLOT_DB_URL".
func EnvName(flagName string) string {
	return "ALLOT_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// ApplyEnv sets every flag of fs whose environment variable is set (lookup is os.LookupEnv in
// production). Call it before fs.Parse so that command-line flags win.
func ApplyEnv(fs *flag.FlagSet, lookup func(string) (string, bool)) error {
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		if v, ok := lookup(EnvName(f.Name)); ok {
			if err := fs.Set(f.Name, v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", EnvName(f.Name), err))
			}
		}
	})
	return errors.Join(errs...)
}

func (c *NodeConfig) validate() error {
	switch {
	case c.HTTPAddr == "":
		return errors.New("--http-addr is required")
	case c.DBURL == "" && c.DataDir == "":
		return errors.New("--data-dir or --db-url is required")
	case c.DBURL == "" && len(c.Join) > 0:
		return errors.New("a cluster (--join) needs a shared database (--db-url): the embedded store cannot fence activations on other nodes")
	case c.DBMaxConns < 1:
		return errors.New("--db-max-conns must be at least 1")
	case c.LeaveTimeout <= 0 || c.RequestTimeout <= 0 || c.IdleTimeout <= 0 || c.DBStatementTimeout <= 0 || c.CommitTimeout <= 0:
		return errors.New("timeouts must be positive")
	case c.BootstrapAfter < 0:
		return errors.New("--bootstrap-after must not be negative")
	case c.QuietAfter < 0:
		return errors.New("--quiet-after must not be negative")
	case validateMemoryLimit(c.MemoryLimit) != nil:
		return validateMemoryLimit(c.MemoryLimit)
	case c.MaxPending < 1 || c.MaxBatch < 1 || c.MaxCommitsInFlight < 1:
		return errors.New("--max-pending, --max-batch and --max-commits-in-flight must be at least 1")
	case c.MaxClockOffset < 0 || c.Lease <= 2*c.MaxClockOffset:
		return errors.New("--lease must be more than twice --max-clock-offset")
	case c.NATSReplicas < 1 || c.NATSReplicas > 5:
		return errors.New("--nats-replicas must be 1 to 5")
	case c.EventRetention < bus.ClusterDuplicateWindow:
		return fmt.Errorf("--event-retention must be at least %s (the republish deduplication window)", bus.ClusterDuplicateWindow)
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return err
	}
	if err := c.validateEvents(); err != nil { // events off (cmd/events.go)
		return err
	}
	if c.PaymentGrace < 0 || c.PaymentGrace > time.Hour || c.PaymentReconcileEvery <= 0 { // payments
		return errors.New("--payment-grace must be between 0 and 1h and --payment-reconcile-every positive")
	}
	if _, err := parseRefundPolicy(c.RefundPolicy); err != nil {
		return err
	}
	if c.GossipKey != "" && c.Transport.GossipKeyFile != "" {
		return errors.New("--gossip-key and --gossip-key-file: give one (the file, which can rotate)")
	}
	if c.Transport.HTTPWriteTimeout <= c.RequestTimeout {
		return errors.New("--http-write-timeout must exceed --request-timeout, or answers are cut while the cluster still works on them")
	}
	if err := c.Transport.validate(); err != nil {
		return err
	}
	if err := c.validateContacts(); err != nil {
		return err
	}
	if err := c.Notify.validate(); err != nil { // notifications (notify_config.go)
		return err
	}
	// Abuse control. The budgets were checked when their flags were parsed; a NodeConfig
	// built in code is checked again by ratelimit.New.
	switch {
	case c.RateLimits != rateLimitsOn && c.RateLimits != rateLimitsOff:
		return fmt.Errorf("--rate-limits %q: want %s or %s", c.RateLimits, rateLimitsOn, rateLimitsOff)
	case c.RateLimitMaxKeys < 64:
		return errors.New("--rate-limit-max-keys must be at least 64")
	case c.UnknownResourceTTL < 0:
		return errors.New("--unknown-resource-ttl must not be negative")
	case c.UnknownResourceTTL > 0 && c.UnknownResources < 1:
		return errors.New("--unknown-resources must be at least 1 while --unknown-resource-ttl is set")
	case c.MaxActiveResources < 0:
		return errors.New("--max-active-resources must not be negative")
	case c.AuditRetention < 0: // audit log
		return errors.New("--audit-retention must not be negative")
	}
	return c.validateAuth()
}

// validateAuth checks the auth flags: a known mode, an issuer for oidc, and no dev mode with
// a per-node key on a cluster member.
func (c *NodeConfig) validateAuth() error {
	switch {
	case c.Auth != AuthOIDC && c.Auth != AuthDev:
		return fmt.Errorf("--auth %q: want %s or %s", c.Auth, AuthOIDC, AuthDev)
	case c.Auth == AuthOIDC && c.OIDCIssuer == "":
		return errors.New("--auth oidc needs --oidc-issuer")
	case c.Auth == AuthOIDC && c.KeyFile != "":
		return errors.New("--key-file is for --auth dev")
	case c.Auth == AuthDev && !c.Single() && c.KeyFile == "":
		return errors.New("--auth dev on a node with --db-url or --join needs --key-file, the signing key every node shares (or use --auth oidc)")
	case c.OIDCAudience == "":
		return errors.New("--oidc-audience is required")
	}
	return nil
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("--log-level: %w", err)
	}
	return l, nil
}
