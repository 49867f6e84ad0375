package cmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/allot/allot/actors/resource"
	"github.com/allot/allot/api"
	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/httpserver"
	"github.com/allot/allot/api/payments"
	"github.com/allot/allot/cluster"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/persistence/postgres"
	"github.com/allot/allot/persistence/sqlite"
)

// Main is one Allot node: the store, the actor cluster member hosting resource actors, and the
// HTTP edge. Run starts it and returns once it serves; Close drains it. Tests boot the real
// program in-process with HTTPAddr, GossipAddr and RemoteAddr on port 0.
type Main struct {
	Config NodeConfig
	// Logger defaults to a text logger on Stderr at Config.LogLevel.
	Logger *slog.Logger
	Stderr io.Writer
	// Now is the clock handed to the resource actors and the API (tests inject one).
	Now func() time.Time

	registry *prometheus.Registry
	store    persistence.Store
	node     *cluster.Node
	ln       net.Listener
	srv      *http.Server
	ready    atomic.Bool
	admin    *adminServer    // nil when Config.AdminAddr is empty
	issuer   *auth.DevIssuer // the dev issuer in dev auth mode, else nil
	// KeyReloadInterval is how often --gossip-key-file is checked for a change; 0 means
	// DefaultKeyReloadInterval (tests shorten it).
	KeyReloadInterval time.Duration
	gossipKeys        *gossipKeyWatcher // nil without --gossip-key-file
	events            nodeEvents        // the bus and the outbox relay (events.go)
	feeds             nodeFeeds         // webhooks and live streams (webhooks.go)
	audit             nodeAudit         // the audit log of operator and admin actions (audit.go)
	reports           nodeReports       // reports, console, stats (reports.go)
	pay               *payments.Service // payments.go
	notifier          nodeNotify        // notifications (notify.go)

	closeOnce sync.Once
	closeErr  error
	closed    atomic.Bool // Close has returned
	serveDone chan struct{}
	// edgeLean is the edge's fast path when it has one (edge.go); Close closes it with srv.
	edgeLean *httpserver.Lean
}

// NewMain returns a Main with the default configuration.
func NewMain() *Main {
	return &Main{Config: DefaultNodeConfig(), Stderr: os.Stderr, Now: time.Now}
}

// Run opens the store, joins the cluster and starts serving HTTP. On error everything it
// started is stopped again.
func (m *Main) Run(ctx context.Context) (err error) {
	if err := m.Config.validate(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if m.Logger == nil {
		lvl, _ := parseLevel(m.Config.LogLevel)
		m.Logger = slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: lvl}))
	}
	if m.Now == nil {
		m.Now = time.Now
	}
	defer func() {
		if err != nil {
			_ = m.Close()
		}
	}()
	m.registry = prometheus.NewRegistry()
	m.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	if m.store, err = m.openStore(ctx); err != nil {
		return err
	}
	if err := m.startEvents(ctx); err != nil {
		return err
	}

	actorCfg := resource.DefaultConfig()
	actorCfg.CommitTimeout = m.Config.CommitTimeout
	actorCfg.Store = m.store
	actorCfg.Now = m.Now
	actorCfg.IdleTimeout = m.Config.IdleTimeout
	actorCfg.QuietAfter = m.Config.QuietAfter
	actorCfg.MaxPending = m.Config.MaxPending
	actorCfg.MaxBatch = m.Config.MaxBatch
	actorCfg.MaxInFlight = m.Config.MaxCommitsInFlight
	actorCfg.Lease, actorCfg.MaxClockOffset = m.Config.Lease, m.Config.MaxClockOffset
	actorCfg.Metrics = resource.NewMetrics(m.registry)
	actorCfg.Logger = m.Logger.With("component", "resource")
	actorCfg.EventsCommitted = m.events.nudge()
	actorCfg.MaxActive = m.Config.MaxActiveResources // abuse control (abuse.go)
	actorCfg.DropEvents = m.eventsOff()              // events.go

	nodeCfg, _, err := m.clusterConfig()
	if err != nil {
		return err
	}
	// Replies name the node, never its internal gRPC address (X-Allot-Owner, for operators).
	actorCfg.Owner = m.nodeName()
	nodeCfg.Kinds = append(nodeCfg.Kinds, resource.Kind(actorCfg))
	if m.node, err = cluster.NewNode(nodeCfg); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	if err := m.node.Start(ctx); err != nil {
		return fmt.Errorf("start cluster: %w", err)
	}

	verifier, wellKnown, err := m.authenticator(ctx)
	if err != nil {
		return err
	}
	mounted, err := m.startFeeds()
	if err != nil {
		return err
	}
	reportRoutes, availabilityObservers, err := m.startReports(ctx)
	if err != nil {
		return err
	}
	mounted = m.reports.observeStreams(mounted) // reports.go: a stream connection is a view

	contacts, err := m.contactSealer() // contacts.go
	if err != nil {
		return err
	}
	payRoutes, err := m.startPayments() // payments.go
	if err != nil {
		return err
	}
	mounted = append(mounted, payRoutes...)
	notifyRoutes, err := m.startNotify(contacts) // notify.go
	if err != nil {
		return err
	}
	mounted = append(mounted, notifyRoutes...)
	auditStore, auditRoutes, err := m.startAudit() // audit.go
	if err != nil {
		return err
	}
	srv, err := api.NewServer(m.Config.withAbuseControl(api.Config{ // abuse.go
		Verifier:       verifier,
		WellKnown:      wellKnown,
		Dispatcher:     dispatcher{node: m.node},
		Holds:          m.store,
		Members:        members{node: m.node},
		Ready:          m.Ready,
		Registerer:     m.registry,
		Gatherer:       m.registry,
		Logger:         m.Logger.With("component", "api"),
		Now:            m.Now,
		RequestTimeout: m.Config.RequestTimeout,
		Events:         m.eventLog(),
		Mounted:        append(append(mounted, reportRoutes...), auditRoutes...),
		Contacts:       contacts,
		Audit:          auditStore,
		OnPrincipal:    m.notifier.onPrincipal(), // notify_contacts.go: the users' contacts from their tokens

		PaymentRequired: m.pay.Enabled(), // payments.go: a priced hold is confirmed by its payment

		AvailabilityObservers: availabilityObservers,
	}))
	if err != nil {
		return fmt.Errorf("api: %w", err)
	}
	if err := m.startEdge(srv.Handler()); err != nil { // edge.go: limits, per-IP cap, TLS
		return err
	}
	m.srv.RegisterOnShutdown(m.feeds.closeStreams) // SSE streams end, so the drain does not wait for them
	if err := m.subscribeFeeds(ctx); err != nil {
		return err
	}
	if err := m.subscribeReports(ctx); err != nil {
		return err
	}
	if err := m.subscribeNotify(ctx); err != nil {
		return err
	}
	if m.Config.AdminAddr != "" {
		if m.admin, err = startAdmin(m.Config.AdminAddr, srv.AdminHandler(), m.Logger); err != nil {
			return err
		}
	}
	m.ready.Store(true)
	m.Logger.Info("allot node serving", "http", m.ln.Addr().String(), "member", m.node.Self().RemoteAddr,
		"store", m.storeKind(), "auth", m.Config.Auth, "ready", m.Ready())
	return nil
}

// authenticator builds the token verifier: in dev mode the node's own issuer (its key under
// the data dir or the shared --key-file) with its discovery document and key set for the
// edge to serve; in oidc mode the provider, discovered now so that a wrong issuer shows at
// start.
func (m *Main) authenticator(ctx context.Context) (*auth.Verifier, http.Handler, error) {
	cfg := m.Config.authConfig(m.Now)
	if cfg.Mode == auth.ModeOIDC {
		v, err := auth.NewVerifier(ctx, cfg)
		if err != nil {
			return nil, nil, fmt.Errorf("auth: %w", err)
		}
		return v, nil, nil
	}
	if m.Config.DBURL == "" {
		if err := os.MkdirAll(m.Config.DataDir, 0o755); err != nil {
			return nil, nil, fmt.Errorf("data dir: %w", err)
		}
	}
	issuer, err := auth.NewDevIssuer(cfg, m.Config.devKeyFile())
	if err != nil {
		return nil, nil, fmt.Errorf("auth: %w", err)
	}
	v, err := auth.NewDevVerifier(cfg, issuer)
	if err != nil {
		return nil, nil, fmt.Errorf("auth: %w", err)
	}
	m.issuer = issuer
	return v, issuer.Handler(), nil
}

// DevIssuer returns the node's dev issuer (dev auth mode), valid after Run; nil in oidc mode.
// Tests mint their tokens with it.
func (m *Main) DevIssuer() *auth.DevIssuer { return m.issuer }

// nodeName is Config.NodeName, else the host name.
func (m *Main) nodeName() string {
	if m.Config.NodeName != "" {
		return m.Config.NodeName
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "allot"
}

// Ready reports readiness (/readyz): the node serves, is not draining, and has joined its
// cluster or is the first member (cluster.Node.Joined). A node whose seeds do not answer
// yet is alive but not ready, so that it never serves as a cluster of one by mistake.
func (m *Main) Ready() bool {
	if !m.ready.Load() || m.node == nil {
		return false
	}
	select {
	case <-m.node.Joined():
		return true
	default:
		return false
	}
}

// HTTPURL is the base URL of the HTTP edge, valid after Run.
func (m *Main) HTTPURL() string {
	if m.ln == nil {
		return ""
	}
	return m.edgeScheme() + "://" + m.ln.Addr().String()
}

// Node returns the cluster member, valid after Run.
func (m *Main) Node() *cluster.Node { return m.node }

// Store returns the node's store, valid after Run.
func (m *Main) Store() persistence.Store { return m.store }

// Close drains the node within Config.LeaveTimeout: readiness turns false, the HTTP edge stops
// taking requests and finishes those in flight, the notification service stops (its
// consumer, then its workers), resource actors flush their pending batches,
// the node leaves the cluster, the outbox relay publishes what is left, the bus (and an
// embedded NATS server) stops, and the store is closed. It is safe to call twice.
func (m *Main) Close() error {
	m.closeOnce.Do(func() {
		m.ready.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), m.Config.LeaveTimeout)
		defer cancel()
		var errs []error
		if m.srv != nil {
			if err := m.srv.Shutdown(ctx); err != nil {
				errs = append(errs, fmt.Errorf("http shutdown: %w", err))
				_ = m.srv.Close()
				if m.edgeLean != nil {
					m.edgeLean.Close()
				}
			}
			<-m.serveDone
		}
		m.gossipKeys.stop()
		m.stopPayments() // payments.go
		if m.admin != nil {
			if err := m.admin.close(); err != nil {
				errs = append(errs, err)
			}
		}
		if err := m.notifier.stop(); err != nil { // before the node: its workers read resources from their owners
			errs = append(errs, err)
		}
		if m.node != nil {
			if err := m.node.Stop(ctx); err != nil {
				errs = append(errs, fmt.Errorf("leave cluster: %w", err))
			}
		}
		if err := m.feeds.stop(); err != nil { // consumers, dispatcher, webhook db
			errs = append(errs, err)
		}
		if err := m.reports.stop(); err != nil { // consumer, pending views, reports db
			errs = append(errs, err)
		}
		if err := m.audit.stop(); err != nil {
			errs = append(errs, err)
		}
		m.stopEvents(ctx) // after the actors' last commits: the relay drains them, then NATS stops
		if m.store != nil {
			if err := m.store.Close(); err != nil {
				errs = append(errs, fmt.Errorf("close store: %w", err))
			}
		}
		m.closeErr = errors.Join(errs...)
		m.closed.Store(true)
	})
	return m.closeErr
}

// Closed reports whether Close has returned (tests that boot nodes one after another in one
// process use it; see clustertest.BeforeInProcessNode).
func (m *Main) Closed() bool { return m.closed.Load() }

func (m *Main) storeKind() string {
	if m.Config.DBURL != "" {
		return "postgres"
	}
	return "sqlite"
}

func (m *Main) openStore(ctx context.Context) (persistence.Store, error) {
	if m.Config.DBURL != "" {
		cfg := postgres.DefaultConfig()
		cfg.URL = m.Config.DBURL
		cfg.MaxConns = m.Config.DBMaxConns
		cfg.StatementTimeout = m.Config.DBStatementTimeout
		cfg.IdempotencyRows = m.Config.DBIdempotencyRows
		s, err := postgres.Open(ctx, cfg)
		if err != nil {
			return nil, fmt.Errorf("open database: %w", err)
		}
		return s, nil
	}
	if err := os.MkdirAll(m.Config.DataDir, 0o755); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	cfg := sqlite.DefaultConfig(filepath.Join(m.Config.DataDir, "allot.db"))
	cfg.IdempotencyRows = m.Config.DBIdempotencyRows
	s, err := sqlite.Open(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open embedded store: %w", err)
	}
	return s, nil
}
