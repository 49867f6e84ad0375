package api

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/wire"
)

// authnFixture is a gin engine behind Authenticate, with a dev issuer in process.
type authnFixture struct {
	engine *gin.Engine
	issuer *auth.DevIssuer
	now    time.Time
}

func newAuthnFixture(t *testing.T) *authnFixture {
	t.Helper()
	f := &authnFixture{now: time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)}
	cfg := auth.DefaultConfig()
	cfg.Now = func() time.Time { return f.now }
	d, err := auth.NewDevIssuer(cfg, auth.DevKeyFile(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewDevVerifier(cfg, d)
	if err != nil {
		t.Fatal(err)
	}
	f.issuer = d
	policies := auth.RoutePolicies{
		{Method: "GET", Path: "/public"}:      auth.Public,
		{Method: "POST", Path: "/mine"}:       auth.Customer,
		{Method: "PATCH", Path: "/resources"}: auth.Operator,
		{Method: "GET", Path: "/cluster"}:     auth.Admin,
	}
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.Use(Authenticate(v, policies, slog.New(slog.NewTextHandler(io.Discard, nil))))
	whoami := func(c *gin.Context) {
		sub := "anonymous"
		if p := PrincipalOf(c); p != nil {
			sub = p.Subject
		}
		c.String(http.StatusOK, sub)
	}
	e.GET("/public", whoami)
	e.POST("/mine", whoami)
	e.PATCH("/resources", whoami)
	e.GET("/cluster", whoami)
	e.GET("/unlisted", whoami)
	e.NoRoute(func(c *gin.Context) { c.String(http.StatusNotFound, "no route") })
	f.engine = e
	if missing := policies.Missing(e); len(missing) != 1 || missing[0].Path != "/unlisted" {
		t.Fatalf("missing %v", missing)
	}
	return f
}

func (f *authnFixture) token(t *testing.T, spec auth.TokenSpec) string {
	t.Helper()
	if spec.TTL == 0 {
		spec.TTL = time.Hour
	}
	tok, err := f.issuer.Mint(spec)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestAuthenticate(t *testing.T) {
	f := newAuthnFixture(t)
	customer := "Bearer " + f.token(t, auth.TokenSpec{Subject: "u-1"})
	opNoMFA := "Bearer " + f.token(t, auth.TokenSpec{Subject: "o-1", Roles: []auth.Role{auth.RoleOperator}})
	operator := "Bearer " + f.token(t, auth.TokenSpec{Subject: "o-1", Roles: []auth.Role{auth.RoleOperator}, MFA: true})
	admin := "Bearer " + f.token(t, auth.TokenSpec{Subject: "a-1", Roles: []auth.Role{auth.RoleAdmin}, MFA: true})
	expired := "Bearer " + f.token(t, auth.TokenSpec{Subject: "u-1", TTL: time.Minute})
	f.now = f.now.Add(time.Hour - time.Minute) // the others still have a minute to go

	tests := []struct {
		name, method, path, authz string
		status                    int
		code, challenge, body     string
	}{
		{"anonymous browses", "GET", "/public", "", 200, "", "", "anonymous"},
		{"customer browses", "GET", "/public", customer, 200, "", "", "u-1"},
		{"expired token on a public route", "GET", "/public", expired, 401, booking.CodeUnauthenticated, `Bearer error="invalid_token"`, ""},
		{"anonymous holds", "POST", "/mine", "", 401, booking.CodeUnauthenticated, "Bearer", ""},
		{"customer holds", "POST", "/mine", customer, 200, "", "", "u-1"},
		{"lowercase scheme", "POST", "/mine", "bearer " + customer[len("Bearer "):], 200, "", "", "u-1"},
		{"garbage token", "POST", "/mine", "Bearer not.a.token", 401, booking.CodeUnauthenticated, `Bearer error="invalid_token"`, ""},
		{"empty bearer", "POST", "/mine", "Bearer ", 401, booking.CodeUnauthenticated, `Bearer error="invalid_token"`, ""},
		{"basic auth", "POST", "/mine", "Basic dTpw", 401, booking.CodeUnauthenticated, `Bearer error="invalid_token"`, ""},
		{"customer changes a resource", "PATCH", "/resources", customer, 403, booking.CodeForbidden, "", ""},
		{"operator without MFA", "PATCH", "/resources", opNoMFA, 403, booking.CodeMFARequired, "", ""},
		{"operator", "PATCH", "/resources", operator, 200, "", "", "o-1"},
		{"admin as operator", "PATCH", "/resources", admin, 200, "", "", "a-1"},
		{"operator on an admin route", "GET", "/cluster", operator, 403, booking.CodeForbidden, "", ""},
		{"admin", "GET", "/cluster", admin, 200, "", "", "a-1"},
		{"route without policy", "GET", "/unlisted", admin, 403, booking.CodeForbidden, "", ""},
		{"unknown path passes to 404", "GET", "/nowhere", "", 404, "", "", "no route"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(tt.method, tt.path, nil)
			if tt.authz != "" {
				req.Header.Set("Authorization", tt.authz)
			}
			rec := httptest.NewRecorder()
			f.engine.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != tt.challenge {
				t.Errorf("WWW-Authenticate %q, want %q", got, tt.challenge)
			}
			if tt.code == "" {
				if rec.Body.String() != tt.body {
					t.Errorf("body %q, want %q", rec.Body, tt.body)
				}
				return
			}
			if ct := rec.Header().Get("Content-Type"); ct != ProblemContentType {
				t.Errorf("content type %q", ct)
			}
			var p wire.Problem
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
				t.Fatal(err)
			}
			if p.Code != tt.code || p.Status != tt.status || p.Type != ProblemTypeBase+kindOf(tt.code).slug {
				t.Errorf("problem %+v, want code %s", p, tt.code)
			}
		})
	}
}

// An unknown key id while the issuer cannot be reached is the issuer's outage, not the
// client's fault: 503 with Retry-After, not 401 (which would send the app to sign in again).
func TestAuthenticateIssuerUnreachable(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	srv := httptest.NewUnstartedServer(nil)
	cfg := auth.DefaultConfig()
	cfg.Issuer = "http://" + srv.Listener.Addr().String()
	cfg.Now = func() time.Time { return now }
	d, err := auth.NewDevIssuer(cfg, auth.DevKeyFile(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = d.Handler()
	srv.Start()
	defer srv.Close()
	oidcCfg := cfg
	oidcCfg.Mode = auth.ModeOIDC
	v, err := auth.NewVerifier(t.Context(), oidcCfg)
	if err != nil {
		t.Fatal(err)
	}
	rotated, err := auth.NewDevIssuer(cfg, auth.DevKeyFile(t.TempDir())) // same issuer, new key
	if err != nil {
		t.Fatal(err)
	}
	token, err := rotated.Mint(auth.TokenSpec{Subject: "u-1", TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	srv.Close()
	now = now.Add(auth.DefaultKeyRefetchInterval)

	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.Use(Authenticate(v, auth.RoutePolicies{{Method: "GET", Path: "/mine"}: auth.Customer}, slog.New(slog.NewTextHandler(io.Discard, nil))))
	e.GET("/mine", func(c *gin.Context) { c.Status(http.StatusOK) })
	req := httptest.NewRequest("GET", "/mine", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" || rec.Header().Get("WWW-Authenticate") != "" {
		t.Fatalf("status %d, headers %v: %s", rec.Code, rec.Header(), rec.Body)
	}
}
