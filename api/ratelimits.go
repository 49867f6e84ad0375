package api

import (
	"fmt"

	"github.com/gin-gonic/gin"

	"github.com/allot/allot/api/ratelimit"
)

// edgeLimits is the edge's abuse control (api/ratelimit) as the server installs it: the
// failed-authentication budget per client IP before tokens are checked, the caller's own
// budget (per subject when signed in, per client IP otherwise) after, and the stricter
// hold-creation budget on POST /v1/resources/:rid/holds. The probes (/healthz, /readyz) are
// never limited: an orchestrator polling them from one address must not be refused. Without
// Config.RateLimits every middleware only calls c.Next.
type edgeLimits struct {
	authFailures, requests, holds gin.HandlerFunc
}

// newEdgeLimits builds the middlewares from cfg.RateLimits, on the server's registry and
// clock unless the rate-limit configuration names its own.
func (s *Server) newEdgeLimits() (edgeLimits, error) {
	pass := func(c *gin.Context) { c.Next() }
	if s.cfg.RateLimits == nil {
		return edgeLimits{pass, pass, pass}, nil
	}
	rc := *s.cfg.RateLimits
	if rc.Registerer == nil {
		rc.Registerer = s.cfg.Registerer
	}
	sameClock := rc.Now == nil
	if sameClock {
		rc.Now = s.cfg.Now
	}
	limits, err := ratelimit.New(rc)
	if err != nil {
		return edgeLimits{}, fmt.Errorf("%w: rate limits: %w", ErrConfig, err)
	}
	key := limitKey(limits.ClientIP, sameClock) // edgestate.go: KeyBy, the client address and time found once
	return edgeLimits{
		authFailures: exceptProbes(limits.Middleware(ratelimit.ClassAuthFailures, key, s.fail)),
		requests:     exceptProbes(limits.Middleware(ratelimit.ClassRequests, key, s.fail)),
		holds:        limits.Middleware(ratelimit.ClassHolds, key, s.fail),
	}, nil
}

// exceptProbes runs mw on every request but the health probes'.
func exceptProbes(mw gin.HandlerFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		switch c.FullPath() {
		case HealthzPath, ReadyzPath:
			c.Next()
		default:
			mw(c)
		}
	}
}
