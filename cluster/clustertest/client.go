package clustertest

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"

	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/client"
	"github.com/allot/allot/api/wire"
)

// Client is the harness's way of calling Allot's HTTP API: api/client, retrying 429, 503
// and transport errors (honouring Retry-After, capped) with the same Idempotency-Key like a
// well-behaved mobile app, addressed per call by a node's base URL. Its helpers hand a 4xx
// problem back as a value, since tests assert on it. It carries dev tokens: a hold is placed
// with a token of its user, everything else with AdminSubject's (see tokens).
type Client struct {
	MaxRetries int           // retries after the first attempt; default 20
	MaxBackoff time.Duration // cap on one wait; default 500ms
	// Failover, when set, lists the nodes a call's retries may go to after the named one, as a
	// load balancer in front of the cluster would: a node being restarted refuses
	// connections for longer than a few retries take. Nil: every attempt goes to the named node.
	// Set it before the client is used concurrently.
	Failover func() []string

	api    *client.Client // without base URLs of its own: every call names its node
	tokens *tokens
}

// NewClient returns a client whose every attempt times out after timeout and whose tokens
// issuer mints (DevIssuer); a nil issuer sends no tokens (anonymous).
func NewClient(timeout time.Duration, issuer *auth.DevIssuer) *Client {
	hc := &http.Client{Timeout: timeout, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	api, err := client.New([]string{"http://127.0.0.1"}, client.WithHTTPClient(hc), client.WithUserAgent("allot-clustertest"))
	if err != nil {
		panic(err) // a constant base URL
	}
	c := &Client{MaxRetries: 20, MaxBackoff: 500 * time.Millisecond, api: api}
	if issuer != nil {
		c.tokens = &tokens{issuer: issuer, subs: map[string]*auth.DevTokenSource{}}
	}
	return c
}

// API returns the typed client of the node at base, with c's retries, acting as
// AdminSubject.
func (c *Client) API(base string) *client.Client {
	if c.tokens == nil {
		return c.apiAs(base, nil)
	}
	return c.apiAs(base, c.tokens.admin())
}

// APIAsUser returns the typed client of the node at base acting as the customer user.
func (c *Client) APIAsUser(base, user string) *client.Client {
	if c.tokens == nil {
		return c.apiAs(base, nil)
	}
	return c.apiAs(base, c.tokens.forUser(user))
}

func (c *Client) apiAs(base string, ts client.TokenSource) *client.Client {
	if ts == nil {
		ts = client.StaticToken("")
	}
	bases := []string{base}
	if c.Failover != nil {
		for _, b := range c.Failover() {
			if b != base {
				bases = append(bases, b)
			}
		}
	}
	// The first attempt goes to base; each retry to a node picked at random (this derived
	// client serves one call, on one goroutine).
	first := true
	pick := func(n int) int {
		if first {
			first = false
			return 0
		}
		return rand.IntN(n)
	}
	return c.api.With(client.WithBaseURLs(bases...), client.WithPicker(pick), client.WithTokenSource(ts), client.WithRetry(client.Retry{
		MaxAttempts: c.MaxRetries + 1,
		MaxWait:     c.MaxBackoff,
		Backoff:     func(n int) time.Duration { return 50 * time.Millisecond * time.Duration(n+1) },
	}))
}

// ErrStatus is returned by the helpers for an unexpected status.
var ErrStatus = errors.New("unexpected status")

// Do sends one request to rawURL (a node's base URL and a path), retrying retryable answers;
// idemKey may be empty, body is JSON-encoded (a []byte is sent as it is). When the retries run
// out on a 429 or 503, it returns that last answer together with an error.
func (c *Client) Do(ctx context.Context, method, rawURL, idemKey string, body any) (*client.Response, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	r, err := c.API(u.Scheme+"://"+u.Host).Do(ctx, method, u.RequestURI(), idemKey, body)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("gave up after %d retries: %w", r.Attempts-1, err)
	}
	if r.Status == http.StatusTooManyRequests || r.Status == http.StatusServiceUnavailable {
		return r, fmt.Errorf("gave up after %d retries: %s %s: %d %s", r.Attempts-1, method, rawURL, r.Status, r.Body)
	}
	return r, nil
}

// CreateResource creates a resource with the given buckets (409 already_exists is success).
func (c *Client) CreateResource(ctx context.Context, base, id string, buckets map[string]int64, ttl string) error {
	_, _, err := c.API(base).CreateResource(ctx, wire.CreateResource{ID: id, Name: "test " + id, Buckets: buckets, HoldTTL: ttl})
	var e *client.Error
	switch {
	case err == nil || client.ErrorCode(err) == "already_exists":
		return nil
	case errors.As(err, &e):
		return fmt.Errorf("%w: create %s: %v", ErrStatus, id, err)
	default:
		return err
	}
}

// PlaceHold asks for a hold as user. It returns the hold on 201, or the problem for a 4xx.
func (c *Client) PlaceHold(ctx context.Context, base, rid, idemKey, user string, buckets []string, qty int64) (*wire.Hold, *wire.Problem, error) {
	h, _, err := c.APIAsUser(base, user).PlaceHold(ctx, rid, idemKey, wire.PlaceHold{Buckets: buckets, Quantity: qty, UserID: user})
	return holdOrProblem(h, err)
}

// Transition confirms ("confirm") or cancels ("cancel") a hold.
func (c *Client) Transition(ctx context.Context, base, rid, hid, op string) (*wire.Hold, *wire.Problem, error) {
	var h wire.Hold
	var err error
	switch op {
	case "confirm":
		h, _, err = c.API(base).ConfirmHold(ctx, rid, hid)
	case "cancel":
		h, _, err = c.API(base).CancelHold(ctx, rid, hid)
	default:
		return nil, nil, fmt.Errorf("transition %q: want confirm or cancel", op)
	}
	return holdOrProblem(h, err)
}

// Availability reads a resource's buckets.
func (c *Client) Availability(ctx context.Context, base, rid string) (*wire.Availability, error) {
	a, _, err := c.API(base).Availability(ctx, rid)
	if err != nil {
		if client.StatusOf(err) != 0 {
			return nil, fmt.Errorf("%w: availability %s: %v", ErrStatus, rid, err)
		}
		return nil, err
	}
	return &a, nil
}

// holdOrProblem splits the outcome of a hold call: the hold, a 4xx problem (429 once the
// retries ran out is an error), or an error.
func holdOrProblem(h wire.Hold, err error) (*wire.Hold, *wire.Problem, error) {
	if err == nil {
		return &h, nil, nil
	}
	var e *client.Error
	if errors.As(err, &e) && e.Status >= 400 && e.Status < 500 && e.Status != http.StatusTooManyRequests && e.Problem != nil {
		return nil, e.Problem, nil
	}
	if errors.As(err, &e) {
		return nil, nil, fmt.Errorf("%w: %v", ErrStatus, err)
	}
	return nil, nil, err
}

// AliveMembers is the number of members the node at base sees alive.
func (c *Client) AliveMembers(ctx context.Context, base string) (int, error) {
	ms, _, err := c.API(base).Members(ctx)
	if err != nil {
		return 0, err
	}
	return CountAlive(ms), nil
}

// CountAlive counts the members of ms with status alive.
func CountAlive(ms wire.MemberList) int {
	n := 0
	for _, m := range ms.Members {
		if m.Status == "alive" {
			n++
		}
	}
	return n
}
