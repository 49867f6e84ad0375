// Package payments is the payment layer of the node (issue 13): it drives each hold's payment
// saga (actors/payment), which lives in the hold's resource actor, against a payment provider
// (Stripe, api/stripepay), and serves the three payment routes.
//
// The resource actor decides; this package performs. Every route and the reconciler send a
// payment command to the hold's actor (a protos.PaymentOp through the Dispatcher); the actor
// steps the saga, follows its hold commands in the same decision (extend, confirm, retake,
// release) and answers, after the commit, with the hold and its saga. The provider commands
// the saga still needs (payment.Saga.Provider: create, capture, cancel, refund) are performed
// here, outside the actor's turn, and their results go back to the actor as observations,
// until the saga needs nothing more from the provider (drive). Every provider call carries the
// saga's idempotency key, so a repeat after a crash or a timeout is the same call.
//
// Nothing is kept here: the saga is stored with the hold. After a crash, the reconciler
// (Reconciler) lists the holds whose payment is open (persistence ListPayments), re-reads
// their intents from the provider, steps them and drives them again: so no money is kept
// without a booking (a late authorization for units sold meanwhile is cancelled, a refund
// outstanding is made). It runs at start and then every Config.ReconcileEvery.
//
// Routes (mount.Route, with their policies): POST /v1/resources/{rid}/holds/{hid}/payment
// (customer; the actor checks that the caller owns the hold), POST /v1/payments/stripe/webhook
// (public: the Stripe-Signature authenticates), GET /v1/payments/reconciliation (operator).
package payments
