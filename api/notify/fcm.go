package notify

import (
	"context"
	"errors"
	"fmt"
	"os"

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/messaging"
	"google.golang.org/api/option"
)

// FCMConfig says how to reach Firebase Cloud Messaging (HTTP v1 API).
type FCMConfig struct {
	// ProjectID is the Firebase project (--fcm-project).
	ProjectID string
	// CredentialsFile is a service account key file (--fcm-credentials); "" uses the
	// application default credentials (GOOGLE_APPLICATION_CREDENTIALS, the metadata
	// server). The key's token_uri is where access tokens are fetched.
	CredentialsFile string
	// CredentialsJSON is the key itself, used instead of CredentialsFile when set (tests).
	CredentialsJSON []byte
	// Endpoint replaces https://fcm.googleapis.com/v1 (tests point it at a local server
	// that speaks the v1 API).
	Endpoint string
}

// FCMPusher is the Pusher over FCM. Safe for concurrent use (the SDK client is).
type FCMPusher struct {
	c *messaging.Client
}

var _ Pusher = (*FCMPusher)(nil)

// NewFCMPusher returns a Pusher for cfg. It reads the credentials but does not call out.
func NewFCMPusher(ctx context.Context, cfg FCMConfig) (*FCMPusher, error) {
	if cfg.ProjectID == "" {
		return nil, errors.New("fcm: no project id")
	}
	var opts []option.ClientOption
	key := cfg.CredentialsJSON
	if key == nil && cfg.CredentialsFile != "" {
		b, err := os.ReadFile(cfg.CredentialsFile)
		if err != nil {
			return nil, fmt.Errorf("fcm: credentials: %w", err)
		}
		key = b
	}
	if key != nil {
		opts = append(opts, option.WithAuthCredentialsJSON(option.ServiceAccount, key))
	}
	if cfg.Endpoint != "" {
		opts = append(opts, option.WithEndpoint(cfg.Endpoint))
	}
	app, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: cfg.ProjectID}, opts...)
	if err != nil {
		return nil, fmt.Errorf("fcm: %w", err)
	}
	c, err := app.Messaging(ctx)
	if err != nil {
		return nil, fmt.Errorf("fcm: %w", err)
	}
	return &FCMPusher{c: c}, nil
}

// Push sends p to one registration token. UNREGISTERED (the app was uninstalled or the token
// rotated) is ErrUnregistered; INVALID_ARGUMENT and SENDER_ID_MISMATCH are permanent; the
// rest (UNAVAILABLE, INTERNAL, QUOTA_EXCEEDED, network) are retried by the outbox.
func (f *FCMPusher) Push(ctx context.Context, token string, p Push) error {
	m := &messaging.Message{
		Token:        token,
		Notification: &messaging.Notification{Title: p.Title, Body: p.Body},
		Data:         p.Data,
	}
	if p.CollapseKey != "" {
		m.Android = &messaging.AndroidConfig{CollapseKey: p.CollapseKey}
		m.APNS = &messaging.APNSConfig{Headers: map[string]string{"apns-collapse-id": p.CollapseKey}}
	}
	_, err := f.c.Send(ctx, m)
	switch {
	case err == nil:
		return nil
	case messaging.IsUnregistered(err):
		return fmt.Errorf("fcm: %w: %w", ErrUnregistered, err)
	case messaging.IsInvalidArgument(err), messaging.IsSenderIDMismatch(err):
		return fmt.Errorf("fcm: %w: %w", ErrPermanent, err)
	}
	return fmt.Errorf("fcm: %w", err)
}
