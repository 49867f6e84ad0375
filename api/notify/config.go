package notify

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
)

// Config configures the Service. DefaultConfig holds every default; Validate says what is
// wrong with a Config.
type Config struct {
	// Rules are the timing rules (--notify-expiry-warning, --notify-reminder-before).
	Rules Rules
	// MailFrom is the sender of e-mails (--mail-from); its domain ends every Message-ID.
	MailFrom string
	// PollEvery is how often the workers look for due notifications and timers.
	PollEvery time.Duration
	// Lease is how long a claimed notification or timer is kept from other workers; a
	// worker that dies hands it on after that.
	Lease time.Duration
	// Batch is how many notifications or timers one claim takes.
	Batch int
	// Concurrency is how many notifications are attempted at once, across the delivery
	// loops (providers are slow next to the store).
	Concurrency int
	// Workers is how many delivery loops claim and attempt batches at once, sharing the
	// Concurrency slots: with two, one loop's claim, slowest send and outcome commit overlap
	// the other's sends instead of leaving the slots idle. A claimed batch waits for at most
	// Batch/Concurrency+1 rounds of attempts, which the Lease must cover.
	Workers int
	// MaxAttempts is how many attempts a notification gets before it fails.
	MaxAttempts int
	// RetryBase and RetryMax shape the backoff: base·2^(attempt-1), at most max.
	RetryBase, RetryMax time.Duration
	// FeedLimit bounds the bookings in one calendar feed.
	FeedLimit int
}

// DefaultConfig returns the defaults: warnings 2 minutes before expiry, reminders 24 hours
// ahead, polling every second, 12 attempts from 10 s to 1 h apart (about 6 hours in all).
func DefaultConfig() Config {
	return Config{
		Rules:       DefaultRules(),
		MailFrom:    "Allot <notifications@allot.invalid>",
		PollEvery:   time.Second,
		Lease:       time.Minute,
		Batch:       16,
		Concurrency: 16,
		Workers:     2,
		MaxAttempts: 12,
		RetryBase:   10 * time.Second,
		RetryMax:    time.Hour,
		FeedLimit:   1000,
	}
}

// Validate reports the first problem with c.
func (c Config) Validate() error {
	switch {
	case c.Rules.ExpiryWarning < 0 || c.Rules.ReminderBefore < 0:
		return errors.New("notify config: negative timing rule")
	case c.PollEvery <= 0 || c.Lease <= 0 || c.RetryBase <= 0 || c.RetryMax < c.RetryBase:
		return errors.New("notify config: poll, lease and retry durations must be positive, retry max >= base")
	case c.Batch <= 0 || c.Concurrency <= 0 || c.Workers <= 0 || c.MaxAttempts <= 0 || c.FeedLimit <= 0:
		return errors.New("notify config: batch, concurrency, workers, max attempts and feed limit must be positive")
	}
	if _, err := mail.ParseAddress(c.MailFrom); err != nil {
		return fmt.Errorf("notify config: --mail-from: %w", err)
	}
	return nil
}

// mailDomain is the domain of MailFrom, for Message-IDs.
func (c Config) mailDomain() string {
	a, err := mail.ParseAddress(c.MailFrom)
	if err != nil {
		return "allot.invalid"
	}
	_, d, _ := strings.Cut(a.Address, "@")
	return d
}

// backoff is the delay after attempt n (1-based) failed.
func (c Config) backoff(n int) time.Duration {
	d := c.RetryBase
	for i := 1; i < n && d < c.RetryMax; i++ {
		d *= 2
	}
	return min(d, c.RetryMax)
}
