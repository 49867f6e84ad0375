package stripepay

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/actors/payment"
)

// TestClientAgainstStripeMock sends every request the saga makes to a real stripe-mock, which
// validates each against Stripe's OpenAPI specification (parameters, types, enums) and answers
// with fixtures: it is stateless, so these tests prove request shapes and response decoding,
// not Stripe's state machine (the saga matrix in actors/payment covers that with a model).
func TestClientAgainstStripeMock(t *testing.T) {
	url := startStripeMock(t)
	c, err := New(Config{SecretKey: "sk_test_allot", APIURL: url})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	created, err := c.CreateIntent(ctx, payment.CreateIntent{
		HoldID: "h1", ResourceID: "r1", Attempt: 1,
		Amount: booking.Money{Amount: 4200, Currency: "EUR"}, IdempotencyKey: "allot:h1:1:create",
	})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if created.ID == "" || created.ClientSecret == "" || created.Amount != 4200 || created.Currency != "EUR" ||
		created.HoldID != "h1" || created.Attempt != 1 {
		t.Fatalf("create answered %+v", created)
	}
	if _, err := c.GetIntent(ctx, created.ID); err != nil {
		t.Fatalf("get: %v", err)
	}
	if _, err := c.Capture(ctx, payment.CaptureIntent{IntentID: created.ID, Amount: 4200, IdempotencyKey: "allot:h1:1:capture"}); err != nil {
		t.Fatalf("capture: %v", err)
	}
	for _, reason := range []string{"abandoned", "fraudulent", "sold_out", "amount_mismatch", "requested_by_customer"} {
		if _, err := c.Cancel(ctx, payment.CancelIntent{IntentID: created.ID, Reason: reason, IdempotencyKey: "allot:h1:1:cancel:" + reason}); err != nil {
			t.Fatalf("cancel (%s): %v", reason, err)
		}
	}
	for _, reason := range []string{"requested_by_customer", "fraudulent", ""} {
		if _, err := c.Refund(ctx, payment.RefundIntent{IntentID: created.ID, Amount: 2100, Reason: reason, IdempotencyKey: "allot:h1:1:refund:2100:2100" + reason}); err != nil {
			t.Fatalf("refund (%q): %v", reason, err)
		}
	}
}

// TestErrorContract checks the classification payment.Provider promises, with Stripe's
// error bodies served from loopback (stripe-mock cannot be made to fail on purpose).
func TestErrorContract(t *testing.T) {
	for _, tc := range []struct {
		status    int
		body      string
		temporary bool
		notFound  bool
	}{
		{500, `{"error":{"type":"api_error","message":"boom"}}`, true, false},
		{503, `{"error":{"type":"api_error"}}`, true, false},
		{429, `{"error":{"type":"invalid_request_error","code":"rate_limit"}}`, true, false},
		{409, `{"error":{"type":"idempotency_error","message":"concurrent"}}`, true, false},
		{400, `{"error":{"type":"idempotency_error","message":"other parameters"}}`, false, false},
		{404, `{"error":{"type":"invalid_request_error","code":"resource_missing"}}`, false, true},
		{400, `{"error":{"type":"invalid_request_error","code":"payment_intent_unexpected_state"}}`, false, false},
		{402, `{"error":{"type":"card_error","code":"card_declined"}}`, false, false},
	} {
		t.Run(fmt.Sprint(tc.status, tc.body), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Stripe-Should-Retry", "false")
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			defer srv.Close()
			c, err := New(Config{SecretKey: "sk_test_allot", APIURL: srv.URL, MaxNetworkRetries: 0})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.GetIntent(testContext(t), "pi_1")
			if err == nil || errors.Is(err, payment.ErrTemporary) != tc.temporary || errors.Is(err, payment.ErrNotFound) != tc.notFound {
				t.Fatalf("%v: temporary=%v notFound=%v", err, errors.Is(err, payment.ErrTemporary), errors.Is(err, payment.ErrNotFound))
			}
			if !strings.HasPrefix(err.Error(), "stripepay: get intent: ") {
				t.Fatalf("error %q lacks its prefix", err)
			}
		})
	}
	// No answer at all (nothing listens): temporary.
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	c, _ := New(Config{SecretKey: "sk_test_allot", APIURL: url})
	if _, err := c.GetIntent(testContext(t), "pi_1"); !errors.Is(err, payment.ErrTemporary) {
		t.Fatalf("connection refused: %v, want ErrTemporary", err)
	}
}

func TestConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg Config
		ok  bool
	}{
		{Config{SecretKey: "sk_test_1"}, true},
		{Config{SecretKey: "rk_live_1", WebhookSecret: "whsec_1", APIURL: "http://127.0.0.1:12111"}, true},
		{Config{}, false},
		{Config{SecretKey: "pk_test_1"}, false}, // a publishable key is not a secret
		{Config{SecretKey: "sk_test_1", WebhookSecret: "secret"}, false},
		{Config{SecretKey: "sk_test_1", APIURL: "ftp://x"}, false},
		{Config{SecretKey: "sk_test_1", APIURL: "http://"}, false},
		{Config{SecretKey: "sk_test_1", Tolerance: -1}, false},
	} {
		if err := tc.cfg.WithDefaults().Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v: %v, want ok=%v", tc.cfg, err, tc.ok)
		}
	}
}

func TestSecretKey(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == SecretKeyEnv {
				return v
			}
			return ""
		}
	}
	f := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(f, []byte("sk_test_file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if k, err := SecretKey(f, env("sk_test_env")); err != nil || k != "sk_test_file" {
		t.Fatalf("file: %q %v", k, err)
	}
	if k, err := SecretKey("", env(" sk_test_env ")); err != nil || k != "sk_test_env" {
		t.Fatalf("env: %q %v", k, err)
	}
	if k, err := SecretKey("", env("")); err != nil || k != "" {
		t.Fatalf("none (payments off): %q %v", k, err)
	}
	if _, err := SecretKey(filepath.Join(t.TempDir(), "missing"), env("")); err == nil {
		t.Fatal("a missing key file is an error, not payments off")
	}
	empty := filepath.Join(t.TempDir(), "empty")
	_ = os.WriteFile(empty, []byte("\n"), 0o600)
	if _, err := SecretKey(empty, env("")); err == nil {
		t.Fatal("an empty key file is an error")
	}
}
