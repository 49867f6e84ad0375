package console_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/console"
)

// provider is an OpenID provider for the console's PKCE sign-in: discovery, an authorization
// endpoint that approves at once and redirects back with a code, and a token endpoint that
// hands out the token only for the right code_verifier (RFC 7636 S256). The token it issues
// comes from mint (the node's dev issuer, which the node's verifier trusts).
type provider struct {
	url  string
	mint func() string

	mu        sync.Mutex
	challenge map[string]string // code -> code_challenge
	redirects []string
	exchanged int
}

func newProvider(t *testing.T) *provider {
	p := &provider{challenge: map[string]string{}}
	mux := http.NewServeMux()
	cors := func(w http.ResponseWriter) { w.Header().Set("Access-Control-Allow-Origin", "*") }
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		cors(w)
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": p.url, "authorization_endpoint": p.url + "/authorize",
			"token_endpoint": p.url + "/token"})
	})
	mux.HandleFunc("GET /authorize", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("response_type") != "code" || q.Get("client_id") != "allot-console" || q.Get("code_challenge_method") != "S256" ||
			len(q.Get("code_challenge")) != 43 || q.Get("state") == "" {
			http.Error(w, "bad authorization request", http.StatusBadRequest)
			return
		}
		p.mu.Lock()
		p.challenge["code-1"] = q.Get("code_challenge")
		p.redirects = append(p.redirects, q.Get("redirect_uri"))
		p.mu.Unlock()
		back, _ := url.Parse(q.Get("redirect_uri"))
		back.RawQuery = url.Values{"code": {"code-1"}, "state": {q.Get("state")}}.Encode()
		http.Redirect(w, r, back.String(), http.StatusFound)
	})
	mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		cors(w)
		if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "authorization_code" {
			http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
			return
		}
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		p.mu.Lock()
		want, ok := p.challenge[r.PostForm.Get("code")]
		delete(p.challenge, r.PostForm.Get("code"))
		p.mu.Unlock()
		if !ok || base64.RawURLEncoding.EncodeToString(sum[:]) != want {
			http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
			return
		}
		p.mu.Lock()
		p.exchanged++
		p.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"access_token": p.mint(), "token_type": "Bearer"})
	})
	p.url = httpServer(t, mux)
	return p
}

// TestConsoleOIDCSignIn signs in through the provider with the authorization code flow and
// PKCE, as the console's oidc.js does it, and lands on the cluster page.
func TestConsoleOIDCSignIn(t *testing.T) {
	p := newProvider(t)
	n := mustNodeWith(t, console.Config{Issuer: p.url, ClientID: "allot-console"}, 0)
	p.mint = func() string { return n.token(t, "ops-oidc", true, auth.RoleOperator) }
	ctx := mustBrowser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(n.url+"/console/")); err != nil {
		t.Fatal(err)
	}
	waitVisible(t, ctx, "#oidc-start")
	if v, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.getElementById("token-form").hidden`)); !v {
		t.Fatal("the token form is shown without dev tokens")
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS("#oidc-start"))); err != nil {
		t.Fatal(err)
	}
	waitText(t, ctx, "#members-count", "1")
	waitText(t, ctx, "#who-name", "ops-oidc (operator, MFA)")
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exchanged != 1 || len(p.redirects) != 1 || p.redirects[0] != n.url+"/console/" {
		t.Fatalf("exchanges %d, redirects %v", p.exchanged, p.redirects)
	}
	if loc, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`location.search`)); loc != "" {
		t.Fatalf("the code stayed in the address bar: %q", loc)
	}
}
