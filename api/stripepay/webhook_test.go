package stripepay

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v85"
	"github.com/stripe/stripe-go/v85/webhook"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/actors/payment"
)

const testWebhookSecret = "whsec_allot_test"

func testVerifier(t testing.TB) *Verifier {
	v, err := NewVerifier(Config{SecretKey: "sk_test_allot", WebhookSecret: testWebhookSecret})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// eventJSON is a Stripe event as Stripe sends it, around object.
func eventJSON(id, typ, object string) []byte {
	return []byte(fmt.Sprintf(`{"id":%q,"object":"event","api_version":%q,"created":1900000000,"type":%q,"data":{"object":%s}}`,
		id, stripe.APIVersion, typ, object))
}

// signed signs payload as Stripe would, at ts.
func signed(payload []byte, secret string, ts time.Time) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: ts}).Header
}

const piObject = `{"id":"pi_1","object":"payment_intent","amount":4200,"amount_capturable":4200,"amount_received":0,
 "currency":"eur","status":"requires_capture","capture_method":"manual","client_secret":"pi_1_secret_x",
 "metadata":{"hold_id":"h1","resource_id":"r1","attempt":"2"},
 "latest_charge":{"id":"ch_1","object":"charge","amount_refunded":0,"outcome":{"risk_level":"elevated"},"review":{"id":"prv_1","object":"review","open":true}}}`

func TestVerifyTypesEvents(t *testing.T) {
	v := testVerifier(t)
	now := time.Now()
	for _, tc := range []struct {
		typ    string
		object string
		kind   payment.EventKind
		intent string
		reason string
	}{
		{"payment_intent.amount_capturable_updated", piObject, payment.EventAuthorized, "pi_1", ""},
		{"payment_intent.succeeded", piObject, payment.EventSucceeded, "pi_1", ""},
		{"payment_intent.payment_failed", piObject, payment.EventFailed, "pi_1", ""},
		{"payment_intent.canceled", piObject, payment.EventCanceled, "pi_1", ""},
		{"charge.refunded", `{"id":"ch_1","object":"charge","payment_intent":"pi_1","amount_refunded":2100}`, payment.EventRefunded, "pi_1", ""},
		{"review.opened", `{"id":"prv_1","object":"review","payment_intent":"pi_1","open":true,"reason":"rule"}`, payment.EventReviewOpened, "pi_1", ""},
		{"review.closed", `{"id":"prv_1","object":"review","payment_intent":"pi_1","open":false,"reason":"approved","closed_reason":"approved"}`, payment.EventReviewClosed, "pi_1", "approved"},
		{"review.closed", `{"id":"prv_1","object":"review","payment_intent":"pi_1","open":false,"reason":"refunded_as_fraud"}`, payment.EventReviewClosed, "pi_1", "refunded_as_fraud"},
		{"customer.created", `{"id":"cus_1","object":"customer"}`, payment.EventOther, "", ""},
	} {
		t.Run(tc.typ+tc.reason, func(t *testing.T) {
			body := eventJSON("evt_1", tc.typ, tc.object)
			ev, err := v.Verify(body, signed(body, testWebhookSecret, now))
			if err != nil {
				t.Fatal(err)
			}
			if ev.ID != "evt_1" || ev.Kind != tc.kind || ev.IntentID != tc.intent || ev.ReviewReason != tc.reason {
				t.Fatalf("got %+v", ev)
			}
		})
	}
	body := eventJSON("evt_2", "payment_intent.amount_capturable_updated", piObject)
	ev, err := v.Verify(body, signed(body, testWebhookSecret, now))
	if err != nil {
		t.Fatal(err)
	}
	want := payment.Intent{ID: "pi_1", HoldID: "h1", ResourceID: "r1", Attempt: 2, Amount: 4200, Currency: "EUR",
		Status: payment.IntentRequiresCapture, AmountCapturable: 4200, Risk: payment.RiskElevated, ReviewOpen: true, ClientSecret: "pi_1_secret_x"}
	if ev.Intent == nil || *ev.Intent != want {
		t.Fatalf("intent %+v\nwant   %+v", ev.Intent, want)
	}
}

// TestVerifyRefuses: a bad signature, a stale or future timestamp, a missing header, a body
// changed after signing: each a 400 (CodeMalformed) saying why, and no event.
func TestVerifyRefuses(t *testing.T) {
	v := testVerifier(t)
	now := time.Now()
	body := eventJSON("evt_1", "payment_intent.succeeded", piObject)
	for _, tc := range []struct {
		name   string
		body   []byte
		header string
		want   string
	}{
		{"other secret", body, signed(body, "whsec_forged", now), "invalid Stripe-Signature"},
		{"stale timestamp", body, signed(body, testWebhookSecret, now.Add(-6*time.Minute)), "stale"},
		{"no header", body, "", "invalid Stripe-Signature"},
		{"garbage header", body, "t=abc,v1=zz", "invalid Stripe-Signature"},
		{"body changed", []byte(strings.Replace(string(body), "4200", "1", 1)), signed(body, testWebhookSecret, now), "invalid Stripe-Signature"},
		{"not an event", []byte(`[1,2]`), signed([]byte(`[1,2]`), testWebhookSecret, now), "not a Stripe event"},
		{"wrong object", eventJSON("evt_9", "charge.refunded", `{"id":"ch_1","object":"charge"}`), "", "object does not match"},
		{"too large", make([]byte, MaxWebhookBody+1), "", "too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := tc.header
			if h == "" && tc.name != "no header" {
				h = signed(tc.body, testWebhookSecret, now)
			}
			ev, err := v.Verify(tc.body, h)
			if booking.ErrorCode(err) != booking.CodeMalformed || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %s containing %q", err, booking.CodeMalformed, tc.want)
			}
			if ev != (payment.Event{}) {
				t.Fatalf("an event came with the refusal: %+v", ev)
			}
		})
	}
}

func TestNewVerifierNeedsASecret(t *testing.T) {
	if _, err := NewVerifier(Config{SecretKey: "sk_test_allot"}); err == nil {
		t.Fatal("a verifier without a secret")
	}
}

// FuzzVerify: whatever a correctly signed body holds, Verify answers an event or a
// CodeMalformed refusal, and never panics.
func FuzzVerify(f *testing.F) {
	f.Add(eventJSON("evt_1", "payment_intent.succeeded", piObject))
	f.Add(eventJSON("evt_1", "review.closed", `{"id":"prv_1","payment_intent":{"id":"pi_1"}}`))
	f.Add([]byte(`{"id":"evt","data":{"object":null},"type":"charge.refunded"}`))
	v := testVerifier(f)
	now := time.Now()
	f.Fuzz(func(t *testing.T, body []byte) {
		ev, err := v.Verify(body, signed(body, testWebhookSecret, now))
		if err != nil {
			if booking.ErrorCode(err) != booking.CodeMalformed {
				t.Fatalf("error %v is not malformed", err)
			}
			return
		}
		if ev.ID == "" || (ev.Kind != payment.EventOther && ev.IntentID == "") {
			t.Fatalf("event without ids: %+v", ev)
		}
		_, _ = json.Marshal(ev)
	})
}
