package cmd

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allot/allot/api/stripepay/stripemocktest"
	"github.com/allot/allot/api/wire"
)

// refundRecorder is a reverse proxy in front of stripe-mock that keeps what the node sends to
// POST /v1/refunds (stripe-mock validates it, but logs only request lines): the amount and
// the idempotency key, which names the hold.
type refundRecorder struct {
	mu      sync.Mutex
	refunds map[string]int64 // idempotency key -> amount
}

func (r *refundRecorder) handler(target string, t *testing.T) http.Handler {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(u)
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodPost && req.URL.Path == "/v1/refunds" {
			body, _ := io.ReadAll(req.Body)
			req.Body = io.NopCloser(bytes.NewReader(body))
			form, _ := url.ParseQuery(string(body))
			var amount int64 = -1
			if v := form.Get("amount"); v != "" {
				_ = json.Unmarshal([]byte(v), &amount)
			}
			r.mu.Lock()
			r.refunds[req.Header.Get("Idempotency-Key")] = amount
			r.mu.Unlock()
		}
		proxy.ServeHTTP(w, req)
	})
}

// forHold is the amount of the refund the node sent for hold hid (its idempotency key is
// allot:{hold}:{attempt}:refund:...), and whether it sent one.
func (r *refundRecorder) forHold(hid string) (int64, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for k, a := range r.refunds {
		if strings.HasPrefix(k, "allot:"+hid+":") {
			return a, true
		}
	}
	return 0, false
}

// TestMainPaymentPolicyWithStripeMock boots the real node against a real stripe-mock and
// proves the two rules of issue 13 this branch adds: the refund Stripe receives for an
// owner's cancellation follows the resource's own cancellation policy (in full 48 h or more
// before the first bucket, half from 24 h, nothing later, measured in the resource's time
// zone), or, for a resource without one, the node's --refund-policy; and with payments on, a priced hold is confirmed by its payment (a plain confirm is
// 409 payment_required, an operator may confirm unpaid), while a free one confirms as always.
func TestMainPaymentPolicyWithStripeMock(t *testing.T) {
	mock := stripemocktest.StartMock(t)
	rec := &refundRecorder{refunds: map[string]int64{}}
	front := httptest.NewServer(rec.handler(mock.URL, t))
	defer front.Close()
	clock := &stepClock{}
	m := runPaymentNode(t, front.URL, clock, func(c *NodeConfig) { c.RefundPolicy = "24h:40,0s:0" })
	p := payCaller{t: t, base: m.HTTPURL(), issuer: m.DevIssuer()}

	// Slots in Paris, 72 h, 36 h and 12 h from now (to the minute, rounded up).
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	slot := func(d time.Duration) string {
		return clock.Now().Add(d).Truncate(time.Minute).Add(time.Minute).In(paris).Format("2006-01-02T15:04")
	}
	far, mid, near, spare := slot(72*time.Hour), slot(36*time.Hour), slot(12*time.Hour), slot(100*time.Hour)
	const rid = "show"
	create, _ := json.Marshal(wire.CreateResource{ID: rid, Name: "Show", Timezone: "Europe/Paris",
		Price:              &wire.Money{Amount: 1500, Currency: "EUR"},
		Buckets:            map[string]int64{far: 1, mid: 1, near: 1, spare: 2},
		CancellationPolicy: []wire.RefundTier{{Before: "48h", Percent: 100}, {Before: "24h", Percent: 50}}})
	var res wire.Resource
	p.must(http.StatusCreated, "POST", "/v1/resources", payOperator, create, nil, &res)
	if len(res.CancellationPolicy) != 2 {
		t.Fatalf("created %+v", res)
	}
	// A priced resource without a policy of its own follows the node's --refund-policy.
	plain, _ := json.Marshal(wire.CreateResource{ID: "show-plain", Name: "Show", Timezone: "Europe/Paris",
		Price: &wire.Money{Amount: 1500, Currency: "EUR"}, Buckets: map[string]int64{mid: 1}})
	p.must(http.StatusCreated, "POST", "/v1/resources", payOperator, plain, nil, nil)
	free, _ := json.Marshal(wire.CreateResource{ID: "free", Name: "Free", Buckets: map[string]int64{"a": 1}})
	p.must(http.StatusCreated, "POST", "/v1/resources", payOperator, free, nil, nil)

	place := func(rid, user, bucket string) wire.Hold {
		t.Helper()
		var h wire.Hold
		body, _ := json.Marshal(wire.PlaceHold{Buckets: []string{bucket}, Quantity: 1, UserID: user})
		p.must(http.StatusCreated, "POST", "/v1/resources/"+rid+"/holds", customer(user), body,
			map[string]string{"Idempotency-Key": "k-" + user + "-" + bucket}, &h)
		return h
	}
	holdOf := func(rid, hid string) wire.Hold {
		t.Helper()
		var h wire.Hold
		p.must(http.StatusOK, "GET", "/v1/resources/"+rid+"/holds/"+hid, payOperator, nil, nil, &h)
		return h
	}
	hold := func(hid string) wire.Hold { t.Helper(); return holdOf(rid, hid) }
	send := func(id, typ string, intent map[string]any) {
		t.Helper()
		body, sig := stripeEvent(id, typ, intent, time.Now(), testWebhookSecret)
		p.must(http.StatusOK, "POST", "/v1/payments/stripe/webhook", nil, body, map[string]string{"Stripe-Signature": sig}, nil)
	}

	// Confirm before paying: refused while unpaid, for the owner and for an operator without
	// the override; a free hold confirms; an operator may confirm unpaid.
	u := place(rid, "u-9", spare)
	confirm := "/v1/resources/" + rid + "/holds/" + u.ID + "/confirm"
	if code, b := p.do("POST", confirm, customer("u-9"), nil, nil); code != http.StatusConflict || !strings.Contains(string(b), "payment_required") {
		t.Fatalf("plain confirm of an unpaid priced hold: %d %s", code, b)
	}
	if code, b := p.do("POST", confirm, payOperator, nil, nil); code != http.StatusConflict || !strings.Contains(string(b), "payment_required") {
		t.Fatalf("operator's plain confirm of an unpaid priced hold: %d %s", code, b)
	}
	if code, _ := p.do("POST", confirm+"?unpaid=true", customer("u-9"), nil, nil); code != http.StatusForbidden {
		t.Fatalf("customer's unpaid confirm: %d", code)
	}
	if got := hold(u.ID); got.Status != "held" {
		t.Fatalf("refused confirms changed the hold: %+v", got)
	}
	var got wire.Hold
	p.must(http.StatusOK, "POST", confirm+"?unpaid=true", payOperator, nil, nil, &got)
	if got.Status != "confirmed" || got.Payment != "" {
		t.Fatalf("operator's unpaid confirm: %+v", got)
	}
	fh := place("free", "u-9", "a")
	p.must(http.StatusOK, "POST", "/v1/resources/free/holds/"+fh.ID+"/confirm", customer("u-9"), nil, nil, &got)
	if got.Status != "confirmed" {
		t.Fatalf("free hold: %+v", got)
	}

	// Three paid bookings, each cancelled by its owner now.
	want := map[string]int64{}
	var holds []wire.Hold
	for i, c := range []struct {
		rid, bucket string
		refund      int64 // -1: none
	}{{rid, far, 1500}, {rid, mid, 750}, {rid, near, -1}, {"show-plain", mid, 600}} {
		user := "u-" + string(rune('1'+i))
		h := place(c.rid, user, c.bucket)
		var a payAnswer
		p.must(http.StatusOK, "POST", "/v1/resources/"+c.rid+"/holds/"+h.ID+"/payment", customer(user), nil, nil, &a)
		if a.Amount != 1500 {
			t.Fatalf("pay answer %+v", a)
		}
		send("evt_auth_"+h.ID, "payment_intent.amount_capturable_updated", intentObject(a.IntentID, c.rid, h.ID, "requires_capture", 1500, 0))
		send("evt_paid_"+h.ID, "payment_intent.succeeded", intentObject(a.IntentID, c.rid, h.ID, "succeeded", 1500, 1500))
		if got := holdOf(c.rid, h.ID); got.Status != "confirmed" || got.Payment != "captured" {
			t.Fatalf("hold %d after paying: %+v", i, got)
		}
		p.must(http.StatusOK, "POST", "/v1/resources/"+c.rid+"/holds/"+h.ID+"/cancel", customer(user), nil, nil, nil)
		want[h.ID] = c.refund
		holds = append(holds, h)
	}
	// The reconciler (every 100ms) performs the refunds the cancellations recorded.
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		_, a := rec.forHold(holds[0].ID)
		_, b := rec.forHold(holds[1].ID)
		_, d := rec.forHold(holds[3].ID)
		if a && b && d {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the refunds were not sent within 15s of the cancellations")
		}
	}
	// One more full round, synchronously: whatever the node would still send for the third
	// booking is sent by the time it returns.
	if _, err := m.pay.ReconcileOnce(context.Background()); err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	for _, h := range holds {
		amount, sent := rec.forHold(h.ID)
		switch w := want[h.ID]; {
		case w < 0 && sent:
			t.Errorf("hold %s cancelled 12 h ahead: a refund of %d was sent, want none", h.ID, amount)
		case w >= 0 && amount != w:
			t.Errorf("hold %s: Stripe received a refund of %d, want %d", h.ID, amount, w)
		}
	}
	if got := hold(holds[2].ID); got.Status != "cancelled" || got.Payment != "captured" {
		t.Errorf("the booking cancelled too late keeps its payment: %+v", got)
	}
	if bad := mock.Refused(); len(bad) > 0 {
		t.Errorf("stripe-mock refused requests Allot sent: %v", bad)
	}
}
