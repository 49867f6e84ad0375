package payment

import (
	"encoding/json"
	"fmt"
	"time"
)

// The saga's storage shape: its exported fields as JSON, kept with the hold
// (booking.Hold.Payment). The client secret is never in it (observe clears it).

// Encode renders s for the store.
func Encode(s *Saga) string {
	c := s.Clone()
	c.Intent.ClientSecret = ""
	b, err := json.Marshal(c)
	if err != nil { // a Saga has only plain fields: cannot fail
		panic("payment: encode: " + err.Error())
	}
	return string(b)
}

// Decode reads a stored saga; "" is a hold without payment (a zero Saga for holdID, resourceID).
func Decode(stored, holdID, resourceID string) (*Saga, error) {
	s := &Saga{HoldID: holdID, ResourceID: resourceID, Status: StatusNone}
	if stored == "" {
		return s, nil
	}
	if err := json.Unmarshal([]byte(stored), s); err != nil {
		return nil, fmt.Errorf("payment: decode hold %s: %w", holdID, err)
	}
	if s.Status == "" {
		s.Status = StatusNone
	}
	return s, nil
}

// Open reports whether the saga still needs work: a payment under way (pending, failed,
// authorized, review) or a command it still calls for (a capture, a cancellation, a refund,
// a booking to confirm or release), the late window's end included. A reconciler ticks every
// open saga; a saga at rest needs nothing until something happens to its hold.
func (s *Saga) Open() bool {
	if s.Attempt == 0 {
		return false
	}
	switch s.status() {
	case StatusPending, StatusFailed, StatusAuthorized, StatusReview:
		return true
	}
	// Far in the future every deadline has passed: what needs returns then is what the saga
	// will still ask for at some point.
	for _, c := range s.needs(DefaultConfig, time.Unix(1<<40, 0)) {
		if _, ok := c.(MarkPayment); !ok {
			return true
		}
	}
	return false
}

// Refunded is what was refunded so far, in minor units.
func (s *Saga) Refunded() int64 { return s.Intent.AmountRefunded }

// Provider lists the provider commands the saga still needs at now (create, capture, cancel,
// refund): what a shell performs after the commit that stored the saga, its results stepped
// back as Observed. Hold commands and marks are left out: the resource actor follows those in
// the decision that produced them. Calling it again returns the same commands until the saga
// moves, and their idempotency keys make a repeat harmless.
func (s *Saga) Provider(cfg Config, now time.Time) []Command {
	var out []Command
	for _, c := range s.needs(cfg.WithDefaults(), now) {
		switch c.(type) {
		case CreateIntent, CaptureIntent, CancelIntent, RefundIntent:
			out = append(out, c)
		}
	}
	return out
}
