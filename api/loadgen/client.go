package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// outcome classifies what a request did on the server, as far as the client can know.
type outcome uint8

const (
	outcomeOK        outcome = iota // 2xx: applied
	outcomeRejected                 // 4xx (429 included): not applied
	outcomeAmbiguous                // transport error, timeout, 5xx: maybe applied
)

// result is the answer to one logical request, after its retries.
type result struct {
	Status  int    // HTTP status of the last attempt; 0 when it failed in transport
	Code    string // problem code of an error answer ("sold_out")
	Body    []byte // body of the last answer (bounded)
	Err     error  // transport error of the last attempt
	Retries int
}

func (r result) outcome() outcome {
	switch {
	case r.Err != nil || r.Status >= 500:
		// 503 unavailable says the store may or may not have committed.
		return outcomeAmbiguous
	case r.Status >= 200 && r.Status < 300:
		return outcomeOK
	default:
		return outcomeRejected
	}
}

func (r result) String() string {
	if r.Err != nil {
		return r.Err.Error()
	}
	if r.Code != "" {
		return fmt.Sprintf("%d %s", r.Status, r.Code)
	}
	return strconv.Itoa(r.Status)
}

// maxBody bounds the part of an answer the client keeps; the rest is drained so that the
// connection can be reused.
const maxBody = 1 << 20

// client speaks Allot's HTTP API with retries. It is safe for concurrent use.
type client struct {
	hc         *http.Client
	targets    []string
	next       atomic.Uint64
	timeout    time.Duration
	maxRetries int
	maxWait    time.Duration
	// sleep waits d or until ctx is done; tests replace it to observe waits without waiting.
	sleep func(ctx context.Context, d time.Duration) error
	// observe, if set, is told the status of every attempt (0: transport error).
	observe func(status int)
}

func newClient(cfg *Config) *client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	// One keep-alive connection per client and target: without this the default of 2 idle
	// connections per host makes most requests open a new connection under load.
	tr.MaxIdleConns = cfg.Clients * len(cfg.Targets)
	tr.MaxIdleConnsPerHost = cfg.Clients
	tr.DisableCompression = true
	return &client{
		hc:         &http.Client{Transport: tr},
		targets:    cfg.Targets,
		timeout:    cfg.Timeout,
		maxRetries: cfg.MaxRetries,
		maxWait:    cfg.MaxRetryWait,
		sleep:      sleepCtx,
	}
}

func (c *client) close() { c.hc.CloseIdleConnections() }

// clone returns a client sharing c's connections and settings, without its observer.
func (c *client) clone() *client {
	return &client{hc: c.hc, targets: c.targets, timeout: c.timeout, maxRetries: c.maxRetries, maxWait: c.maxWait, sleep: c.sleep}
}

// do sends one logical request: method on path of the next target, with body (marshalled to
// JSON when not nil) and, when idemKey is set, the Idempotency-Key header. Answers 429 and 503
// and transport errors are retried up to maxRetries times with the same key, after the
// server's Retry-After (capped at maxWait) or an exponential backoff. Only the cancellation of
// ctx makes do return early.
func (c *client) do(ctx context.Context, method, path, idemKey string, body any) result {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return result{Err: fmt.Errorf("encode request: %w", err)}
		}
	}
	var res result
	for attempt := 0; ; attempt++ {
		var wait time.Duration
		res, wait = c.attempt(ctx, method, path, idemKey, payload)
		res.Retries = attempt
		if c.observe != nil {
			c.observe(res.Status)
		}
		retryable := res.Err != nil || res.Status == http.StatusTooManyRequests || res.Status == http.StatusServiceUnavailable
		if !retryable || attempt >= c.maxRetries || ctx.Err() != nil {
			return res
		}
		if wait < 0 {
			wait = backoff(attempt, c.maxWait)
		}
		if err := c.sleep(ctx, min(wait, c.maxWait)); err != nil {
			return res
		}
	}
}

// attempt sends one HTTP request. wait is the answer's Retry-After, or -1 when it has none.
func (c *client) attempt(ctx context.Context, method, path, idemKey string, payload []byte) (result, time.Duration) {
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	target := c.targets[(c.next.Add(1)-1)%uint64(len(c.targets))]
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(actx, method, strings.TrimSuffix(target, "/")+path, rd)
	if err != nil {
		return result{Err: fmt.Errorf("build request: %w", err)}, -1
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return result{Err: err}, -1
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	_, _ = io.Copy(io.Discard, resp.Body)
	if err != nil {
		return result{Err: fmt.Errorf("read answer: %w", err)}, -1
	}
	res := result{Status: resp.StatusCode, Body: b}
	if resp.StatusCode >= 400 {
		var p struct {
			Code string `json:"code"`
		}
		if json.Unmarshal(b, &p) == nil {
			res.Code = p.Code
		}
	}
	return res, retryAfter(resp.Header.Get("Retry-After"), time.Now())
}

// retryAfter parses a Retry-After value: delay-seconds or an HTTP date. It returns -1 when
// the header is absent or malformed.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return -1
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s < 0 {
			return -1
		}
		if s > int64(time.Hour/time.Second) {
			s = int64(time.Hour / time.Second) // avoid overflow; capped later anyway
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return -1
}

// backoff is the wait before retry attempt+1 when the server gave no Retry-After: full jitter
// over an exponential ceiling from 20ms, capped at limit.
func backoff(attempt int, limit time.Duration) time.Duration {
	ceil := 20 * time.Millisecond << min(attempt, 10)
	if limit > 0 && ceil > limit {
		ceil = limit
	}
	if ceil <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(ceil))) + time.Millisecond
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
