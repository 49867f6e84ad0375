package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/sideshow/apns2"
	"github.com/sideshow/apns2/payload"
	"github.com/sideshow/apns2/token"
	"golang.org/x/net/http2"
)

// APNsConfig says how to reach Apple Push Notification service with a token (.p8) key.
type APNsConfig struct {
	// KeyFile is the .p8 signing key (--apns-key); KeyPEM the key itself (tests).
	KeyFile string
	KeyPEM  []byte
	KeyID   string // --apns-key-id
	TeamID  string // --apns-team-id
	// Topic is the app's bundle id (--apns-topic).
	Topic string
	// Host is https://api.push.apple.com (production, the default),
	// https://api.sandbox.push.apple.com, or a local server in tests.
	Host string
	// TLS overrides the TLS client configuration (tests trust their own CA).
	TLS *tls.Config
	// Timeout bounds one push; zero is 30s.
	Timeout time.Duration
}

// APNsPusher is the Pusher over APNs (github.com/sideshow/apns2, HTTP/2, token auth). It keeps
// one client so that connections stay open, as Apple asks. Safe for concurrent use.
type APNsPusher struct {
	c     *apns2.Client
	topic string
}

var _ Pusher = (*APNsPusher)(nil)

// NewAPNsPusher returns a Pusher for cfg. It reads the key but does not call out.
func NewAPNsPusher(cfg APNsConfig) (*APNsPusher, error) {
	if cfg.KeyID == "" || cfg.TeamID == "" || cfg.Topic == "" {
		return nil, errors.New("apns: key id, team id and topic are required")
	}
	pem := cfg.KeyPEM
	if pem == nil {
		b, err := os.ReadFile(cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("apns: key: %w", err)
		}
		pem = b
	}
	key, err := token.AuthKeyFromBytes(pem)
	if err != nil {
		return nil, fmt.Errorf("apns: key: %w", err)
	}
	c := apns2.NewTokenClient(&token.Token{AuthKey: key, KeyID: cfg.KeyID, TeamID: cfg.TeamID})
	c.Host = apns2.HostProduction
	if cfg.Host != "" {
		c.Host = cfg.Host
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	tr := &http2.Transport{ReadIdleTimeout: apns2.ReadIdleTimeout}
	if cfg.TLS != nil {
		tr.TLSClientConfig = cfg.TLS
	}
	c.HTTPClient = &http.Client{Transport: tr, Timeout: cfg.Timeout}
	return &APNsPusher{c: c, topic: cfg.Topic}, nil
}

// Push sends p to one device token. 410 Unregistered and 400 BadDeviceToken are
// ErrUnregistered (the token will never work again); other 4xx are permanent, 429 and 5xx
// transient.
func (a *APNsPusher) Push(ctx context.Context, tok string, p Push) error {
	pl := payload.NewPayload().AlertTitle(p.Title).AlertBody(p.Body)
	for k, v := range p.Data {
		pl.Custom(k, v)
	}
	n := &apns2.Notification{DeviceToken: tok, Topic: a.topic, Payload: pl, CollapseID: p.CollapseKey,
		PushType: apns2.PushTypeAlert, Priority: apns2.PriorityHigh}
	res, err := a.c.PushWithContext(ctx, n)
	if err != nil {
		return fmt.Errorf("apns: %w", err)
	}
	switch {
	case res.Sent():
		return nil
	case res.Reason == apns2.ReasonUnregistered || res.Reason == apns2.ReasonBadDeviceToken:
		return fmt.Errorf("apns: %d %s: %w", res.StatusCode, res.Reason, ErrUnregistered)
	case res.StatusCode >= 400 && res.StatusCode < 500 && res.StatusCode != http.StatusTooManyRequests:
		return fmt.Errorf("apns: %d %s: %w", res.StatusCode, res.Reason, ErrPermanent)
	}
	return fmt.Errorf("apns: %d %s", res.StatusCode, res.Reason)
}
