package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/allot/allot/actors/events"
)

// DefaultMaxBatch bounds the events of one BatchHandler call when ConsumerConfig.MaxBatch is 0.
const DefaultMaxBatch = 256

// BatchSubscriber starts durable consumers whose handler takes the events of one fetch at
// once, so that it can apply them in one transaction (a rollup, an intake table): the cost of
// a commit is paid per batch instead of per event. *Bus implements it.
//
// Contract, where it differs from Subscriber's (everything else holds: at least once,
// Inbox, dead letter, MaxDeliver, Backoff, Stop):
//   - Durable consumers only (cfg.Name set); an empty Name is a config error.
//   - The handler gets what one fetch returned: 1 to MaxBatch records, in stream order for
//     first deliveries, without the ones the Inbox holds or that do not decode. It waits for
//     the first event only: it never holds an event back to fill a batch. Calls are one at a
//     time per subscription; the records slice is the handler's to keep.
//   - Result: nil acknowledges every record. A BatchErrors of the records' length gives
//     each record its own outcome, as a Handler's result would (nil: ack; an error: redeliver
//     after the backoff; ErrPermanent or the last delivery: dead letter). Any other error
//     applies to every record of the batch: all are redelivered (or dead-lettered) alike, so
//     a handler applying the batch in one transaction returns its error as is. A redelivery
//     may come back in another batch, with other records: batch boundaries are not stable.
//   - Acks happen after the handler returns; a handler still running when AckWait passes
//     gets its records redelivered, so a batch must be applied within AckWait.
type BatchSubscriber interface {
	SubscribeBatch(ctx context.Context, cfg ConsumerConfig, h BatchHandler) (Subscription, error)
}

// BatchHandler handles the events of one fetch. See BatchSubscriber for what its result means.
// It must return when ctx is done.
type BatchHandler func(ctx context.Context, recs []events.Record) error

// BatchErrors is a BatchHandler's result per record: BatchErrors[i] is the outcome of recs[i].
type BatchErrors []error

func (e BatchErrors) Error() string {
	failed, first := 0, error(nil)
	for _, err := range e {
		if err != nil {
			if failed++; first == nil {
				first = err
			}
		}
	}
	if first == nil {
		return "bus: no failed event"
	}
	return fmt.Sprintf("bus: %d of %d events failed, first: %v", failed, len(e), first)
}

var _ BatchSubscriber = (*Bus)(nil)

// SubscribeBatch starts a durable batch consumer; see BatchSubscriber.
func (b *Bus) SubscribeBatch(ctx context.Context, cfg ConsumerConfig, h BatchHandler) (Subscription, error) {
	if h == nil {
		return nil, errors.New("bus: nil handler")
	}
	if cfg.Name == "" {
		return nil, errors.New("bus: a batch consumer must be durable (Name)")
	}
	cfg = DefaultConsumerConfig(cfg)
	cons, err := b.consumer(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s := &subscription{b: b, cfg: cfg, loopDone: make(chan struct{})}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	go s.fetchLoop(cons, h)
	return s, b.register(s)
}

// fetchLoop waits for one message, takes what else is pending up to MaxBatch without waiting,
// and hands the batch to h; it returns when the subscription stops. With a BatchInterval it
// first waits until that long after the previous batch started, unless that batch was full.
func (s *subscription) fetchLoop(cons jetstream.Consumer, h BatchHandler) {
	defer close(s.loopDone)
	var pace *time.Timer
	if s.cfg.BatchInterval > 0 {
		pace = time.NewTimer(0)
		defer pace.Stop()
	}
	for s.ctx.Err() == nil {
		if pace != nil {
			select {
			case <-s.ctx.Done():
				return
			case <-pace.C:
			}
		}
		first, err := cons.Next(jetstream.FetchContext(s.ctx))
		if pace != nil {
			if err == nil {
				pace.Reset(s.cfg.BatchInterval) // from the first event: a quiet stream adds no delay
			} else {
				pace.Reset(0)
			}
		}
		if err != nil {
			if s.ctx.Err() == nil && !errors.Is(err, nats.ErrTimeout) {
				s.b.log.Warn("event fetch failed", "consumer", s.cfg.Name, "err", err)
				select { // a pause, so that an unreachable server is not asked in a busy loop
				case <-s.ctx.Done():
				case <-time.After(s.cfg.Backoff[0]):
				}
			}
			continue
		}
		msgs := []jetstream.Msg{first}
		if s.cfg.MaxBatch > 1 {
			if mb, err := cons.FetchNoWait(s.cfg.MaxBatch - 1); err == nil {
				for m := range mb.Messages() {
					msgs = append(msgs, m)
				}
			}
		}
		if pace != nil && len(msgs) == s.cfg.MaxBatch {
			// A full batch: the consumer is behind, its batches are already as large as they
			// get, and a wait would only cap its intake at MaxBatch per interval (2,560 events/s
			// at 256 per 100 ms, below one hot resource's rate): fetch again at once.
			pace.Reset(0)
		}
		s.handleBatch(msgs, h)
	}
}

// handleBatch admits msgs, calls h with the admitted records and settles each by its outcome.
func (s *subscription) handleBatch(msgs []jetstream.Msg, h BatchHandler) {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.running.Add(1)
	s.mu.Unlock()
	defer s.running.Done()

	type admitted struct {
		msg jetstream.Msg
		n   int
	}
	var in []admitted
	var recs []events.Record
	for _, m := range msgs {
		if rec, n, ok := s.admit(m); ok {
			in, recs = append(in, admitted{m, n}), append(recs, rec)
		}
	}
	if len(recs) == 0 {
		return
	}
	err := h(s.ctx, recs)
	if s.ctx.Err() != nil {
		return // stopping: JetStream redelivers after AckWait
	}
	var per BatchErrors
	if errors.As(err, &per) && len(per) != len(recs) {
		err = fmt.Errorf("bus: batch handler returned %d outcomes for %d events", len(per), len(recs))
		per = nil
	}
	for i, a := range in {
		e := err
		if per != nil {
			e = per[i]
		}
		s.settle(a.msg, a.n, recs[i], e)
	}
}
