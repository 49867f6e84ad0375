package activation

import (
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/actors/events"
	"github.com/allot/allot/actors/payment"
)

// Payments (issue 13): the resource actor owns each hold's payment saga (package payment),
// stored with the hold (booking.Hold.Payment). A payment command steps the saga and turns the
// hold commands it returns into booking events of the same decision: extend once by the grace,
// confirm, retake an ended hold (a late payment), release. The saga and the hold therefore
// change in one commit. The provider commands (create, capture, cancel, refund) are not
// performed here: the caller reads them from the answered hold's saga (payment.Saga.Provider)
// after the commit, performs them outside the actor's turn, and steps their results back as
// PaymentObserved. The hold's status changes outside the saga too (an expiry, an owner's
// cancellation): every payment command first tells the saga the hold's status as it is, and
// a cancellation of a hold with a payment steps the saga in the cancel's own decision, so that
// its refund is recorded with it.

// PayHold: the hold's owner asks to pay. The amount comes from the resource's price.
type PayHold struct {
	HoldID, UserID string
	Config         payment.Config
	Policy         payment.Policy // the node's default: applies when the resource has no policy
}

// PaymentObserved: the provider's view of the hold's intent (a verified webhook with the
// re-read intent, a provider command's result, a reconciler's read).
type PaymentObserved struct {
	HoldID   string
	Observed payment.Observed
	Config   payment.Config
}

// PaymentTick: re-issue what the hold's saga still needs and act on its deadlines.
type PaymentTick struct {
	HoldID string
	Config payment.Config
}

// PaymentDecided: an operator approved or rejected a payment under review (Radar).
type PaymentDecided struct {
	HoldID  string
	Approve bool
	Config  payment.Config
}

// paymentOp is what the payment commands share: they are writes of one hold.
type paymentOp interface{ paymentHold() string }

func (o PayHold) paymentHold() string         { return o.HoldID }
func (o PaymentObserved) paymentHold() string { return o.HoldID }
func (o PaymentTick) paymentHold() string     { return o.HoldID }
func (o PaymentDecided) paymentHold() string  { return o.HoldID }

// maxPaymentSteps bounds the hold commands one decision follows (a confirm and its capture, a
// retake, a release: a handful); what is left is re-issued by the next tick.
const maxPaymentSteps = 16

// decidePayment decides a payment command against s without changing s.
func decidePayment(s *booking.State, op any, t time.Time) (outcome, bool) {
	p, ok := op.(paymentOp)
	if !ok {
		return outcome{}, false
	}
	id := p.paymentHold()
	h, ok := s.Hold(id)
	if !ok {
		return outcome{err: booking.Errorf(booking.CodeNotFound, "hold %q not found", id)}, true
	}
	res, _ := s.Resource()
	saga, err := payment.Decode(h.Payment, h.ID, h.ResourceID)
	if err != nil {
		return outcome{err: booking.Errorf(booking.CodeInternal, "%v", err)}, true
	}
	var cfg payment.Config
	var in payment.Input
	switch op := op.(type) {
	case PayHold:
		if op.UserID != h.UserID {
			// Not the owner: as if the hold did not exist (no probing of other users' holds).
			return outcome{err: booking.Errorf(booking.CodeNotFound, "hold %q not found", id)}, true
		}
		amount, err := payment.Amount(res.Price, h.Quantity, len(h.Buckets))
		if err != nil {
			return outcome{err: err}, true
		}
		// The policy and the start it is measured against are fixed when the payment starts:
		// the customer pays under the policy the resource shows then (a later change of the
		// resource's policy does not reach payments already made).
		cfg, in = op.Config, payment.Requested{Amount: amount, Policy: payment.PolicyFor(res, op.Policy),
			ServiceStart: booking.FirstStart(h.Buckets, res.Timezone), Hold: h.Status}
	case PaymentObserved:
		if saga.Attempt == 0 {
			return outcome{holdID: id}, true // no payment for this hold: nothing to observe
		}
		cfg, in = op.Config, op.Observed
	case PaymentTick:
		if saga.Attempt == 0 {
			return outcome{holdID: id}, true
		}
		cfg, in = op.Config, payment.Tick{}
	case PaymentDecided:
		if saga.Review != payment.ReviewOpen {
			return outcome{err: booking.Errorf(booking.CodeConflict, "hold %q has no payment under review", id)}, true
		}
		cfg, in = op.Config, payment.Decided{Approve: op.Approve}
	}
	before := payment.Encode(saga)
	prev, refundedBefore := saga.Status, saga.Refunded()
	var cmds []payment.Command
	if saga.Attempt > 0 && saga.Hold != h.Status {
		c, _ := saga.Step(cfg, t, payment.HoldChanged{Status: h.Status})
		cmds = append(cmds, c...)
	}
	c, err := saga.Step(cfg, t, in)
	if err != nil {
		return outcome{err: err}, true
	}
	cmds = append(cmds, c...)
	evs := followHoldCommands(s, saga, cfg, h, cmds, t)
	if after := payment.Encode(saga); after != before || len(evs) > 0 {
		evs = append(evs, recorded(saga, after, prev, refundedBefore, t))
	}
	return outcome{events: evs, holdID: id}, true
}

// followHoldCommands turns the saga's hold commands into booking events decided against s
// (which does not change: status tracks the hold's status as the events so far leave it) and
// steps their outcomes back into the saga. A command that does not fit the hold any more is
// skipped: the next tick re-issues it if it still matters.
func followHoldCommands(s *booking.State, saga *payment.Saga, cfg payment.Config, h booking.Hold, cmds []payment.Command, t time.Time) []booking.Event {
	var evs []booking.Event
	status := h.Status
	changed := false // at most one status change per decision: s does not show it
	step := func(in payment.Input) {
		more, _ := saga.Step(cfg, t, in)
		cmds = append(cmds, more...)
	}
	for i := 0; i < len(cmds) && i < maxPaymentSteps; i++ {
		switch c := cmds[i].(type) {
		case payment.ExtendHold:
			if !changed {
				evs = append(evs, s.PaymentExtension(h.ID, c.By, t)...)
			}
		case payment.ConfirmHold:
			if changed || status != booking.StatusHeld {
				continue
			}
			e, err := s.DecideConfirm(booking.ConfirmHold{HoldID: h.ID}, t)
			if err != nil || len(e) == 0 {
				continue
			}
			evs, status, changed = append(evs, e...), booking.StatusConfirmed, true
			step(payment.HoldChanged{Status: status})
		case payment.RetakeHold:
			if changed || status.Active() {
				continue
			}
			e, err := s.DecideRetake(h.ID, t)
			if booking.ErrorCode(err) == booking.CodeSoldOut {
				step(payment.RetakeRefused{})
				continue
			}
			if err != nil || len(e) == 0 {
				continue
			}
			evs, status, changed = append(evs, e...), booking.StatusConfirmed, true
			step(payment.HoldChanged{Status: status})
		case payment.ReleaseHold:
			if changed || status != booking.StatusConfirmed {
				continue
			}
			e, err := s.DecideCancel(booking.CancelHold{HoldID: h.ID}, t)
			if err != nil || len(e) == 0 {
				continue
			}
			evs, status, changed = append(evs, e...), booking.StatusCancelled, true
			step(payment.HoldChanged{Status: status})
		}
	}
	return evs
}

func recorded(saga *payment.Saga, enc string, prev payment.Status, refundedBefore int64, t time.Time) booking.PaymentRecorded {
	return booking.PaymentRecorded{HoldID: saga.HoldID, Payment: enc, Open: saga.Open(), Status: string(saga.Status),
		Prev: string(prev), Refunded: saga.Refunded(), RefundedBefore: refundedBefore, Currency: saga.Amount.Currency, At: t}
}

// paymentOnCancel steps the saga of a hold being cancelled (evs are DecideCancel's events),
// so that the refund its policy grants is recorded in the cancel's own commit.
func paymentOnCancel(s *booking.State, holdID string, evs []booking.Event, t time.Time) []booking.Event {
	if len(evs) == 0 {
		return evs
	}
	h, ok := s.Hold(holdID)
	if !ok || h.Payment == "" {
		return evs
	}
	saga, err := payment.Decode(h.Payment, h.ID, h.ResourceID)
	if err != nil || saga.Attempt == 0 {
		return evs
	}
	before := payment.Encode(saga)
	prev, refundedBefore := saga.Status, saga.Refunded()
	if saga.Hold != h.Status { // catch up first: the refund depends on what was cancelled
		saga.Step(payment.Config{}, t, payment.HoldChanged{Status: h.Status})
	}
	saga.Step(payment.Config{}, t, payment.HoldChanged{Status: booking.StatusCancelled})
	if after := payment.Encode(saga); after != before {
		evs = append(evs, recorded(saga, after, prev, refundedBefore, t))
	}
	return evs
}

// adoptForPayment takes a terminal hold the store has into memory for a payment command (a
// late payment for a hold that ended before this activation) and decides the command again.
func (c *Core) adoptForPayment(r *Command, h booking.Hold, now time.Time) bool {
	if _, ok := r.Op.(paymentOp); !ok || h.Payment == "" {
		return false
	}
	c.committed.AdoptTerminal(h)
	if c.spec != c.committed {
		c.spec.AdoptTerminal(h)
	}
	t := ms(now)
	c.maintain(t)
	c.dispatch(r, t)
	c.flush(now)
	c.armExpiry()
	return true
}

// paymentEvent describes a PaymentRecorded as the event stream's hold.payment_changed (when
// the status changed) and hold.refunded (when money went back), with the hold's image.
func paymentEvents(ev booking.PaymentRecorded, base events.Event, img *booking.Hold) []events.Event {
	if img == nil {
		return nil
	}
	var out []events.Event
	base.Type, base.OccurredAt, base.Hold, base.Subject = events.HoldPaymentChanged, ev.At, img, img.UserID
	if ev.Status != ev.Prev {
		e := base
		e.Payment = &events.PaymentData{Status: ev.Status, Previous: ev.Prev, Refunded: ev.Refunded}
		out = append(out, e)
	}
	if ev.Refunded > ev.RefundedBefore {
		e := base
		e.Type = events.HoldRefunded
		e.Payment = &events.PaymentData{Status: ev.Status, Previous: ev.Prev, Refunded: ev.Refunded,
			Amount: ev.Refunded - ev.RefundedBefore, Currency: ev.Currency}
		out = append(out, e)
	}
	return out
}

func paymentEventHold(ev booking.Event) string {
	switch ev := ev.(type) {
	case booking.PaymentRecorded:
		return ev.HoldID
	case booking.HoldRetaken:
		return ev.HoldID
	}
	return ""
}

// paymentBlocksConfirm refuses a plain confirm of a held hold whose payment has started: from
// then on only its payment confirms it (an authorization), so that a hold being paid for is
// never booked without the money. When the node takes payments (op.PaymentRequired, set by
// the edge) a held hold of a priced resource whose payment has not started is refused too
// (payment_required): money and booking cannot diverge. The check and the confirm are one
// decision of the actor, so no payment can start between them.
func paymentBlocksConfirm(s *booking.State, op booking.ConfirmHold) error {
	h, ok := s.Hold(op.HoldID)
	if !ok || h.Status != booking.StatusHeld {
		return nil // the model answers not found, or confirms again idempotently, or refuses
	}
	started := false
	if h.Payment != "" {
		if saga, err := payment.Decode(h.Payment, h.ID, h.ResourceID); err == nil && saga.Attempt > 0 {
			started = true
		}
	}
	if started {
		return booking.Errorf(booking.CodeConflict, "hold %q is being paid for; its payment confirms it", op.HoldID)
	}
	if res, _ := s.Resource(); op.PaymentRequired && res.Price != nil {
		return booking.Errorf(booking.CodePaymentRequired, "hold %q is on a priced resource: pay for it (POST .../payment), its payment confirms it", op.HoldID)
	}
	return nil
}
