package console

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/mount"
)

//go:embed static
var staticFS embed.FS

// Path is where the console is served.
const Path = "/console"

// Config configures the console.
type Config struct {
	// DevTokens shows the form to paste an `allot token` (the node runs auth in dev mode).
	DevTokens bool
	// Issuer, ClientID and Scopes configure the OIDC sign-in (authorization code + PKCE, a
	// public client): the issuer's discovery document names the endpoints. Empty Issuer: no
	// OIDC sign-in. The provider must allow <node URL>/console/ as a redirect URI and, for
	// the token request from the browser, the node's origin (CORS).
	Issuer   string
	ClientID string
	// Scopes is space-separated; default "openid".
	Scopes string
	// ConnectOrigins are origins besides the issuer's that the browser may call (a token
	// endpoint on another host), for the Content-Security-Policy.
	ConnectOrigins []string
}

// Console serves the console's files. Create it with New.
type Console struct {
	files  fs.FS
	config []byte
	csp    string
}

// New checks cfg and returns the console.
func New(cfg Config) (*Console, error) {
	if cfg.Scopes == "" {
		cfg.Scopes = "openid"
	}
	connect := []string{"'self'"}
	if cfg.Issuer != "" {
		u, err := url.Parse(cfg.Issuer)
		if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
			return nil, errors.New("console: Issuer must be an http(s) URL")
		}
		if cfg.ClientID == "" {
			return nil, errors.New("console: ClientID is required with an Issuer")
		}
		connect = append(connect, u.Scheme+"://"+u.Host)
	}
	for _, o := range cfg.ConnectOrigins {
		u, err := url.Parse(o)
		if err != nil || u.Host == "" || u.Path != "" || strings.ContainsAny(o, " ;'") {
			return nil, fmt.Errorf("console: connect origin %q is not an origin", o)
		}
		connect = append(connect, o)
	}
	files, err := fs.Sub(staticFS, "static")
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	type oidc struct {
		Issuer   string `json:"issuer"`
		ClientID string `json:"client_id"`
		Scopes   string `json:"scopes"`
	}
	body := struct {
		DevTokens bool  `json:"dev_tokens"`
		OIDC      *oidc `json:"oidc,omitempty"`
	}{DevTokens: cfg.DevTokens}
	if cfg.Issuer != "" {
		body.OIDC = &oidc{Issuer: cfg.Issuer, ClientID: cfg.ClientID, Scopes: cfg.Scopes}
	}
	conf, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("console: %w", err)
	}
	csp := "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; " +
		"connect-src " + strings.Join(connect, " ") + "; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
	return &Console{files: files, config: conf, csp: csp}, nil
}

// Routes are the console's routes, all public: the files hold no data.
func (c *Console) Routes() []mount.Route {
	return []mount.Route{
		{Method: http.MethodGet, Path: Path, Policy: auth.Public, Handler: c.redirect},
		{Method: http.MethodGet, Path: Path + "/*file", Policy: auth.Public, Handler: c.serve},
	}
}

// redirect sends /console to /console/, so that the page's relative URLs resolve under it.
func (c *Console) redirect(ctx *gin.Context) {
	ctx.Redirect(http.StatusMovedPermanently, Path+"/")
}

func (c *Console) serve(ctx *gin.Context) {
	name := strings.TrimPrefix(path.Clean("/"+ctx.Param("file")), "/")
	h := ctx.Writer.Header()
	h.Set("Content-Security-Policy", c.csp)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	switch name {
	case "":
		name = "index.html"
	case "config.json":
		h.Set("Cache-Control", "no-store")
		ctx.Data(http.StatusOK, "application/json", c.config)
		return
	}
	body, err := fs.ReadFile(c.files, name)
	if err != nil {
		ctx.Data(http.StatusNotFound, "text/plain; charset=utf-8", []byte("not found\n"))
		return
	}
	ct := mime.TypeByExtension(path.Ext(name))
	if path.Ext(name) == ".js" {
		ct = "text/javascript; charset=utf-8" // module scripts need a JavaScript type
	}
	if ct == "" {
		ct = "application/octet-stream"
	}
	// The files change with the binary: revalidate rather than cache across upgrades.
	h.Set("Cache-Control", "no-cache")
	ctx.Data(http.StatusOK, ct, body)
}
