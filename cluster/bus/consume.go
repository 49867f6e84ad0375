package bus

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/allot/allot/actors/events"
)

// Dead-letter headers.
const (
	HeaderConsumer   = "Allot-Consumer"
	HeaderError      = "Allot-Error"
	HeaderDeliveries = "Allot-Deliveries"
)

// subscription is one running consumer: a JetStream pull consumer whose messages are handed
// to the handler one at a time.
type subscription struct {
	b   *Bus
	cfg ConsumerConfig
	h   Handler
	cc  jetstream.ConsumeContext // nil for a batch subscription
	// loopDone closes when a batch subscription's fetch loop (batch.go) returned; nil else.
	loopDone chan struct{}
	ctx      context.Context
	cancel   context.CancelFunc
	mu       sync.Mutex
	stopped  bool
	running  sync.WaitGroup
	once     sync.Once
}

// filters are the subjects cfg selects.
func filters(cfg ConsumerConfig) []string {
	token := "*"
	if cfg.ResourceID != "" {
		token = events.SubjectToken(cfg.ResourceID)
	}
	if len(cfg.Types) == 0 {
		if token == "*" {
			return []string{events.SubjectPrefix + ">"}
		}
		return []string{events.SubjectPrefix + "*.*." + token}
	}
	var out []string
	seen := map[events.Type]bool{}
	for _, t := range cfg.Types {
		if !seen[t] {
			seen[t] = true
			out = append(out, events.SubjectPrefix+string(t)+"."+token)
		}
	}
	return out
}

// Subscribe starts a consumer; see Subscriber.
func (b *Bus) Subscribe(ctx context.Context, cfg ConsumerConfig, h Handler) (Subscription, error) {
	if h == nil {
		return nil, errors.New("bus: nil handler")
	}
	cfg = DefaultConsumerConfig(cfg)
	cons, err := b.consumer(ctx, cfg)
	if err != nil {
		return nil, err
	}
	s := &subscription{b: b, cfg: cfg, h: h}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if s.cc, err = cons.Consume(s.handle); err != nil {
		s.cancel()
		return nil, fmt.Errorf("bus: consume %s: %w", cfg.Name, err)
	}
	return s, b.register(s)
}

// consumer validates cfg (defaults filled) and creates or updates its JetStream consumer.
func (b *Bus) consumer(ctx context.Context, cfg ConsumerConfig) (jetstream.Consumer, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	b.mu.Lock()
	closed := b.closed
	b.mu.Unlock()
	if closed {
		return nil, ErrClosed
	}
	jc := jetstream.ConsumerConfig{FilterSubjects: filters(cfg), AckWait: cfg.AckWait}
	if cfg.Name != "" {
		// Redeliveries are bounded by the framework (dead letter after MaxDeliver), not by
		// JetStream, which would drop the message silently.
		jc.Durable, jc.AckPolicy, jc.MaxDeliver, jc.DeliverPolicy = cfg.Name, jetstream.AckExplicitPolicy, -1, jetstream.DeliverAllPolicy
	} else {
		jc.AckPolicy, jc.InactiveThreshold = jetstream.AckNonePolicy, time.Minute
		jc.DeliverPolicy = jetstream.DeliverNewPolicy
		if !cfg.DeliverFrom.IsZero() {
			from := cfg.DeliverFrom
			jc.DeliverPolicy, jc.OptStartTime = jetstream.DeliverByStartTimePolicy, &from
		}
	}
	cctx, cancel := context.WithTimeout(ctx, b.cfg.Timeout)
	defer cancel()
	cons, err := b.js.CreateOrUpdateConsumer(cctx, EventsStream, jc)
	if err != nil {
		return nil, fmt.Errorf("bus: consumer %s: %w", cfg.Name, err)
	}
	return cons, nil
}

// register adds a started subscription to the Bus, or stops it if the Bus closed meanwhile.
func (b *Bus) register(s *subscription) error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		s.Stop()
		return ErrClosed
	}
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return nil
}

// Stop stops delivery and waits for a running handler; safe to call twice.
func (s *subscription) Stop() {
	s.once.Do(func() {
		s.mu.Lock()
		s.stopped = true
		s.mu.Unlock()
		s.cancel()
		if s.cc != nil {
			s.cc.Stop()
			<-s.cc.Closed()
		}
		if s.loopDone != nil {
			<-s.loopDone
		}
		s.running.Wait()
		s.b.mu.Lock()
		delete(s.b.subs, s)
		s.b.mu.Unlock()
	})
}

// handle runs on the consumer's goroutine, one message at a time.
func (s *subscription) handle(msg jetstream.Msg) {
	s.mu.Lock()
	if s.stopped {
		s.mu.Unlock()
		return
	}
	s.running.Add(1)
	s.mu.Unlock()
	defer s.running.Done()

	if s.cfg.Name == "" { // ephemeral: no acks, no retries
		if l := s.cfg.Listening; l != nil && !l() {
			return // nobody listens: not even decoded
		}
		rec, err := decodeRecord(msg.Data())
		if err != nil || rec.ID == "" {
			s.deadLetter(msg, 1, fmt.Errorf("undecodable event: %v", err))
			return
		}
		if err := s.h(s.ctx, rec); err != nil && s.ctx.Err() == nil {
			s.b.log.Warn("event consumer failed", "event", rec.ID, "err", err)
		}
		return
	}
	rec, n, ok := s.admit(msg)
	if !ok {
		return
	}
	err := s.h(s.ctx, rec)
	if s.ctx.Err() != nil {
		return // stopping: JetStream redelivers after AckWait
	}
	s.settle(msg, n, rec, err)
}

// admit decodes a durable consumer's message and reports whether the handler should get it:
// not when it does not decode or was delivered more than MaxDeliver times (dead-lettered),
// nor when the Inbox holds it (acknowledged) or cannot be read (redelivered). n is the
// delivery count.
func (s *subscription) admit(msg jetstream.Msg) (rec events.Record, n int, ok bool) {
	rec, err := decodeRecord(msg.Data())
	if err != nil || rec.ID == "" {
		s.deadLetter(msg, 1, fmt.Errorf("undecodable event: %v", err))
		return rec, 0, false
	}
	n = 1
	if md, err := msg.Metadata(); err == nil {
		n = int(md.NumDelivered)
	}
	if n > s.cfg.MaxDeliver { // redelivered after AckWait timeouts
		s.deadLetter(msg, n, errors.New("ack wait exceeded on every delivery"))
		return rec, n, false
	}
	if in := s.cfg.Inbox; in != nil {
		done, err := in.Processed(s.ctx, s.cfg.Name, rec.ID)
		if err != nil {
			s.retry(msg, n, rec.ID, fmt.Errorf("inbox: %w", err))
			return rec, n, false
		}
		if done {
			_ = msg.Ack()
			return rec, n, false
		}
	}
	return rec, n, true
}

// settle acts on the handler's result err for a durable consumer's message (delivery n):
// acknowledge (recording it in the Inbox), redeliver after the backoff, or dead-letter.
func (s *subscription) settle(msg jetstream.Msg, n int, rec events.Record, err error) {
	if err != nil {
		if errors.Is(err, ErrPermanent) || n >= s.cfg.MaxDeliver {
			s.deadLetter(msg, n, err)
			return
		}
		s.retry(msg, n, rec.ID, err)
		return
	}
	if in := s.cfg.Inbox; in != nil {
		if err := in.MarkProcessed(s.ctx, s.cfg.Name, rec.ID, s.b.cfg.Now()); err != nil {
			s.b.log.Warn("event inbox not recorded; a redelivery will be handled again", "consumer", s.cfg.Name, "event", rec.ID, "err", err)
		}
	}
	if err := msg.Ack(); err != nil {
		s.b.log.Warn("event ack failed; it will be redelivered", "consumer", s.cfg.Name, "event", rec.ID, "err", err)
	}
}

// retry asks JetStream for a redelivery after the backoff step of delivery n.
func (s *subscription) retry(msg jetstream.Msg, n int, id string, cause error) {
	d := s.cfg.Backoff[min(n, len(s.cfg.Backoff))-1]
	s.b.log.Warn("event consumer failed; retrying", "consumer", s.cfg.Name, "event", id, "delivery", n, "in", d, "err", cause)
	_ = msg.NakWithDelay(d)
}

// deadLetter publishes msg to the consumer's dead-letter subject and terminates it; if the
// dead letter cannot be stored the message is redelivered instead (never dropped silently).
func (s *subscription) deadLetter(msg jetstream.Msg, n int, cause error) {
	if s.cfg.Name == "" {
		s.b.log.Warn("ephemeral event consumer dropped a message", "err", cause)
		return
	}
	dl := nats.NewMsg(DeadLetterSubject(s.cfg.Name))
	dl.Data = msg.Data()
	dl.Header.Set(HeaderConsumer, s.cfg.Name)
	dl.Header.Set(HeaderError, cause.Error())
	dl.Header.Set(HeaderDeliveries, strconv.Itoa(n))
	if md, err := msg.Metadata(); err == nil {
		dl.Header.Set(jetstream.MsgIDHeader, s.cfg.Name+":"+strconv.FormatUint(md.Sequence.Stream, 10))
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.b.cfg.Timeout)
	defer cancel()
	if _, err := s.b.js.PublishMsg(ctx, dl); err != nil {
		s.b.log.Warn("dead letter not stored; redelivering", "consumer", s.cfg.Name, "err", err)
		_ = msg.NakWithDelay(s.cfg.Backoff[len(s.cfg.Backoff)-1])
		return
	}
	s.b.log.Warn("event dead-lettered", "consumer", s.cfg.Name, "subject", msg.Subject(), "deliveries", n, "err", cause)
	_ = msg.TermWithReason(cause.Error())
}
