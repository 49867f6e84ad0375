package payments

import (
	"context"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/actors/payment"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/protos"
)

// Start starts the reconciler: a round at once (a crash left sagas mid-way), then one every
// ReconcileEvery. Without a provider it does nothing. Close stops it.
func (s *Service) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.closed || !s.Enabled() || s.cfg.ReconcileEvery == 0 {
		return
	}
	s.started = true
	go s.loop()
}

// Close stops the reconciler and waits for its round in flight. Safe twice.
func (s *Service) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	started := s.started
	close(s.stop)
	s.mu.Unlock()
	if started {
		<-s.done
	}
	return nil
}

func (s *Service) loop() {
	defer close(s.done)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		n, err := s.ReconcileOnce(ctx)
		if err != nil && ctx.Err() == nil {
			s.cfg.Logger.Warn("payments reconciler: round failed", "err", err)
		} else if n > 0 {
			s.cfg.Logger.Info("payments reconciler: resumed open payments", "count", n)
		}
		t.Reset(s.cfg.ReconcileEvery)
	}
}

// ReconcileOnce resumes every open payment: it re-reads the intent from the provider, steps
// it into the hold's actor with a tick (the hold's status, the late window, a capture or a
// refund still due) and drives what the saga then needs. It returns how many it looked at;
// a failure of one payment is logged and the round goes on.
func (s *Service) ReconcileOnce(ctx context.Context) (int, error) {
	if !s.Enabled() {
		return 0, nil
	}
	hs, err := s.cfg.Store.ListPayments(ctx, persistence.PaymentFilter{Open: true, Limit: 1000})
	if err != nil {
		return 0, err
	}
	for _, h := range hs {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		if err := s.resume(ctx, h); err != nil {
			s.cfg.Logger.Warn("payments reconciler: resuming a payment failed", "hold_id", h.ID, "err", err)
		}
	}
	return len(hs), nil
}

func (s *Service) resume(ctx context.Context, h booking.Hold) error {
	saga, err := payment.Decode(h.Payment, h.ID, h.ResourceID)
	if err != nil {
		return err
	}
	if id := saga.Intent.ID; id != "" {
		in, err := s.callProvider(ctx, func(ctx context.Context) (payment.Intent, error) { return s.cfg.Provider.GetIntent(ctx, id) })
		if err == nil {
			if _, _, err := s.observe(ctx, h.ResourceID, h.ID, payment.Observed{Intent: in}); err != nil {
				return err
			}
		}
	}
	_, saga, err = s.send(ctx, h.ResourceID, &protos.PaymentOp{HoldId: h.ID, Kind: "tick"})
	if err != nil {
		return err
	}
	_, _, _, err = s.drive(ctx, h.ResourceID, h.ID, saga)
	return err
}

// Mismatch is one payment where the provider, the saga and the booking disagree.
type Mismatch struct {
	HoldID        string   `json:"hold_id"`
	ResourceID    string   `json:"resource_id"`
	HoldStatus    string   `json:"hold_status"`
	PaymentStatus string   `json:"payment_status"`
	IntentID      string   `json:"intent_id,omitempty"`
	Problems      []string `json:"problems"`
}

// Report is the answer of GET /v1/payments/reconciliation.
type Report struct {
	Checked    int        `json:"checked"`
	Mismatches []Mismatch `json:"mismatches"`
}

// Reconciliation compares up to limit payments (most recently changed last) with the
// provider's intents: payment.Reconcile for each (money kept for a hold that is not confirmed,
// a confirmed hold without money, an authorization neither captured nor released, a refund
// outstanding, the saga's view behind the provider's). An intent that cannot be read is a
// mismatch of its own.
func (s *Service) Reconciliation(ctx context.Context, limit int) (Report, error) {
	if !s.Enabled() {
		return Report{}, errOff
	}
	hs, err := s.cfg.Store.ListPayments(ctx, persistence.PaymentFilter{Limit: limit})
	if err != nil {
		return Report{}, err
	}
	r := Report{Checked: len(hs), Mismatches: []Mismatch{}}
	for _, h := range hs {
		saga, err := payment.Decode(h.Payment, h.ID, h.ResourceID)
		m := Mismatch{HoldID: h.ID, ResourceID: h.ResourceID, HoldStatus: string(h.Status)}
		if err != nil {
			m.Problems = []string{err.Error()}
			r.Mismatches = append(r.Mismatches, m)
			continue
		}
		m.PaymentStatus, m.IntentID = string(saga.Status), saga.Intent.ID
		var in payment.Intent
		if id := saga.Intent.ID; id != "" {
			in, err = s.callProvider(ctx, func(ctx context.Context) (payment.Intent, error) { return s.cfg.Provider.GetIntent(ctx, id) })
			if err != nil {
				m.Problems = []string{"the provider's intent could not be read: " + booking.ErrorCode(err)}
				r.Mismatches = append(r.Mismatches, m)
				continue
			}
		}
		if m.Problems = payment.Reconcile(saga, in, h.Status); len(m.Problems) > 0 {
			r.Mismatches = append(r.Mismatches, m)
		}
	}
	return r, nil
}
