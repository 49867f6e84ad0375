package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/allot/allot/api/auth"
)

// principalEngine is a gin engine behind authenticate with hook as Config.OnPrincipal, and
// the dev issuer that mints its tokens.
func principalEngine(tb testing.TB, hook func(context.Context, *auth.Principal)) (*gin.Engine, *auth.DevIssuer) {
	tb.Helper()
	cfg := auth.DefaultConfig()
	d, err := auth.NewDevIssuer(cfg, auth.DevKeyFile(tb.TempDir()))
	if err != nil {
		tb.Fatal(err)
	}
	v, err := auth.NewDevVerifier(cfg, d)
	if err != nil {
		tb.Fatal(err)
	}
	policies := auth.RoutePolicies{
		{Method: "GET", Path: "/public"}:      auth.Public,
		{Method: "GET", Path: "/mine"}:        auth.Customer,
		{Method: "POST", Path: "/mine"}:       auth.Customer,
		{Method: "DELETE", Path: "/mine"}:     auth.Customer,
		{Method: "PATCH", Path: "/resources"}: auth.Operator,
	}
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.Use(authenticate(v, policies, slog.New(slog.NewTextHandler(io.Discard, nil)), hook))
	ok := func(c *gin.Context) { c.Status(http.StatusNoContent) }
	e.GET("/public", ok)
	e.GET("/mine", ok)
	e.POST("/mine", ok)
	e.DELETE("/mine", ok)
	e.PATCH("/resources", ok)
	return e, d
}

// TestOnPrincipal: the hook hears of every authorized state-changing request once, with its
// verified principal, before the handler; not of reads, anonymous calls, bad tokens or
// requests the route's policy refuses.
func TestOnPrincipal(t *testing.T) {
	var mu sync.Mutex
	var heard []string
	e, d := principalEngine(t, func(_ context.Context, p *auth.Principal) {
		mu.Lock()
		defer mu.Unlock()
		heard = append(heard, p.Subject+" "+p.Email)
	})
	mint := func(spec auth.TokenSpec) string {
		spec.TTL = time.Hour
		tok, err := d.Mint(spec)
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + tok
	}
	u1 := mint(auth.TokenSpec{Subject: "u-1", Email: "u1@example.com"})
	for _, r := range []struct {
		method, path, authz string
		status              int
		heard               string
	}{
		{"GET", "/public", u1, 204, ""},
		{"GET", "/mine", u1, 204, ""},
		{"HEAD", "/mine", u1, 404, ""}, // no HEAD route here; the edge's headOnly maps HEAD to GET
		{"POST", "/mine", "", 401, ""},
		{"POST", "/mine", u1 + "x", 401, ""},
		{"PATCH", "/resources", u1, 403, ""},
		{"POST", "/mine", u1, 204, "u-1 u1@example.com"},
		{"DELETE", "/mine", u1, 204, "u-1 u1@example.com"},
	} {
		heard = nil
		req := httptest.NewRequest(r.method, r.path, nil)
		if r.authz != "" {
			req.Header.Set("Authorization", r.authz)
		}
		w := httptest.NewRecorder()
		e.ServeHTTP(w, req)
		want := []string{}
		if r.heard != "" {
			want = append(want, r.heard)
		}
		if w.Code != r.status || len(heard) != len(want) || len(want) == 1 && heard[0] != want[0] {
			t.Errorf("%s %s: %d, hook heard %q; want %d, %q", r.method, r.path, w.Code, heard, r.status, want)
		}
	}
}

// BenchmarkAuthenticate measures the hook's cost on the hot path: a customer's POST with a
// cached token, without a hook and with one that does what the node's does on its common
// path (a lock and a map lookup: notify.ContactBook.Remember of an unchanged contact is
// measured in api/notify).
func BenchmarkAuthenticate(b *testing.B) {
	var mu sync.Mutex
	seen := map[string]string{}
	for _, bc := range []struct {
		name string
		hook func(context.Context, *auth.Principal)
	}{
		{"no-hook", nil},
		{"hook", func(_ context.Context, p *auth.Principal) {
			mu.Lock()
			seen[p.Subject] = p.Email
			mu.Unlock()
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			e, d := principalEngine(b, bc.hook)
			tok, err := d.Mint(auth.TokenSpec{Subject: "u-1", Email: "u1@example.com", TTL: time.Hour})
			if err != nil {
				b.Fatal(err)
			}
			req := httptest.NewRequest("POST", "/mine", nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				e.ServeHTTP(w, req)
				if w.Code != http.StatusNoContent {
					b.Fatal(w.Code)
				}
			}
		})
	}
}
