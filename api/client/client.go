package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
)

// ErrConfig is wrapped by every error New returns for unusable arguments.
var ErrConfig = errors.New("client: invalid config")

// TokenSource supplies the bearer token of each attempt (sent as "Authorization: Bearer
// <token>"); an empty token sends no Authorization header.
//
// Thread-safety: Token is called concurrently by every call in flight, once per attempt, so
// that a refreshed token is picked up by a retry.
//
// Errors: an error fails the call before anything is sent; it is returned wrapped and is not
// retried. Token honours ctx.
type TokenSource interface {
	Token(ctx context.Context) (string, error)
}

// StaticToken is a TokenSource that always returns the same token.
type StaticToken string

// Token returns the token.
func (t StaticToken) Token(context.Context) (string, error) { return string(t), nil }

// Client speaks Allot's HTTP API. Build it with New; derive variants with With. It is safe
// for concurrent use.
type Client struct {
	hc        *http.Client
	bases     []string
	baseErr   error          // of the last WithBaseURLs; reported by New and With
	next      *atomic.Uint64 // round-robin position, shared by the clients With derives
	pick      func(n int) int
	token     TokenSource
	retry     *Retry
	userAgent string
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the *http.Client every request goes through (its Transport, Timeout
// and Jar apply). Default: http.DefaultClient.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) { c.hc = hc }
}

// WithToken sends "Authorization: Bearer token" on every request.
func WithToken(token string) Option {
	return WithTokenSource(StaticToken(token))
}

// WithTokenSource asks ts for the bearer token of every attempt. Nil removes it.
func WithTokenSource(ts TokenSource) Option {
	return func(c *Client) { c.token = ts }
}

// WithRetry retries calls as r says. Without it every call is a single attempt.
func WithRetry(r Retry) Option {
	return func(c *Client) { c.retry = &r }
}

// WithoutRetry makes every call a single attempt (to undo a WithRetry in With).
func WithoutRetry() Option {
	return func(c *Client) { c.retry = nil }
}

// WithPicker chooses the base URL of each attempt: pick(n) returns an index in [0, n). It is
// called by concurrent calls unless the Client is used by one goroutine only (give each
// goroutine its own derived Client, see With, when pick is not safe for concurrent use).
// Default: round robin.
func WithPicker(pick func(n int) int) Option {
	return func(c *Client) { c.pick = pick }
}

// WithUserAgent sets the User-Agent header. Default: "allot-client".
func WithUserAgent(ua string) Option {
	return func(c *Client) { c.userAgent = ua }
}

// WithBaseURLs replaces the base URLs (see New): c.With(WithBaseURLs(other)) is a client of
// another node that shares c's connections and settings.
func WithBaseURLs(baseURLs ...string) Option {
	return func(c *Client) { c.bases, c.baseErr = parseBases(baseURLs) }
}

func parseBases(baseURLs []string) ([]string, error) {
	if len(baseURLs) == 0 {
		return nil, fmt.Errorf("%w: no base URL", ErrConfig)
	}
	out := make([]string, 0, len(baseURLs))
	for _, b := range baseURLs {
		u, err := url.Parse(b)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("%w: base URL %q is not an absolute http(s) URL", ErrConfig, b)
		}
		out = append(out, strings.TrimSuffix(b, "/"))
	}
	return out, nil
}

// New returns a client of the nodes at baseURLs ("http://127.0.0.1:8080"; a trailing slash
// is ignored). At least one base URL is required; each must be an absolute http or https URL.
func New(baseURLs []string, opts ...Option) (*Client, error) {
	c := &Client{hc: http.DefaultClient, next: new(atomic.Uint64), userAgent: "allot-client"}
	c.bases, c.baseErr = parseBases(baseURLs)
	for _, o := range opts {
		o(c)
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	return c, nil
}

// check reports what New and With refuse.
func (c *Client) check() error {
	if c.baseErr != nil {
		return c.baseErr
	}
	if c.hc == nil {
		return fmt.Errorf("%w: nil *http.Client", ErrConfig)
	}
	return c.retry.validate()
}

// With returns a copy of c with opts applied. The copy shares c's *http.Client (and so its
// connections) and round-robin position. It panics on options New would refuse (no or a bad
// base URL, a nil *http.Client, an invalid Retry): they are programming errors.
func (c *Client) With(opts ...Option) *Client {
	d := *c
	for _, o := range opts {
		o(&d)
	}
	if err := d.check(); err != nil {
		panic(err)
	}
	return &d
}

// BaseURLs returns the base URLs the client sends to.
func (c *Client) BaseURLs() []string { return append([]string(nil), c.bases...) }

// HTTPClient returns the *http.Client the client sends through.
func (c *Client) HTTPClient() *http.Client { return c.hc }

// CloseIdleConnections closes the idle connections of the client's *http.Client.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// base returns the base URL of the next attempt.
func (c *Client) base() string {
	n := len(c.bases)
	if n == 1 {
		return c.bases[0]
	}
	if c.pick != nil {
		return c.bases[c.pick(n)]
	}
	return c.bases[(c.next.Add(1)-1)%uint64(n)]
}
