// Package stripepay is payment.Provider on Stripe (github.com/stripe/stripe-go/v85) and the
// verifier of Stripe's webhooks.
//
// Client creates PaymentIntents with capture_method=manual and metadata hold_id,
// resource_id and attempt, and captures, cancels and refunds them, each write under the
// saga's idempotency key (actors/payment). Verifier checks Stripe-Signature with
// webhook.ConstructEventWithOptions (HMAC and a timestamp tolerance, 5 minutes by default)
// and types the events the saga acts on; a bad signature, a stale timestamp or a body that is
// not an event is a *booking.Error with CodeMalformed (400), so nothing changes.
//
// Allot holds no card data: the customer's device confirms the intent with its client
// secret in Stripe's SDK (PaymentSheet, Stripe.js), which keeps Allot in PCI DSS SAQ A
// scope. See docs/PAYMENTS.md.
//
// # Configuration (flags planned in cmd, not wired yet)
//
//	--stripe-secret-key-file PATH   or ALLOT_STRIPE_SECRET_KEY (SecretKey); none: payments off
//	--stripe-webhook-secret  whsec_... of the webhook endpoint (Config.WebhookSecret)
//	--stripe-api-url         URL of a stripe-mock in tests (Config.APIURL)
//
// # Tests
//
// client_test.go runs a real stripe-mock (installed by .ci/install-deps into
// $(go env GOPATH)/bin) on 127.0.0.1; under CI=true a missing stripe-mock fails the tests.
// stripe-mock is stateless: it proves that every request Allot sends is one Stripe's
// specification accepts; the PaymentIntent state machine is modelled in actors/payment's tests.
package stripepay
