package loadgen

import (
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/allot/allot/api/client"
	"github.com/allot/allot/api/wire"
)

// sender sends the load phase's requests of one simulated client over its own keep-alive
// connections (one per target), with api/client's retry rules as newClient configures them:
// targets round robin (shared by every client of the run; a retry goes to the next), up to
// cfg.MaxRetries retries of a transport error, 429 or 503 with the same request and
// Idempotency-Key, after the answer's Retry-After or a jittered exponential backoff capped at
// cfg.MaxRetryWait, each attempt bounded by cfg.Timeout, and observe told the status of every
// attempt (0: no answer). It replaces api/client (and net/http's Transport) on the hot path
// only, because that cost the load generator about 90 µs of CPU per request, as much as the
// server it measures; setup, reconciliation and the audit still go through api/client.
//
// A sender is used by its client's goroutine; only abort, run when the run's context is done,
// comes from another one. Close it when the client is done.
type sender struct {
	targets   []target
	conns     []httpConn
	next      *atomic.Uint64
	cfg       *Config
	token     client.TokenSource // nil: no Authorization
	observe   func(status int)   // nil: none
	userAgent string
	ctx       context.Context
	stopWatch func() bool
	req       request

	// aborted is set, then every live connection's deadline put in the past, when ctx is
	// done: an exchange in flight fails at once, and one that sets its deadline after that
	// sees aborted. mu guards live.
	aborted atomic.Bool
	mu      sync.Mutex
	live    []net.Conn
}

func newSender(ctx context.Context, targets []target, next *atomic.Uint64, cfg *Config, ts client.TokenSource, observe func(int)) *sender {
	s := &sender{
		targets: targets, conns: make([]httpConn, len(targets)), next: next, cfg: cfg,
		token: ts, observe: observe, userAgent: "allot-loadgen", ctx: ctx, live: make([]net.Conn, len(targets)),
	}
	for i := range s.conns {
		s.conns[i].t, s.conns[i].ctx, s.conns[i].aborted = &targets[i], ctx, &s.aborted
	}
	s.stopWatch = context.AfterFunc(ctx, s.abort)
	return s
}

func (s *sender) abort() {
	s.aborted.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, nc := range s.live {
		if nc != nil {
			_ = nc.SetDeadline(time.Unix(1, 0))
		}
	}
}

// close closes the sender's connections.
func (s *sender) close() {
	s.stopWatch()
	for i := range s.conns {
		s.conns[i].close()
	}
}

// reply is the outcome of one logical request, after its retries: resp is the last answer
// (valid until the sender's next request) unless res.Status is 0.
type reply struct {
	resp response
	res  result
	base string
}

// send sends one logical request. Non-2xx answers come back as *client.Error, as from
// api/client, so that error samples and problem codes read the same.
func (s *sender) send(method, path, idemKey string, body []byte, hasBody bool) reply {
	ctx := s.ctx
	s.req = request{Method: method, Path: path, IdemKey: idemKey, Body: body, HasBody: hasBody}
	for n := 0; ; n++ {
		i := int((s.next.Add(1) - 1) % uint64(len(s.targets)))
		base := s.targets[i].base
		if s.token != nil {
			tok, err := s.token.Token(ctx)
			if err != nil {
				// Nothing sent: not an attempt, and not retried (api/client's permanentError).
				err = fmt.Errorf("%s %s%s: token: %w", method, base, path, err)
				return reply{res: result{Err: err, Retries: max(n-1, 0)}, base: base}
			}
			s.req.Token = tok
		}
		resp, err := s.attempt(i)
		retryAfter := time.Duration(-1)
		if err == nil && len(resp.RetryAfter) > 0 {
			retryAfter = client.ParseRetryAfter(string(resp.RetryAfter), time.Now())
		}
		if s.observe != nil {
			s.observe(resp.Status)
		}
		a := client.Attempt{N: n, Base: base, Err: err, Status: resp.Status, RetryAfter: retryAfter}
		last := !client.RetryUnavailable(a) || ctx.Err() != nil || n+1 >= s.cfg.MaxRetries+1
		if !last {
			wait := retryAfter
			if wait < 0 {
				wait = client.JitterBackoff(n)
			}
			if s.cfg.MaxRetryWait > 0 {
				wait = min(wait, s.cfg.MaxRetryWait)
			}
			if sleepCtx(ctx, wait) != nil {
				last = true
			}
		}
		if !last {
			continue
		}
		out := reply{resp: resp, res: result{Status: resp.Status, Retries: n}, base: base}
		switch {
		case err != nil && ctx.Err() != nil:
			out.res.Err = fmt.Errorf("%s %s%s: %w (last attempt: %w)", method, base, path, ctx.Err(), err)
		case err != nil:
			out.res.Err = fmt.Errorf("%s %s%s: %w", method, base, path, err)
		case resp.Status < 200 || resp.Status > 299:
			e := answerError(method, path, base, n+1, resp)
			out.res.Err, out.res.Code = e, e.Code()
		}
		return out
	}
}

// attempt makes one exchange with target i.
func (s *sender) attempt(i int) (response, error) {
	if s.aborted.Load() {
		return response{}, s.ctx.Err()
	}
	c := &s.conns[i]
	deadline := time.Now().Add(s.cfg.Timeout)
	resp, err := c.roundTrip(&s.req, s.userAgent, deadline, func(nc net.Conn) {
		s.mu.Lock()
		s.live[i] = nc
		s.mu.Unlock()
	})
	if err != nil {
		resp = response{} // no answer: status 0
		if s.aborted.Load() {
			err = s.ctx.Err()
		}
	}
	return resp, err
}

// answerError is the *client.Error of a non-2xx answer, as api/client builds it.
func answerError(method, path, base string, attempts int, r response) *client.Error {
	e := &client.Error{Method: method, Path: path, Info: client.Info{Status: r.Status, Base: base, Attempts: attempts}}
	if len(r.RetryAfter) > 0 {
		if ra := client.ParseRetryAfter(string(r.RetryAfter), time.Now()); ra > 0 {
			e.RetryAfter = ra
		}
	}
	if mt, _, err := mime.ParseMediaType(string(r.ContentType)); err == nil && mt == wire.ProblemContentType {
		var p wire.Problem
		if json.Unmarshal(r.Body, &p) == nil && strings.HasPrefix(p.Type, wire.ProblemTypeBase) {
			e.Problem = &p
		}
	}
	if e.Problem == nil {
		e.Body = append([]byte(nil), r.Body[:min(len(r.Body), 512)]...)
	}
	return e
}
