package loadgen

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/allot/allot/api/client"
	"github.com/allot/allot/api/wire"
)

// flashBucket is the one bucket of the flash-sale resource.
const flashBucket = "all"

// holdTTL is the hold TTL of the resources a run creates. Sessions confirm or cancel at once,
// so only holds whose confirm failed can expire during a run.
const holdTTL = "10m"

// maxErrorSamples bounds Report.ErrorSamples.
const maxErrorSamples = 10

// runner is the state of one Run shared by its clients.
type runner struct {
	cfg    Config
	c      *client.Client // the run's own calls (an operator's token); workers send their own
	tokens *tokens
	stats  *stats

	targets   []target      // cfg.Targets, for the workers' senders
	next      atomic.Uint64 // the workers' round-robin position over targets
	flashKeys []string      // the bucket keys of a flash-sale hold

	flashID  string
	hotels   []string
	nights   []string                    // bucket keys of every hotel, in date order
	readable []string                    // resources browse reads
	created  map[string]map[string]int64 // capacity by resource and bucket key

	stopAt    time.Time // no session starts after it; zero: no time bound
	issued    atomic.Int64
	flashGone atomic.Bool // mixed: the hot resource answered sold_out

	ops, holds, soldOut, confirms, cancels, reads, retries, errs atomic.Int64
	sold                                                         atomic.Int64 // flash units acknowledged minus cancelled

	errMu      sync.Mutex
	errSamples []string
}

// Run creates this run's resources on cfg.Targets, drives them with cfg.Clients concurrent
// clients playing cfg.Scenario until a bound (or, for flash-sale, until every client was
// answered sold_out), replays requests whose outcome is unknown, and audits what the server
// (and with DBURL the database) holds against what clients were told.
//
// Progress goes to progress (nil: none) unless cfg.Quiet: a live line rewritten every second
// on a terminal, otherwise a line every cfg.ProgressEvery.
// An audit that finds problems is not an error: the report has Audit.OK false. Run returns an
// error wrapping ErrInvalidConfig for a bad cfg, an error when the resources cannot be created,
// and ctx.Err() with the partial report (audit skipped) when ctx is cancelled.
func Run(ctx context.Context, cfg Config, progress io.Writer) (*Report, error) {
	if cfg.RunID == "" {
		cfg.RunID = newRunID()
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	r := &runner{cfg: cfg, stats: newStats(), flashKeys: []string{flashBucket}}
	for _, t := range cfg.Targets {
		pt, err := parseTarget(t)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
		}
		r.targets = append(r.targets, pt)
	}
	var err error
	if r.tokens, err = newTokens(&cfg); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	if r.c, err = newClient(&cfg, r.stats.countStatus, r.tokens.operator()); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	defer r.c.CloseIdleConnections()

	rep := &Report{RunID: cfg.RunID, Scenario: cfg.Scenario, Targets: cfg.Targets, Clients: cfg.Clients, Started: time.Now()}
	if err := r.setup(ctx); err != nil {
		return nil, fmt.Errorf("set up resources: %w", err)
	}

	stopProgress := startProgress(progress, &cfg, r)
	start := time.Now()
	if cfg.Duration > 0 {
		r.stopAt = start.Add(cfg.Duration)
	}
	workers := make([]*worker, cfg.Clients)
	var wg sync.WaitGroup
	for i := range workers {
		workers[i] = newWorker(r, i)
		wg.Go(func() { workers[i].run(ctx) })
	}
	wg.Wait()
	rep.Elapsed = time.Since(start)
	stopProgress()

	var l ledger
	acked := 0
	for _, w := range workers {
		acked += len(w.ledger.Acked)
	}
	l.Acked = make([]ackedHold, 0, acked) // one copy of a few 100k holds, not a doubling series
	for _, w := range workers {
		l.merge(&w.ledger)
		w.ledger = ledger{}
	}
	r.fill(rep)
	if err := ctx.Err(); err != nil {
		rep.Audit.Skipped = "run cancelled"
		return rep, err
	}
	if cfg.NoAudit {
		rep.Audit.Skipped = "disabled (--no-audit)"
		return rep, nil
	}
	// Reconciliation and audit are not part of the load's status counts.
	quiet, err := newClient(&cfg, nil, r.tokens.operator())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	defer quiet.CloseIdleConnections()
	reconcile(ctx, quiet, r.tokens, &l)
	r.audit(ctx, quiet, &l, rep)
	return rep, nil
}

// more reports whether a client may start another session.
func (r *runner) more() bool {
	if !r.stopAt.IsZero() && !time.Now().Before(r.stopAt) {
		return false
	}
	return r.cfg.Requests == 0 || r.issued.Load() < r.cfg.Requests
}

// fail counts a request that failed after its retries and keeps a few samples.
func (r *runner) fail(what string, res result) {
	r.errs.Add(1)
	r.errMu.Lock()
	if len(r.errSamples) < maxErrorSamples {
		r.errSamples = append(r.errSamples, what+": "+res.String())
	}
	r.errMu.Unlock()
}

func (r *runner) fill(rep *Report) {
	rep.Ops = r.ops.Load()
	rep.Holds = r.holds.Load()
	if s := rep.Elapsed.Seconds(); s > 0 {
		rep.OpsPerSec = float64(rep.Ops) / s
		rep.HoldsPerSec = float64(rep.Holds) / s
	}
	rep.SoldOut = r.soldOut.Load()
	rep.Confirms = r.confirms.Load()
	rep.Cancels = r.cancels.Load()
	rep.Reads = r.reads.Load()
	rep.Retries = r.retries.Load()
	rep.Errors = r.errs.Load()
	r.errMu.Lock()
	rep.ErrorSamples = append([]string(nil), r.errSamples...)
	r.errMu.Unlock()
	rep.StatusCodes = r.stats.statusCounts()
	// Setup is not the load: its creations are reported with their latency only.
	rep.Latency = r.stats.latency()
	if r.flashID != "" {
		rep.Stock = r.cfg.Stock
	}
}

// reconcile replays, with their Idempotency-Keys, the requests whose outcome is unknown: a
// hold answered 201 is one the server has (applied then or now), one refused was never
// applied. Holds whose confirm or cancel had an unknown outcome are read back
// (GET /v1/resources/{rid}/holds/{hid}) to learn their status.
//
// A replay goes with the token of the hold's user: Idempotency-Keys are scoped per user.
func reconcile(ctx context.Context, c *client.Client, t *tokens, l *ledger) {
	var still []unknownHold
	for _, u := range l.Unknown {
		if ctx.Err() != nil {
			still = append(still, u)
			continue
		}
		ans, info, err := c.With(client.WithTokenSource(t.user(u.UserID))).PlaceHold(ctx, u.ResourceID, u.Key, wire.PlaceHold{Buckets: u.Buckets, Quantity: u.Quantity, UserID: u.UserID})
		res := resultOf(info, err)
		switch res.outcome() {
		case outcomeOK:
			if res.Err == nil && ans.ID != "" {
				l.Acked = append(l.Acked, ackedHold{ID: ans.ID, ResourceID: u.ResourceID, Buckets: u.Buckets, Quantity: u.Quantity, State: stateHeld})
				continue
			}
			still = append(still, u)
		case outcomeRejected:
			if res.Code == "idempotency_mismatch" {
				still = append(still, u)
			}
			// Otherwise the key was never applied (sold out, busy): nothing to account for.
		default:
			still = append(still, u)
		}
	}
	l.Unknown = still

	for i := range l.Acked {
		h := &l.Acked[i]
		if h.State != stateUncertain || ctx.Err() != nil {
			continue
		}
		ans, _, err := c.GetHold(ctx, h.ResourceID, h.ID)
		if err != nil {
			continue
		}
		if st, ok := map[string]holdState{"held": stateHeld, "confirmed": stateConfirmed, "cancelled": stateCancelled}[ans.Status]; ok {
			h.State = st
		}
	}
}

// audit reads back every resource of the run and fills rep.Audit (and rep.Sold).
func (r *runner) audit(ctx context.Context, c *client.Client, l *ledger, rep *Report) {
	a := &rep.Audit
	l.tally(a)
	avail, err := readAvailability(ctx, c, sortedKeys(r.created), min(r.cfg.Clients, 8))
	if err != nil {
		a.problem("server: read availability: %v", err)
	}
	auditAvailability(a, r.created, l, avail)
	if b, ok := avail[r.flashID][flashBucket]; ok {
		rep.Sold = b.Held + b.Confirmed
	}
	if r.cfg.DBURL != "" {
		holds, buckets, err := readDatabase(ctx, r.cfg.DBURL, sortedKeys(r.created))
		if err != nil {
			a.problem("database: %v", err)
		} else {
			auditDatabase(a, r.created, l, holds, buckets)
		}
	}
	a.OK = a.ProblemCount == 0
}
