package console_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/console"
	"github.com/allot/allot/api/mount"
)

func mustConsole(t *testing.T, cfg console.Config) http.Handler {
	t.Helper()
	c, err := console.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	mount.Mount(e, c.Routes())
	return e
}

func serve(h http.Handler, target string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, target, nil))
	return w
}

func TestServesEmbeddedFiles(t *testing.T) {
	h := mustConsole(t, console.Config{DevTokens: true})
	for target, want := range map[string]string{
		"/console/":              "text/html; charset=utf-8",
		"/console/index.html":    "text/html; charset=utf-8",
		"/console/app.js":        "text/javascript; charset=utf-8",
		"/console/pages/live.js": "text/javascript; charset=utf-8",
		"/console/style.css":     "text/css; charset=utf-8",
		"/console/config.json":   "application/json",
	} {
		w := serve(h, target)
		if w.Code != 200 || w.Header().Get("Content-Type") != want {
			t.Errorf("%s: %d %q", target, w.Code, w.Header().Get("Content-Type"))
		}
		csp := w.Header().Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") ||
			w.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: headers %v", target, w.Header())
		}
	}
	if w := serve(h, "/console/nope.js"); w.Code != 404 {
		t.Errorf("missing file: %d", w.Code)
	}
	if w := serve(h, "/console/%2e%2e/console.go"); w.Code != 404 {
		t.Errorf("escape: %d", w.Code)
	}
	if w := serve(h, "/console"); w.Code != http.StatusMovedPermanently || w.Header().Get("Location") != "/console/" {
		t.Errorf("redirect: %d %s", w.Code, w.Header().Get("Location"))
	}
	if body := serve(h, "/console/config.json").Body.String(); body != `{"dev_tokens":true}` {
		t.Errorf("config: %s", body)
	}
	// No file refers to another origin: nothing is fetched from a CDN.
	for _, f := range []string{"/console/", "/console/app.js", "/console/style.css", "/console/pages/reports.js"} {
		if b := serve(h, f).Body.String(); strings.Contains(b, "https://") || strings.Contains(b, "//cdn") {
			t.Errorf("%s refers to another origin", f)
		}
	}
}

func TestOIDCConfig(t *testing.T) {
	h := mustConsole(t, console.Config{Issuer: "https://id.example.com/realms/allot", ClientID: "console", ConnectOrigins: []string{"https://tokens.example.com"}})
	w := serve(h, "/console/config.json")
	if w.Body.String() != `{"dev_tokens":false,"oidc":{"issuer":"https://id.example.com/realms/allot","client_id":"console","scopes":"openid"}}` {
		t.Fatalf("config: %s", w.Body)
	}
	if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "connect-src 'self' https://id.example.com https://tokens.example.com;") {
		t.Fatalf("csp: %s", csp)
	}
	for _, bad := range []console.Config{
		{Issuer: "id.example.com", ClientID: "x"},
		{Issuer: "https://id.example.com"},
		{ConnectOrigins: []string{"https://a.example.com/path"}},
		{ConnectOrigins: []string{"https://a.example.com; script-src *"}},
	} {
		if _, err := console.New(bad); err == nil {
			t.Errorf("accepted %+v", bad)
		}
	}
}

func TestRoutesArePublic(t *testing.T) {
	c, err := console.New(console.Config{})
	if err != nil {
		t.Fatal(err)
	}
	rp := auth.RoutePolicies{}
	mount.AddPolicies(rp, c.Routes())
	if len(rp) != 2 {
		t.Fatalf("routes %v", rp)
	}
	for r, p := range rp {
		if p != auth.Public || !strings.HasPrefix(r.Path, console.Path) {
			t.Errorf("%s: %s", r, p)
		}
	}
}
