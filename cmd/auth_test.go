package cmd

import (
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/client"
	"github.com/allot/allot/api/wire"
)

func TestConfigValidateAuth(t *testing.T) {
	for name, tc := range map[string]struct {
		mut  func(*NodeConfig)
		want string // "" means valid
	}{
		"dev single node":                  {func(c *NodeConfig) {}, ""},
		"dev with db-url needs a key":      {func(c *NodeConfig) { c.DBURL = "postgresql://x" }, "--key-file"},
		"dev with join needs a key":        {func(c *NodeConfig) { c.DBURL, c.Join = "postgresql://x", []string{"a:1"} }, "--key-file"},
		"dev cluster with a shared key":    {func(c *NodeConfig) { c.DBURL, c.KeyFile = "postgresql://x", "/k.pem" }, ""},
		"oidc needs an issuer":             {func(c *NodeConfig) { c.Auth = AuthOIDC }, "--oidc-issuer"},
		"oidc with an issuer":              {func(c *NodeConfig) { c.Auth, c.OIDCIssuer = AuthOIDC, "https://idp.example" }, ""},
		"oidc takes no dev key":            {func(c *NodeConfig) { c.Auth, c.OIDCIssuer, c.KeyFile = AuthOIDC, "https://idp.example", "/k.pem" }, "--key-file"},
		"unknown mode":                     {func(c *NodeConfig) { c.Auth = "none" }, "--auth"},
		"an audience is required":          {func(c *NodeConfig) { c.OIDCAudience = "" }, "--oidc-audience"},
		"oidc cluster needs no dev key":    {func(c *NodeConfig) { c.Auth, c.OIDCIssuer, c.DBURL = AuthOIDC, "https://idp.example", "postgresql://x" }, ""},
		"admin listener may be turned off": {func(c *NodeConfig) { c.AdminAddr = "" }, ""},
	} {
		c := DefaultNodeConfig()
		tc.mut(&c)
		err := c.validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want an error naming %s", name, err, tc.want)
		}
	}
	if c := DefaultNodeConfig(); c.Auth != AuthDev || c.AdminAddr != DefaultAdminAddr {
		t.Fatalf("defaults: auth %q, admin %q", c.Auth, c.AdminAddr)
	}
}

// TestNodeVerifiesAnExternalIssuer runs a node in oidc mode against an issuer it discovers
// over HTTP (a dev issuer's discovery document and key set on their own server, as a
// provider would serve them): its tokens are accepted, the dev issuer's well-known paths are
// not served by the node, and a token of another issuer is refused.
func TestNodeVerifiesAnExternalIssuer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := auth.DefaultConfig()
	cfg.Issuer, cfg.Audience = "http://"+ln.Addr().String(), "allot-api"
	idp, err := auth.NewDevIssuer(cfg, filepath.Join(t.TempDir(), "idp.pem"))
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: idp.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	m := MustRunMain(t, func(c *NodeConfig) {
		c.Auth, c.OIDCIssuer, c.OIDCAudience = AuthOIDC, cfg.Issuer, cfg.Audience
	})
	if m.DevIssuer() != nil {
		t.Fatal("a dev issuer in oidc mode")
	}
	op := idp.TokenSource(auth.TokenSpec{Subject: "o-1", Roles: []auth.Role{auth.RoleOperator}, MFA: true})
	c, err := client.New([]string{m.HTTPURL()}, client.WithTokenSource(op))
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseIdleConnections()
	ctx := t.Context()
	if _, _, err := c.CreateResource(ctx, wire.CreateResource{ID: "r1", Name: "r1", Buckets: map[string]int64{"all": 1}}); err != nil {
		t.Fatalf("create with the provider's operator token: %v", err)
	}
	if code, _ := httpGet(t, m.HTTPURL()+auth.DiscoveryPath); code != http.StatusNotFound {
		t.Fatalf("an oidc node serves a discovery document: %d", code)
	}
	// A token of another issuer (a dev issuer with the node's audience) is refused.
	other, err := auth.NewDevIssuer(auth.DefaultConfig(), filepath.Join(t.TempDir(), "other.pem"))
	if err != nil {
		t.Fatal(err)
	}
	u := other.TokenSource(auth.TokenSpec{Subject: "u-1"})
	_, _, err = c.With(client.WithTokenSource(u)).PlaceHold(ctx, "r1", "", wire.PlaceHold{Buckets: []string{"all"}, Quantity: 1})
	if client.StatusOf(err) != http.StatusUnauthorized {
		t.Fatalf("a foreign token: %v", err)
	}
}
