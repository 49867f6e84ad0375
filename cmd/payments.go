package cmd

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/allot/allot/actors/payment"
	"github.com/allot/allot/api"
	"github.com/allot/allot/api/mount"
	"github.com/allot/allot/api/payments"
	"github.com/allot/allot/api/stripepay"
)

// WebhookSecretEnv is the environment variable the Stripe webhook signing secret may come
// from (else --stripe-webhook-secret-file).
const WebhookSecretEnv = "ALLOT_STRIPE_WEBHOOK_SECRET"

// startPayments builds the payment layer (docs/PAYMENTS.md) and starts its reconciler; it
// returns its routes for the edge. Without a Stripe secret key payments are off: the routes
// are served and answer that they are. The node must be started (the reconciler asks the
// resource actors at once).
func (m *Main) startPayments() ([]mount.Route, error) {
	c := m.Config
	key, err := stripepay.SecretKey(c.StripeSecretKeyFile, os.Getenv)
	if err != nil {
		return nil, fmt.Errorf("payments: %w", err)
	}
	lister, ok := m.store.(payments.Lister)
	if !ok {
		return nil, fmt.Errorf("payments: store %T cannot list payments", m.store)
	}
	policy, err := parseRefundPolicy(c.RefundPolicy)
	if err != nil {
		return nil, err // validate() checked it
	}
	pc := payments.Config{
		Policy:         policy,
		Dispatcher:     dispatcher{node: m.node},
		Store:          lister,
		Saga:           payment.Config{Grace: c.PaymentGrace},
		ReconcileEvery: c.PaymentReconcileEvery,
		RequestTimeout: c.RequestTimeout,
		Fail:           api.Fail,
		Subject: func(g *gin.Context) string {
			if p := api.PrincipalOf(g); p != nil {
				return p.Subject
			}
			return ""
		},
		Now:    m.Now,
		Logger: m.Logger.With("component", "payments"),
	}
	if key != "" {
		whsec, err := webhookSecret(c.StripeWebhookSecretFile, os.Getenv)
		if err != nil {
			return nil, err
		}
		sc := stripepay.Config{SecretKey: key, WebhookSecret: whsec, APIURL: c.StripeAPIURL}
		client, err := stripepay.New(sc)
		if err != nil {
			return nil, fmt.Errorf("payments: %w", err)
		}
		pc.Provider = client
		if whsec != "" {
			if pc.Verifier, err = stripepay.NewVerifier(sc); err != nil {
				return nil, fmt.Errorf("payments: %w", err)
			}
		} else {
			m.Logger.Warn("payments: no webhook secret (--stripe-webhook-secret-file or " + WebhookSecretEnv + "): webhooks are refused, payments are resumed by the reconciler only")
		}
	} else {
		m.Logger.Info("payments are off: no Stripe secret key (--stripe-secret-key-file or " + stripepay.SecretKeyEnv + ")")
	}
	if m.pay, err = payments.New(pc); err != nil {
		return nil, err
	}
	m.pay.Start()
	return m.pay.Routes(), nil
}

// stopPayments stops the reconciler (before the node leaves: it talks to the actors).
func (m *Main) stopPayments() {
	if m.pay != nil {
		_ = m.pay.Close()
	}
}

// webhookSecret reads the webhook signing secret from file, else from WebhookSecretEnv;
// "" with no error when neither is set.
func webhookSecret(file string, getenv func(string) string) (string, error) {
	if file == "" {
		return strings.TrimSpace(getenv(WebhookSecretEnv)), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("payments: webhook secret file: %w", err)
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return "", fmt.Errorf("payments: webhook secret file %s is empty", file)
	}
	return s, nil
}

// parseRefundPolicy reads --refund-policy: comma-separated NOTICE:PERCENT tiers (a Go
// duration and a whole percentage), checked like a resource's cancellation_policy.
func parseRefundPolicy(s string) (payment.Policy, error) {
	var p payment.Policy
	if strings.TrimSpace(s) == "" {
		return p, nil
	}
	for _, t := range strings.Split(s, ",") {
		notice, percent, ok := strings.Cut(strings.TrimSpace(t), ":")
		d, derr := time.ParseDuration(notice)
		n, nerr := strconv.ParseInt(percent, 10, 64)
		if !ok || derr != nil || nerr != nil {
			return payment.Policy{}, fmt.Errorf("--refund-policy: tier %q: want NOTICE:PERCENT, e.g. 48h:100", t)
		}
		p.Tiers = append(p.Tiers, payment.Tier{Before: d, Percent: n})
	}
	if err := p.Validate(); err != nil {
		return payment.Policy{}, fmt.Errorf("--refund-policy: %w", err)
	}
	return p, nil
}
