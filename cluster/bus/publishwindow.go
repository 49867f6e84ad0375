package bus

import (
	"context"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/allot/allot/actors/events"
)

// PublishWindow publishes recs in order and returns n: recs[:n] are stored in the stream
// (dup[i], for i < n, reports that the stream already had recs[i]), and, when n < len(recs),
// the error of recs[n]. dup must be at least as long as recs. It implements the relay's
// WindowPublisher; the relay's contract (per-event duplicate report, at least once, each
// resource's events in order in the stream) is Publish's, one event after the other:
//
// Invariant (the prefix rule): the stream stores a record of the window as a first copy only
// after every earlier record of the window is stored. So recs[n+1:] are never stored before
// recs[n] (they may be stored later, as duplicates of nothing: they were not stored), and a
// republish of recs[n:] keeps the order a one-at-a-time publish keeps.
//
// On the embedded server (no URL) the window is published without waiting for each
// acknowledgement: one write for the window and its acknowledgements read together, instead of
// a round trip per event. The prefix rule is then the stream's: each record after the first
// carries Nats-Expected-Last-Msg-Id = the id of the record before it, so the stream refuses it
// unless the record before it is the last one stored (JetStream checks the duplicate id first,
// so a republish of stored records passes). That holds because the relay is the only
// publisher of the embedded stream (the server has no listener; dead letters go to their own
// stream); another in-process publisher would make the next record fail the check, which the
// relay republishes first in its next pass (a retry, never a loss or a reorder). One
// connection's messages are processed in order by the server, so the chain never refuses a
// record whose predecessor was stored.
//
// On a NATS cluster (URL set) several nodes' relays publish to the stream, so the chain would
// refuse records that other relays interleave: there the records are published one at a time,
// each acknowledged before the next, as Publish does.
func (b *Bus) PublishWindow(ctx context.Context, recs []events.Record, dup []bool) (int, error) {
	if len(dup) < len(recs) {
		return 0, fmt.Errorf("bus: publish window: %d duplicate flags for %d events", len(dup), len(recs))
	}
	if b.ns == nil || len(recs) == 1 {
		for i := range recs {
			d, err := b.Publish(ctx, &recs[i])
			if err != nil {
				return i, err
			}
			dup[i] = d
		}
		return len(recs), nil
	}
	futures := make([]jetstream.PubAckFuture, 0, len(recs))
	var sendErr error
	for i := range recs {
		rec := &recs[i]
		body, err := encodeRecord(rec)
		if err != nil {
			sendErr = fmt.Errorf("bus: encode %s: %w", rec.ID, err)
			break
		}
		opts := []jetstream.PublishOpt{jetstream.WithMsgID(rec.ID), jetstream.WithExpectStream(EventsStream)}
		if i > 0 {
			opts = append(opts, jetstream.WithExpectLastMsgID(recs[i-1].ID))
		}
		f, err := b.js.PublishAsync(events.Subject(rec.Type, rec.ResourceID), body, opts...)
		if err != nil {
			sendErr = fmt.Errorf("bus: publish %s: %w", rec.ID, err)
			break
		}
		futures = append(futures, f)
	}
	// Every future is waited for (each resolves: the async publisher's timeout is the bus's
	// Timeout), so that none of this window's outcomes is left to the next one.
	wait, cancel := context.WithTimeout(ctx, b.cfg.Timeout+b.cfg.Timeout/2)
	defer cancel()
	n := -1
	var firstErr error
	for i, f := range futures {
		select {
		case ack := <-f.Ok():
			dup[i] = ack.Duplicate
			continue
		case err := <-f.Err():
			if n < 0 {
				n, firstErr = i, fmt.Errorf("bus: publish %s: %w", recs[i].ID, err)
			}
		case <-wait.Done():
			if n < 0 {
				n, firstErr = i, fmt.Errorf("bus: publish %s: %w", recs[i].ID, wait.Err())
			}
			return n, firstErr
		}
	}
	if n >= 0 {
		return n, firstErr
	}
	if len(futures) < len(recs) {
		return len(futures), sendErr
	}
	return len(recs), nil
}
