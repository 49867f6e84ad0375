package activation

import "time"

// instant is a reading of the shell's clock kept in a Core: nanoseconds since Config.Origin,
// 0 for none. A time.Time is 24 bytes; four of them were a third of every Core (round 15:
// the core of an active resource went from the 288-byte to the 224-byte allocation class).
//
// Invariant: an instant keeps what the time.Time it was made from says for the core's
// purposes: t.Sub(Origin) uses the monotonic readings when both carry one (the shell's
// time.Now readings and the Origin the shell took from the same clock do), so comparisons of
// instants, and the times they convert back to (Origin.Add keeps the monotonic reading),
// move with the monotonic clock and not with a step of the wall clock, as the time.Times they
// replace did (round 8: a lease in memory must not move with the wall clock). A reading at
// exactly Origin is kept 1 ns later, since 0 means none (a deadline then wakes 1 ns late).
type instant int64

// origin is the zero of instants: Config.Origin, or the Unix epoch in UTC when it is not
// set (tests' model times, which carry no monotonic reading).
func (c *Config) origin() time.Time {
	if c.Origin.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return c.Origin
}

// at is t as an instant (0 for the zero time).
func (c *Core) at(t time.Time) instant {
	if t.IsZero() {
		return 0
	}
	if i := instant(t.Sub(c.cfg.origin())); i != 0 {
		return i
	}
	return 1
}

// time is i as a time of the shell's clock (the zero time for none).
func (c *Core) time(i instant) time.Time {
	if i == 0 {
		return time.Time{}
	}
	return c.cfg.origin().Add(time.Duration(i))
}

// wallNanos is a wall-clock time (no monotonic reading: a lease end as stores keep it) in Unix
// nanoseconds, 0 for the zero time; wallTime converts it back.
func wallNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	if n := t.UnixNano(); n != 0 {
		return n
	}
	return 1
}

func wallTime(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}
