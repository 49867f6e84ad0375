package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"net/http"
	"strings"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/api/client"
	"github.com/allot/allot/api/wire"
)

// Endpoint is a node's HTTP base URL with its name.
type Endpoint struct {
	Name string
	URL  string
}

// Client sends one logical operation as a series of attempts, each to a node picked at
// random (as a load balancer in front of the cluster would), with the same Idempotency-Key,
// until an answer that is not retryable or until Budget is spent. Retryable: transport errors
// and timeouts, 429, and 5xx. Retry-After is honoured, capped at MaxBackoff. The HTTP side is
// api/client's; this type adds what the history records (node, uncertainty).
type Client struct {
	Endpoints      []Endpoint
	AttemptTimeout time.Duration
	Budget         time.Duration
	MaxBackoff     time.Duration

	api   *client.Client
	names map[string]string // base URL -> endpoint name
}

// NewClient returns a client of the given endpoints.
//
// tokens supplies the bearer token of every request (Testbed.Tokens: an operator with a
// second factor, who places holds on behalf of the workload's users and is shown
// X-Allot-Owner, which the checks need).
func NewClient(eps []Endpoint, attemptTimeout, budget time.Duration, tokens client.TokenSource) *Client {
	hc := &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     30 * time.Second,
	}}
	c := &Client{
		Endpoints:      eps,
		AttemptTimeout: attemptTimeout,
		Budget:         budget,
		MaxBackoff:     250 * time.Millisecond,
		names:          map[string]string{},
	}
	urls := make([]string, len(eps))
	for i, ep := range eps {
		urls[i] = ep.URL
		c.names[strings.TrimSuffix(ep.URL, "/")] = ep.Name
	}
	api, err := client.New(urls, client.WithHTTPClient(hc), client.WithUserAgent("allot-chaos"), client.WithTokenSource(tokens))
	if err != nil {
		panic(fmt.Sprintf("chaos: endpoints %v: %v", urls, err)) // the testbed's own URLs
	}
	c.api = api
	return c
}

// Close releases idle connections.
func (c *Client) Close() { c.api.CloseIdleConnections() }

// answer is the final answer of an operation.
type answer struct {
	status int
	body   []byte
	node   string
	owner  string
	tries  int
	err    error // set when the budget ran out (the outcome is unknown)
	// uncertain: some attempt ended without a definite answer (timeout, transport error,
	// 5xx); 429 is definite (not processed).
	uncertain bool
	// stale: the answer carried X-Allot-Stale (a read or refusal from memory that the owner
	// could not confirm: the API promises it is current no more).
	stale bool
	// replayed: the answer carried Idempotent-Replayed.
	replayed bool
}

// Do runs the operation (method, path, body) through random endpoints. The rng is the
// caller's (clients are single goroutines).
func (c *Client) Do(ctx context.Context, rng *rand.Rand, method, path, idemKey string, body any) answer {
	var a answer
	api := c.api.With(client.WithPicker(rng.Intn), client.WithRetry(client.Retry{
		Budget:         c.Budget,
		AttemptTimeout: c.AttemptTimeout,
		MaxWait:        c.MaxBackoff,
		Retryable:      client.RetryServerErrors,
		Backoff:        func(n int) time.Duration { return 20 * time.Millisecond * time.Duration(min(n+1, 10)) },
		Jitter:         func(d time.Duration) time.Duration { return d + time.Duration(rng.Int63n(int64(d)/2+1)) },
		OnAttempt: func(at client.Attempt) {
			a.uncertain = a.uncertain || at.Err != nil || at.Status >= 500
		},
	}))
	r, err := api.Do(ctx, method, path, idemKey, body)
	if r == nil { // the request could not be built
		a.err = err
		return a
	}
	name := c.names[r.Base]
	a.tries, a.status = r.Attempts, r.Status
	switch {
	case err != nil:
		a.err = fmt.Errorf("%s: %w", name, err)
	case r.Status == http.StatusTooManyRequests || r.Status >= 500:
		a.err = fmt.Errorf("%s: %d %s", name, r.Status, bytes.TrimSpace(r.Body))
	default:
		a.body, a.node, a.owner, a.stale, a.replayed = r.Body, name, r.Owner, r.Stale, r.Replayed
	}
	return a
}

// fill records the answer into op: result, status or availability, problem code.
func (a answer) fill(op *Op, okStatus int) {
	op.Node, op.Owner, op.Tries, op.HTTP, op.Uncertain = a.node, a.owner, a.tries, a.status, a.uncertain
	op.Stale, op.Replayed = a.stale, a.replayed
	if a.err != nil {
		op.Result, op.Err = ResultUnknown, a.err.Error()
		return
	}
	switch {
	case a.status == okStatus:
		op.Result = ResultOK
		switch op.Kind {
		case KindRead:
			var av wire.Availability
			if err := json.Unmarshal(a.body, &av); err != nil {
				op.Result, op.Err = ResultError, "decode availability: "+err.Error()
				return
			}
			op.Avail = av.Buckets
		case KindJoin, KindLeave:
			var e wire.WaitlistEntry
			if err := json.Unmarshal(a.body, &e); err != nil {
				op.Result, op.Err = ResultError, "decode waitlist entry: "+err.Error()
				return
			}
			op.Entry, op.HoldID = e.ID, e.OfferHoldID
		default:
			var h wire.Hold
			if err := json.Unmarshal(a.body, &h); err != nil {
				op.Result, op.Err = ResultError, "decode hold: "+err.Error()
				return
			}
			op.HoldID, op.Status, op.Extensions = h.ID, h.Status, h.Extensions
		}
	default:
		var p wire.Problem
		_ = json.Unmarshal(a.body, &p)
		op.Code = p.Code
		switch {
		case a.status == http.StatusConflict && p.Code == "sold_out":
			op.Result = ResultSoldOut
		case a.status == http.StatusConflict && p.Code == "conflict":
			op.Result = ResultConflict
		case a.status == http.StatusConflict && p.Code == "limit_exceeded":
			op.Result = ResultLimit
		case a.status == http.StatusNotFound:
			op.Result = ResultNotFound
		case a.status == http.StatusUnprocessableEntity && p.Code == booking.CodeIdempotencyMismatch:
			op.Result = ResultMismatch
		default:
			op.Result = ResultError
		}
		op.Err = fmt.Sprintf("%d %s", a.status, bytes.TrimSpace(a.body))
	}
}
