package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"

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
// stored before the answer leaves the handler chain, within a RequestTimeout of its own, also
// when the client went away; a store that fails or times out is logged and counted
// (allot_audit_failures_total), not turned into a failure of the action, which has happened.
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
	// The client may have gone: the entry is stored anyway (WithoutCancel), with a deadline of
	// its own (RequestTimeout), not what is left of the request's: the trail is worth more
	// than an operator's latency. In round 17 the request's remainder was tried: during a
	// partition from the database (cluster/chaos) it dropped entries that a full timeout stored
	// once the partition healed, while the only gain was that requests whose client had already
	// left were logged sooner. So an operator's action may be answered up to one
	// RequestTimeout after its command while the database stalls; customers' holds are not
	// audited (audited) and never wait here.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), t.s.cfg.RequestTimeout)
	defer cancel()
	if err := t.store.Append(ctx, e); err != nil {
		t.failures.Inc()
		t.log.LogAttrs(ctx, slog.LevelError, "audit entry not stored", slog.String("action", e.Action),
			slog.String("request_id", e.RequestID), slog.Any("err", err))
	}
}
