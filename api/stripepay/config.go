package stripepay

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// SecretKeyEnv is the environment variable the Stripe secret key may come from.
const SecretKeyEnv = "ALLOT_STRIPE_SECRET_KEY"

// Config configures the Stripe client and the webhook verifier. Defaults live in
// WithDefaults; Validate checks the result.
type Config struct {
	// SecretKey is the Stripe secret (sk_...) or restricted (rk_...) key. It never comes
	// from a flag's default: see SecretKey (--stripe-secret-key-file or ALLOT_STRIPE_SECRET_KEY).
	SecretKey string
	// WebhookSecret is the signing secret of the webhook endpoint (whsec_...,
	// --stripe-webhook-secret); "" when only the client is used.
	WebhookSecret string
	// APIURL is Stripe's API base URL (--stripe-api-url): "" for Stripe itself, the address of
	// a stripe-mock in tests.
	APIURL string
	// Tolerance is how old a webhook's signed timestamp may be (replay protection). Default 5m,
	// Stripe's own.
	Tolerance time.Duration
	// Timeout bounds one API request (the HTTP client's timeout). Default 30s.
	Timeout time.Duration
	// MaxNetworkRetries is how often stripe-go retries a request itself (with the same
	// idempotency key). Default 1; the saga retries on its own ticks too.
	MaxNetworkRetries int64
	// HTTPClient overrides the HTTP client (tests); nil builds one with Timeout.
	HTTPClient *http.Client
}

// WithDefaults fills zero fields.
func (c Config) WithDefaults() Config {
	if c.Tolerance == 0 {
		c.Tolerance = 5 * time.Minute
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	if c.MaxNetworkRetries == 0 {
		c.MaxNetworkRetries = 1
	}
	return c
}

// Validate checks a configuration after WithDefaults.
func (c Config) Validate() error {
	switch {
	case !strings.HasPrefix(c.SecretKey, "sk_") && !strings.HasPrefix(c.SecretKey, "rk_"):
		return errors.New("stripepay: the secret key must be a Stripe secret (sk_) or restricted (rk_) key")
	case c.WebhookSecret != "" && !strings.HasPrefix(c.WebhookSecret, "whsec_"):
		return errors.New("stripepay: the webhook secret must be an endpoint signing secret (whsec_)")
	case c.Tolerance < 0 || c.Tolerance > time.Hour:
		return errors.New("stripepay: the webhook tolerance must be between 0 and 1h")
	case c.Timeout <= 0 || c.MaxNetworkRetries < 0:
		return errors.New("stripepay: timeout and retries must be positive")
	}
	if c.APIURL != "" {
		u, err := url.Parse(c.APIURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return fmt.Errorf("stripepay: the API URL %q is not an http(s) URL", c.APIURL)
		}
	}
	return nil
}

// SecretKey reads the Stripe secret key: from file when a path is given (surrounding white
// space trimmed; the file should be readable by Allot's user only), else from the environment
// variable ALLOT_STRIPE_SECRET_KEY through getenv. "" with no error means payments are off.
func SecretKey(file string, getenv func(string) string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("stripepay: secret key file: %w", err)
		}
		key := strings.TrimSpace(string(b))
		if key == "" {
			return "", fmt.Errorf("stripepay: secret key file %s is empty", file)
		}
		return key, nil
	}
	return strings.TrimSpace(getenv(SecretKeyEnv)), nil
}
