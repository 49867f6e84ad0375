package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"strconv"
	"time"

	"github.com/allot/allot/cluster/clustertest"
)

// Endpoint is a node's HTTP base URL with its name.
type Endpoint struct {
	Name string
	URL  string
}

// Client sends one logical operation as a series of attempts, each to a node picked at
// random (as a load balancer in front of the cluster would), with the same Idempotency-Key,
// until an answer that is not retryable or until Budget is spent. Retryable: transport errors
// and timeouts, 429, and 5xx. Retry-After is honoured, capped at MaxBackoff.
type Client struct {
	HTTP           *http.Client
	Endpoints      []Endpoint
	AttemptTimeout time.Duration
	Budget         time.Duration
	MaxBackoff     time.Duration
}

// NewClient returns a client of the given endpoints.
func NewClient(eps []Endpoint, attemptTimeout, budget time.Duration) *Client {
	return &Client{
		HTTP: &http.Client{Transport: &http.Transport{
			MaxIdleConnsPerHost: 16,
			IdleConnTimeout:     30 * time.Second,
		}},
		Endpoints:      eps,
		AttemptTimeout: attemptTimeout,
		Budget:         budget,
		MaxBackoff:     250 * time.Millisecond,
	}
}

// Close releases idle connections.
func (c *Client) Close() { c.HTTP.CloseIdleConnections() }

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
}

// Do runs the operation (method, path, body) through random endpoints. The rng is the
// caller's (clients are single goroutines).
func (c *Client) Do(ctx context.Context, rng *rand.Rand, method, path, idemKey string, body any) answer {
	var payload []byte
	if body != nil {
		payload, _ = json.Marshal(body)
	}
	deadline := time.Now().Add(c.Budget)
	var a answer
	for {
		a.tries++
		ep := c.Endpoints[rng.Intn(len(c.Endpoints))]
		status, b, hdr, err := c.attempt(ctx, ep, method, path, idemKey, payload, deadline)
		wait := 20 * time.Millisecond * time.Duration(min(a.tries, 10))
		switch {
		case err != nil:
			a.err = fmt.Errorf("%s: %w", ep.Name, err)
			a.uncertain = true
		case status == http.StatusTooManyRequests || status >= 500:
			a.err = fmt.Errorf("%s: %d %s", ep.Name, status, bytes.TrimSpace(b))
			a.uncertain = a.uncertain || status != http.StatusTooManyRequests
			if s, err := strconv.Atoi(hdr.Get("Retry-After")); err == nil {
				wait = time.Duration(s) * time.Second
			}
		default:
			a.status, a.body, a.node, a.owner, a.err = status, b, ep.Name, hdr.Get("X-Allot-Owner"), nil
			a.stale = hdr.Get("X-Allot-Stale") == "true"
			return a
		}
		if ctx.Err() != nil || time.Now().Add(10*time.Millisecond).After(deadline) {
			a.status = status
			return a
		}
		wait = min(wait, c.MaxBackoff, time.Until(deadline))
		wait += time.Duration(rng.Int63n(int64(wait)/2 + 1))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
}

func (c *Client) attempt(ctx context.Context, ep Endpoint, method, path, idemKey string, payload []byte, deadline time.Time) (int, []byte, http.Header, error) {
	actx, cancel := context.WithTimeout(ctx, min(c.AttemptTimeout, max(time.Until(deadline), 50*time.Millisecond)))
	defer cancel()
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(actx, method, ep.URL+path, rd)
	if err != nil {
		return 0, nil, nil, err
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, nil, err
	}
	return resp.StatusCode, b, resp.Header, nil
}

// fill records the answer into op: result, status or availability, problem code.
func (a answer) fill(op *Op, okStatus int) {
	op.Node, op.Owner, op.Tries, op.HTTP, op.Uncertain = a.node, a.owner, a.tries, a.status, a.uncertain
	op.Stale = a.stale
	if a.err != nil {
		op.Result, op.Err = ResultUnknown, a.err.Error()
		return
	}
	switch {
	case a.status == okStatus:
		op.Result = ResultOK
		switch op.Kind {
		case KindRead:
			var av clustertest.Availability
			if err := json.Unmarshal(a.body, &av); err != nil {
				op.Result, op.Err = ResultError, "decode availability: "+err.Error()
				return
			}
			op.Avail = av.Buckets
		default:
			var h clustertest.Hold
			if err := json.Unmarshal(a.body, &h); err != nil {
				op.Result, op.Err = ResultError, "decode hold: "+err.Error()
				return
			}
			op.HoldID, op.Status = h.ID, h.Status
		}
	default:
		var p clustertest.Problem
		_ = json.Unmarshal(a.body, &p)
		op.Code = p.Code
		switch {
		case a.status == http.StatusConflict && p.Code == "sold_out":
			op.Result = ResultSoldOut
		case a.status == http.StatusConflict && p.Code == "conflict":
			op.Result = ResultConflict
		case a.status == http.StatusNotFound:
			op.Result = ResultNotFound
		default:
			op.Result = ResultError
		}
		op.Err = fmt.Sprintf("%d %s", a.status, bytes.TrimSpace(a.body))
	}
}
