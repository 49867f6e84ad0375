package ratelimit

import (
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/api/auth"
)

// Class is what budget a route spends besides the caller's own.
type Class int

const (
	// ClassRequests spends the caller's own budget: Subject when signed in, else Anonymous.
	// Install it once for every API route.
	ClassRequests Class = iota
	// ClassHolds spends the Holds budget. Install it on hold creation, after ClassRequests.
	ClassHolds
	// ClassAuthFailures guards token verification: installed before api.Authenticate, it
	// refuses a client IP whose AuthFailures budget is spent, and spends one unit whenever a
	// request that sent an Authorization header is answered 401. Its headers appear only on
	// the 429 it gives.
	ClassAuthFailures
)

// Policy names, as they appear in the RateLimit headers and the metrics' policy label.
const (
	PolicySubject   = "subject"
	PolicyAnonymous = "anonymous"
	PolicyHolds     = "holds"
	PolicyAuth      = "auth_failures"
)

// Key identifies the caller a request is counted against: its subject when signed in, else
// its client IP.
type Key struct {
	Subject string     // "" for an anonymous caller
	IP      netip.Addr // the client IP (ClientIP.Of)
	// At, when set, is the time of the request on the Limits' own clock (Config.Now), read
	// once for all the budgets a request passes: the budgets use it instead of reading the
	// clock each (issue 17, round 13: a read is about 0.1 µs here, two per hold). Zero: each
	// budget reads the clock.
	At time.Time
}

// KeyFunc returns the caller of a request. It must be cheap and safe for concurrent use.
type KeyFunc func(*gin.Context) Key

// KeyBy returns the KeyFunc the node uses: the principal's subject when principalOf (the
// node passes api.PrincipalOf) finds one, and always the client IP.
func KeyBy(principalOf func(*gin.Context) *auth.Principal, clientIP func(*http.Request) netip.Addr) KeyFunc {
	return func(c *gin.Context) Key {
		k := Key{IP: clientIP(c.Request)}
		if p := principalOf(c); p != nil {
			k.Subject = p.Subject
		}
		return k
	}
}

// Exceeded is the refusal a rate-limited request is failed with. It unwraps to a
// *booking.Error with booking.CodeRateLimited (429 rate-limited), so the api package's one
// error mapping answers it; RetryAfter says when one unit is back.
type Exceeded struct {
	Policy string
	Wait   time.Duration
	err    *booking.Error
}

func (e *Exceeded) Error() string { return e.err.Error() }

// Unwrap returns the coded error, for errors.As and booking.ErrorCode.
func (e *Exceeded) Unwrap() error { return e.err }

// RetryAfter is how long the caller should wait before retrying.
func (e *Exceeded) RetryAfter() time.Duration { return e.Wait }

// Limits holds the node's four budgets. Create one per node with New; it is safe for
// concurrent use and owns no goroutine (idle keys are swept on insert, not by a timer).
type Limits struct {
	cfg                       Config
	subject, anonymous, holds *Limiter
	authFailures              *Limiter
	policySubject, policyAnon string
	policyHolds, policyAuth   string
	refused                   *prometheus.CounterVec
	clientIP                  *ClientIP
	fields                    fieldCache // the RateLimit items of recent decisions
}

// New validates cfg and builds the budgets, registering the metrics on cfg.Registerer.
func New(cfg Config) (*Limits, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	l := &Limits{
		cfg:           cfg,
		policySubject: policyField(PolicySubject, cfg.Subject),
		policyAnon:    policyField(PolicyAnonymous, cfg.Anonymous),
		policyHolds:   policyField(PolicyHolds, cfg.Holds),
		policyAuth:    policyField(PolicyAuth, cfg.AuthFailures),
		clientIP:      NewClientIP(cfg.TrustedProxies),
	}
	var err error
	if l.subject, err = NewLimiter(cfg.Subject, cfg.MaxKeys, cfg.Now); err != nil {
		return nil, err
	}
	if l.anonymous, err = NewLimiter(cfg.Anonymous, cfg.MaxKeys, cfg.Now); err != nil {
		return nil, err
	}
	if l.holds, err = NewLimiter(cfg.Holds, cfg.MaxKeys, cfg.Now); err != nil {
		return nil, err
	}
	if l.authFailures, err = NewLimiter(cfg.AuthFailures, cfg.MaxKeys, cfg.Now); err != nil {
		return nil, err
	}
	l.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "allot_ratelimit_refused_total",
		Help: "Requests refused with 429 by a rate limit, by policy (subject, anonymous, holds, auth_failures).",
	}, []string{"policy"})
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(l.refused); err != nil {
			return nil, fmt.Errorf("ratelimit: register metrics: %w", err)
		}
		for name, lim := range map[string]*Limiter{PolicySubject: l.subject, PolicyAnonymous: l.anonymous, PolicyHolds: l.holds, PolicyAuth: l.authFailures} {
			c := prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name:        "allot_ratelimit_evicted_active_total",
				Help:        "Rate-limit keys dropped before they were idle because the budget's key table was full (see Config.MaxKeys).",
				ConstLabels: prometheus.Labels{"policy": name},
			}, func() float64 { return float64(lim.EvictedActive()) })
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("ratelimit: register metrics: %w", err)
			}
		}
	}
	return l, nil
}

// ClientIP returns the client address of r under Config.TrustedProxies (see ClientIP.Of).
// Pass it to KeyBy; the audit log can use it too.
func (l *Limits) ClientIP(r *http.Request) netip.Addr { return l.clientIP.Of(r) }

// Middleware returns the gin middleware that spends class's budget for each request, keyed by
// key. Every response it passes or refuses carries RateLimit-Policy and RateLimit (see
// headers.go); a refused one also Retry-After, and is answered by fail with an *Exceeded,
// after which the chain is aborted. fail is the api package's problem writer; it must not be
// nil. With Config.Off the middleware only calls c.Next.
func (l *Limits) Middleware(class Class, key KeyFunc, fail func(c *gin.Context, err error)) gin.HandlerFunc {
	if fail == nil || key == nil {
		panic("ratelimit: Middleware needs a key function and a failure callback")
	}
	if l.cfg.Off {
		return func(c *gin.Context) { c.Next() }
	}
	if class == ClassAuthFailures {
		return l.authFailuresMiddleware(key, fail)
	}
	return func(c *gin.Context) {
		k := key(c)
		var buf [128]byte // the limiter key, on the stack: a limiter keeps only its hash
		lim, name, policy, id := l.budget(buf[:0], class, k)
		d := lim.allowBytesAt(id, k.At)
		h := c.Writer.Header()
		addFields(h, policy, l.fields.item(name, d))
		if d.Allowed {
			c.Next()
			return
		}
		l.refuse(c, name, d, fail)
	}
}

// authFailuresMiddleware is Middleware for ClassAuthFailures. The key's subject is ignored:
// before authentication there is none, and a failing token proves no subject anyway.
func (l *Limits) authFailuresMiddleware(key KeyFunc, fail func(*gin.Context, error)) gin.HandlerFunc {
	return func(c *gin.Context) {
		// Most requests only look the address up: its key is built on the stack, and copied
		// into a string only for a failure to count.
		var buf [64]byte
		id := l.appendIPKey(buf[:0], key(c).IP)
		if d := l.authFailures.peekBytes(id); !d.Allowed {
			h := c.Writer.Header()
			addFields(h, l.policyAuth, rateLimitField(PolicyAuth, d))
			l.refuse(c, PolicyAuth, d, fail)
			return
		}
		c.Next()
		// Only a token that was sent and refused is a failure: a 401 for a missing token
		// cost no signature check, and counting it would let anonymous callers behind one
		// NAT (an app opening "my bookings" before its user signed in) lock the address out.
		if c.Writer.Status() == http.StatusUnauthorized && c.Request.Header.Get("Authorization") != "" {
			l.authFailures.Allow(string(id))
		}
	}
}

// refuse answers a request over budget name: Retry-After, the metric, fail and abort.
func (l *Limits) refuse(c *gin.Context, name string, d Decision, fail func(*gin.Context, error)) {
	l.refused.WithLabelValues(name).Inc()
	c.Writer.Header().Set(headerRetry, strconv.FormatInt(ceilSeconds(d.RetryAfter, 1), 10))
	fail(c, &Exceeded{Policy: name, Wait: d.RetryAfter, err: booking.Errorf(booking.CodeRateLimited,
		"too many requests: over the %s rate limit; retry after %d s", name, ceilSeconds(d.RetryAfter, 1))})
	c.Abort()
}

// budget picks the limiter, policy name and RateLimit-Policy item for a caller, and appends
// its limiter key to b. Subjects and IPs share the holds limiter under distinct prefixes.
func (l *Limits) budget(b []byte, class Class, k Key) (*Limiter, string, string, []byte) {
	if class == ClassHolds {
		if k.Subject != "" {
			return l.holds, PolicyHolds, l.policyHolds, append(append(b, "s:"...), k.Subject...)
		}
		return l.holds, PolicyHolds, l.policyHolds, l.appendIPKey(append(b, "i:"...), k.IP)
	}
	if k.Subject != "" {
		return l.subject, PolicySubject, l.policySubject, append(b, k.Subject...)
	}
	return l.anonymous, PolicyAnonymous, l.policyAnon, l.appendIPKey(b, k.IP)
}

// ipKey is the budget key of a client address: IPv4 whole, IPv6 by its leading
// IPv6PrefixLen bits.
func (l *Limits) ipKey(a netip.Addr) string {
	var buf [64]byte
	return string(l.appendIPKey(buf[:0], a))
}

// appendIPKey appends ipKey(a) to b: the address's String, of its IPv6 prefix or unmapped.
func (l *Limits) appendIPKey(b []byte, a netip.Addr) []byte {
	if !a.IsValid() {
		return append(b, a.String()...) // AppendTo writes nothing for the zero Addr
	}
	if a.Is6() && !a.Is4In6() {
		if p, err := a.Prefix(l.cfg.IPv6PrefixLen); err == nil {
			return p.Addr().AppendTo(b)
		}
	}
	return a.Unmap().AppendTo(b)
}
