package ratelimit

import (
	"fmt"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// numShards spreads keys over independently locked maps so that parallel requests rarely
// contend. A power of two; keys are placed by a seeded hash, so a caller cannot aim many keys
// at one shard.
const numShards = 64

// Decision is the outcome of one Allow.
type Decision struct {
	// Allowed reports whether the request may proceed; it spent one unit if so.
	Allowed bool
	// Remaining is how many more requests the key may make right now.
	Remaining int
	// RetryAfter is, for a refused request, how long until one unit is back; 0 if allowed.
	RetryAfter time.Duration
	// Reset is how long until the key has its whole burst again.
	Reset time.Duration
}

// Limiter applies one Limit to many keys with the generic cell rate algorithm: per key it
// keeps only the theoretical arrival time (TAT) of the next request, one int64. A request at
// now is allowed when TAT - now <= (Burst-1) * interval, and then moves TAT by one interval.
//
// Keys are hashed (64-bit, seeded per Limiter) rather than stored, so an entry has a fixed
// size whatever the key's length; two keys colliding would share a budget, which at the
// bounded key count is vanishingly unlikely. An entry whose TAT is in the past is idle: it is
// the same as no entry. When a shard is full, inserting a new key first sweeps the shard's
// idle entries; if that frees less than a sixteenth of it, arbitrary entries are dropped
// until it does (counted in EvictedActive): such a key gets its whole burst back, which is
// the price of bounded memory under a flood of distinct keys. Each sweep frees at least a
// sixteenth of the shard, so its cost is amortized to a few steps per insert.
//
// A Limiter is safe for concurrent use.
type Limiter struct {
	limit       Limit
	interval    int64 // ns
	tolerance   int64 // ns: (Burst-1) * interval
	maxPerShard int
	now         func() time.Time
	seed        maphash.Seed
	shards      [numShards]shard

	evictedActive atomic.Uint64
}

type shard struct {
	mu  sync.Mutex
	tat map[uint64]int64 // key hash -> theoretical arrival time, Unix ns
	_   [48]byte         // keeps shards on separate cache lines
}

// NewLimiter returns a Limiter for limit holding at most about maxKeys keys (rounded up to a
// multiple of the shard count), reading time from now.
func NewLimiter(limit Limit, maxKeys int, now func() time.Time) (*Limiter, error) {
	if err := limit.validate(); err != nil {
		return nil, fmt.Errorf("rate limiter: %w", err)
	}
	if maxKeys < 1 {
		return nil, fmt.Errorf("rate limiter: %w", errNoKeys)
	}
	if now == nil {
		return nil, fmt.Errorf("rate limiter: a clock is required")
	}
	iv := int64(limit.interval())
	l := &Limiter{
		limit:       limit,
		interval:    iv,
		tolerance:   int64(limit.Burst-1) * iv,
		maxPerShard: (maxKeys + numShards - 1) / numShards,
		now:         now,
		seed:        maphash.MakeSeed(),
	}
	for i := range l.shards {
		l.shards[i].tat = make(map[uint64]int64)
	}
	return l, nil
}

// Limit returns the limiter's budget.
func (l *Limiter) Limit() Limit { return l.limit }

// Allow spends one unit of key's budget if it has one.
func (l *Limiter) Allow(key string) Decision { return l.allow(maphash.String(l.seed, key)) }

// allowBytes is Allow of string(key), without making the string (maphash hashes both alike):
// the limiter keeps a key's hash, never the key.
func (l *Limiter) allowBytes(key []byte) Decision { return l.allow(maphash.Bytes(l.seed, key)) }

// allowBytesAt is allowBytes at, a time on the limiter's clock read by the caller (zero: read
// it now).
func (l *Limiter) allowBytesAt(key []byte, at time.Time) Decision {
	return l.allowAt(maphash.Bytes(l.seed, key), at)
}

func (l *Limiter) allow(h uint64) Decision { return l.allowAt(h, time.Time{}) }

func (l *Limiter) allowAt(h uint64, at time.Time) Decision {
	s := &l.shards[h%numShards]
	if at.IsZero() {
		at = l.now()
	}
	now := at.UnixNano()

	s.mu.Lock()
	tat, known := s.tat[h]
	if tat < now {
		tat = now
	}
	if tat-now > l.tolerance {
		s.mu.Unlock()
		return Decision{RetryAfter: time.Duration(tat - l.tolerance - now), Reset: time.Duration(tat - now)}
	}
	next := tat + l.interval
	if !known && len(s.tat) >= l.maxPerShard {
		l.evictedActive.Add(s.sweep(now, l.maxPerShard))
	}
	s.tat[h] = next
	s.mu.Unlock()

	d := Decision{Allowed: true, Reset: time.Duration(next - now)}
	if slack := l.tolerance - (next - now); slack >= 0 {
		d.Remaining = int(slack/l.interval) + 1
	}
	return d
}

// Peek reports what Allow would decide for key now, without spending anything.
func (l *Limiter) Peek(key string) Decision { return l.peek(maphash.String(l.seed, key)) }

// peekBytes is Peek of string(key), without making the string (maphash hashes both alike).
func (l *Limiter) peekBytes(key []byte) Decision { return l.peek(maphash.Bytes(l.seed, key)) }

func (l *Limiter) peek(h uint64) Decision {
	s := &l.shards[h%numShards]
	now := l.now().UnixNano()
	s.mu.Lock()
	tat := s.tat[h]
	s.mu.Unlock()
	if tat < now {
		tat = now
	}
	if tat-now > l.tolerance {
		return Decision{RetryAfter: time.Duration(tat - l.tolerance - now), Reset: time.Duration(tat - now)}
	}
	return Decision{Allowed: true, Remaining: int((l.tolerance-(tat-now))/l.interval) + 1, Reset: time.Duration(tat - now)}
}

// sweep frees room in a full shard (see Limiter) and returns how many entries it dropped that
// were not idle. The caller holds s.mu.
func (s *shard) sweep(now int64, max int) uint64 {
	for h, tat := range s.tat {
		if tat <= now {
			delete(s.tat, h)
		}
	}
	want := max - max/16 // room for at least a sixteenth, and at least one entry
	if want >= max {
		want = max - 1
	}
	var dropped uint64
	for h := range s.tat {
		if len(s.tat) <= want {
			break
		}
		delete(s.tat, h)
		dropped++
	}
	return dropped
}

// Len returns the number of keys held, idle ones included (they go at the next sweep).
func (l *Limiter) Len() int {
	n := 0
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		n += len(s.tat)
		s.mu.Unlock()
	}
	return n
}

// EvictedActive counts keys dropped while not idle because their shard was full.
func (l *Limiter) EvictedActive() uint64 { return l.evictedActive.Load() }
