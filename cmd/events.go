package cmd

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/allot/allot/api"
	"github.com/allot/allot/cluster/bus"
	"github.com/allot/allot/persistence"
)

// nodeEvents is a node's event machinery: the bus (an embedded nats-server on a single
// node, or a connection to --nats-url) and the relay publishing the store's outbox to it.
// Both are nil when the node publishes nothing (a cluster member without --nats-url).
type nodeEvents struct {
	bus   *bus.Bus
	relay *bus.Relay
}

// nudge is the actors' wake-up of the relay, nil without one.
func (e *nodeEvents) nudge() func() {
	if e.relay == nil {
		return nil
	}
	return e.relay.Nudge
}

// The values of --events (NodeConfig.Events).
const (
	EventsOn  = "on"
	EventsOff = "off"
)

// validateEvents checks --events: off publishes nothing, so a NATS cluster to publish to
// is a contradiction.
func (c *NodeConfig) validateEvents() error {
	switch {
	case c.Events != EventsOn && c.Events != EventsOff:
		return fmt.Errorf("--events %q: want on or off", c.Events)
	case c.Events == EventsOff && c.NATSURL != "":
		return errors.New("--events off publishes nothing: drop --nats-url")
	}
	return nil
}

// eventsOff reports whether the node runs with --events off: its resource actors drop the
// events of their commits (resource.Config.DropEvents), so the store writes no outbox rows,
// and no bus, relay or consumer is started.
func (m *Main) eventsOff() bool { return m.Config.Events == EventsOff }

// startEvents opens the bus and starts the relay over the store's outbox.
func (m *Main) startEvents(ctx context.Context) error {
	if m.eventsOff() {
		m.Logger.Info("events are off (--events off): no outbox rows, no bus; webhooks, live streams and reports get nothing")
		return nil
	}
	outbox, ok := m.store.(persistence.Outbox)
	if !ok {
		return fmt.Errorf("events: the %s store keeps no outbox", m.storeKind())
	}
	if m.Config.NATSURL == "" && !m.Config.Single() {
		m.Logger.Warn("events are recorded (GET /v1/events) but not published, so the outbox is never pruned and grows with every commit: a cluster needs --nats-url, or --events off")
		return nil
	}
	cfg := bus.DefaultConfig()
	cfg.URL = m.Config.NATSURL
	cfg.DataDir = m.Config.DataDir
	if cfg.URL == "" {
		abs, err := filepath.Abs(m.Config.DataDir)
		if err != nil {
			return fmt.Errorf("events: data dir: %w", err)
		}
		cfg.DataDir = abs
	} else {
		cfg.Replicas = m.Config.NATSReplicas
	}
	cfg.Retention = m.Config.EventRetention
	cfg.Logger = m.Logger.With("component", "bus")
	cfg.Now = m.Now
	b, err := bus.Open(ctx, cfg)
	if err != nil {
		return fmt.Errorf("events: %w", err)
	}
	m.events.bus = b
	rc := bus.DefaultRelayConfig()
	rc.Store, rc.Publisher, rc.Now = outbox, b, m.Now
	if m.Config.DBURL == "" {
		rc.FreshAfter = 0 // SQLite voids a killed process's claims at open: none to wait out
	}
	rc.Retention = m.Config.EventRetention
	rc.Logger = m.Logger.With("component", "relay")
	rc.Metrics = bus.NewRelayMetrics(m.registry)
	if m.events.relay, err = bus.NewRelay(rc); err != nil {
		return fmt.Errorf("events: %w", err)
	}
	return nil
}

// stopEvents drains the relay (within ctx), then closes the bus and an embedded server.
func (m *Main) stopEvents(ctx context.Context) {
	if m.events.relay != nil {
		m.events.relay.Close(ctx)
	}
	if m.events.bus != nil {
		m.events.bus.Close()
	}
}

// eventLog is the store's outbox for GET /v1/events.
func (m *Main) eventLog() api.EventLister {
	if ob, ok := m.store.(persistence.Outbox); ok {
		return ob
	}
	return nil
}

// Bus returns the node's event bus (nil when it publishes nothing), valid after Run: the
// Subscriber that webhooks, live streams and other consumers build on.
func (m *Main) Bus() *bus.Bus { return m.events.bus }
