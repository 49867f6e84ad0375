package clustertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Client is a small JSON client of Allot's HTTP API for tests. It retries 429 and 503 and
// transport errors (honouring Retry-After, capped) with the same Idempotency-Key, like a
// well-behaved mobile app.
type Client struct {
	HTTP       *http.Client
	MaxRetries int           // default 20
	MaxBackoff time.Duration // cap on Retry-After; default 500ms
}

// NewClient returns a client with a per-request timeout.
func NewClient(timeout time.Duration) *Client {
	return &Client{HTTP: &http.Client{Timeout: timeout, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}, MaxRetries: 20, MaxBackoff: 500 * time.Millisecond}
}

// Response is a decoded answer.
type Response struct {
	Status  int
	Body    []byte
	Header  http.Header
	Retries int
}

// Problem is the RFC 9457 body of an error.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Code   string `json:"code"`
}

// Hold is the JSON shape of a hold.
type Hold struct {
	ID         string   `json:"id"`
	ResourceID string   `json:"resource_id"`
	Status     string   `json:"status"`
	Buckets    []string `json:"buckets"`
	Quantity   int64    `json:"quantity"`
	UserID     string   `json:"user_id"`
}

// BucketView is one bucket of an availability answer.
type BucketView struct {
	Capacity  int64 `json:"capacity"`
	Held      int64 `json:"held"`
	Confirmed int64 `json:"confirmed"`
	Available int64 `json:"available"`
}

// Availability is the JSON shape of GET .../availability.
type Availability struct {
	ResourceID string                `json:"resource_id"`
	Buckets    map[string]BucketView `json:"buckets"`
}

// Do sends one request, retrying retryable answers. idemKey may be empty. When the retries
// run out on a 429 or 503, it returns that last answer together with the error.
func (c *Client) Do(ctx context.Context, method, url, idemKey string, body any) (*Response, error) {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return nil, err
		}
	}
	maxRetries := c.MaxRetries
	var lastErr error
	var last *Response
	for attempt := 0; attempt <= maxRetries; attempt++ {
		req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(payload))
		if err != nil {
			return nil, err
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if idemKey != "" {
			req.Header.Set("Idempotency-Key", idemKey)
		}
		resp, err := c.HTTP.Do(req)
		if err != nil {
			lastErr = err
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			c.sleep(ctx, 50*time.Millisecond*time.Duration(attempt+1))
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			lastErr = fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, bytes.TrimSpace(b))
			last = &Response{Status: resp.StatusCode, Body: b, Header: resp.Header, Retries: attempt}
			if attempt == maxRetries {
				break
			}
			wait := 100 * time.Millisecond
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
				wait = time.Duration(s) * time.Second
			}
			c.sleep(ctx, wait)
			continue
		}
		return &Response{Status: resp.StatusCode, Body: b, Header: resp.Header, Retries: attempt}, nil
	}
	return last, fmt.Errorf("gave up after %d retries: %w", maxRetries, lastErr)
}

func (c *Client) sleep(ctx context.Context, d time.Duration) {
	if c.MaxBackoff > 0 && d > c.MaxBackoff {
		d = c.MaxBackoff
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// ErrStatus is returned by the typed helpers for an unexpected status.
var ErrStatus = errors.New("unexpected status")

// CreateResource creates a resource with the given buckets (409 already_exists is success).
func (c *Client) CreateResource(ctx context.Context, base, id string, buckets map[string]int64, ttl string) error {
	body := map[string]any{"id": id, "name": "test " + id, "buckets": buckets}
	if ttl != "" {
		body["hold_ttl"] = ttl
	}
	r, err := c.Do(ctx, http.MethodPost, base+"/v1/resources", "", body)
	if err != nil {
		return err
	}
	if r.Status != http.StatusCreated && r.Status != http.StatusConflict {
		return fmt.Errorf("%w: create %s: %d %s", ErrStatus, id, r.Status, r.Body)
	}
	return nil
}

// PlaceHold asks for a hold. It returns the hold on 201, or the problem for a 4xx.
func (c *Client) PlaceHold(ctx context.Context, base, rid, idemKey, user string, buckets []string, qty int64) (*Hold, *Problem, error) {
	r, err := c.Do(ctx, http.MethodPost, base+"/v1/resources/"+rid+"/holds", idemKey,
		map[string]any{"buckets": buckets, "quantity": qty, "user_id": user})
	if err != nil {
		return nil, nil, err
	}
	return decodeHold(r, http.StatusCreated)
}

// Transition confirms ("confirm") or cancels ("cancel") a hold.
func (c *Client) Transition(ctx context.Context, base, rid, hid, op string) (*Hold, *Problem, error) {
	r, err := c.Do(ctx, http.MethodPost, base+"/v1/resources/"+rid+"/holds/"+hid+"/"+op, "", nil)
	if err != nil {
		return nil, nil, err
	}
	return decodeHold(r, http.StatusOK)
}

// Availability reads a resource's buckets.
func (c *Client) Availability(ctx context.Context, base, rid string) (*Availability, error) {
	r, err := c.Do(ctx, http.MethodGet, base+"/v1/resources/"+rid+"/availability", "", nil)
	if err != nil {
		return nil, err
	}
	if r.Status != http.StatusOK {
		return nil, fmt.Errorf("%w: availability %s: %d %s", ErrStatus, rid, r.Status, r.Body)
	}
	var a Availability
	if err := json.Unmarshal(r.Body, &a); err != nil {
		return nil, err
	}
	return &a, nil
}

func decodeHold(r *Response, ok int) (*Hold, *Problem, error) {
	if r.Status == ok {
		var h Hold
		if err := json.Unmarshal(r.Body, &h); err != nil {
			return nil, nil, fmt.Errorf("decode hold: %w", err)
		}
		return &h, nil, nil
	}
	if r.Status >= 400 && r.Status < 500 {
		var p Problem
		if err := json.Unmarshal(r.Body, &p); err != nil {
			return nil, nil, fmt.Errorf("decode problem (%d): %w: %s", r.Status, err, r.Body)
		}
		return nil, &p, nil
	}
	return nil, nil, fmt.Errorf("%w: %d %s", ErrStatus, r.Status, r.Body)
}
