package payment

import (
	"time"

	"github.com/allot/allot/actors/booking"
)

// Config holds the saga's timings. Zero fields take the defaults of DefaultConfig (WithDefaults).
type Config struct {
	// Grace is how long a held hold is extended, once, when its payment starts
	// (--payment-grace), so the customer can finish paying. Default 5m.
	Grace time.Duration
	// LateWindow is how long after the hold ended an unpaid intent stays open for a late
	// payment before it is cancelled. Default 30m.
	LateWindow time.Duration
	// AuthorizationLifetime is how long an authorization is trusted uncaptured (a payment
	// under review waits at most this long): Stripe releases card authorizations after about
	// 7 days. Default 6 days.
	AuthorizationLifetime time.Duration
	// MaxAttempts bounds the intents one hold may create. Default 5.
	MaxAttempts int
}

// DefaultConfig is the configuration every zero field falls back to.
var DefaultConfig = Config{
	Grace:                 5 * time.Minute,
	LateWindow:            30 * time.Minute,
	AuthorizationLifetime: 6 * 24 * time.Hour,
	MaxAttempts:           5,
}

// WithDefaults fills zero fields from DefaultConfig.
func (c Config) WithDefaults() Config {
	d := DefaultConfig
	if c.Grace == 0 {
		c.Grace = d.Grace
	}
	if c.LateWindow == 0 {
		c.LateWindow = d.LateWindow
	}
	if c.AuthorizationLifetime == 0 {
		c.AuthorizationLifetime = d.AuthorizationLifetime
	}
	if c.MaxAttempts == 0 {
		c.MaxAttempts = d.MaxAttempts
	}
	return c
}

// Validate checks a configuration after WithDefaults.
func (c Config) Validate() error {
	switch {
	case c.Grace < 0 || c.Grace > time.Hour:
		return booking.Errorf(booking.CodeInvalid, "payment grace must be between 0 and 1h")
	case c.LateWindow < 0:
		return booking.Errorf(booking.CodeInvalid, "late payment window must not be negative")
	case c.AuthorizationLifetime <= 0 || c.AuthorizationLifetime > 7*24*time.Hour:
		return booking.Errorf(booking.CodeInvalid, "authorization lifetime must be within Stripe's 7 days")
	case c.MaxAttempts < 1 || c.MaxAttempts > 100:
		return booking.Errorf(booking.CodeInvalid, "max payment attempts must be between 1 and 100")
	}
	return nil
}
