package cmd

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/stripepay/stripemocktest"
	"github.com/allot/allot/api/wire"
	"github.com/allot/allot/cluster/clustertest"
)

// TestKill9MidPaymentResumesFromTheStore runs the real binary against a real stripe-mock,
// SIGKILLs it in the middle of payment sagas (a hold confirmed for an authorized payment whose
// capture is outstanding; another hold's payment pending; a paid booking cancelled by its
// owner whose refund is outstanding), restarts it on the same data dir and checks that the
// payment state survived with the holds, and that the reconciler, reading the open payments
// from the store and re-reading their intents from Stripe when the node starts, issues the
// outstanding capture again (same idempotency key) and makes the refund, without any webhook:
// no money is kept for the cancelled booking, no confirmed booking is left uncollected.
//
// The reconciler runs at start and then hourly here, so nothing outstanding is done before
// the kill except by the requests and webhooks themselves.
func TestKill9MidPaymentResumesFromTheStore(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	mock := stripemocktest.StartMock(t)
	bin := clustertest.MustBinary(t)
	dataDir := t.TempDir()
	n := clustertest.StartNode(t, bin, clustertest.NodeOptions{Name: "pay", DataDir: dataDir, ExtraArgs: []string{
		"--stripe-secret-key-file", writeSecret(t, "key", testStripeKey),
		"--stripe-webhook-secret-file", writeSecret(t, "whsec", testWebhookSecret),
		"--stripe-api-url", mock.URL,
		"--payment-reconcile-every", "1h",
	}})
	p := payCaller{t: t, base: n.URL(), issuer: clustertest.DevIssuer(t, auth.DevKeyFile(dataDir))}
	const rid = "room-9"
	create, _ := json.Marshal(wire.CreateResource{ID: rid, Name: "Room", HoldTTL: "1h", Price: &wire.Money{Amount: 2500, Currency: "EUR"},
		Buckets: map[string]int64{"a": 1, "b": 1, "c": 1}})
	p.must(http.StatusCreated, "POST", "/v1/resources", payOperator, create, nil, nil)
	placePaid := func(bucket string) (wire.Hold, payAnswer) {
		t.Helper()
		var h wire.Hold
		body, _ := json.Marshal(wire.PlaceHold{Buckets: []string{bucket}, Quantity: 1, UserID: "u-1"})
		p.must(http.StatusCreated, "POST", "/v1/resources/"+rid+"/holds", customer("u-1"), body, map[string]string{"Idempotency-Key": "k-" + bucket}, &h)
		var a payAnswer
		p.must(http.StatusOK, "POST", "/v1/resources/"+rid+"/holds/"+h.ID+"/payment", customer("u-1"), nil, nil, &a)
		return h, a
	}
	webhook := func(id, typ string, intent map[string]any) {
		t.Helper()
		body, sig := stripeEvent(id, typ, intent, time.Now(), testWebhookSecret)
		p.must(http.StatusOK, "POST", "/v1/payments/stripe/webhook", nil, body, map[string]string{"Stripe-Signature": sig}, nil)
	}
	paid, pa := placePaid("a")
	pending, _ := placePaid("b")
	refunded, ra := placePaid("c")
	webhook("evt_auth", "payment_intent.amount_capturable_updated", intentObject(pa.IntentID, rid, paid.ID, "requires_capture", 2500, 0))
	webhook("evt_auth_c", "payment_intent.amount_capturable_updated", intentObject(ra.IntentID, rid, refunded.ID, "requires_capture", 2500, 0))
	webhook("evt_paid_c", "payment_intent.succeeded", intentObject(ra.IntentID, rid, refunded.ID, "succeeded", 2500, 2500))
	p.must(http.StatusOK, "POST", "/v1/resources/"+rid+"/holds/"+refunded.ID+"/cancel", customer("u-1"), nil, nil, nil)
	if n := mock.Count("POST /v1/refunds"); n != 0 {
		t.Fatalf("%d refunds before the kill: the test wants the refund outstanding", n)
	}
	capture := "POST /v1/payment_intents/" + pa.IntentID + "/capture"
	if mock.Count(capture) == 0 {
		t.Fatal("no capture before the kill")
	}

	n.Kill()
	before := mock.Count(capture)
	n.Start()
	n.WaitReady(30 * time.Second)

	// The reconciler's first round resumes the capture and makes the refund on its own.
	deadline := time.Now().Add(20 * time.Second)
	for mock.Count(capture) <= before || mock.Count("POST /v1/refunds") == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("within 20s of the restart: %d captures (%d before), %d refunds", mock.Count(capture), before, mock.Count("POST /v1/refunds"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	var c wire.Hold
	p.must(http.StatusOK, "GET", "/v1/resources/"+rid+"/holds/"+refunded.ID, payOperator, nil, nil, &c)
	if c.Status != "cancelled" || c.Payment != "captured" { // stripe-mock reports no refund back
		t.Fatalf("the cancelled booking after kill -9: %+v", c)
	}
	var h wire.Hold
	p.must(http.StatusOK, "GET", "/v1/resources/"+rid+"/holds/"+paid.ID, payOperator, nil, nil, &h)
	if h.Status != "confirmed" || h.Payment != "authorized" {
		t.Fatalf("the paid hold after kill -9: %+v", h)
	}
	p.must(http.StatusOK, "GET", "/v1/resources/"+rid+"/holds/"+pending.ID, payOperator, nil, nil, &h)
	if h.Status != "held" || (h.Payment != "pending" && h.Payment != "failed") {
		t.Fatalf("the pending hold after kill -9: %+v", h)
	}
	// Stripe reports the capture: the booking is paid.
	webhook("evt_captured", "payment_intent.succeeded", intentObject(pa.IntentID, rid, paid.ID, "succeeded", 2500, 2500))
	p.must(http.StatusOK, "GET", "/v1/resources/"+rid+"/holds/"+paid.ID, payOperator, nil, nil, &h)
	if h.Status != "confirmed" || h.Payment != "captured" {
		t.Fatalf("after the capture's webhook: %+v", h)
	}
	if bad := mock.Refused(); len(bad) > 0 {
		t.Errorf("stripe-mock refused requests Allot sent: %v", bad)
	}
}
