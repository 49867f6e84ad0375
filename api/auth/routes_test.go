package auth

import (
	"slices"
	"testing"

	"github.com/gin-gonic/gin"
)

func TestRoutePoliciesFindRoutesWithoutPolicy(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	h := func(*gin.Context) {}
	e.GET("/healthz", h)
	e.GET("/v1/resources/:rid", h)
	e.POST("/v1/resources", h)
	e.POST("/v1/resources/:rid/holds", h)
	policies := RoutePolicies{
		{"GET", "/healthz"}:            Public,
		{"GET", "/v1/resources/:rid"}:  Public,
		{"POST", "/v1/resources"}:      Operator,
		{"DELETE", "/v1/resources"}:    Admin, // no such route
		{"POST", "/v1/resources/:rid"}: 0,     // no policy is no entry
	}
	if got, want := policies.Missing(e), []Route{{"POST", "/v1/resources/:rid/holds"}}; !slices.Equal(got, want) {
		t.Fatalf("missing %v, want %v", got, want)
	}
	if got, want := policies.Stale(e), []Route{{"DELETE", "/v1/resources"}, {"POST", "/v1/resources/:rid"}}; !slices.Equal(got, want) {
		t.Fatalf("stale %v, want %v", got, want)
	}
	if p, ok := policies.Lookup("POST", "/v1/resources"); !ok || p != Operator {
		t.Fatalf("lookup: %v %v", p, ok)
	}
	if _, ok := policies.Lookup("POST", "/v1/resources/:rid"); ok {
		t.Fatal("a zero policy was found")
	}
	if s := (Route{"GET", "/x"}).String(); s != "GET /x" {
		t.Fatal(s)
	}
}
