package webhooks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Config configures a Dispatcher. Zero optional fields take their defaults (DefaultConfig).
type Config struct {
	// Store keeps endpoints and deliveries. Required.
	Store Store
	// Now and AfterFunc are the dispatcher's one clock: AfterFunc calls f once d has passed
	// on Now's clock and returns a stop func that reports whether it stopped f from running.
	Now       func() time.Time
	AfterFunc func(d time.Duration, f func()) (stop func() bool)
	// Logger gets one record per failed attempt and per endpoint disabled. Neither secrets
	// nor payloads are logged. Nil means slog.Default().
	Logger *slog.Logger
	// AllowPrivate lets targets be on loopback, private, link-local and other non-public
	// addresses (--webhook-allow-private): tests and local development only.
	AllowPrivate bool
	// Resolver resolves target hosts, at registration and at each dial. Default
	// net.DefaultResolver.
	Resolver Resolver
	// Sealer seals signing secrets at rest: the node's data key ring (*pii.Keyring from
	// --data-key-file). Nil keeps them unsealed.
	Sealer SecretSealer
	// Schedule is the retry schedule. Default DefaultSchedule().
	Schedule Schedule
	// AttemptTimeout bounds one attempt: connect, send, and the answer's headers and first
	// 64 KiB of body. Default 10s.
	AttemptTimeout time.Duration
	// MaxInFlight bounds the deliveries this node has claimed and not yet finished (sent and
	// recorded; an attempt waits up to RecordInterval to be recorded). Default 1024.
	MaxInFlight int
	// PerEndpoint bounds the concurrent attempts to one endpoint. Default 16.
	PerEndpoint int
	// RecordInterval is the least time between two transactions that record attempts: the
	// attempts that end meanwhile are recorded together, so that under load the store sees a
	// few transactions a second (on SQLite each one holds the write lock the booking writer
	// needs). It delays the record, not the delivery. Default 100ms; negative: no pacing.
	RecordInterval time.Duration
	// PollInterval is how often due deliveries are looked for when nothing wakes the
	// dispatcher earlier. Default 1s.
	PollInterval time.Duration
	// ClaimLease is how long a claimed delivery is hidden from other claims: if this node
	// dies mid-attempt, another node tries it once the lease ends. It must cover the wait in
	// the endpoint's lane and the attempt (validate says how much); default 2m.
	ClaimLease time.Duration
	// DisableAfter disables an endpoint whose attempts have all failed for this long.
	// Default 72h, the retry horizon.
	DisableAfter time.Duration
	// EndpointCacheTTL bounds how stale this node's view of the endpoints may be when it
	// matches events (endpoints created on other nodes). Default 5s.
	EndpointCacheTTL time.Duration
	// Seed seeds the jitter; 0 picks a random seed.
	Seed uint64
	// Registerer gets the dispatcher's metrics (metrics.go); nil exports none.
	Registerer prometheus.Registerer

	// attempted, for tests, is called after each attempt is recorded (or refused as stale).
	attempted func(Attempt, Outcome, error)
}

// DefaultConfig returns a Config with the defaults; set Store.
func DefaultConfig() Config {
	return Config{
		Now:              time.Now,
		AfterFunc:        func(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop },
		Logger:           slog.Default(),
		Resolver:         net.DefaultResolver,
		Schedule:         DefaultSchedule(),
		AttemptTimeout:   10 * time.Second,
		MaxInFlight:      1024,
		PerEndpoint:      16,
		RecordInterval:   100 * time.Millisecond,
		PollInterval:     time.Second,
		ClaimLease:       2 * time.Minute,
		DisableAfter:     72 * time.Hour,
		EndpointCacheTTL: 5 * time.Second,
	}
}

func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Now == nil {
		c.Now = d.Now
	}
	if c.AfterFunc == nil {
		c.AfterFunc = d.AfterFunc
	}
	if c.Logger == nil {
		c.Logger = d.Logger
	}
	if c.Resolver == nil {
		c.Resolver = d.Resolver
	}
	if c.Schedule == (Schedule{}) {
		c.Schedule = d.Schedule
	}
	if c.AttemptTimeout == 0 {
		c.AttemptTimeout = d.AttemptTimeout
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = d.MaxInFlight
	}
	if c.PerEndpoint == 0 {
		c.PerEndpoint = d.PerEndpoint
	}
	if c.RecordInterval == 0 {
		c.RecordInterval = d.RecordInterval
	}
	if c.PollInterval == 0 {
		c.PollInterval = d.PollInterval
	}
	if c.ClaimLease == 0 {
		c.ClaimLease = d.ClaimLease
	}
	if c.DisableAfter == 0 {
		c.DisableAfter = d.DisableAfter
	}
	if c.EndpointCacheTTL == 0 {
		c.EndpointCacheTTL = d.EndpointCacheTTL
	}
	return c
}

func (c Config) validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("Store is required"))
	}
	if c.AttemptTimeout < 0 || c.MaxInFlight < 0 || c.PerEndpoint < 0 || c.PollInterval < 0 ||
		c.DisableAfter < 0 || c.EndpointCacheTTL < 0 {
		errs = append(errs, errors.New("durations and bounds must be positive"))
	}
	// A claimed delivery may wait in its lane behind up to PerEndpoint-1 queued and a batch
	// of claimRounds*PerEndpoint (a claim), or behind laneRounds*PerEndpoint (HandleBatch),
	// PerEndpoint at a time, then run for AttemptTimeout.
	if c.PerEndpoint > 0 {
		queued := max((claimRounds+1)*c.PerEndpoint-1, laneRounds*c.PerEndpoint)
		if wait := c.AttemptTimeout * time.Duration(2+(queued+c.PerEndpoint-1)/c.PerEndpoint); c.ClaimLease < wait {
			errs = append(errs, fmt.Errorf("ClaimLease (%s) must be at least %s for AttemptTimeout %s and PerEndpoint %d",
				c.ClaimLease, wait, c.AttemptTimeout, c.PerEndpoint))
		}
	}
	s := c.Schedule
	if s.First <= 0 || s.Max < s.First || s.GiveUpAfter <= 0 || s.Jitter < 0 || s.Jitter >= 1 {
		errs = append(errs, errors.New("Schedule needs 0 < First ≤ Max, GiveUpAfter > 0 and 0 ≤ Jitter < 1"))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("webhooks config: %w", err)
	}
	return nil
}

// contextless is for store writes that must outlive a cancelled request or a closing
// dispatcher (bounded by the attempt timeout).
func contextless(parent context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(parent), d)
}
