package ratelimit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Limit is one GCRA budget: Count requests per Period on average, and up to Burst at once
// after an idle spell. A key spends one unit per request and earns one back every
// Period/Count; it is refused while it would exceed Burst units in flight.
type Limit struct {
	Count  int
	Period time.Duration
	Burst  int
}

// interval is the emission interval: the time one unit takes to come back.
func (l Limit) interval() time.Duration { return l.Period / time.Duration(l.Count) }

// window is the time an idle key takes to earn back its whole burst: the w of the
// RateLimit-Policy field, whose q is Burst.
func (l Limit) window() time.Duration { return l.interval() * time.Duration(l.Burst) }

func (l Limit) validate() error {
	switch {
	case l.Count < 1:
		return fmt.Errorf("count %d: want at least 1", l.Count)
	case l.Period < time.Millisecond:
		return fmt.Errorf("period %v: want at least 1ms", l.Period)
	case l.Burst < 1:
		return fmt.Errorf("burst %d: want at least 1", l.Burst)
	case l.interval() < time.Microsecond:
		return fmt.Errorf("%d per %v is more than one per microsecond", l.Count, l.Period)
	case l.Burst > 1_000_000:
		return fmt.Errorf("burst %d: want at most 1000000", l.Burst)
	}
	return nil
}

// String formats l in ParseLimit's syntax, e.g. "20/1s:40".
func (l Limit) String() string {
	return strconv.Itoa(l.Count) + "/" + l.Period.String() + ":" + strconv.Itoa(l.Burst)
}

// ParseLimit reads a limit as written in a flag: "N/period[:burst]", where period is a Go
// duration ("1s", "1m") or a bare unit ("s", "m", "h" mean one of it), and burst defaults to
// N. Examples: "20/s:40", "2/1s:5", "100/m".
func ParseLimit(s string) (Limit, error) {
	rate, burst, hasBurst := strings.Cut(strings.TrimSpace(s), ":")
	count, period, ok := strings.Cut(rate, "/")
	if !ok {
		return Limit{}, fmt.Errorf("rate limit %q: want N/period[:burst], e.g. 20/1s:40", s)
	}
	var l Limit
	var err error
	if l.Count, err = strconv.Atoi(count); err != nil {
		return Limit{}, fmt.Errorf("rate limit %q: count: %w", s, err)
	}
	if period != "" && (period[0] < '0' || period[0] > '9') {
		period = "1" + period
	}
	if l.Period, err = time.ParseDuration(period); err != nil {
		return Limit{}, fmt.Errorf("rate limit %q: period: %w", s, err)
	}
	l.Burst = l.Count
	if hasBurst {
		if l.Burst, err = strconv.Atoi(burst); err != nil {
			return Limit{}, fmt.Errorf("rate limit %q: burst: %w", s, err)
		}
	}
	if err := l.validate(); err != nil {
		return Limit{}, fmt.Errorf("rate limit %q: %w", s, err)
	}
	return l, nil
}

// errNoKeys is returned for a Limiter that could hold no key.
var errNoKeys = errors.New("max keys must be at least 1")
