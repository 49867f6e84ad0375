package auth

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
	"unsafe"
)

func cacheKey(s string) tokenKey { return sha256.Sum256([]byte(s)) }

func TestTokenCacheDropsTheLeastRecentlyUsed(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newTokenCache(2, time.Minute)
	p := func(sub string) *Principal {
		return &Principal{Subject: sub, Roles: []Role{RoleCustomer}, Expiry: now.Add(time.Hour)}
	}
	c.put(cacheKey("a"), p("a"), now)
	c.put(cacheKey("b"), p("b"), now)
	if got, _ := c.get(cacheKey("a"), now); got == nil { // a is now the most recently used
		t.Fatal("a missing")
	}
	c.put(cacheKey("c"), p("c"), now)
	if got, _ := c.get(cacheKey("b"), now); got != nil {
		t.Fatal("b should have been dropped")
	}
	for _, s := range []string{"a", "c"} {
		if got, _ := c.get(cacheKey(s), now); got == nil || got.principal.Subject != s {
			t.Fatalf("%s: %+v", s, got)
		}
	}
	c.put(cacheKey("c"), p("c2"), now) // replacing does not grow
	if c.len() != 2 {
		t.Fatalf("len %d", c.len())
	}
	if got, expired := c.get(cacheKey("a"), now.Add(time.Hour+time.Nanosecond)); got != nil || !expired {
		t.Fatal("expired entry served")
	}
	var off *tokenCache = newTokenCache(0, time.Minute)
	off.put(cacheKey("a"), p("a"), now)
	if got, _ := off.get(cacheKey("a"), now); got != nil || off.len() != 0 {
		t.Fatal("a disabled cache caches")
	}
}

// TestTokenCacheDropsIdleTokens: a token not presented for the idle time leaves the cache at
// the next lookup or insertion, although it has hours to live; one presented through a
// connection's memo (markSeen) stays; with idle 0 nothing leaves before its expiry.
func TestTokenCacheDropsIdleTokens(t *testing.T) {
	now := time.Unix(1000, 0)
	p := func(sub string) *Principal {
		return &Principal{Subject: sub, Roles: []Role{RoleCustomer}, Expiry: now.Add(12 * time.Hour)}
	}
	c := newTokenCache(100, time.Minute)
	var memoed *cacheEntry
	for i := range 50 {
		e := c.put(cacheKey(fmt.Sprint(i)), p(fmt.Sprint(i)), now)
		if i == 7 {
			memoed = e
		}
	}
	later := now.Add(50 * time.Second)
	memoed.markSeen(later)
	c.put(cacheKey("new"), p("new"), later) // nothing idle yet
	if c.len() != 51 {
		t.Fatalf("len %d, want 51", c.len())
	}
	end := now.Add(61 * time.Second)
	if got, _ := c.get(cacheKey("new"), end); got == nil {
		t.Fatal("the token presented 11 s ago is gone")
	}
	if n := c.len(); n != 2 {
		t.Fatalf("after a minute without them, %d tokens cached, want 2 (the new one and the memo's)", n)
	}
	if got, _ := c.get(cacheKey("7"), end); got != memoed {
		t.Fatal("the token a memo presented was dropped")
	}
	keep := newTokenCache(100, 0)
	for i := range 10 {
		keep.put(cacheKey(fmt.Sprint(i)), p(fmt.Sprint(i)), now)
	}
	keep.put(cacheKey("new"), p("new"), now.Add(11*time.Hour))
	if keep.len() != 11 {
		t.Fatalf("idle 0: len %d, want 11", keep.len())
	}
}

// TestTokenCacheEntryIsCompact: an entry is the entry and one string (and the scopes' slice),
// and shares no memory with the principal it was made from (the claims' strings).
func TestTokenCacheEntryIsCompact(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newTokenCache(10, time.Minute)
	p := &Principal{Subject: "user-1", Roles: []Role{RoleCustomer, RoleOperator}, MFA: true, Scopes: []string{"pii:read", "x"},
		Email: "a@example.com", Phone: "+1555", Expiry: now.Add(time.Hour)}
	e := c.put(cacheKey("t"), p, now)
	got := &e.principal
	if got.Subject != p.Subject || got.Email != p.Email || got.Phone != p.Phone || !got.MFA || !got.Expiry.Equal(p.Expiry) ||
		fmt.Sprint(got.Roles) != fmt.Sprint(p.Roles) || fmt.Sprint(got.Scopes) != fmt.Sprint(p.Scopes) {
		t.Fatalf("copy %+v of %+v", got, p)
	}
	if unsafe.StringData(got.Subject) == unsafe.StringData(p.Subject) || unsafe.StringData(got.Scopes[0]) == unsafe.StringData(p.Scopes[0]) ||
		&got.Roles[0] != &e.roles[0] || cap(got.Roles) != len(got.Roles) {
		t.Fatal("the entry shares the principal's memory or has its roles out of line")
	}
	for _, tc := range []struct {
		p    *Principal
		want float64
	}{{p, 3}, {&Principal{Subject: "user-2", Roles: []Role{RoleCustomer}, Expiry: now.Add(time.Hour)}, 2}} {
		if n := testing.AllocsPerRun(100, func() { c.put(cacheKey("t"), tc.p, now) }); n > tc.want {
			t.Fatalf("%d scopes: %.0f allocations per entry, want %.0f", len(tc.p.Scopes), n, tc.want)
		}
	}
}

// TestTokenCacheAgainstModel: random insertions, lookups, memo hits and clock steps (fixed
// seeds) against a model of what may be answered: a lookup answers only a token put and not
// expired, with the principal put last; never more than size entries; and once every token
// was left idle for longer than idle, one insertion leaves only itself.
func TestTokenCacheAgainstModel(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 14))
		now := time.Unix(1000, 0)
		const size, idle = 16, time.Minute
		c := newTokenCache(size, idle)
		type want struct {
			sub    string
			expiry time.Time
		}
		model := map[string]want{}
		entries := map[string]*cacheEntry{}
		for step := range 4000 {
			k := fmt.Sprint(rng.IntN(40))
			switch op := rng.IntN(10); {
			case op < 3:
				w := want{fmt.Sprintf("%s-%d", k, step), now.Add(time.Duration(rng.IntN(300)) * time.Second)}
				model[k] = w
				entries[k] = c.put(cacheKey(k), &Principal{Subject: w.sub, Roles: []Role{RoleCustomer}, Expiry: w.expiry}, now)
			case op < 7:
				e, expired := c.get(cacheKey(k), now)
				w, put := model[k]
				switch {
				case e != nil && (!put || e.principal.Subject != w.sub || now.After(e.principal.Expiry) || !e.principal.Expiry.Equal(w.expiry)):
					t.Fatalf("seed %d step %d: %s answered %+v, put %v %+v", seed, step, k, e.principal, put, w)
				case expired && (!put || !now.After(w.expiry)):
					t.Fatalf("seed %d step %d: %s reported expired, put %v until %v", seed, step, k, put, w.expiry)
				}
			case op < 9:
				if e := entries[k]; e != nil {
					e.markSeen(now)
				}
			default:
				now = now.Add(time.Duration(rng.IntN(20)) * time.Second)
			}
			if n := c.len(); n > size {
				t.Fatalf("seed %d step %d: %d entries", seed, step, n)
			}
		}
		now = now.Add(idle + time.Second)
		c.put(cacheKey("last"), &Principal{Subject: "last", Expiry: now.Add(time.Hour)}, now)
		if n := c.len(); n != 1 {
			t.Fatalf("seed %d: %d entries after every token was idle", seed, n)
		}
	}
}

// TestTokenCacheConcurrent (for -race): lookups, insertions and memo hits from several
// goroutines.
func TestTokenCacheConcurrent(t *testing.T) {
	c := newTokenCache(8, time.Second)
	base := time.Unix(1000, 0)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				now := base.Add(time.Duration(i) * 10 * time.Millisecond)
				k := cacheKey(fmt.Sprint((g + i) % 12))
				if e, _ := c.get(k, now); e != nil {
					e.markSeen(now)
					continue
				}
				c.put(k, &Principal{Subject: "s", Expiry: now.Add(time.Minute)}, now)
			}
		})
	}
	wg.Wait()
	if c.len() > 8 {
		t.Fatalf("len %d", c.len())
	}
}
