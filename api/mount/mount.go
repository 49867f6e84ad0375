// Package mount is how packages outside api hand their routes to the HTTP edge: each route
// with the auth policy it declares, so that api.Server mounts them and adds them to its one
// auth.RoutePolicies table.
package mount

import (
	"github.com/gin-gonic/gin"

	"github.com/allot/allot/api/auth"
)

// Route is one route: method, gin path pattern, the policy it requires, and its handler.
type Route struct {
	Method  string
	Path    string
	Policy  auth.Policy
	Handler gin.HandlerFunc
}

// Mount registers routes on r.
func Mount(r gin.IRoutes, routes []Route) {
	for _, rt := range routes {
		r.Handle(rt.Method, rt.Path, rt.Handler)
	}
}

// AddPolicies records the routes' policies in rp.
func AddPolicies(rp auth.RoutePolicies, routes []Route) {
	for _, rt := range routes {
		rp[auth.Route{Method: rt.Method, Path: rt.Path}] = rt.Policy
	}
}
