package payments

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/actors/payment"
	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/stripepay"
	"github.com/allot/allot/persistence/memstore"
	"github.com/allot/allot/protos"
)

// countingDispatcher counts the commands that reach it and refuses them all: these tests
// check what happens before any command is sent.
type countingDispatcher struct{ n atomic.Int64 }

func (d *countingDispatcher) Dispatch(context.Context, *protos.Command) (*protos.Reply, error) {
	d.n.Add(1)
	return &protos.Reply{Error: &protos.Error{Code: booking.CodeUnavailable, Message: "test"}}, nil
}

func baseConfig(d Dispatcher) Config {
	return Config{Dispatcher: d, Fail: func(*gin.Context, error) {}, Subject: func(*gin.Context) string { return "" }}
}

func TestRoutesDeclareTheirPolicies(t *testing.T) {
	want := map[string]auth.Policy{
		http.MethodPost + " " + PayPath:           auth.Customer,
		http.MethodPost + " " + WebhookPath:       auth.Public,
		http.MethodGet + " " + ReconciliationPath: auth.Operator,
		http.MethodPost + " " + ReviewPath:        auth.Operator,
	}
	routes := (*Service)(nil).Routes()
	if len(routes) != len(want) {
		t.Fatalf("%d routes, want %d", len(routes), len(want))
	}
	for _, r := range routes {
		if p, ok := want[r.Method+" "+r.Path]; !ok || p != r.Policy {
			t.Errorf("%s %s: policy %s", r.Method, r.Path, r.Policy)
		}
	}
}

func TestPaymentsOffAnswerConflictAndSendNothing(t *testing.T) {
	d := &countingDispatcher{}
	s, err := New(baseConfig(d))
	if err != nil {
		t.Fatal(err)
	}
	s.Start() // nothing to reconcile without a provider
	ctx := context.Background()
	if _, err := s.Pay(ctx, "r", "h", "u"); booking.ErrorCode(err) != booking.CodeConflict {
		t.Errorf("pay: %v", err)
	}
	if err := s.Webhook(ctx, []byte(`{}`), "t=1,v1=00"); booking.ErrorCode(err) != booking.CodeConflict {
		t.Errorf("webhook: %v", err)
	}
	if _, err := s.Reconciliation(ctx, 10); booking.ErrorCode(err) != booking.CodeConflict {
		t.Errorf("reconciliation: %v", err)
	}
	if d.n.Load() != 0 {
		t.Errorf("%d commands sent with payments off", d.n.Load())
	}
	if s.Close() != nil || s.Close() != nil {
		t.Error("Close twice")
	}
}

// TestRefusedWebhookChangesNothing: a webhook whose signature does not verify is malformed and
// reaches neither the provider nor any actor.
func TestRefusedWebhookChangesNothing(t *testing.T) {
	d := &countingDispatcher{}
	cfg := baseConfig(d)
	client, err := stripepay.New(stripepay.Config{SecretKey: "sk_test_123", APIURL: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	v, err := stripepay.NewVerifier(stripepay.Config{SecretKey: "sk_test_123", WebhookSecret: "whsec_test"})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Provider, cfg.Verifier, cfg.Store = client, v, memstore.New()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, sig := range []string{"", "t=1,v1=00", "garbage"} {
		if err := s.Webhook(context.Background(), []byte(`{"id":"evt_1","type":"payment_intent.succeeded"}`), sig); booking.ErrorCode(err) != booking.CodeMalformed {
			t.Errorf("signature %q: %v", sig, err)
		}
	}
	if d.n.Load() != 0 {
		t.Errorf("%d commands sent for refused webhooks", d.n.Load())
	}
}

func TestConfigValidate(t *testing.T) {
	d := &countingDispatcher{}
	bad := []Config{
		{},              // no dispatcher
		{Dispatcher: d}, // no Fail, Subject
		withProviderNoStore(baseConfig(d)),
		withNegativeGrace(baseConfig(d)),
	}
	for i, c := range bad {
		if _, err := New(c); err == nil {
			t.Errorf("config %d accepted", i)
		}
	}
}

var _ Lister = (*memstore.Store)(nil) // every store lists payments (persistence/storetest)

func withProviderNoStore(c Config) Config {
	cl, _ := stripepay.New(stripepay.Config{SecretKey: "sk_test_123"})
	c.Provider = cl
	return c
}

func withNegativeGrace(c Config) Config {
	c.Saga = payment.Config{Grace: -1}
	return c
}

// TestPaymentAttemptsPerUserAreLimited: past AttemptsPerHour requests in an hour a user is
// answered busy before anything is sent; another user is not affected.
func TestPaymentAttemptsPerUserAreLimited(t *testing.T) {
	d := &countingDispatcher{}
	cfg := withProviderNoStore(baseConfig(d))
	cfg.Store, cfg.AttemptsPerHour = memstore.New(), 3
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		if _, err := s.Pay(ctx, "r", "h", "u-1"); booking.ErrorCode(err) != booking.CodeUnavailable { // the test dispatcher's answer
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	if _, err := s.Pay(ctx, "r", "h", "u-1"); booking.ErrorCode(err) != booking.CodeBusy {
		t.Fatalf("attempt over the limit: %v", err)
	}
	if d.n.Load() != 3 {
		t.Fatalf("%d commands sent, want 3", d.n.Load())
	}
	if _, err := s.Pay(ctx, "r", "h", "u-2"); booking.ErrorCode(err) != booking.CodeUnavailable {
		t.Fatalf("another user: %v", err)
	}
}
