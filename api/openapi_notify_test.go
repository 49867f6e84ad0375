package api

import (
	"fmt"
	"strings"
	"testing"

	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/notify"
)

// TestOpenAPINotifyPolicies: each route the notification service mounts is documented with
// its policy as x-allot-policy and a matching security requirement (as
// TestOpenAPISecurityMatchesPolicies checks the server's own routes).
func TestOpenAPINotifyPolicies(t *testing.T) {
	doc := mustOpenAPI(t)
	routes := notify.NewHandlers(nil, nil, nil).Routes()
	for _, r := range routes {
		path := r.Path
		for _, seg := range strings.Split(path, "/") {
			if strings.HasPrefix(seg, ":") {
				path = strings.Replace(path, seg, "{"+seg[1:]+"}", 1)
			}
		}
		op, _ := doc.Paths[path][strings.ToLower(r.Method)].(map[string]any)
		if op == nil {
			t.Errorf("%s %s: not documented", r.Method, path)
			continue
		}
		if got := fmt.Sprint(op["x-allot-policy"]); got != r.Policy.String() {
			t.Errorf("%s %s: x-allot-policy %s, want %s", r.Method, path, got, r.Policy)
		}
		sec := fmt.Sprint(op["security"])
		if (r.Policy == auth.Public) != (sec == "[]") || (r.Policy != auth.Public && !strings.Contains(sec, "bearer")) {
			t.Errorf("%s %s: security %s for policy %s", r.Method, path, sec, r.Policy)
		}
	}
	if len(routes) < 8 {
		t.Fatalf("only %d notification routes", len(routes))
	}
}
