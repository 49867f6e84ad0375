package cmd

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/allot/allot/actors/events"
	"github.com/allot/allot/api"
	"github.com/allot/allot/api/feed"
	"github.com/allot/allot/api/live"
	"github.com/allot/allot/api/mount"
	"github.com/allot/allot/api/webhooks"
	"github.com/allot/allot/cluster/bus"
	"github.com/allot/allot/persistence/pii"
	"github.com/allot/allot/persistence/postgres"
	"github.com/allot/allot/persistence/sqlite"
)

// webhooksConsumer is the durable bus consumer the nodes share for webhook deliveries.
const webhooksConsumer = "webhooks"

// feedBatchInterval paces the durable batch consumers whose transactions share SQLite's write
// lock with the booking writer (webhooks, reports): at most one batch per interval, so that
// under load each commits a few large batches a second (docs/EVENTS.md, Cost). It is what a
// webhook delivery may wait more at worst.
const feedBatchInterval = 100 * time.Millisecond

// nodeFeeds is what consumes the node's events at its edge (docs/WEBHOOKS.md): the webhook
// dispatcher (its store beside the main store, a durable consumer shared by the nodes) and
// the live SSE streams (a hub and a user feed, fed by an ephemeral consumer of this node).
// Zero fields were not started.
type nodeFeeds struct {
	db    *sql.DB
	disp  *webhooks.Dispatcher
	hub   *live.Hub
	users *live.UserFeed
	subs  []bus.Subscription
}

// startFeeds opens the webhook store and dispatcher and builds the live streams; it returns
// their routes for the edge. The node must be started: availability is read from owners.
func (m *Main) startFeeds() ([]mount.Route, error) {
	f := &m.feeds
	var err error
	if f.db, err = m.webhookDB(); err != nil {
		return nil, err
	}
	dialect := webhooks.SQLite
	if m.Config.DBURL != "" {
		dialect = webhooks.Postgres
	}
	store, err := webhooks.NewSQLStore(f.db, dialect)
	if err != nil {
		return nil, err
	}
	if st, ok := m.store.(*sqlite.Store); ok {
		store.WriteThrough(st.InGroup) // the intake and the records join the booking writer's group commits
	}
	wc := webhooks.DefaultConfig()
	wc.Store = store
	wc.Now = m.Now
	wc.AllowPrivate = m.Config.WebhookAllowPrivate
	wc.Logger = m.Logger.With("component", "webhooks")
	wc.Registerer = m.registry
	if m.Config.DataKeyFile != "" {
		ring, err := pii.LoadKeyring(m.Config.DataKeyFile)
		if err != nil {
			return nil, fmt.Errorf("--data-key-file: %w", err)
		}
		wc.Sealer = ring // set only with a ring: a typed nil would look like a sealer
	}
	if f.disp, err = webhooks.NewDispatcher(wc); err != nil {
		return nil, fmt.Errorf("webhooks: %w", err)
	}

	rd := api.OwnerAvailability{Dispatcher: dispatcher{node: m.node}, Timeout: m.Config.RequestTimeout, Now: m.Now}
	if f.hub, err = live.NewHub(live.HubConfig{Reader: rd}); err != nil {
		return nil, fmt.Errorf("live: %w", err)
	}
	f.users = live.NewUserFeed(0)
	st, err := live.NewStreams(live.StreamConfig{Hub: f.hub, Reader: rd, Users: f.users, Fail: api.Fail,
		Subject: func(c *gin.Context) string {
			if p := api.PrincipalOf(c); p != nil {
				return p.Subject
			}
			return ""
		}})
	if err != nil {
		return nil, fmt.Errorf("live: %w", err)
	}
	return append(webhooks.NewHandlers(f.disp, api.Fail).Routes(), st.Routes()...), nil
}

// webhookDB opens the webhook store's connections on the main store's database (migration
// 0005 made its tables): a second pool on the SQLite file, or the PostgreSQL pool shared.
func (m *Main) webhookDB() (*sql.DB, error) {
	if pg, ok := m.store.(*postgres.Store); ok {
		return stdlib.OpenDBFromPool(pg.Pool()), nil
	}
	db, err := sqlite.OpenSidePool(filepath.Join(m.Config.DataDir, "allot.db"), 5*time.Second)
	if err != nil {
		return nil, err
	}
	return db, nil
}

// subscribeFeeds connects the dispatcher and the live streams to the bus. Without a bus (a
// cluster member without --nats-url) webhooks can be registered but nothing is delivered.
func (m *Main) subscribeFeeds(ctx context.Context) error {
	f := &m.feeds
	b := m.events.bus
	if b == nil {
		m.Logger.Warn("webhooks and live streams get no events: the node has no bus (--nats-url)")
		return nil
	}
	// Batches: a fetch's events and their deliveries in one transaction of the webhook store,
	// which keeps the consumer's inbox itself (Dispatcher.HandleBatch), instead of an inbox
	// read, an inbox write on the main store and a transaction per event (docs/EVENTS.md, Cost).
	disp := f.disp
	sub, err := b.SubscribeBatch(ctx, bus.ConsumerConfig{Name: webhooksConsumer, BatchInterval: feedBatchInterval}, func(ctx context.Context, recs []events.Record) error {
		evs := make([]feed.Event, len(recs))
		for i, r := range recs {
			evs[i] = feedEvent(r)
		}
		errs, err := disp.HandleBatch(ctx, webhooksConsumer, evs)
		if err != nil || errs == nil {
			return err
		}
		for i, e := range errs {
			if e != nil {
				errs[i] = fmt.Errorf("%w: %w", bus.ErrPermanent, e) // a payload that does not encode
			}
		}
		return bus.BatchErrors(errs)
	})
	if err != nil {
		return fmt.Errorf("webhooks consumer: %w", err)
	}
	f.subs = append(f.subs, sub)
	hub, users := f.hub, f.users
	// Listening: with no SSE stream open (the usual case under load) the events are not decoded.
	listening := func() bool { return hub.Watched() || users.Watched() }
	sub, err = b.Subscribe(ctx, bus.ConsumerConfig{Listening: listening}, func(ctx context.Context, rec events.Record) error {
		ev := feedEvent(rec)
		return errors.Join(hub.Handle(ctx, ev), users.Handle(ctx, ev))
	})
	if err != nil {
		return fmt.Errorf("live consumer: %w", err)
	}
	f.subs = append(f.subs, sub)
	return nil
}

// closeStreams ends every SSE stream, so that the edge's graceful shutdown does not wait
// for them (registered with the HTTP server's shutdown).
func (f *nodeFeeds) closeStreams() {
	if f.hub != nil {
		_ = f.hub.Close()
	}
	if f.users != nil {
		_ = f.users.Close()
	}
}

// stop stops the consumers, the dispatcher (its attempts in flight) and the webhook store's
// connections, after the edge stopped. Safe on a partly started nodeFeeds.
func (f *nodeFeeds) stop() error {
	f.closeStreams()
	for _, s := range f.subs {
		s.Stop()
	}
	var errs []error
	if f.disp != nil {
		if err := f.disp.Close(); err != nil {
			errs = append(errs, fmt.Errorf("webhooks: %w", err))
		}
	}
	if f.db != nil {
		if err := f.db.Close(); err != nil {
			errs = append(errs, fmt.Errorf("webhooks db: %w", err))
		}
	}
	return errors.Join(errs...)
}

// feedEvent is the bus's record as the webhooks and live streams consume it.
func feedEvent(r events.Record) feed.Event {
	return feed.Event{ID: r.ID, Type: string(r.Type), ResourceID: r.ResourceID, Version: r.Version,
		Index: r.Index, OccurredAt: r.OccurredAt, Subject: r.Subject, Data: r.Data}
}
