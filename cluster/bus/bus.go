package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/allot/allot/actors/events"
)

// Stream names. Events live in EventsStream (subjects allot.events.>); dead letters in
// DeadLetterStream (allot.deadletter.>), kept as long as the events.
const (
	EventsStream     = "ALLOT_EVENTS"
	DeadLetterStream = "ALLOT_DEADLETTER"
)

// Config configures the bus of one node. Defaults (DefaultConfig) live here only.
type Config struct {
	// URL is the NATS cluster to connect to (--nats-url, e.g. nats://n1:4222,nats://n2:4222).
	// Empty starts an embedded nats-server with JetStream file storage under DataDir, with no
	// listener: the node connects in process. The embedded server is for a single node.
	URL string
	// DataDir holds the embedded server's JetStream files (DataDir/nats). Required when URL
	// is empty.
	DataDir string
	// Retention is how long the streams keep events (the stream's MaxAge); the outbox
	// keeps published events as long (--event-retention).
	Retention time.Duration
	// DuplicateWindow is how long JetStream remembers a Nats-Msg-Id: a republish of an event
	// within it (a relay that crashed between publishing and marking) is stored once. It
	// must exceed the oldest age at which the relay can republish an event the stream stored
	// (the invariant at MinDuplicateWindow); validate asks for at least MinDuplicateWindow.
	// JetStream keeps every id of the window in memory (about 120-150 bytes per event), so a
	// longer window costs memory per event published, and buys little: consumers deduplicate
	// by event id anyway (inbox tables, webhook-id), so the window only saves a stored
	// duplicate after a relay crash. Zero takes the default for the mode: MinDuplicateWindow
	// on the embedded server, ClusterDuplicateWindow on a NATS cluster (URL set).
	DuplicateWindow time.Duration
	// Replicas is the streams' replication factor on a cluster (1 for the embedded server).
	Replicas int
	// Timeout bounds the embedded server's start, each attempt to create the streams, and
	// each publish.
	Timeout time.Duration
	// StartWithin is how long Open keeps trying to reach the cluster and create the streams:
	// a node may start while its NATS servers do (JetStream elects its meta leader, and a
	// stream of several replicas needs that many servers up) or while one restarts. Each
	// attempt is bounded by Timeout; failures are logged and retried with backoff.
	StartWithin time.Duration
	// Logger receives consumer failures and dead letters; nil discards.
	Logger *slog.Logger
	// Now is the clock of the inbox records; time.Now by default.
	Now func() time.Time
}

// DefaultConfig returns the defaults: an embedded server, 7 days of retention, the duplicate
// window of the mode (zero: MinDuplicateWindow, 20 s, on the embedded server;
// ClusterDuplicateWindow, 30 s, on a NATS cluster). The window's ids cost about 120-150 bytes
// per event published within it, so a node sustaining 10,000 events/s keeps about 23 MiB of
// them at 20 s (34 MiB at 30 s; 134 MiB at the 2 minutes the window was until round 5,
// docs/ARCHITECTURE.md).
func DefaultConfig() Config {
	return Config{Retention: 7 * 24 * time.Hour, Replicas: 1, Timeout: 10 * time.Second,
		StartWithin: time.Minute, Now: time.Now}
}

// MinDuplicateWindow is the shortest duplicate window validate accepts, and the embedded
// server's default.
//
// Invariant: barring a further failure (of the bus again, or a restart that takes longer),
// the relay republishes an event the stream already stored at most max(ClaimLease, 1.5 ×
// Timeout) + Poll + one republishing pass after the stream stored it: 16 s + the pass with
// the defaults (DefaultRelayConfig, DefaultConfig). The relay republishes a stored event only
// (1) after a publish whose outcome it did not learn: the stream may have stored it when the
// publish was sent and the error came a publish timeout later (Timeout; a window's, 1.5 ×
// Timeout, PublishWindow), and the relay publishes it again on its next pass, within Poll;
// (2) after a relay died holding it: its claim expires ClaimLease after the claim, which came
// before the publish (PostgreSQL, CockroachDB), or is voided when the node's process starts
// again (SQLite, memstore: the downtime), and the next claim comes within Poll. Events the
// stream acknowledged and the relay could not mark are marked again, never republished
// (Relay.stored), so a mark that fails for any time stores no second copy. 20 s leaves 4 s
// for the pass to reach the event (an in-process publish takes microseconds) and, on SQLite,
// a restart of up to ~19 s. A republish later than the window stores a second copy, which
// consumers drop by event id (docs/EVENTS.md, delivery guarantees).
const MinDuplicateWindow = 20 * time.Second

// ClusterDuplicateWindow is the duplicate window on a NATS cluster (URL set): 30 s, the
// same invariant as MinDuplicateWindow with 10 s more for a republishing pass over a
// replicated stream (each publish a quorum's round trip, slower still while the stream's
// leader moves). Memory there is the NATS servers', not the node's.
const ClusterDuplicateWindow = 30 * time.Second

// duplicateWindow is the window in effect: DuplicateWindow, or the mode's default when zero.
func (c Config) duplicateWindow() time.Duration {
	switch {
	case c.DuplicateWindow != 0:
		return c.DuplicateWindow
	case c.URL == "":
		return MinDuplicateWindow
	default:
		return ClusterDuplicateWindow
	}
}

func (c Config) validate() error {
	switch {
	case c.URL == "" && c.DataDir == "":
		return errors.New("bus: an embedded NATS server needs a data directory")
	case c.Retention <= 0 || c.DuplicateWindow < 0 || c.Timeout <= 0 || c.StartWithin <= 0:
		return errors.New("bus: retention, timeout and start-up time must be positive, the duplicate window not negative")
	case c.duplicateWindow() < MinDuplicateWindow:
		return fmt.Errorf("bus: the duplicate window must be at least %s (the relay's claim lease, its poll and a republishing pass)", MinDuplicateWindow)
	case c.duplicateWindow() > c.Retention:
		return errors.New("bus: the duplicate window cannot exceed the retention")
	case c.Replicas < 1 || c.Replicas > 5:
		return errors.New("bus: replicas must be 1 to 5")
	case c.Now == nil:
		return errors.New("bus: no clock")
	}
	return nil
}

// Bus is a connection to JetStream with the streams in place; it publishes events and runs
// consumers. Safe for concurrent use. Close stops its consumers, then the connection, then the
// embedded server; it is safe to call twice.
type Bus struct {
	cfg    Config
	log    *slog.Logger
	ns     *server.Server // nil when connected to an external cluster
	nc     *nats.Conn
	js     jetstream.JetStream
	mu     sync.Mutex
	closed bool
	subs   map[*subscription]struct{}
	// stopQuiet and quietDone stop the embedded server's quietLoop (quiet.go); nil without it.
	stopQuiet  context.CancelFunc
	quietDone  chan struct{}
	quietReads atomic.Int64 // last messages read by quietLoop, for tests
}

var _ Subscriber = (*Bus)(nil)

// Open starts the embedded server (when cfg.URL is empty) or connects to cfg.URL, and
// creates or updates the streams.
func Open(ctx context.Context, cfg Config) (*Bus, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	b := &Bus{cfg: cfg, log: cfg.Logger, subs: make(map[*subscription]struct{})}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	// RetryOnFailedConnect: a cluster that is not up yet is reached when it is (the streams'
	// creation below waits for it), as one that goes away later is.
	opts := []nats.Option{nats.Name("allot"), nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond),
		nats.RetryOnFailedConnect(true)}
	url := cfg.URL
	if url == "" {
		ns, err := server.NewServer(embeddedOptions(cfg.DataDir))
		if err != nil {
			return nil, fmt.Errorf("bus: embedded nats: %w", err)
		}
		ns.Start()
		if !ns.ReadyForConnections(cfg.Timeout) {
			ns.Shutdown()
			ns.WaitForShutdown()
			return nil, errors.New("bus: embedded nats did not start")
		}
		b.ns = ns
		opts = append(opts, nats.InProcessServer(ns))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		b.stopServer()
		return nil, fmt.Errorf("bus: connect: %w", err)
	}
	b.nc = nc
	// The async publisher's timeout resolves every future of a publish window (PublishWindow)
	// as Publish's context bounds a publish.
	if b.js, err = jetstream.New(nc, jetstream.WithPublishAsyncTimeout(cfg.Timeout)); err != nil {
		b.Close()
		return nil, fmt.Errorf("bus: jetstream: %w", err)
	}
	if err := b.createStreams(ctx); err != nil {
		b.Close()
		return nil, err
	}
	if b.ns != nil {
		b.startQuietLoop(quietCheckEvery)
	}
	return b, nil
}

// startQuietLoop starts quietLoop (quiet.go); Close stops it.
func (b *Bus) startQuietLoop(every time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	b.stopQuiet, b.quietDone = cancel, make(chan struct{})
	go func() {
		defer close(b.quietDone)
		b.quietLoop(ctx, every)
	}()
}

// embeddedOptions are the embedded server's options: JetStream files under dataDir/nats, no
// listener (the node connects in process), no signals, no log, no subject-match cache, and a
// background sync every 30 s (embeddedSyncInterval, quiet.go: nats-server's default is 2 min).
//
// Why no cache: nats-server caches the result of matching a subject against the account's
// subscriptions, up to 1,024 subjects (swept to 256 at random when over). Event subjects carry
// the resource (allot.events.<type>.<resource>, docs/EVENTS.md) and every delivered message
// is acknowledged on a subject of its own ($JS.ACK...<sequence>...), so the cache almost never
// hits; a miss takes the sublist's write lock to insert. What it keeps is the worst kind of
// memory for a heap that does not compact: a few hundred small objects (the result, its
// slice, the subject's copy) allocated at the last moments of a busy period, each in a span
// otherwise full of that period's per-resource objects, so that every one of them keeps a
// span from being freed once the resources passivate (round 13, docs/PERFORMANCE.md).
// Without the cache a match walks the subscriptions' tree under the read lock: a handful of
// subscriptions (the two streams, the consumers' inboxes, JetStream's API), a few tokens deep.
func embeddedOptions(dataDir string) *server.Options {
	return &server.Options{
		ServerName: "allot-embedded", JetStream: true, StoreDir: filepath.Join(dataDir, "nats"),
		DontListen: true, NoSigs: true, NoLog: true, NoSublistCache: true, SyncInterval: embeddedSyncInterval,
	}
}

// createStreams creates or updates the streams, trying again for up to StartWithin.
func (b *Bus) createStreams(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.StartWithin)
	defer cancel()
	wait := 250 * time.Millisecond
	for _, sc := range []jetstream.StreamConfig{
		{Name: EventsStream, Subjects: []string{events.SubjectPrefix + ">"}, Description: "Allot booking events (docs/EVENTS.md)"},
		{Name: DeadLetterStream, Subjects: []string{DeadLetterPrefix + ">"}, Description: "Allot events no consumer could handle"},
	} {
		sc.Storage, sc.Retention, sc.MaxAge, sc.Duplicates, sc.Replicas = jetstream.FileStorage, jetstream.LimitsPolicy,
			b.cfg.Retention, b.cfg.duplicateWindow(), b.cfg.Replicas
		for attempt := 1; ; attempt++ {
			actx, acancel := context.WithTimeout(ctx, b.cfg.Timeout)
			_, err := b.js.CreateOrUpdateStream(actx, sc)
			acancel()
			if err == nil {
				break
			}
			// Every error is retried: a cluster that is forming answers with timeouts, no
			// responders, "no suitable peers" or "temporarily unavailable", and a stream's
			// configuration error is as wrong on the last attempt as on the first.
			b.log.Warn("event bus not ready; retrying", "stream", sc.Name, "attempt", attempt, "err", err)
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return fmt.Errorf("bus: stream %s: not created within %s: %w", sc.Name, b.cfg.StartWithin, err)
			case <-t.C:
			}
			wait = min(2*wait, 2*time.Second)
		}
	}
	return nil
}

// JetStream is the bus's JetStream context, for tools and tests that read the streams.
func (b *Bus) JetStream() jetstream.JetStream { return b.js }

// Publish publishes one event on its subject with Nats-Msg-Id = its id and waits for the
// stream's acknowledgement. duplicate reports that the stream already had the event (a
// republish within the duplicate window): it is stored once.
func (b *Bus) Publish(ctx context.Context, rec *events.Record) (duplicate bool, err error) {
	body, err := encodeRecord(rec)
	if err != nil {
		return false, fmt.Errorf("bus: encode %s: %w", rec.ID, err)
	}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
	defer cancel()
	ack, err := b.js.Publish(ctx, events.Subject(rec.Type, rec.ResourceID), body, jetstream.WithMsgID(rec.ID),
		jetstream.WithExpectStream(EventsStream))
	if err != nil {
		return false, fmt.Errorf("bus: publish %s: %w", rec.ID, err)
	}
	return ack.Duplicate, nil
}

// Close stops every subscription, closes the connection and stops the embedded server.
// Safe to call twice.
func (b *Bus) Close() {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.closed = true
	subs := b.subs
	b.subs = nil
	b.mu.Unlock()
	if b.stopQuiet != nil {
		b.stopQuiet()
		<-b.quietDone
	}
	for s := range subs {
		s.Stop()
	}
	if b.nc != nil {
		b.nc.Close()
	}
	b.stopServer()
}

func (b *Bus) stopServer() {
	if b.ns != nil {
		b.ns.Shutdown()
		b.ns.WaitForShutdown()
	}
}
