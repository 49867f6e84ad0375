package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/allot/allot/api/audit"
	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/mount"
	"github.com/allot/allot/api/ratelimit"
)

// ErrConfig is wrapped by every error NewServer returns for an unusable Config.
var ErrConfig = errors.New("api: invalid config")

// Config configures the HTTP edge. Zero values of optional fields mean their defaults (see
// DefaultConfig).
type Config struct {
	// Dispatcher delivers commands to the actor owning a resource. Required.
	Dispatcher Dispatcher
	// Holds answers the hold queries (by resource, by user). Required.
	Holds HoldLister
	// Verifier authenticates bearer tokens; every route's policy (Policies) is enforced with
	// it. Required: there is no edge without authentication.
	Verifier *auth.Verifier
	// WellKnown, if set, serves the issuer's discovery document and key set at DiscoveryPath
	// and JWKSPath (a node in dev mode: auth.DevIssuer.Handler, whose issuer URL has no path).
	WellKnown http.Handler
	// Waitlist answers GET /v1/me/waitlist, and Resources the resource search. Nil means
	// Holds, which must then be a WaitlistLister (a ResourceLister) too: a persistence store
	// is all three.
	Waitlist  WaitlistLister
	Resources ResourceLister
	// Members lists the cluster's members. Nil on a single node: the member list then holds
	// just this node, as NodeID.
	Members MemberLister
	// NodeID is this node's id in the member list when Members is nil. Default: the host name,
	// or "local" when it is unknown.
	NodeID string
	// Ready reports readiness for /readyz: false while the node is starting or draining.
	// Must be safe for concurrent use and fast. Nil means always ready.
	Ready func() bool
	// Registerer receives the HTTP metrics and Gatherer serves /metrics (on the admin
	// handler, AdminHandler, never on the edge); give both or
	// neither. A Registerer that is also a Gatherer (a *prometheus.Registry) may come alone.
	// Neither: a private registry holding only the HTTP metrics. The global registry is never
	// used implicitly.
	Registerer prometheus.Registerer
	Gatherer   prometheus.Gatherer
	// Logger receives one record per request, the only record of a failure: debug for
	// 1xx-3xx and 409 sold-out, info for other 4xx (499 client-closed-request included),
	// warn for 503, error for other 5xx and panics, the last two with their cause. Nil means
	// slog.Default().
	Logger *slog.Logger
	// Now is the clock; it sets command deadlines and times requests. Nil means time.Now.
	Now func() time.Time
	// RequestTimeout bounds one request from the edge to the resource's owner and back: from
	// its first command, all of its commands (a hold's read and then its command share it) and
	// its audit entry. Also one hold query. Default 5s.
	RequestTimeout time.Duration
	// MaxBodyBytes bounds a request body; larger bodies get 413. Default 64 KiB.
	MaxBodyBytes int64
	// PaymentRequired: the node takes payments (it has a Stripe key, docs/PAYMENTS.md), so a
	// plain confirm of a held hold on a priced resource that was not paid for is refused (409
	// payment-required); an operator may confirm it unpaid with ?unpaid=true. The resource
	// actor decides it with the hold as it is (booking.ConfirmHold.PaymentRequired).
	PaymentRequired bool
	// Events serves GET /v1/events (the outbox); nil answers it 404.
	Events EventLister
	// AvailabilityMaxAge is how long a shared cache may serve an availability answer without
	// asking again (Cache-Control max-age, whole seconds; see caching.go), and
	// AvailabilityStaleWhileRevalidate how much longer it may serve it while it revalidates.
	// Defaults 1s and 5s; a negative value means 0.
	AvailabilityMaxAge               time.Duration
	AvailabilityStaleWhileRevalidate time.Duration
	// StaleListings bounds the user hold listings remembered to answer, marked stale, while
	// the store is unreachable (see listingcache.go), and StaleListingMaxAge how old one may
	// be. Defaults 4096 and 24h; a negative StaleListings remembers none.
	StaleListings      int
	StaleListingMaxAge time.Duration
	// RateLimits are the edge's rate limits (api/ratelimit, wired in ratelimits.go); its
	// Registerer and Now default to this Config's. Nil: no limits (tests of other concerns);
	// the node always gives them, with ratelimit.Config.Off for --rate-limits=off.
	RateLimits *ratelimit.Config
	// UnknownResourceTTL is how long the edge answers 404 itself for a resource its owner
	// found missing, without dispatching (unknownresources.go), and UnknownResources how many
	// such ids it remembers. Defaults DefaultUnknownResourceTTL and DefaultUnknownResources;
	// a negative TTL remembers none.
	UnknownResourceTTL time.Duration
	UnknownResources   int
	// Audit, if set, stores the audit log of operator and admin actions (audit.go); nil
	// keeps none. GET /v1/audit comes with the mounted routes (api/audit.Handlers).
	Audit audit.Store
	// Mounted are routes other packages hand to the edge with their policies (api/mount):
	// the webhooks admin API and the live streams. Each must have a path no route of the
	// server has; a GET also serves HEAD.
	Mounted []mount.Route
	// AvailabilityObservers run around GET /v1/resources/:rid/availability, before its
	// handler (gin middleware: they call c.Next()); the reports' view counter
	// (reports.Views.Middleware). They must not write the answer.
	AvailabilityObservers []gin.HandlerFunc
	// Contacts seals the guests' contacts of hold requests and opens them for answers
	// (contact.go); nil: the node stores no contacts and refuses a hold request carrying one.
	Contacts ContactSealer
	// OnPrincipal, if set, is told who calls: the authentication middleware calls it with
	// the verified principal of every authorized state-changing request (any method but GET,
	// HEAD and OPTIONS), once per request, after the token's one verification and before
	// the handler runs, so that what it records (the notification service's copy of the
	// token's email and phone_number claims) is stored before any hold the request places.
	// Refused requests (401, 403) do not reach it.
	//
	// Thread-safety: it is called concurrently by every request in flight, on the request's
	// goroutine; its time adds to the request's, so it must be quick on its common path.
	// p is shared with other requests (the verifier caches it): read it, never change it.
	// Errors: it cannot refuse the request; a failure is its own to log, and it must never
	// log the principal's claims (Principal.Email, Phone). ctx is the request's.
	OnPrincipal func(ctx context.Context, p *auth.Principal)
}

// Defaults.
const (
	DefaultRequestTimeout = 5 * time.Second
	DefaultMaxBodyBytes   = 64 << 10
)

// DefaultConfig returns a Config with every optional field at its default; the caller sets
// Dispatcher, Holds, Verifier and, in a cluster, Members, Ready and the Prometheus registry.
func DefaultConfig() Config {
	return Config{
		NodeID:         defaultNodeID(),
		Logger:         slog.Default(),
		Now:            time.Now,
		RequestTimeout: DefaultRequestTimeout,
		MaxBodyBytes:   DefaultMaxBodyBytes,

		AvailabilityMaxAge:               DefaultAvailabilityMaxAge,
		AvailabilityStaleWhileRevalidate: DefaultAvailabilityStaleWhileRevalidate,
		StaleListings:                    DefaultStaleListings,
		StaleListingMaxAge:               DefaultStaleListingMaxAge,
	}
}

func defaultNodeID() string {
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "local"
}

// withDefaults fills zero optional fields.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.NodeID == "" {
		c.NodeID = d.NodeID
	}
	if c.Ready == nil {
		c.Ready = func() bool { return true }
	}
	if c.Waitlist == nil {
		c.Waitlist, _ = c.Holds.(WaitlistLister)
	}
	if c.Resources == nil {
		c.Resources, _ = c.Holds.(ResourceLister)
	}
	if c.Logger == nil {
		c.Logger = d.Logger
	}
	if c.Now == nil {
		c.Now = d.Now
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = d.RequestTimeout
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = d.MaxBodyBytes
	}
	if c.AvailabilityMaxAge == 0 {
		c.AvailabilityMaxAge = d.AvailabilityMaxAge
	}
	if c.AvailabilityStaleWhileRevalidate == 0 {
		c.AvailabilityStaleWhileRevalidate = d.AvailabilityStaleWhileRevalidate
	}
	if c.StaleListings == 0 {
		c.StaleListings = d.StaleListings
	}
	if c.StaleListingMaxAge == 0 {
		c.StaleListingMaxAge = d.StaleListingMaxAge
	}
	if c.UnknownResourceTTL == 0 {
		c.UnknownResourceTTL = DefaultUnknownResourceTTL
	}
	if c.UnknownResources <= 0 {
		c.UnknownResources = DefaultUnknownResources
	}
	c.AvailabilityMaxAge = max(c.AvailabilityMaxAge, 0)
	c.AvailabilityStaleWhileRevalidate = max(c.AvailabilityStaleWhileRevalidate, 0)
	if c.Registerer == nil && c.Gatherer == nil {
		reg := prometheus.NewRegistry()
		c.Registerer, c.Gatherer = reg, reg
	}
	if c.Gatherer == nil {
		if g, ok := c.Registerer.(prometheus.Gatherer); ok {
			c.Gatherer = g
		}
	}
	return c
}

func (c *Config) validate() error {
	switch {
	case c.Dispatcher == nil:
		return fmt.Errorf("%w: Dispatcher is required", ErrConfig)
	case c.Holds == nil:
		return fmt.Errorf("%w: Holds is required", ErrConfig)
	case c.Verifier == nil:
		return fmt.Errorf("%w: Verifier is required", ErrConfig)
	case c.Waitlist == nil:
		return fmt.Errorf("%w: Waitlist is required when Holds is not a WaitlistLister", ErrConfig)
	case c.Resources == nil:
		return fmt.Errorf("%w: Resources is required when Holds is not a ResourceLister", ErrConfig)
	case c.RequestTimeout < 0:
		return fmt.Errorf("%w: RequestTimeout must be positive", ErrConfig)
	case c.MaxBodyBytes < 0:
		return fmt.Errorf("%w: MaxBodyBytes must be positive", ErrConfig)
	case c.StaleListingMaxAge < 0:
		return fmt.Errorf("%w: StaleListingMaxAge must be positive", ErrConfig)
	case c.Registerer == nil || c.Gatherer == nil:
		return fmt.Errorf("%w: give both Registerer and Gatherer, or neither", ErrConfig)
	}
	return nil
}

// Server is the HTTP edge of one node. It holds no goroutines of its own; its Handler is
// safe for concurrent use.
type Server struct {
	cfg     Config
	log     *slog.Logger
	metrics *httpMetrics
	engine  *gin.Engine
	admin   *gin.Engine
	// listings are the user hold listings served recently (listingcache.go).
	listings *listingCache
	// holdBufs are the buffers hold replies are encoded into (holdjson.go).
	holdBufs holdBufPool
	// keys are the gin Keys maps lent to requests (requestid.go).
	keys keysPool
}

// NewServer builds the edge: routes, problem handling, logging and metrics. It registers the
// HTTP metrics on cfg.Registerer.
//
// gin keeps its mode in a process-wide setting; NewServer sets it to release mode.
func NewServer(cfg Config) (*Server, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	m, err := newHTTPMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	if cfg.UnknownResourceTTL > 0 {
		cfg.Dispatcher = newUnknownResources(cfg.Dispatcher, cfg.UnknownResourceTTL, cfg.UnknownResources, cfg.Now)
	}
	s := &Server{cfg: cfg, log: cfg.Logger, metrics: m, listings: newListingCache(cfg.StaleListings)}
	limits, err := s.newEdgeLimits()
	if err != nil {
		return nil, err
	}
	trail, err := s.newAuditTrail()
	if err != nil {
		return nil, err
	}
	s.engine = s.routes(limits, trail)
	s.admin = s.adminRoutes()
	return s, nil
}

// Handler returns the http.Handler serving every route of the edge.
func (s *Server) Handler() http.Handler { return s.engine }

// AdminHandler returns the http.Handler of the admin listener: MetricsPath. It has no
// authentication of its own; it must only be reachable from where metrics may be read (cmd
// serves it on --admin-addr, loopback by default).
func (s *Server) AdminHandler() http.Handler { return s.admin }

// routes builds the gin engine.
func (s *Server) routes(limits edgeLimits, trail gin.HandlerFunc) *gin.Engine {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	_ = e.SetTrustedProxies(nil) // the edge does not read client addresses from headers
	// Authentication after observe and recovery, so that refusals are logged and counted;
	// headOnly first, so that a HEAD request refused by them has no body either; the request
	// id before the log. Rate limits around it (ratelimits.go): failed authentications per
	// IP before, the caller's budget after; the audit trail (audit.go) around both, so that
	// it sees refusals too.
	// front (middleware.go) is headOnly, the request id, observe and recovery in one.
	e.Use(s.front, limits.authFailures, trail,
		authenticate(s.cfg.Verifier, MountedPolicies(s.cfg.Mounted), s.log, s.cfg.OnPrincipal), limits.requests)
	e.NoRoute(s.noRoute)
	e.NoMethod(s.noMethod)
	mount.Mount(e, s.cfg.Mounted) // webhooks admin API, live streams (api/mounted.go)

	e.GET(HealthzPath, s.healthz)
	e.GET(ReadyzPath, s.readyz)
	e.GET(OpenAPIPath, s.openAPI)
	if s.cfg.WellKnown != nil {
		e.GET(DiscoveryPath, gin.WrapH(s.cfg.WellKnown))
		e.GET(JWKSPath, gin.WrapH(s.cfg.WellKnown))
	}

	v1 := e.Group("/v1")
	v1.POST("/resources", s.createResource)
	v1.GET("/resources", s.listResources)
	v1.GET("/resources/:rid", s.getResource)
	v1.PATCH("/resources/:rid", s.updateResource)
	v1.DELETE("/resources/:rid", s.archiveResource)
	v1.GET("/resources/:rid/availability", append(append([]gin.HandlerFunc{}, s.cfg.AvailabilityObservers...), s.availability)...)
	v1.POST("/resources/:rid/holds", limits.holds, s.placeHold)
	v1.GET("/resources/:rid/holds", s.listResourceHolds)
	v1.GET("/resources/:rid/holds/:hid", s.getHold)
	v1.POST("/resources/:rid/holds/:hid/confirm", s.confirmHold)
	v1.POST("/resources/:rid/holds/:hid/cancel", s.cancelHold)
	v1.GET("/me/holds", s.listMyHolds)
	v1.POST("/resources/:rid/holds/:hid/extend", s.extendHold)
	v1.POST("/resources/:rid/waitlist", s.joinWaitlist)
	v1.DELETE("/resources/:rid/waitlist/:eid", s.leaveWaitlist)
	v1.GET("/me/waitlist", s.myWaitlist)
	v1.GET("/users/:uid/holds", s.listUserHolds)
	v1.GET("/cluster/members", s.members)
	v1.GET("/events", s.listEvents)

	// HEAD on every GET route: the GET handler, with the body discarded by headOnly (RFC
	// 9110 9.3.2), so that status and headers are exactly GET's.
	for _, r := range e.Routes() {
		if r.Method == http.MethodGet {
			e.HEAD(r.Path, r.HandlerFunc)
		}
	}
	return e
}

// adminRoutes builds the admin engine: metrics, logged and counted like the edge's routes.
func (s *Server) adminRoutes() *gin.Engine {
	e := gin.New()
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.ContextWithFallback = true
	_ = e.SetTrustedProxies(nil)
	e.Use(s.observe, s.recovery)
	e.NoRoute(s.noRoute)
	e.GET(MetricsPath, s.metricsHandler())
	return e
}

// headOnly makes the rest of a HEAD request's chain write headers but no body: the handler
// of the GET route, and the refusals (authentication, problems) before it.
func headOnly(c *gin.Context) {
	bodyless(c)
	c.Next()
}

// bodyless is headOnly's work: a HEAD request's writer drops the body.
func bodyless(c *gin.Context) {
	if c.Request.Method == http.MethodHead {
		c.Writer = bodylessWriter{c.Writer}
	}
}

// bodylessWriter drops what is written to the body, keeping status and headers.
type bodylessWriter struct{ gin.ResponseWriter }

func (w bodylessWriter) Write(p []byte) (int, error) {
	w.WriteHeaderNow()
	return len(p), nil
}

func (w bodylessWriter) WriteString(s string) (int, error) {
	w.WriteHeaderNow()
	return len(s), nil
}

// writeJSON answers with v as application/json, ending in a newline like every body.
func (s *Server) writeJSON(c *gin.Context, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		s.fail(c, fmt.Errorf("encode response: %w", err))
		return
	}
	writeJSONBody(c, status, append(body, '\n'))
}

func (s *Server) noRoute(c *gin.Context) {
	s.problem(c, answer{kind: kindOf(kindRouteNotFound), detail: "no route matches " + echo(c.Request.Method) + " " + echo(c.Request.URL.Path)})
}

func (s *Server) noMethod(c *gin.Context) {
	s.problem(c, answer{kind: kindOf(kindMethodNotAllowed),
		detail: echo(c.Request.Method) + " is not allowed here; allowed: " + c.Writer.Header().Get("Allow")})
}
