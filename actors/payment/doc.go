// Package payment holds a hold's payment as a plain state machine: the saga that takes a
// hold from "requested" to "captured" (or "cancelled", "refunded") against a payment provider
// whose reports arrive late, twice or out of order.
//
// Like package booking it has no actor context, no clock and no I/O (house style 1): the
// shell calls Saga.Step with an Input and the time and performs the Commands it returns.
// Commands are level-triggered and idempotent (Stripe idempotency keys derived from the hold
// and the attempt; hold commands that are no-ops when already done), so after a crash the
// shell re-issues what is outstanding by stepping a Tick.
//
// # The promise
//
// Never money kept without a booking, never a booking marked paid without money
// (CheckInvariant). Money is captured only for a confirmed hold; an authorization that arrives
// for a hold that ended is turned into a booking only if the units can be taken again (a late
// payment), and is otherwise cancelled, releasing it on the card. A paid booking that is
// cancelled is refunded by the resource's Policy. Reconcile lists what an operator must look
// at once everything settled; it is empty at the end of every run of the saga matrix
// (matrix_test.go).
//
// # Wiring
//
// Built as planned below, with two simplifications (docs/PAYMENTS.md, Wiring): the provider
// commands are performed by api/payments after the commit, read from the stored saga
// (Saga.Provider) rather than handed over by the actor; and the actor ticks a saga only when a
// payment command reaches it (the reconciler's PaymentTick, every --payment-reconcile-every),
// syncing the hold's status first. Not built yet: the confirm rule and the per-resource
// policy of step 9.
//
// State: a Saga per hold that has a payment, stored with the hold (one more column or table
// in the store batch; Saga's exported fields are its storage shape, Intent.ClientSecret is
// always empty in it). The resource actor owns it: the hold's facts and the saga change in the
// same decision and commit, which is why HoldChanged needs no ordering of its own.
//
//  1. Actor command PayHold{HoldID, UserID}: the actor checks the owner, computes Amount
//     (resource Price × hold Quantity × len(Buckets)) and the ServiceStart of the first bucket,
//     steps Requested{Hold: current status}, applies ExtendHold to its booking state
//     (booking.DecideExtend's rule without the MaxExtensions count; once per hold), commits,
//     then performs CreateIntent through the Provider outside the actor's turn and steps
//     Observed with the result. The HTTP handler answers client_secret, amount, currency,
//     status from that result. Route: POST /v1/resources/{rid}/holds/{hid}/payment, a mount.Route
//     with auth.Customer, the actor checking that the subject owns the hold (as for
//     confirm and cancel), rate limited per subject (api/ratelimit: payment attempts per
//     user per hour). A repeated request answers the intent under way (GetIntent for its
//     client secret; or the repeated CreateIntent the step returns).
//  2. Actor command PaymentObserved{HoldID, Observed}: from the webhook route
//     POST /v1/payments/stripe/webhook (auth.Public, no bearer token: the Stripe-Signature is
//     the authentication, api/stripepay.Verifier; body capped at stripepay.MaxWebhookBody;
//     a refusal is the problem+json of booking.CodeMalformed, 400), which re-reads the intent
//     (Provider.GetIntent) and routes by the intent's metadata resource_id/hold_id. The
//     route answers 2xx only after the actor committed, so Stripe redelivers otherwise.
//  3. Hold commands the saga emits map onto booking decisions in the same actor turn:
//     ConfirmHold -> DecideConfirm; RetakeHold -> a new decision that re-activates an
//     expired or cancelled hold as confirmed if every bucket has Quantity available, else
//     the actor steps RetakeRefused; ReleaseHold -> DecideCancel. Each decision's outcome is
//     stepped back as HoldChanged. Every expiry (booking's ExpireDue) and cancellation of a hold with a saga
//     is stepped as HoldChanged as well (ByOperator for an operator's cancel).
//  4. Provider commands (CreateIntent, CaptureIntent, CancelIntent, RefundIntent) are
//     performed after the commit that produced them, outside the actor's turn (they are
//     network calls); their results come back as PaymentObserved. On ErrTemporary nothing is
//     stepped; the next Tick re-issues the command.
//  5. MarkPayment: the hold's payment status in the API (a new field, wire.Hold.Payment) and the events
//     hold.payment_<status>; a refund emits hold.refunded (the event consumer, once events
//     are in the commit).
//  6. Tick: the actor's one timer steps Tick for every saga not at rest (status pending,
//     authorized, review, or a refund outstanding) at most every 30 s; on activation the
//     actor re-reads each such saga's intent (GetIntent) and steps Observed, then Tick: the
//     reconciler of issue 13.
//  7. GET /v1/payments/reconciliation (auth.Operator): Reconcile per saga against GetIntent.
//  8. An operator's review decision: POST /v1/resources/{rid}/holds/{hid}/payment/review
//     {"approve": bool} (auth.Operator) -> Decided.
//  9. Rules the booking side must add: on a priced resource with payments on, a plain
//     confirm by the customer is refused (CodeConflict, "payment required") so that only
//     the saga confirms; a resource's cancellation Policy is set on create/update and
//     validated with Policy.Validate; cmd builds Config (--payment-grace -> Config.Grace)
//     and stripepay.Config from flags, payments off without a secret key.
package payment
