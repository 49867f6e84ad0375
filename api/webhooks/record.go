package webhooks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"
)

// maxRecordBatch bounds the attempts recorded in one transaction.
const maxRecordBatch = 512

// pendingRecord is an attempt that ended and waits to be recorded, with what follows its
// recording: the endpoint's new state, if it changes.
type pendingRecord struct {
	AttemptRecord
	endpointID string
	st         *EndpointState
	end        time.Time
	// occurredAt is the event's occurred_at when this attempt is its delivery's first
	// success (the lag to observe once it is recorded); zero otherwise.
	occurredAt time.Time
}

// attempt sends a claimed delivery once and returns what to record, or nil when nothing is
// (closing: the attempt was cut short; the endpoint could not be read): the lease then hands
// the delivery on.
func (d *Dispatcher) attempt(dl Delivery) *pendingRecord {
	ep, err := d.endpoint(dl.EndpointID)
	if errors.Is(err, ErrNotFound) {
		// Deleted, possibly after a node with a stale endpoint cache recorded this delivery:
		// close it, or its lease would keep bringing it back.
		now := d.cfg.Now()
		a := Attempt{DeliveryID: dl.ID, N: dl.Attempts + 1, At: now, Error: "endpoint deleted"}
		return &pendingRecord{AttemptRecord: AttemptRecord{a, Outcome{Status: StatusFailed, LastError: a.Error}}, end: now}
	}
	if err != nil {
		if d.ctx.Err() == nil {
			d.log.Warn("webhooks: read endpoint", slog.String("endpoint_id", dl.EndpointID), slog.Any("err", err))
		}
		return nil
	}
	start := d.cfg.Now()
	var res result
	if ep.Disabled {
		res = result{err: "endpoint disabled: " + ep.DisabledReason}
	} else {
		res = d.send(ep, dl, start)
	}
	if d.ctx.Err() != nil {
		return nil // closing: this attempt was cut short; the lease hands it on
	}
	end := d.cfg.Now()
	a := Attempt{DeliveryID: dl.ID, N: dl.Attempts + 1, At: start, Duration: end.Sub(start), StatusCode: res.status, Error: res.err}
	o := Outcome{LastStatusCode: res.status, LastError: res.err}
	var st *EndpointState
	var occurred time.Time
	switch {
	case res.err == "":
		o.Status = StatusSucceeded
		if !succeededBefore(dl) {
			occurred = occurredAt(dl.Payload)
		}
		if !ep.FailingSince.IsZero() {
			st = &EndpointState{}
		}
	case ep.Disabled:
		o.Status = StatusFailed
	case res.status == http.StatusGone:
		o.Status = StatusFailed
		st = &EndpointState{Disabled: true, DisabledReason: "the receiver answered 410 Gone", FailingSince: orNow(ep.FailingSince, start)}
	default:
		d.mu.Lock()
		next, ok := d.cfg.Schedule.Next(a.N, dl.CreatedAt, end, d.rnd)
		d.mu.Unlock()
		if ok {
			o.Status, o.NextAttemptAt = StatusPending, next
		} else {
			o.Status = StatusFailed
			o.LastError = fmt.Sprintf("gave up after %d attempts: %s", a.N, res.err)
		}
		// Persistent failure: nothing has succeeded for DisableAfter, or for the whole life of
		// a delivery that has just given up.
		since := orNow(ep.FailingSince, start)
		if end.Sub(since) >= d.cfg.DisableAfter || (!ok && !since.After(dl.CreatedAt)) {
			st = &EndpointState{Disabled: true, FailingSince: since,
				DisabledReason: "every attempt failed since " + since.UTC().Format(time.RFC3339)}
		} else if ep.FailingSince.IsZero() {
			st = &EndpointState{FailingSince: since}
		}
		d.log.Info("webhooks: attempt failed", slog.String("endpoint_id", ep.ID), slog.String("delivery_id", dl.ID),
			slog.Int("attempt", a.N), slog.Int("status", res.status), slog.String("err", res.err))
	}
	return &pendingRecord{AttemptRecord: AttemptRecord{a, o}, endpointID: ep.ID, st: st, end: end, occurredAt: occurred}
}

// endpoint returns an endpoint from the cache the intake matches events against (at most
// EndpointCacheTTL old; this node's own changes drop it), else from the store: an attempt
// per delivery must not cost a read of the store each.
func (d *Dispatcher) endpoint(id string) (Endpoint, error) {
	if eps, err := d.endpoints(d.ctx); err == nil {
		for _, e := range eps {
			if e.ID == id {
				return e, nil
			}
		}
	}
	return d.store.GetEndpoint(d.ctx, id)
}

// recordLoop records the attempts that ended, all that wait at once, at most once per
// RecordInterval, until recStop; then it records what is left and returns. While one batch
// is written and during the interval the next one gathers, so that under load the store
// sees a transaction per interval, not per attempt.
func (d *Dispatcher) recordLoop() {
	defer d.wg.Done()
	for {
		select {
		case <-d.recWake:
		case <-d.recStop:
			d.recordWaiting()
			return
		}
		d.recordWaiting()
		if d.cfg.RecordInterval <= 0 {
			continue
		}
		ready := make(chan struct{})
		d.wg.Add(1)
		stop := d.cfg.AfterFunc(d.cfg.RecordInterval, func() {
			defer d.wg.Done()
			close(ready)
		})
		select {
		case <-ready:
		case <-d.recStop:
			if stop() {
				d.wg.Done() // the callback will not run
			}
			d.recordWaiting()
			return
		}
	}
}

// recordWaiting records the waiting attempts, in batches of at most maxRecordBatch, and
// frees their slots.
func (d *Dispatcher) recordWaiting() {
	for {
		d.mu.Lock()
		n := min(len(d.records), maxRecordBatch)
		batch := d.records[:n:n]
		d.records = d.records[n:]
		if len(d.records) == 0 {
			d.records = nil
		}
		d.mu.Unlock()
		if n == 0 {
			return
		}
		rs := make([]AttemptRecord, n)
		for i, r := range batch {
			rs[i] = r.AttemptRecord
		}
		// The attempts happened: record them even while closing (bounded by the timeout).
		ctx, cancel := contextless(d.ctx, d.cfg.AttemptTimeout)
		errs, err := d.store.RecordAttempts(ctx, rs)
		for i, r := range batch {
			e := err
			if err == nil {
				e = errs[i]
			}
			d.recorded(ctx, r, e)
		}
		cancel()
		d.mu.Lock()
		d.inFlight -= n
		due := d.pollWantedLocked()
		d.mu.Unlock()
		if due {
			d.poke() // slots are free and more may be due
		}
	}
}

// recorded applies what follows an attempt's record (err: its result): the endpoint's new
// state. A record that failed leaves the delivery claimed until its lease ends.
func (d *Dispatcher) recorded(ctx context.Context, r pendingRecord, err error) {
	if d.cfg.attempted != nil {
		defer d.cfg.attempted(r.Attempt, r.Outcome, err)
	}
	if err != nil {
		if !errors.Is(err, ErrStale) && !errors.Is(err, ErrNotFound) {
			d.log.Warn("webhooks: record attempt", slog.String("delivery_id", r.Attempt.DeliveryID), slog.Any("err", err))
		}
		return
	}
	// Recorded, so counted once: of two attempts of one delivery (a lease that ended
	// mid-attempt), only the first recorded is; the other is stale, refused above.
	d.met.delivered(r.occurredAt, r.end)
	if r.st == nil {
		return
	}
	if err := d.store.SetEndpointState(ctx, r.endpointID, *r.st, r.end); err != nil && !errors.Is(err, ErrNotFound) {
		d.log.Warn("webhooks: endpoint state", slog.String("endpoint_id", r.endpointID), slog.Any("err", err))
	}
	if r.st.Disabled {
		d.log.Warn("webhooks: endpoint disabled", slog.String("endpoint_id", r.endpointID), slog.String("reason", r.st.DisabledReason))
	}
	d.forgetEndpoints()
}
