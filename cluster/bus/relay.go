package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/allot/allot/actors/events"
	"github.com/allot/allot/persistence"
)

// RelayStore is the part of the outbox the relay uses (persistence.Outbox has it; see there
// for the contract). Safe for concurrent use.
type RelayStore interface {
	ClaimEvents(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]events.Record, error)
	MarkPublished(ctx context.Context, keys []persistence.EventKey, at time.Time) error
	PruneEvents(ctx context.Context, cutoff time.Time) (int64, error)
}

// Publisher publishes one event, with its id as the deduplication id, and returns once the
// stream stored it (duplicate: it already had it). *Bus implements it. Safe for concurrent use.
type Publisher interface {
	Publish(ctx context.Context, rec *events.Record) (duplicate bool, err error)
}

// WindowPublisher is a Publisher that publishes a claim's events together (*Bus implements
// it: PublishWindow). It returns n, the events of recs stored in order (dup[i] for i < n as
// Publish's duplicate), and, when n < len(recs), the error of recs[n]; no event after recs[n]
// is stored before it (the prefix rule), so the relay holds recs[n:] and republishes them as
// it does after a failed Publish. dup is at least as long as recs. Safe for concurrent use.
type WindowPublisher interface {
	PublishWindow(ctx context.Context, recs []events.Record, dup []bool) (n int, err error)
}

// RelayConfig configures a node's outbox relay. Defaults: DefaultRelayConfig.
type RelayConfig struct {
	Store     RelayStore
	Publisher Publisher
	// Now and After are the relay's one clock: claims, marks and prunes are timed by Now;
	// After arms the poll timer (time.After by default).
	Now   func() time.Time
	After func(d time.Duration) <-chan time.Time
	// Poll is how often the relay looks for unpublished events without a nudge: events
	// committed by other nodes' actors, claims that expired after a crash.
	Poll time.Duration
	// Batch is how many events one claim takes.
	Batch int
	// ClaimLease is how long a claim keeps other relays off the claimed events; a relay
	// that dies holding a claim delays them by this much. It must stay below the bus's
	// duplicate window, so that the republish after it is deduplicated.
	ClaimLease time.Duration
	// Retention is how long published events stay in the outbox (--event-retention);
	// PruneEvery is how often the relay prunes.
	Retention  time.Duration
	PruneEvery time.Duration
	Logger     *slog.Logger
	// Metrics, when set, receives what the relay publishes (NewRelayMetrics), and, every
	// BacklogEvery, the outbox's unpublished events when Store can count them (BacklogCounter).
	Metrics      *RelayMetrics
	BacklogEvery time.Duration
	// Windows lets the relay publish a claim as one window when Publisher is a
	// WindowPublisher (*Bus: on the embedded server; on a NATS cluster PublishWindow
	// publishes one event at a time). On by default. A window's chain holds only over events
	// none of which is in the stream already, which the relay keeps (Relay.fresh): round 14
	// and 15's kill -9 reorders with windows were a restarted relay's window over its
	// predecessor's published, unmarked events (docs/PERFORMANCE.md, round 15).
	Windows bool
	// FreshAfter is how long after its start the relay publishes one at a time whatever it
	// claims (Relay.fresh): the claim lease of a predecessor on another process, whose
	// claims outlive it on PostgreSQL and CockroachDB. A store that voids its claims at open
	// (SQLite) or has none to inherit (memstore) can set 0. Default: the claim lease's 10 s.
	FreshAfter time.Duration
}

// BacklogCounter is a RelayStore that counts its unpublished events, all nodes' together
// (the SQL stores and memstore have it). Safe for concurrent use; errors as ClaimEvents'.
type BacklogCounter interface {
	UnpublishedEvents(ctx context.Context) (int64, error)
}

// DefaultRelayConfig returns the defaults; Store and Publisher are left to the caller.
func DefaultRelayConfig() RelayConfig {
	return RelayConfig{Now: time.Now, After: time.After, Poll: time.Second, Batch: 256, ClaimLease: 10 * time.Second,
		Retention: 7 * 24 * time.Hour, PruneEvery: 10 * time.Minute, BacklogEvery: 15 * time.Second,
		FreshAfter: 10 * time.Second, Windows: true}
}

func (c RelayConfig) validate() error {
	switch {
	case c.Store == nil || c.Publisher == nil || c.Now == nil || c.After == nil:
		return errors.New("relay: store, publisher and clock are required")
	case c.Poll <= 0 || c.Batch <= 0 || c.ClaimLease <= 0 || c.Retention <= 0 || c.PruneEvery <= 0 || c.BacklogEvery <= 0:
		return errors.New("relay: poll, batch, claim lease, retention, prune and backlog intervals must be positive")
	case c.FreshAfter < 0:
		return errors.New("relay: FreshAfter must not be negative")
	}
	return nil
}

// Relay publishes committed outbox events to JetStream: it claims unpublished events, publishes
// each (Nats-Msg-Id = event id; a claim as one window when Windows is set and the publisher is
// a WindowPublisher),
// marks them published, and prunes old ones. It is woken by
// Nudge (an actor's commit with events) and by the poll timer. Per resource, events are
// claimed and published in log order; a republish after a crash between publishing and
// marking is deduplicated by the stream.
//
// It owns one goroutine, started by NewRelay and stopped by Close.
type Relay struct {
	cfg      RelayConfig
	log      *slog.Logger
	nudge    chan struct{}
	stop     chan struct{}
	done     chan struct{}
	once     sync.Once
	drainCtx context.Context // set before stop is closed: the final drain's deadline
	stats    relayStats
	// held are events this relay claimed and has not marked published (a publish or a mark
	// failed): they go first in the next pass, before any new claim, so that a failure
	// never lets a resource's later events overtake earlier ones. Run goroutine only.
	held []events.Record
	// stored is how many of held, from the first, the stream acknowledged (storedDup[i]: as a
	// duplicate) before their mark failed: the next pass marks them again without publishing
	// them again. Republishing them would rely on the stream's duplicate window, which a mark
	// failing for longer (the database away) outlasts: the stream would store a second copy.
	// Run goroutine only.
	stored    int
	storedDup []bool
	// start is when the relay started; fresh is set once a claim made FreshAfter after it
	// came back shorter than Batch and was published whole. Run goroutine only.
	//
	// Why (the publish window's chain): a window stores its events only as a prefix because
	// each event names the one before it (Nats-Expected-Last-Msg-Id), which holds only while
	// none of the window's events is in the stream already. A duplicate that happens to be
	// the stream's last message re-anchors the chain behind an event the stream refused: in
	// [a, d, b], a refused, d a duplicate of the last message, b names d and is stored before
	// a (round 15's kill -9 reorders: the restarted relay republished its predecessor's
	// published but unmarked events). Events in the stream but not marked are this relay's
	// held ones (marked again without a republish, Relay.stored; their unpublished rest is
	// published one at a time), or a predecessor's (a process killed between
	// publish and mark): those are all unpublished at start, so once a claim made after every
	// predecessor's lease (FreshAfter) came back short, they were all in it or before it.
	start time.Time
	fresh bool
}

type relayStats struct {
	mu                            sync.Mutex
	published, duplicates, pruned int64
}

// NewRelay starts a relay.
func NewRelay(cfg RelayConfig) (*Relay, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	r := &Relay{cfg: cfg, log: cfg.Logger, nudge: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		start: cfg.Now()}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	go r.run()
	return r, nil
}

// Nudge wakes the relay; it never blocks (resource.Config.EventsCommitted).
func (r *Relay) Nudge() {
	select {
	case r.nudge <- struct{}{}:
	default:
	}
}

// Stats returns how many events the relay published, how many of those the stream already
// had, and how many it pruned.
func (r *Relay) Stats() (published, duplicates, pruned int64) {
	r.stats.mu.Lock()
	defer r.stats.mu.Unlock()
	return r.stats.published, r.stats.duplicates, r.stats.pruned
}

// Close publishes what is left (until ctx, which must not be nil, ends), then stops the relay
// and waits for it. Safe to call twice; later calls wait for the first to finish.
func (r *Relay) Close(ctx context.Context) {
	r.once.Do(func() {
		r.drainCtx = ctx
		close(r.stop)
	})
	<-r.done
}

func (r *Relay) run() {
	defer close(r.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // the relay's work is cancelled when stopping, once the drain deadline passed
		select {
		case <-r.stop:
			select {
			case <-r.drainCtx.Done():
				cancel()
			case <-ctx.Done():
			}
		case <-ctx.Done():
		}
	}()
	var lastPrune, lastBacklog time.Time
	for {
		r.drain(ctx)
		if now := r.cfg.Now(); now.Sub(lastBacklog) >= r.cfg.BacklogEvery {
			lastBacklog = now
			r.backlog(ctx)
		}
		if now := r.cfg.Now(); now.Sub(lastPrune) >= r.cfg.PruneEvery {
			lastPrune = now
			r.prune(ctx, now)
		}
		select {
		case <-r.stop:
			r.drain(ctx) // what the last commits added
			return
		case <-r.nudge:
		case <-r.cfg.After(r.cfg.Poll):
		}
	}
}

// drain publishes until a claim comes back short or a step fails.
func (r *Relay) drain(ctx context.Context) {
	for ctx.Err() == nil {
		n, err := r.publishBatch(ctx)
		if err != nil {
			if ctx.Err() == nil {
				r.log.Warn("event relay", "err", err)
			}
			return
		}
		if n < r.cfg.Batch {
			return
		}
	}
}

// publishBatch publishes the held events, or claims a new batch, in order, and marks what
// was published. It stops at the first failed publish and keeps the rest held.
func (r *Relay) publishBatch(ctx context.Context) (int, error) {
	recs, fromHeld := r.held, len(r.held) > 0
	if !fromHeld {
		var err error
		recs, err = r.cfg.Store.ClaimEvents(ctx, r.cfg.Now(), r.cfg.ClaimLease, r.cfg.Batch)
		if err != nil || len(recs) == 0 {
			return 0, err
		}
		inVersionOrder(recs)
	}
	claimedAt := r.cfg.Now()
	r.held = recs
	r.cfg.Metrics.setHeld(len(recs))
	dupOf := make([]bool, len(recs))
	// The first k events are in the stream already (their mark failed): only the rest is
	// published; the window needs events none of which is in the stream, so a claim only.
	k := 0
	if fromHeld {
		k = copy(dupOf, r.storedDup[:r.stored])
	}
	n, perr := r.publish(ctx, recs[k:], dupOf[k:], !fromHeld && r.fresh)
	n += k
	if !fromHeld && perr == nil && n == len(recs) && len(recs) < r.cfg.Batch && claimedAt.Sub(r.start) >= r.cfg.FreshAfter {
		r.fresh = true
	}
	ids := make([]persistence.EventKey, 0, n)
	for i := range n {
		ids = append(ids, persistence.KeyOf(&recs[i]))
	}
	if len(ids) > 0 {
		if err := r.cfg.Store.MarkPublished(ctx, ids, r.cfg.Now()); err != nil {
			// All of recs stay held; recs[:n] are in the stream: the next pass marks them
			// again and publishes only the rest.
			r.stored, r.storedDup = n, dupOf[:n]
			return 0, err
		}
		// Counted once, when marked: a mark retried after a failure publishes nothing again.
		var dups int64
		now := r.cfg.Now()
		for i := range n {
			r.cfg.Metrics.observe(&recs[i], dupOf[i], now)
			if dupOf[i] {
				dups++
			}
		}
		r.stored, r.storedDup = 0, nil
		// A claim published whole is let go: an empty r.held that still pointed into recs
		// would keep the claim's records alive until the next one, and the last claim of a
		// busy period would then keep its strings (made while the heap's spans were full of
		// active resources' objects) for as long as the node stays quiet: each of them pins
		// a span after the resources passivate (round 13, docs/PERFORMANCE.md).
		if r.held = recs[len(ids):]; len(r.held) == 0 {
			r.held = nil
		}
		r.cfg.Metrics.setHeld(len(r.held))
		r.stats.mu.Lock()
		r.stats.published += int64(len(ids))
		r.stats.duplicates += dups
		r.stats.mu.Unlock()
	}
	if perr != nil {
		return 0, perr
	}
	if fromHeld {
		return r.cfg.Batch, nil // go on with a claim
	}
	return len(recs), nil
}

// publish publishes recs in order, as one window when window is set and the publisher can
// (WindowPublisher), and returns how many from the start were stored (dup[i] for each) and
// the error of the first that was not. window must be set only for events none of which can
// be in the stream already (Relay.fresh).
func (r *Relay) publish(ctx context.Context, recs []events.Record, dup []bool, window bool) (int, error) {
	if wp, ok := r.cfg.Publisher.(WindowPublisher); ok && r.cfg.Windows && window {
		n, err := wp.PublishWindow(ctx, recs, dup)
		if n < 0 || n > len(recs) || (n < len(recs) && err == nil) {
			return 0, fmt.Errorf("relay: publisher stored %d of %d events without an error", n, len(recs))
		}
		return n, err
	}
	for i := range recs {
		d, err := r.cfg.Publisher.Publish(ctx, &recs[i])
		if err != nil {
			return i, err
		}
		dup[i] = d
	}
	return len(recs), nil
}

// backlog sets the backlog gauge, when there are metrics and the store counts.
func (r *Relay) backlog(ctx context.Context) {
	bc, ok := r.cfg.Store.(BacklogCounter)
	if !ok || r.cfg.Metrics == nil {
		return
	}
	n, err := bc.UnpublishedEvents(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn("event relay: backlog", "err", err)
		}
		return
	}
	r.cfg.Metrics.backlog.Set(float64(n))
}

func (r *Relay) prune(ctx context.Context, now time.Time) {
	n, err := r.cfg.Store.PruneEvents(ctx, now.Add(-r.cfg.Retention))
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn("event relay: prune", "err", err)
		}
		return
	}
	if n > 0 {
		r.stats.mu.Lock()
		r.stats.pruned += n
		r.stats.mu.Unlock()
	}
}
