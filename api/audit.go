package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/allot/allot/api/audit"
	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/ratelimit"
)

// auditTrail records the audited requests in Config.Audit (api/audit): for a signed-in caller,
// every change on an operator or admin route, every change by a caller acting as an operator
// (front-desk actions on customers' holds), and every request on an admin route, reads
// included; refusals too (a customer or an operator without a second factor trying), since
// Authenticate leaves the verified principal on the context before it authorizes. An entry is
// stored before the answer leaves the handler chain, within the request's deadline
// (requestDeadline, at least auditGrace), also when the client went away; a store that fails
// or times out is logged and counted (allot_audit_failures_total), not turned into a failure
// of the action, which has happened.
type auditTrail struct {
	store    audit.Store
	policies auth.RoutePolicies
	log      *slog.Logger
	failures prometheus.Counter
	s        *Server
	clients  *ratelimit.ClientIP // where a request came from, as the rate limits see it
}

// clientIP is the request's client address as text, "" when unknown.
func (t *auditTrail) clientIP(r *http.Request) string {
	if a := t.clients.Of(r); a.IsValid() {
		return a.String()
	}
	return ""
}

// auditGrace is the least time an audit entry gets to be stored, even when its request's
// deadline has passed: a database that answers stores one in milliseconds; one that does not
// holds the answer at most this long past the request's deadline.
const auditGrace = 250 * time.Millisecond

func (s *Server) newAuditTrail() (gin.HandlerFunc, error) {
	if s.cfg.Audit == nil {
		return func(c *gin.Context) { c.Next() }, nil
	}
	t := &auditTrail{store: s.cfg.Audit, policies: MountedPolicies(s.cfg.Mounted), log: s.log, s: s,
		failures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "allot_audit_failures_total",
			Help: "Audit log entries that could not be stored (the action they record happened).",
		})}
	var trusted []netip.Prefix // --trusted-proxies, which the rate-limit configuration carries
	if s.cfg.RateLimits != nil {
		trusted = s.cfg.RateLimits.TrustedProxies
	}
	t.clients = ratelimit.NewClientIP(trusted)
	if err := s.cfg.Registerer.Register(t.failures); err != nil {
		return nil, fmt.Errorf("audit metrics: %w", err)
	}
	return t.handle, nil
}

// audited reports whether a request on route by principal is recorded.
func (t *auditTrail) audited(method, route string, p *auth.Principal) bool {
	if p == nil || route == "" {
		return false
	}
	policy, _ := t.policies.Lookup(method, route)
	change := method != http.MethodGet && method != http.MethodHead
	return policy == auth.Admin || (change && (policy == auth.Operator || actsAsOperator(p)))
}

func (t *auditTrail) handle(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			t.record(c, http.StatusInternalServerError) // a panic is answered 500 by recovery
			panic(v)
		}
	}()
	c.Next()
	t.record(c, c.Writer.Status())
}

func (t *auditTrail) record(c *gin.Context, status int) {
	p := PrincipalOf(c)
	route := c.FullPath()
	if !t.audited(c.Request.Method, route, p) {
		return
	}
	var target []string
	for _, prm := range c.Params {
		target = append(target, prm.Key+"="+prm.Value)
	}
	e := audit.Entry{
		ID: audit.NewID(), At: t.s.cfg.Now(), Subject: p.Subject,
		Action: audit.ActionOf(c.Request.Method, route), Method: c.Request.Method, Route: route,
		Target: truncatePath(strings.Join(target, ",")), RequestID: RequestIDOf(c),
		Status: status, Outcome: audit.OutcomeOf(status), ClientIP: t.clientIP(c.Request),
	}
	// The client may have gone: the entry is stored anyway (WithoutCancel), but within what is
	// left of the request's deadline, not a deadline of its own: the answer leaves only after
	// this, and a stalled database must not hold it (and the connection, and this goroutine)
	// for another RequestTimeout after the action's own wait (round 17: during a partition
	// from the database, operators' requests ended a whole timeout after their client left).
	// auditGrace lets the entry of a request that spent its whole deadline still be stored by
	// a database that answers.
	now := t.s.cfg.Now()
	left := max(t.s.requestDeadline(c, now).Sub(now), auditGrace)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), left)
	defer cancel()
	if err := t.store.Append(ctx, e); err != nil {
		t.failures.Inc()
		t.log.LogAttrs(ctx, slog.LevelError, "audit entry not stored", slog.String("action", e.Action),
			slog.String("request_id", e.RequestID), slog.Any("err", err))
	}
}
