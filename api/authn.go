package api

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/api/auth"
)

// principalKey is the gin context key of the caller's *auth.Principal when the edge's chain
// did not start the request (Authenticate on its own); the edge keeps it in its edgeState.
const principalKey = "allot.principal"

// Authenticate returns the middleware that authenticates and authorizes every matched route
// by its policy in policies: it verifies the bearer token, if any, checks the route's policy
// and stores the caller's principal for PrincipalOf. Refusals are problem+json: 401
// unauthenticated with WWW-Authenticate (error="invalid_token" when a token was sent), 403
// forbidden or mfa_required; an issuer that cannot be reached is 503. A token that is sent is
// verified even on a public route: a client with a bad token learns it at once. A matched
// route with no policy is refused (fail closed) and logged as a bug; unmatched paths pass on
// to the 404 and 405 handlers.
func Authenticate(v *auth.Verifier, policies auth.RoutePolicies, log *slog.Logger) gin.HandlerFunc {
	return authenticate(v, policies, log, nil)
}

// authenticate is Authenticate with the Config.OnPrincipal hook: onPrincipal, if set, is
// called with the verified principal of every authorized state-changing request (not GET,
// HEAD or OPTIONS), once, before the handler runs.
func authenticate(v *auth.Verifier, policies auth.RoutePolicies, log *slog.Logger, onPrincipal func(context.Context, *auth.Principal)) gin.HandlerFunc {
	if log == nil {
		log = slog.Default()
	}
	return func(c *gin.Context) {
		route := c.FullPath()
		if route == "" {
			c.Next()
			return
		}
		policy, ok := policies.Lookup(c.Request.Method, route)
		if !ok {
			log.LogAttrs(c.Request.Context(), slog.LevelError, "route has no auth policy",
				slog.String("method", c.Request.Method), slog.String("route", route))
		}
		var principal *auth.Principal
		raw, sent := bearerToken(c.Request.Header.Get("Authorization"))
		if sent {
			p, err := v.Verify(c.Request.Context(), raw)
			if err != nil {
				refuseRequest(c, err)
				return
			}
			principal = p
			// Set before authorizing, so that the audit trail names the subject of a refusal
			// too; nothing after a refusal runs but the middleware around this one.
			setPrincipal(c, principal)
		}
		if err := auth.Authorize(policy, principal); err != nil {
			refuseRequest(c, err)
			return
		}
		if onPrincipal != nil && principal != nil && changes(c.Request.Method) {
			onPrincipal(c.Request.Context(), principal)
		}
		c.Next()
	}
}

// changes reports whether a request of method may change state: everything but the safe
// methods a GET route serves.
func changes(method string) bool {
	return method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions
}

// PrincipalOf returns the caller's principal, or nil for an anonymous caller.
func PrincipalOf(c *gin.Context) *auth.Principal {
	if st := stateOf(c); st != nil {
		return st.principal
	}
	p, _ := c.Get(principalKey)
	principal, _ := p.(*auth.Principal)
	return principal
}

// bearerToken reads an Authorization header. sent is true whenever the header is present, so
// that a header of another scheme, or an empty token, is refused rather than ignored.
func bearerToken(header string) (token string, sent bool) {
	if header == "" {
		return "", false
	}
	scheme, token, _ := strings.Cut(header, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", true
	}
	return strings.TrimSpace(token), true
}

// refuseRequest answers a refusal from auth: 401 with its WWW-Authenticate challenge (RFC
// 6750), 403, or 503 when the issuer could not be reached.
func refuseRequest(c *gin.Context, err error) {
	if booking.ErrorCode(err) == booking.CodeUnauthenticated {
		challenge := "Bearer" // no credentials: the challenge names no error
		if c.Request.Header.Get("Authorization") != "" {
			challenge = `Bearer error="invalid_token"`
		}
		c.Header("WWW-Authenticate", challenge)
	}
	writeProblem(c, answerFor(err))
}
