package bus

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/allot/allot/actors/events"
)

// BatchPublisher is a Publisher that sends a run of events without waiting for each one's
// acknowledgement (the relay uses it when its Publisher has it). *Bus implements it. Safe for
// concurrent use, though concurrent calls break each other's chains (see below) and so fall
// back to one event at a time.
//
// Contract: PublishBatch publishes recs in order, each with its id as the deduplication id,
// and returns how many of the first recs the stream stored (a prefix; dup[i], for i below
// it, says the stream already had recs[i]). It returns an error when that prefix is shorter
// than recs, and then guarantees that the call stored no event after the prefix, so that
// publishing recs[stored:] again, in order, keeps every resource's events in log order
// (an event whose acknowledgement was lost may have been stored: the republish is then
// deduplicated). dup must be at least len(recs) long.
type BatchPublisher interface {
	PublishBatch(ctx context.Context, recs []events.Record, dup []bool) (stored int, err error)
}

var _ BatchPublisher = (*Bus)(nil)

// PublishBatch publishes recs asynchronously, each (after the first) on the condition that
// the stream's last message is its predecessor in recs (Nats-Expected-Last-Msg-Id). The
// stream checks that condition in the order it stores messages, so an event is stored only
// right after its predecessor: when recs[k] is refused, lost or not sent, nothing after it can
// be stored, which is BatchPublisher's guarantee. A chain is also refused when another
// publisher's message comes between two of its events (several relays on one stream, or a
// predecessor that was a duplicate and so not the last message): the caller publishes the
// rest one at a time. The whole call is bounded by Config.Timeout.
func (b *Bus) PublishBatch(ctx context.Context, recs []events.Record, dup []bool) (int, error) {
	if len(dup) < len(recs) {
		return 0, errors.New("bus: publish batch: dup shorter than recs")
	}
	ctx, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
	defer cancel()
	futures := make([]jetstream.PubAckFuture, 0, len(recs))
	var sendErr error
	for i := range recs {
		rec := &recs[i]
		body, err := json.Marshal(rec)
		if err != nil {
			sendErr = fmt.Errorf("bus: encode %s: %w", rec.ID, err)
			break
		}
		opts := []jetstream.PublishOpt{jetstream.WithMsgID(rec.ID), jetstream.WithExpectStream(EventsStream)}
		if i > 0 {
			opts = append(opts, jetstream.WithExpectLastMsgID(recs[i-1].ID))
		}
		f, err := b.js.PublishMsgAsync(&nats.Msg{Subject: events.Subject(rec.Type, rec.ResourceID), Data: body}, opts...)
		if err != nil {
			sendErr = fmt.Errorf("bus: publish %s: %w", rec.ID, err)
			break
		}
		futures = append(futures, f)
	}
	for i, f := range futures {
		select {
		case ack := <-f.Ok():
			dup[i] = ack.Duplicate
		case err := <-f.Err():
			return i, fmt.Errorf("bus: publish %s: %w", recs[i].ID, err)
		case <-ctx.Done():
			return i, fmt.Errorf("bus: publish %s: %w", recs[i].ID, ctx.Err())
		}
	}
	if sendErr != nil {
		return len(futures), sendErr
	}
	return len(recs), nil
}
