package bus

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/allot/allot/actors/events"
)

// Subscriber starts consumers of the event stream. It is the seam webhooks, live streams,
// notifications, payments and reports build on; *Bus implements it on NATS JetStream, and
// tests use a real embedded server (nothing is mocked).
//
// Contract:
//   - Subscribe is safe for concurrent use. It creates (or updates) the consumer and starts
//     delivering before it returns; it fails with ErrClosed once the Bus is closed, or with a
//     config error.
//   - Delivery is at least once. Each event is handed to the Handler as an events.Record
//     (the JSON the relay published), one call at a time per subscription, in stream order
//     for a first delivery (so one resource's events arrive by Version); a redelivery may come
//     after later events. Deduplicate by Record.ID (a durable consumer with an Inbox does it
//     for you).
//   - Handler result: nil acknowledges (and records the event in the Inbox for a durable
//     consumer). An error asks for a redelivery after Backoff[n-1] (n: the delivery count,
//     the last step repeating); after MaxDeliver failed deliveries, or at once for an error
//     wrapping ErrPermanent, the message is published to the dead-letter subject
//     DeadLetterSubject(Name) with headers Allot-Consumer, Allot-Error and Allot-Deliveries,
//     and terminated. A Handler must return when ctx is done; ctx ends when the
//     subscription is stopped.
//   - Durable (Name set): the consumer's position survives restarts of the node and of NATS,
//     and several nodes subscribing under one Name share the work (each event goes to one of
//     them). With an Inbox, an event whose ID the Inbox already holds for Name is acknowledged
//     without calling the Handler, so a redelivery after a crash between the handler's effect
//     and the ack is not handled twice when the effect and Inbox.MarkProcessed commit together
//     or the effect is itself idempotent.
//   - Ephemeral (Name empty): each subscription gets every event published from the time it
//     starts (DeliverFrom), nothing persists, no Inbox, no dead letter (a failed handler
//     only logs): the shape of a live stream (SSE) on each node.
//   - Subscription.Stop stops delivery, waits for a running Handler to return, and is safe
//     to call twice; Bus.Close stops every subscription.
//
// A consumer whose effect is cheaper per event when applied many at a time takes batches
// instead (BatchSubscriber).
type Subscriber interface {
	Subscribe(ctx context.Context, cfg ConsumerConfig, h Handler) (Subscription, error)
}

// Handler handles one event. See Subscriber for what its result means.
type Handler func(ctx context.Context, rec events.Record) error

// Subscription is a running consumer.
type Subscription interface {
	// Stop stops delivery and waits for the handler to return. Safe to call twice.
	Stop()
}

// ErrPermanent marks a handler error that no redelivery can fix: the event goes to the dead
// letter at once. Wrap it: fmt.Errorf("...: %w", bus.ErrPermanent).
var ErrPermanent = errors.New("permanent failure")

// ErrClosed is returned by Subscribe after the Bus was closed.
var ErrClosed = errors.New("bus: closed")

// ConsumerConfig describes one consumer. The zero value of every field but Name has a default
// (DefaultConsumerConfig).
type ConsumerConfig struct {
	// Name is the durable consumer's name ([A-Za-z0-9_-], at most 64); empty makes an
	// ephemeral consumer.
	Name string
	// Types filters by event type (empty: every type).
	Types []events.Type
	// ResourceID filters to one resource (empty: every resource); e.g. a live stream.
	ResourceID string
	// DeliverFrom is where an ephemeral consumer starts: zero for new events only, else the
	// first event stored at or after it (bounded by the stream's retention). A durable
	// consumer starts at the beginning of the stream the first time it is created and then
	// resumes where it stopped.
	DeliverFrom time.Time
	// MaxDeliver bounds deliveries of one event before it goes to the dead letter.
	MaxDeliver int
	// Backoff is the pause before redelivery n+1 after failed delivery n (the last repeats).
	Backoff []time.Duration
	// AckWait is how long a delivery may run before JetStream redelivers it.
	AckWait time.Duration
	// Inbox, when set on a durable consumer, makes it idempotent by event id.
	Inbox Inbox
	// MaxBatch bounds the events of one BatchHandler call (SubscribeBatch); a Handler
	// ignores it.
	MaxBatch int
	// BatchInterval (SubscribeBatch only) is the least time between the starts of two
	// batches: a consumer whose every commit delays others (on SQLite, a side pool's
	// transaction holds the write lock the booking writer needs) paces itself, so that under
	// load it commits a few large batches a second instead of many small ones. An event waits
	// at most that much longer. A full batch (MaxBatch events) is not followed by a wait: the
	// consumer is behind, and pacing would cap its intake at MaxBatch per interval instead of
	// letting it catch up. Zero: no pacing.
	BatchInterval time.Duration
	// Listening (ephemeral consumers only), when set, is asked before each message is
	// decoded: false drops the message unread. For a live stream that nobody watches, whose
	// handler would do nothing with the event (an ephemeral consumer redelivers nothing, so
	// nothing is lost that the handler would have kept). Must be cheap and safe for
	// concurrent use.
	Listening func() bool
}

// DefaultConsumerConfig fills the defaults of the zero fields.
func DefaultConsumerConfig(c ConsumerConfig) ConsumerConfig {
	if c.MaxDeliver == 0 {
		c.MaxDeliver = 8
	}
	if len(c.Backoff) == 0 {
		c.Backoff = []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute}
	}
	if c.AckWait == 0 {
		c.AckWait = 30 * time.Second
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	return c
}

var consumerName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

func (c ConsumerConfig) validate() error {
	if c.Name != "" && !consumerName.MatchString(c.Name) {
		return fmt.Errorf("bus: consumer name %q: want 1-64 of [A-Za-z0-9_-]", c.Name)
	}
	for _, t := range c.Types {
		if !t.Valid() {
			return fmt.Errorf("bus: consumer %s: unknown event type %q", c.Name, t)
		}
	}
	if c.MaxDeliver < 1 || c.AckWait <= 0 || c.MaxBatch < 1 {
		return fmt.Errorf("bus: consumer %s: MaxDeliver, AckWait and MaxBatch must be positive", c.Name)
	}
	if c.BatchInterval < 0 || c.BatchInterval > time.Minute {
		return fmt.Errorf("bus: consumer %s: BatchInterval %s is not within [0, 1m]", c.Name, c.BatchInterval)
	}
	if c.MaxBatch > 4096 {
		return fmt.Errorf("bus: consumer %s: MaxBatch %d is more than 4096", c.Name, c.MaxBatch)
	}
	for _, d := range c.Backoff {
		if d <= 0 {
			return fmt.Errorf("bus: consumer %s: backoff steps must be positive", c.Name)
		}
	}
	if c.Name == "" && c.Inbox != nil {
		return fmt.Errorf("bus: an ephemeral consumer has no inbox")
	}
	if c.Name != "" && c.Listening != nil {
		return fmt.Errorf("bus: consumer %s: Listening is for ephemeral consumers (a durable one must handle every event)", c.Name)
	}
	return nil
}

// Inbox records which events a durable consumer has handled: the (consumer, event id) table
// of the store (persistence/sqlite, postgres and memstore implement it). Safe for concurrent
// use; errors wrap persistence.ErrUnavailable when the store cannot be reached (the event is
// then redelivered).
type Inbox interface {
	// Processed reports whether consumer handled eventID already.
	Processed(ctx context.Context, consumer, eventID string) (bool, error)
	// MarkProcessed records that consumer handled eventID (at, for pruning); recording it
	// twice is not an error.
	MarkProcessed(ctx context.Context, consumer, eventID string, at time.Time) error
}

// DeadLetterSubject is where consumer's undeliverable events go.
func DeadLetterSubject(consumer string) string { return DeadLetterPrefix + consumer }

// DeadLetterPrefix is the subject space of dead letters, kept in their own stream.
const DeadLetterPrefix = "allot.deadletter."
