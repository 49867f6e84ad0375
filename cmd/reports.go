package cmd

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/allot/allot/actors/events"
	"github.com/allot/allot/api"
	"github.com/allot/allot/api/console"
	"github.com/allot/allot/api/feed"
	"github.com/allot/allot/api/mount"
	"github.com/allot/allot/api/nodestats"
	"github.com/allot/allot/api/reports"
	"github.com/allot/allot/cluster/bus"
	"github.com/allot/allot/persistence/postgres"
	"github.com/allot/allot/persistence/sqlite"
)

// reportsConsumerName is the durable bus consumer the nodes share for the report rollups.
const reportsConsumerName = "reports"

// pruneAppliedEvery is how often the ids of applied events older than twice the event
// retention are forgotten (reports.SQLStore.PruneApplied).
const pruneAppliedEvery = time.Hour

// nodeReports is the reports side of a node (docs/REPORTS.md): the rollup store beside the
// main store, the durable consumer that fills it, the availability view counter at the
// edge, and the routes: the reports, the operator console and the node's stats. Zero fields
// were not started.
type nodeReports struct {
	db    *sql.DB
	store *reports.SQLStore
	views *reports.Views
	sub   bus.Subscription
	stopC chan struct{} // closes the prune loop
	done  chan struct{}
	once  sync.Once
}

// startReports opens the reports store and the view counter and returns the routes to mount
// and the observers of the availability route.
func (m *Main) startReports(ctx context.Context) ([]mount.Route, []gin.HandlerFunc, error) {
	r := &m.reports
	var err error
	dialect := reports.SQLite
	if pg, ok := m.store.(*postgres.Store); ok {
		r.db = stdlib.OpenDBFromPool(pg.Pool())
		if dialect, err = reports.DetectDialect(ctx, r.db); err != nil {
			return nil, nil, err
		}
	} else if r.db, err = sqlite.OpenSidePool(filepath.Join(m.Config.DataDir, "allot.db"), 5*time.Second); err != nil {
		return nil, nil, err
	}
	if r.store, err = reports.NewSQLStore(r.db, dialect); err != nil {
		return nil, nil, err
	}
	if st, ok := m.store.(*sqlite.Store); ok {
		r.store.WriteThrough(st.InGroup) // the consumer's batches join the booking writer's group commits
	}
	key, err := r.store.ViewKey(ctx)
	if err != nil {
		return nil, nil, err
	}
	log := m.Logger.With("component", "reports")
	if r.views, err = reports.NewViews(reports.ViewsConfig{Store: r.store, Key: key, Now: m.Now, Logger: log,
		Subject: func(c *gin.Context) string {
			if p := api.PrincipalOf(c); p != nil {
				return p.Subject
			}
			return ""
		}}); err != nil {
		return nil, nil, err
	}
	r.views.Start()
	r.stopC, r.done = make(chan struct{}), make(chan struct{})
	go r.pruneLoop(m.Now, 2*m.Config.EventRetention, log)

	h, err := reports.NewHandlers(reports.HandlersConfig{Reports: reports.NewReports(r.store), Fail: api.Fail, Now: m.Now})
	if err != nil {
		return nil, nil, err
	}
	ccfg := console.Config{DevTokens: m.Config.Auth == AuthDev}
	if m.Config.Auth == AuthOIDC && m.Config.ConsoleClientID != "" {
		ccfg.Issuer, ccfg.ClientID = m.Config.OIDCIssuer, m.Config.ConsoleClientID
	}
	con, err := console.New(ccfg)
	if err != nil {
		return nil, nil, err
	}
	st, err := nodestats.New(nodestats.Config{Gatherer: m.registry, Members: members{node: m.node}.Members,
		Node: m.nodeName(), Fail: api.Fail, Now: m.Now})
	if err != nil {
		return nil, nil, err
	}
	routes := append(h.Routes(), con.Routes()...)
	return append(routes, st.Routes()...), []gin.HandlerFunc{r.views.Middleware()}, nil
}

// availabilityStreamPath is the live availability stream's route (api/live), whose
// connections count as views like the availability reads.
const availabilityStreamPath = "/v1/resources/:rid/availability/stream"

// observeStreams makes each connection to the availability stream among routes count one
// view (reports.Views.StreamObserver), as GET /v1/resources/:rid/availability does through
// the AvailabilityObservers. Call it after startReports.
func (r *nodeReports) observeStreams(routes []mount.Route) []mount.Route {
	obs := r.views.StreamObserver()
	for i, rt := range routes {
		if rt.Method == http.MethodGet && rt.Path == availabilityStreamPath {
			next := rt.Handler
			routes[i].Handler = func(c *gin.Context) { obs(c); next(c) }
		}
	}
	return routes
}

// pruneLoop forgets applied event ids older than keep, at start and then every
// pruneAppliedEvery, until stop.
func (r *nodeReports) pruneLoop(now func() time.Time, keep time.Duration, log *slog.Logger) {
	defer close(r.done)
	t := time.NewTicker(pruneAppliedEvery)
	defer t.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if _, err := r.store.PruneApplied(ctx, now().Add(-keep)); err != nil {
			log.Warn("reports: applied events not pruned", "error", err)
		}
		cancel()
		select {
		case <-r.stopC:
			return
		case <-t.C:
		}
	}
}

// subscribeReports starts the durable reports consumer, shared by the nodes: each event is
// applied by one of them, once by its id (reports.Store.Apply), so redeliveries and
// concurrent nodes change nothing. Without a bus the reports stay empty.
func (m *Main) subscribeReports(ctx context.Context) error {
	b := m.events.bus
	if b == nil {
		m.Logger.Warn("reports get no events: the node has no bus (--nats-url)")
		return nil
	}
	// Batches: one transaction per fetch, not per event (docs/EVENTS.md, Cost).
	h := reports.BatchConsumer(m.reports.store, m.Logger.With("component", "reports"))
	sub, err := b.SubscribeBatch(ctx, bus.ConsumerConfig{Name: reportsConsumerName, BatchInterval: feedBatchInterval}, func(ctx context.Context, recs []events.Record) error {
		evs := make([]feed.Event, len(recs))
		for i, r := range recs {
			evs[i] = feedEvent(r)
		}
		return h(ctx, evs)
	})
	if err != nil {
		return fmt.Errorf("reports consumer: %w", err)
	}
	m.reports.sub = sub
	return nil
}

// stop stops the consumer, writes the pending views and closes the reports' connections,
// after the edge stopped. Safe twice and on a partly started nodeReports.
func (r *nodeReports) stop() error {
	var errs []error
	r.once.Do(func() {
		if r.sub != nil {
			r.sub.Stop()
		}
		if r.stopC != nil {
			close(r.stopC)
			<-r.done
		}
		if r.views != nil {
			if err := r.views.Close(); err != nil {
				errs = append(errs, fmt.Errorf("reports views: %w", err))
			}
		}
		if r.db != nil {
			if err := r.db.Close(); err != nil {
				errs = append(errs, fmt.Errorf("reports db: %w", err))
			}
		}
	})
	return errors.Join(errs...)
}

// ReportsStore returns the node's reports store, valid after Run (tests read it).
func (m *Main) ReportsStore() *reports.SQLStore { return m.reports.store }
