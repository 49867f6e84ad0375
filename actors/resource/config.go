package resource

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/allot/allot/actors/activation"
	"github.com/allot/allot/persistence"
)

// Config configures every resource actor of one node. The zero value is not usable: start
// from DefaultConfig and set Store (and Owner).
type Config struct {
	// Store persists resources. Required. It is shared by all actors of the node.
	Store persistence.Store
	// Now is the clock, the only one the actors read: hold deadlines, expiry, request
	// deadlines, idempotency retention, leases and timeouts are measured with it. Its readings
	// should carry a monotonic part (time.Now's do), so that a wall-clock step does not move a
	// lease held in memory; the booking model sees them truncated to the millisecond, as
	// stores keep them. AfterFunc is its timer.
	Now func() time.Time
	// NewHoldID returns a fresh, unguessable hold id that booking.ValidID accepts, made at now
	// (the actor's Now; the default puts its second in front, for the stores' index locality).
	// It is called from the actor's goroutine only, but by many actors at once.
	NewHoldID func(now time.Time) string
	// IdleTimeout passivates an actor that received no command for this long and has nothing
	// pending or in flight.
	IdleTimeout time.Duration
	// QuietAfter packs the booking state of an actor that received no command for this long
	// and has nothing under way into one compact string, and unpacks it at the next command
	// (activation/quiet.go): an idle resource stays active (no reload from the store) at a
	// third of the memory. 0: never; at or above IdleTimeout it never happens either (the
	// actor passivates first).
	QuietAfter time.Duration
	// MaxPending bounds the commands of one actor that are in its mailbox or decided and
	// awaiting a commit (or a store lookup); a command that finds the bound reached is
	// answered busy at once.
	MaxPending int
	// MaxBatch bounds the commands (including expiries) sealed into one store commit.
	MaxBatch int
	// MaxInFlight bounds the commits of one actor at the store at once: a pipeline, each
	// commit decided on top of the ones before it and answered in order; a commit goes behind
	// others only with MinBatchBehind commands. It applies to a Store that takes the next
	// commit of a resource before the previous one returned and applies them in order (an
	// Enqueue method, see pipeliner: persistence/sqlite, persistence/postgres), at most as
	// deep as the store prefers (pipelineShaper); with any other store an actor has one
	// commit at the store at a time.
	MaxInFlight int
	// MinBatchBehind is the least number of commands sealed into a commit behind others at the
	// store (with MaxInFlight above 1): behind a commit of at most twice as many, or behind a
	// larger one once as many wait as it carries. 0 means the store's choice (persistence/postgres: 16,
	// with at most 2 commits in flight, see pipelineShaper), else MaxBatch: only a backlog of
	// full batches (persistence/sqlite: small batches behind were no faster there).
	MinBatchBehind int
	// CommitTimeout bounds every store call (Activate, Commit, GetHold) and the final flush of
	// a stopping actor.
	CommitTimeout time.Duration
	// RetryAfter is the retry hint sent with busy and unavailable replies.
	RetryAfter time.Duration
	// MinReloadBackoff and MaxReloadBackoff bound the pause between attempts to reload from
	// a store that failed; while an actor backs off it answers writes unavailable at once.
	MinReloadBackoff time.Duration
	MaxReloadBackoff time.Duration
	// Lease is how long one store write (a commit or a renewal) lets an activation answer
	// from memory: reads, sold-out refusals and repeated transitions. A new activation of
	// the resource waits until the previous activation's lease has ended, unless that one
	// ended it on stopping; so a crashed owner's resources are writable again after at most
	// Lease. An activation whose lease lapsed renews it (one store write) before answering
	// from memory, and renews it ahead of time while commands keep coming.
	Lease time.Duration
	// MaxClockOffset bounds how far the wall clocks of two nodes may differ (NTP keeps them
	// much closer). An activation considers its lease over MaxClockOffset before the end it
	// stored, so that a successor, reading that end by its own clock, cannot start early.
	MaxClockOffset time.Duration
	// AfterFunc arms a timer on the same clock as Now: it calls f once d has passed and
	// returns a function that stops the timer (reporting whether it did). Leases, hold
	// deadlines, backoffs and the idle timeout all run on this one clock.
	AfterFunc func(d time.Duration, f func()) (stop func() bool)
	// Metrics receives the actor metrics; nil disables them. One *Metrics is shared by all
	// actors of a node.
	Metrics *Metrics
	// Logger receives failures (warn) and one line per commit (debug); nil discards.
	Logger *slog.Logger
	// Owner is this member's address, returned in every Reply.owner.
	Owner string
	// MaxActive caps the activations of this node's resource actors (all actors made from
	// one Props or Kind). A new activation beyond it asks the least recently used idle
	// activation to passivate and takes its place; when all are busy it answers its commands
	// unavailable with RetryAfter and stops at once, before any store call (activecap.go).
	// 0: no cap.
	MaxActive int
	// active is the set of activations of one Props (set by props; shared by its actors).
	active *activeSet
	// readies lends the cores of one Props' activations their step output (set by props).
	readies *activation.Readies
	// core is the protocol core's configuration, shared by one Props' activations (set by
	// props; activation.NewFor): a copy per core was 96 bytes per active resource.
	core *activation.Config
	// wakes is the one timer of one Props' activations (set by props; wakeups.go).
	wakes *wakeups
	// EventsCommitted, when set, is called after every commit that stored events (from the
	// goroutine that ran the commit): the outbox relay's wake-up. It must not block (a
	// non-blocking send on a channel of capacity 1).
	EventsCommitted func()
	// DropEvents leaves the events out of every commit, so the store writes no outbox rows:
	// a node run with --events off, whose operators need no event stream. Nothing else
	// changes: the same rows are committed, in the same batches.
	DropEvents bool
}

// DefaultConfig returns the production defaults; Store and Owner are left to the caller.
func DefaultConfig() Config {
	return Config{
		Now:              time.Now,
		NewHoldID:        NewHoldID,
		IdleTimeout:      2 * time.Minute,
		QuietAfter:       10 * time.Second,
		MaxPending:       10000,
		MaxBatch:         1000,
		MaxInFlight:      4,
		CommitTimeout:    5 * time.Second,
		RetryAfter:       time.Second,
		MinReloadBackoff: 100 * time.Millisecond,
		MaxReloadBackoff: 2 * time.Second,
		Lease:            4 * time.Second,
		MaxClockOffset:   500 * time.Millisecond,
		AfterFunc:        realAfterFunc,
	}
}

func (c Config) validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("Store is required"))
	}
	if c.Now == nil {
		errs = append(errs, errors.New("Now is required"))
	}
	if c.AfterFunc == nil {
		errs = append(errs, errors.New("AfterFunc is required"))
	}
	if c.NewHoldID == nil {
		errs = append(errs, errors.New("NewHoldID is required"))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"IdleTimeout", c.IdleTimeout},
		{"CommitTimeout", c.CommitTimeout},
		{"RetryAfter", c.RetryAfter},
		{"MinReloadBackoff", c.MinReloadBackoff},
		{"MaxReloadBackoff", c.MaxReloadBackoff},
		{"Lease", c.Lease},
	} {
		if d.v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, got %s", d.name, d.v))
		}
	}
	if c.MaxReloadBackoff < c.MinReloadBackoff {
		errs = append(errs, fmt.Errorf("MaxReloadBackoff %s is below MinReloadBackoff %s", c.MaxReloadBackoff, c.MinReloadBackoff))
	}
	if c.MaxClockOffset < 0 || c.Lease <= 2*c.MaxClockOffset {
		errs = append(errs, fmt.Errorf("MaxClockOffset %s must be at least 0 and under half of Lease %s", c.MaxClockOffset, c.Lease))
	}
	if c.MaxPending <= 0 {
		errs = append(errs, fmt.Errorf("MaxPending must be positive, got %d", c.MaxPending))
	}
	if c.QuietAfter < 0 {
		errs = append(errs, fmt.Errorf("QuietAfter must not be negative, got %s", c.QuietAfter))
	}
	if c.MaxActive < 0 {
		errs = append(errs, fmt.Errorf("MaxActive must not be negative, got %d", c.MaxActive))
	}
	if c.MaxBatch <= 0 {
		errs = append(errs, fmt.Errorf("MaxBatch must be positive, got %d", c.MaxBatch))
	}
	if c.MaxInFlight <= 0 {
		errs = append(errs, fmt.Errorf("MaxInFlight must be positive, got %d", c.MaxInFlight))
	}
	if c.MinBatchBehind < 0 {
		errs = append(errs, fmt.Errorf("MinBatchBehind must not be negative, got %d", c.MinBatchBehind))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("resource config: %w", err)
	}
	return nil
}

func realAfterFunc(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }

// coreConfig is the part of the configuration the protocol core needs, the one props made for
// its activations; a Config that did not come through props (tests) gets a new one.
func (c *Config) coreConfig() *activation.Config {
	if c.core != nil {
		return c.core
	}
	var origin time.Time // the zero of the cores' clock readings: one from this clock, with its monotonic reading
	if c.Now != nil {
		origin = c.Now()
	}
	return &activation.Config{
		Origin:     origin,
		MaxPending: c.MaxPending, MaxBatch: c.MaxBatch,
		IdleTimeout: c.IdleTimeout, QuietAfter: c.QuietAfter, CommitTimeout: c.CommitTimeout,
		MinReloadBackoff: c.MinReloadBackoff, MaxReloadBackoff: c.MaxReloadBackoff,
		Lease: c.Lease, MaxClockOffset: c.MaxClockOffset, MaxInFlight: c.maxInFlight(), MinBehind: c.minBatchBehind(),
		HandoverPoll: c.handoverPoll(), Readies: c.readies,
	}
}

// handoverPoll is how soon a load waiting for the previous activation's lease first reads the
// stored lease (activation.Config.HandoverPoll; it doubles up to 8 times this): 100 ms, or
// Lease/40 for a shorter lease, so that a hand-over is seen within about a tenth of the
// elapsed wait, with at most about 7 reads per wait; 0 for a store without the hand-over.
func (c Config) handoverPoll() time.Duration {
	if _, ok := c.Store.(leaseHandover); !ok {
		return 0
	}
	return min(100*time.Millisecond, c.Lease/40)
}

// maxInFlight is MaxInFlight for a store that pipelines (at most its preferred depth), 1 for
// any other.
func (c Config) maxInFlight() int {
	if _, ok := c.Store.(pipeliner); !ok {
		return 1
	}
	if s, ok := c.Store.(pipelineShaper); ok {
		if depth, _ := s.PipelineShape(); depth > 0 {
			return min(c.MaxInFlight, depth)
		}
	}
	return c.MaxInFlight
}

// minBatchBehind is MinBatchBehind, or the store's preference (0: the core's default,
// MaxBatch).
func (c Config) minBatchBehind() int {
	if c.MinBatchBehind > 0 {
		return c.MinBatchBehind
	}
	if s, ok := c.Store.(pipelineShaper); ok {
		_, minBatch := s.PipelineShape()
		return minBatch
	}
	return 0
}

func (c Config) logger() *slog.Logger {
	if c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}
