package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allot/allot/cluster/clustertest"

	"github.com/stripe/stripe-go/v85"
	"github.com/stripe/stripe-go/v85/webhook"

	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/stripepay/stripemocktest"
	"github.com/allot/allot/api/wire"
)

const (
	testStripeKey     = "sk_test_allotpayments"
	testWebhookSecret = "whsec_allot_payments_test"
)

// stepClock is the node's clock in the payment tests: the wall clock plus an offset the test
// moves forward, so that a hold expires without waiting for it.
type stepClock struct{ off atomic.Int64 }

func (c *stepClock) Now() time.Time          { return time.Now().Add(time.Duration(c.off.Load())) }
func (c *stepClock) Advance(d time.Duration) { c.off.Add(int64(d)) }

// writeSecret writes a secret to a file only the owner reads, as an operator would.
func writeSecret(t *testing.T, name, value string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(value+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// runPaymentNode boots the real program in-process on port 0 with Stripe pointed at
// stripeURL ("" leaves payments off), on clock.
func runPaymentNode(t *testing.T, stripeURL string, clock *stepClock, mutate ...func(*NodeConfig)) *Main {
	t.Helper()
	m := NewMain()
	m.Now = clock.Now
	c := &m.Config
	c.HTTPAddr, c.GossipAddr, c.RemoteAddr, c.AdvertiseAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1"
	c.AdminAddr, c.DataDir, c.LeaveTimeout = "127.0.0.1:0", t.TempDir(), 10*time.Second
	if stripeURL != "" {
		c.StripeSecretKeyFile = writeSecret(t, "stripe-key", testStripeKey)
		c.StripeWebhookSecretFile = writeSecret(t, "stripe-whsec", testWebhookSecret)
		c.StripeAPIURL = stripeURL
		c.PaymentReconcileEvery = 100 * time.Millisecond // refunds after a cancel are the reconciler's
	}
	for _, f := range mutate {
		f(c)
	}
	var logw io.Writer = io.Discard
	if os.Getenv("ALLOT_TEST_LOG") != "" {
		logw = os.Stderr
	}
	m.Logger = slog.New(slog.NewTextHandler(logw, nil))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	clustertest.BeforeInProcessNode(t, func() bool { return m.Node() != nil && !m.Closed() })
	if err := m.Run(ctx); err != nil {
		t.Fatalf("run main: %v", err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close main: %v", err)
		}
	})
	return m
}

// payCaller sends requests to a node as a token spec (nil: anonymous).
type payCaller struct {
	t      *testing.T
	base   string
	issuer *auth.DevIssuer
}

func (p payCaller) do(method, path string, spec *auth.TokenSpec, body []byte, header map[string]string) (int, []byte) {
	p.t.Helper()
	req, _ := http.NewRequest(method, p.base+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if spec != nil {
		tok, err := p.issuer.Mint(*spec)
		if err != nil {
			p.t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func (p payCaller) must(status int, method, path string, spec *auth.TokenSpec, body []byte, header map[string]string, out any) {
	p.t.Helper()
	got, b := p.do(method, path, spec, body, header)
	if got != status {
		p.t.Fatalf("%s %s: %d %s, want %d", method, path, got, b, status)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			p.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
}

func customer(user string) *auth.TokenSpec {
	return &auth.TokenSpec{Subject: user, TTL: 2 * time.Hour}
}

var payOperator = &auth.TokenSpec{Subject: "ops-1", Roles: []auth.Role{auth.RoleOperator}, MFA: true, TTL: 2 * time.Hour}

// stripeEvent is a Stripe event of type typ about intent, signed with the webhook secret at
// ts, as Stripe's webhook.GenerateTestSignedPayload makes it.
func stripeEvent(id, typ string, intent map[string]any, ts time.Time, secret string) ([]byte, string) {
	obj, _ := json.Marshal(intent)
	body := []byte(fmt.Sprintf(`{"id":%q,"object":"event","api_version":%q,"created":%d,"type":%q,"data":{"object":%s}}`,
		id, stripe.APIVersion, ts.Unix(), typ, obj))
	sig := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: ts})
	return body, sig.Header
}

// intentObject is a PaymentIntent as Stripe sends it in an event, for hold hid of rid.
func intentObject(id, rid, hid, status string, amount, received int64) map[string]any {
	o := map[string]any{"id": id, "object": "payment_intent", "amount": amount, "currency": "eur", "status": status,
		"capture_method": "manual", "amount_received": received,
		"metadata": map[string]string{"hold_id": hid, "resource_id": rid, "attempt": "1"}}
	if status == "requires_capture" {
		o["amount_capturable"] = amount
	}
	return o
}

type payAnswer struct {
	HoldID       string `json:"hold_id"`
	IntentID     string `json:"intent_id"`
	ClientSecret string `json:"client_secret"`
	Amount       int64  `json:"amount"`
	Currency     string `json:"currency"`
	Status       string `json:"status"`
	HoldStatus   string `json:"hold_status"`
}

// TestMainPaysForHoldsWithStripeMock boots the real node against a real stripe-mock: pay for a
// hold, a signed webhook confirms it and the capture is taken; a forged or stale webhook is a
// 400 that changes nothing; a payment that arrives after its hold expired takes the units
// again if they are free, and otherwise has its intent cancelled; operators read the
// reconciliation. Every request the node sends to Stripe is one stripe-mock validated against
// Stripe's OpenAPI specification (stripe-mock refuses the others with a 4xx, which the node
// would report).
func TestMainPaysForHoldsWithStripeMock(t *testing.T) {
	mock := stripemocktest.StartMock(t)
	clock := &stepClock{}
	m := runPaymentNode(t, mock.URL, clock)
	p := payCaller{t: t, base: m.HTTPURL(), issuer: m.DevIssuer()}
	const rid = "room-1"
	create, _ := json.Marshal(wire.CreateResource{ID: rid, Name: "Room", HoldTTL: "1m", Price: &wire.Money{Amount: 1500, Currency: "EUR"},
		Buckets: map[string]int64{"2026-12-24": 1, "2026-12-25": 1, "2026-12-26": 1, "2026-12-27": 1}})
	p.must(http.StatusCreated, "POST", "/v1/resources", payOperator, create, nil, nil)
	place := func(user, bucket string) wire.Hold {
		t.Helper()
		var h wire.Hold
		body, _ := json.Marshal(wire.PlaceHold{Buckets: []string{bucket}, Quantity: 1, UserID: user})
		p.must(http.StatusCreated, "POST", "/v1/resources/"+rid+"/holds", customer(user), body,
			map[string]string{"Idempotency-Key": "k-" + user + "-" + bucket}, &h)
		return h
	}
	hold := func(hid string) wire.Hold {
		t.Helper()
		var h wire.Hold
		p.must(http.StatusOK, "GET", "/v1/resources/"+rid+"/holds/"+hid, payOperator, nil, nil, &h)
		return h
	}
	// eventually reads a hold until it is in status: an expiry due by the clock is decided on
	// the actor's next command and answered by reads once its commit is durable.
	eventually := func(hid, status string) wire.Hold {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			h := hold(hid)
			if h.Status == status || time.Now().After(deadline) {
				return h
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	pay := func(hid, user string) payAnswer {
		t.Helper()
		var a payAnswer
		p.must(http.StatusOK, "POST", "/v1/resources/"+rid+"/holds/"+hid+"/payment", customer(user), nil, nil, &a)
		return a
	}
	send := func(status int, id, typ string, intent map[string]any) {
		t.Helper()
		body, sig := stripeEvent(id, typ, intent, time.Now(), testWebhookSecret)
		p.must(status, "POST", "/v1/payments/stripe/webhook", nil, body, map[string]string{"Stripe-Signature": sig}, nil)
	}

	// Pay: Allot computes the amount and answers the client secret; the hold is extended by
	// the grace and shows its payment pending.
	h1 := place("u-1", "2026-12-24")
	if code, b := p.do("POST", "/v1/resources/"+rid+"/holds/"+h1.ID+"/payment", customer("u-2"), nil, nil); code != http.StatusNotFound {
		t.Fatalf("another user's payment: %d %s", code, b)
	}
	// stripe-mock answers every intent with its fixture's last_payment_error, which Allot
	// reads as a declined attempt: "failed" (the customer may retry) rather than "pending".
	unpaid := func(status string) bool { return status == "pending" || status == "failed" }
	a := pay(h1.ID, "u-1")
	if a.ClientSecret == "" || a.IntentID == "" || a.Amount != 1500 || a.Currency != "EUR" || !unpaid(a.Status) || a.HoldStatus != "held" {
		t.Fatalf("pay answer = %+v", a)
	}
	if got := hold(h1.ID); !unpaid(got.Payment) || !got.ExpiresAt.After(*h1.ExpiresAt) {
		t.Fatalf("after pay: %+v (placed %+v)", got, h1)
	}
	if again := pay(h1.ID, "u-1"); again.IntentID != a.IntentID || again.ClientSecret == "" {
		t.Fatalf("a repeated request answers another intent: %+v", again)
	}

	// Forged and stale webhooks are refused and change nothing.
	authorized := intentObject(a.IntentID, rid, h1.ID, "requires_capture", 1500, 0)
	body, _ := stripeEvent("evt_forged", "payment_intent.amount_capturable_updated", authorized, time.Now(), "whsec_not_the_secret")
	_, goodSig := stripeEvent("evt_other", "payment_intent.amount_capturable_updated", authorized, time.Now(), testWebhookSecret)
	for _, sig := range []string{"", "t=1,v1=deadbeef", goodSig} {
		if code, b := p.do("POST", "/v1/payments/stripe/webhook", nil, body, map[string]string{"Stripe-Signature": sig}); code != http.StatusBadRequest ||
			!strings.Contains(string(b), "malformed") {
			t.Fatalf("webhook with signature %q: %d %s", sig, code, b)
		}
	}
	stale, staleSig := stripeEvent("evt_stale", "payment_intent.amount_capturable_updated", authorized, time.Now().Add(-time.Hour), testWebhookSecret)
	if code, _ := p.do("POST", "/v1/payments/stripe/webhook", nil, stale, map[string]string{"Stripe-Signature": staleSig}); code != http.StatusBadRequest {
		t.Fatalf("stale webhook: %d", code)
	}
	if got := hold(h1.ID); got.Status != "held" || !unpaid(got.Payment) {
		t.Fatalf("a refused webhook changed the hold: %+v", got)
	}

	// Authorized: the hold is confirmed, then captured once Stripe reports the capture.
	send(http.StatusOK, "evt_auth_1", "payment_intent.amount_capturable_updated", authorized)
	if got := hold(h1.ID); got.Status != "confirmed" || got.Payment != "authorized" {
		t.Fatalf("after authorization: %+v", got)
	}
	send(http.StatusOK, "evt_auth_1", "payment_intent.amount_capturable_updated", authorized) // a duplicate
	send(http.StatusOK, "evt_succeeded_1", "payment_intent.succeeded", intentObject(a.IntentID, rid, h1.ID, "succeeded", 1500, 1500))
	if got := hold(h1.ID); got.Status != "confirmed" || got.Payment != "captured" {
		t.Fatalf("after capture: %+v", got)
	}
	// An old event arriving late moves nothing back.
	send(http.StatusOK, "evt_old", "payment_intent.amount_capturable_updated", authorized)
	if got := hold(h1.ID); got.Status != "confirmed" || got.Payment != "captured" {
		t.Fatalf("after a reordered event: %+v", got)
	}

	// The owner cancels the paid booking: with no policy tiers the refund is in full, recorded
	// with the cancellation and performed by the reconciler.
	p.must(http.StatusOK, "POST", "/v1/resources/"+rid+"/holds/"+h1.ID+"/cancel", customer("u-1"), nil, nil, nil)
	for deadline := time.Now().Add(10 * time.Second); mock.Count("POST /v1/refunds") == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no refund within 10s of cancelling a paid booking")
		}
	}

	// Late payments: two holds expire unpaid; one bucket is taken meanwhile.
	h2, h3 := place("u-1", "2026-12-25"), place("u-1", "2026-12-26")
	a2, a3 := pay(h2.ID, "u-1"), pay(h3.ID, "u-1")
	clock.Advance(7 * time.Minute) // 1m TTL + 5m grace
	if got := eventually(h2.ID, "expired"); got.Status != "expired" {
		t.Fatalf("h2 did not expire: %+v", got)
	}
	taker := place("u-3", "2026-12-26")
	send(http.StatusOK, "evt_auth_2", "payment_intent.amount_capturable_updated", intentObject(a2.IntentID, rid, h2.ID, "requires_capture", 1500, 0))
	if got := hold(h2.ID); got.Status != "confirmed" || got.Payment != "authorized" {
		t.Fatalf("late payment with the units free: %+v", got)
	}
	send(http.StatusOK, "evt_auth_3", "payment_intent.amount_capturable_updated", intentObject(a3.IntentID, rid, h3.ID, "requires_capture", 1500, 0))
	if got := hold(h3.ID); got.Status != "expired" || got.Payment != "authorized" {
		t.Fatalf("late payment with the units sold: %+v", got)
	}
	send(http.StatusOK, "evt_cancel_3", "payment_intent.canceled", intentObject(a3.IntentID, rid, h3.ID, "canceled", 1500, 0))
	if got := hold(h3.ID); got.Status != "expired" || got.Payment != "cancelled" {
		t.Fatalf("the sold-out late payment's intent: %+v", got)
	}
	if got := hold(taker.ID); got.Status != "held" {
		t.Fatalf("the taker lost the units: %+v", got)
	}

	// Radar scores a payment elevated: it waits for an operator, who approves it.
	h4 := place("u-4", "2026-12-27")
	a4 := pay(h4.ID, "u-4")
	risky := intentObject(a4.IntentID, rid, h4.ID, "requires_capture", 1500, 0)
	risky["latest_charge"] = map[string]any{"id": "ch_4", "object": "charge", "outcome": map[string]any{"risk_level": "elevated"}}
	send(http.StatusOK, "evt_auth_4", "payment_intent.amount_capturable_updated", risky)
	if got := hold(h4.ID); got.Status != "held" || got.Payment != "review" {
		t.Fatalf("a payment under review: %+v", got)
	}
	review := "/v1/resources/" + rid + "/holds/" + h4.ID + "/payment/review"
	if code, _ := p.do("POST", review, customer("u-4"), []byte(`{"approve":true}`), nil); code != http.StatusForbidden {
		t.Fatalf("a customer reviewing: %d", code)
	}
	p.must(http.StatusOK, "POST", review, payOperator, []byte(`{"approve":true}`), nil, nil)
	if got := hold(h4.ID); got.Status != "confirmed" || got.Payment != "authorized" {
		t.Fatalf("after the approval: %+v", got)
	}

	// The reconciliation is for operators with a second factor.
	if code, _ := p.do("GET", "/v1/payments/reconciliation", customer("u-1"), nil, nil); code != http.StatusForbidden {
		t.Fatalf("reconciliation as a customer: %d", code)
	}
	var rep struct {
		Checked    int               `json:"checked"`
		Mismatches []json.RawMessage `json:"mismatches"`
	}
	p.must(http.StatusOK, "GET", "/v1/payments/reconciliation", payOperator, nil, nil, &rep)
	if rep.Checked != 4 {
		t.Fatalf("reconciliation checked %d payments, want 4", rep.Checked)
	}
	if n := mock.Count("POST /v1/payment_intents/" + a.IntentID + "/capture"); n == 0 {
		t.Error("the authorized payment was never captured")
	}
	if n := mock.Count("POST /v1/payment_intents/" + a3.IntentID + "/cancel"); n == 0 {
		t.Error("the sold-out late payment's intent was never cancelled")
	}
	if bad := mock.Refused(); len(bad) > 0 {
		t.Errorf("stripe-mock refused requests Allot sent: %v", bad)
	}
}

// TestMainPaymentsOff: without a Stripe key the payment routes are served and answer a
// problem saying payments are off.
func TestMainPaymentsOff(t *testing.T) {
	m := runPaymentNode(t, "", &stepClock{})
	p := payCaller{t: t, base: m.HTTPURL(), issuer: m.DevIssuer()}
	code, b := p.do("POST", "/v1/resources/r/holds/h/payment", customer("u-1"), nil, nil)
	if code != http.StatusConflict || !strings.Contains(string(b), "payments are off") {
		t.Fatalf("pay with payments off: %d %s", code, b)
	}
	code, b = p.do("POST", "/v1/payments/stripe/webhook", nil, []byte(`{}`), map[string]string{"Stripe-Signature": "t=1,v1=00"})
	if code != http.StatusConflict || !strings.Contains(string(b), "application/problem+json") && !strings.Contains(string(b), "payments are off") {
		t.Fatalf("webhook with payments off: %d %s", code, b)
	}
}
