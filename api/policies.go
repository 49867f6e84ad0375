package api

import (
	"net/http"

	"github.com/allot/allot/api/auth"
)

// Dev issuer paths the edge serves in dev mode (Config.WellKnown), so that any OIDC client or
// verifier can discover the node's own issuer and its key set.
const (
	DiscoveryPath = auth.DiscoveryPath
	JWKSPath      = auth.JWKSPath
)

// routePolicies is the one table of what every route requires (issue 11): anonymous callers
// may browse resources and availability and read the probes and the API description;
// everything else needs a token; operators (with a second factor) create and change resources
// and read their holds, any user's, the event log and the cluster's members (the console's
// cluster page); admin-only routes are the integrations' (webhooks). Ownership of a hold or a waitlist entry is checked by the handlers (holdOp,
// actingUser), since it depends on the hold or the entry, not on the route.
//
// Only GET routes are listed for reading; HEAD, which the router adds to every GET route,
// takes the GET route's policy (Policies). A route served by the router but missing here is
// refused to everyone (Authenticate fails closed), and TestEveryRouteHasAPolicy fails first.
// The dev issuer's two paths are served only in dev mode (Config.WellKnown); in oidc mode
// their entries match no route and are unused.
var routePolicies = auth.RoutePolicies{
	{Method: http.MethodGet, Path: HealthzPath}:   auth.Public,
	{Method: http.MethodGet, Path: ReadyzPath}:    auth.Public,
	{Method: http.MethodGet, Path: OpenAPIPath}:   auth.Public,
	{Method: http.MethodGet, Path: DiscoveryPath}: auth.Public,
	{Method: http.MethodGet, Path: JWKSPath}:      auth.Public,

	{Method: http.MethodPost, Path: "/v1/resources"}:                         auth.Operator,
	{Method: http.MethodGet, Path: "/v1/resources"}:                          auth.Public,
	{Method: http.MethodGet, Path: "/v1/resources/:rid"}:                     auth.Public,
	{Method: http.MethodPatch, Path: "/v1/resources/:rid"}:                   auth.Operator,
	{Method: http.MethodDelete, Path: "/v1/resources/:rid"}:                  auth.Operator,
	{Method: http.MethodGet, Path: "/v1/resources/:rid/availability"}:        auth.Public,
	{Method: http.MethodPost, Path: "/v1/resources/:rid/holds"}:              auth.Customer,
	{Method: http.MethodGet, Path: "/v1/resources/:rid/holds"}:               auth.Operator,
	{Method: http.MethodGet, Path: "/v1/resources/:rid/holds/:hid"}:          auth.Customer,
	{Method: http.MethodPost, Path: "/v1/resources/:rid/holds/:hid/confirm"}: auth.Customer,
	{Method: http.MethodPost, Path: "/v1/resources/:rid/holds/:hid/cancel"}:  auth.Customer,
	{Method: http.MethodPost, Path: "/v1/resources/:rid/holds/:hid/extend"}:  auth.Customer,
	{Method: http.MethodPost, Path: "/v1/resources/:rid/waitlist"}:           auth.Customer,
	{Method: http.MethodDelete, Path: "/v1/resources/:rid/waitlist/:eid"}:    auth.Customer,
	{Method: http.MethodGet, Path: "/v1/me/holds"}:                           auth.Customer,
	{Method: http.MethodGet, Path: "/v1/me/waitlist"}:                        auth.Customer,
	{Method: http.MethodGet, Path: "/v1/users/:uid/holds"}:                   auth.Operator,
	{Method: http.MethodGet, Path: "/v1/cluster/members"}:                    auth.Operator,
	{Method: http.MethodGet, Path: "/v1/events"}:                             auth.Operator,
}

// Policies returns the route policy table of the edge, with HEAD taking each GET route's
// policy. The caller may keep and modify the copy.
func Policies() auth.RoutePolicies {
	out := make(auth.RoutePolicies, 2*len(routePolicies))
	for r, p := range routePolicies {
		out[r] = p
		if r.Method == http.MethodGet {
			out[auth.Route{Method: http.MethodHead, Path: r.Path}] = p
		}
	}
	return out
}

// actsAsOperator reports whether p may act on other users' holds: an operator or admin whose
// token proves a second factor. An operator without one is treated as the customer they also
// are: their own holds only.
func actsAsOperator(p *auth.Principal) bool {
	// auth.Authorize(auth.Operator, p) == nil, without building the refusal it would return
	// for a customer on every hold (TestActsAsOperatorIsAuthorize checks they agree).
	return p != nil && p.MFA && (p.HasRole(auth.RoleOperator) || p.HasRole(auth.RoleAdmin))
}
