package payments

import (
	"context"
	"errors"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/actors/payment"
)

// Webhook takes one Stripe webhook: it verifies the signature, re-reads the intent from the
// provider (the event is a trigger; the provider's state is the truth), steps the re-read and
// then the event into the hold's actor, and drives what the saga then needs. The saga drops an
// event id it has seen (duplicates), and its merge of intents is monotonic (a stale or
// reordered event changes nothing). nil means "acknowledge" (2xx): the event was committed
// or is not for Allot. A *booking.Error with CodeMalformed is a bad signature or body (400);
// CodeUnavailable asks Stripe to deliver again later (503).
func (s *Service) Webhook(ctx context.Context, body []byte, signature string) error {
	if !s.Enabled() {
		return errOff
	}
	if s.cfg.Verifier == nil {
		return booking.Errorf(booking.CodeMalformed, "no webhook secret is configured: webhooks cannot be verified")
	}
	ev, err := s.cfg.Verifier.Verify(body, signature)
	if err != nil {
		return err
	}
	if ev.Kind == payment.EventOther || ev.IntentID == "" {
		return nil
	}
	fresh, err := s.callProvider(ctx, func(ctx context.Context) (payment.Intent, error) {
		return s.cfg.Provider.GetIntent(ctx, ev.IntentID)
	})
	switch {
	case errors.Is(err, payment.ErrNotFound):
		fresh = payment.Intent{}
	case err != nil:
		s.cfg.Logger.Warn("payments webhook: re-reading the intent failed", "event_id", ev.ID, "err", err)
		return unavailable("the payment provider could not be reached", err)
	}
	rid, hid := fresh.ResourceID, fresh.HoldID
	if ev.Intent != nil && ev.Intent.HoldID != "" {
		rid, hid = ev.Intent.ResourceID, ev.Intent.HoldID
	}
	if rid == "" || hid == "" || !booking.ValidID(hid) {
		s.cfg.Logger.Info("payments webhook: an intent that names no hold, ignored", "event_id", ev.ID)
		return nil
	}
	if fresh.ID != "" {
		if _, _, err := s.observe(ctx, rid, hid, payment.Observed{Intent: fresh}); err != nil {
			return s.webhookRefusal(ev.ID, err)
		}
	}
	in := fresh
	if ev.Intent != nil {
		in = *ev.Intent
	}
	_, saga, err := s.observe(ctx, rid, hid, payment.Observed{EventID: ev.ID, Kind: ev.Kind, ReviewReason: ev.ReviewReason, Intent: in})
	if err != nil {
		return s.webhookRefusal(ev.ID, err)
	}
	if _, _, _, err := s.drive(ctx, rid, hid, saga); err != nil {
		// The event is committed; what it calls for is re-issued by the reconciler.
		s.cfg.Logger.Warn("payments webhook: driving the saga failed", "event_id", ev.ID, "err", err)
	}
	return nil
}

// webhookRefusal: a hold that does not exist is acknowledged (Stripe would retry for days);
// everything else is answered as it is, a retryable one making Stripe deliver again.
func (s *Service) webhookRefusal(eventID string, err error) error {
	if booking.ErrorCode(err) == booking.CodeNotFound {
		s.cfg.Logger.Info("payments webhook: the intent's hold is unknown, ignored", "event_id", eventID)
		return nil
	}
	return err
}
