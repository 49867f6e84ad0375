package auth

import (
	"sort"

	"github.com/gin-gonic/gin"
)

// Route is one method and gin path pattern, e.g. {"POST", "/v1/resources/:rid/holds"}.
type Route struct {
	Method string
	Path   string
}

func (r Route) String() string { return r.Method + " " + r.Path }

// RoutePolicies is the one table that says what every route requires. A route missing from it
// is refused to everyone (fail closed), and Missing lets a test fail first.
type RoutePolicies map[Route]Policy

// Lookup returns the policy of a route, by the method and the gin path pattern it matched
// (gin.Context.FullPath).
func (rp RoutePolicies) Lookup(method, path string) (Policy, bool) {
	p, ok := rp[Route{Method: method, Path: path}]
	return p, ok && p != 0
}

// Missing returns the routes of e that have no policy, sorted.
func (rp RoutePolicies) Missing(e *gin.Engine) []Route {
	var out []Route
	for _, ri := range e.Routes() {
		if _, ok := rp.Lookup(ri.Method, ri.Path); !ok {
			out = append(out, Route{Method: ri.Method, Path: ri.Path})
		}
	}
	sortRoutes(out)
	return out
}

// Stale returns the table's routes that e does not serve (a renamed or removed route), sorted.
func (rp RoutePolicies) Stale(e *gin.Engine) []Route {
	served := map[Route]bool{}
	for _, ri := range e.Routes() {
		served[Route{Method: ri.Method, Path: ri.Path}] = true
	}
	var out []Route
	for r := range rp {
		if !served[r] {
			out = append(out, r)
		}
	}
	sortRoutes(out)
	return out
}

func sortRoutes(rs []Route) {
	sort.Slice(rs, func(i, j int) bool {
		if rs[i].Path != rs[j].Path {
			return rs[i].Path < rs[j].Path
		}
		return rs[i].Method < rs[j].Method
	})
}
