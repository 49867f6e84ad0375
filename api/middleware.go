package api

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/allot/allot/actors/booking"
)

// observe records the HTTP metrics and writes the request log: exactly one record per
// request, which is also the only place a failure is logged (handlers leave the cause on the
// context; see Server.problem). Levels:
//
//   - error: 500 and other 5xx but 503, with the cause (a panic's value and stack included);
//   - warn: 503 unavailable, with the cause;
//   - info: 4xx (499 client-closed-request included), with the problem code;
//   - debug: everything else, and 409 sold-out, which is an expected answer under demand
//     (the metrics count it by route and status).
//
// The record is only built when its level is enabled, so the hot path stays cheap.
func (s *Server) observe(c *gin.Context) {
	start := s.cfg.Now()
	c.Next()
	s.logRequest(c, start)
}

// logRequest is observe's work once the request is answered: start is when it began.
func (s *Server) logRequest(c *gin.Context, start time.Time) {
	elapsed := s.cfg.Now().Sub(start)
	status := c.Writer.Status()
	route := c.FullPath()
	s.metrics.observe(route, status, elapsed)

	// Below 400 the record is a debug one whatever problem the request has (none, as a rule):
	// the problem is looked up (two gin Keys lookups under the Context's lock) only when it
	// can change the level or the record is written.
	ctx := c.Request.Context()
	if status < 400 && !s.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	prob, cause, answered := requestProblem(c)
	level := slog.LevelDebug
	switch {
	case status == http.StatusServiceUnavailable:
		level = slog.LevelWarn
	case status >= 500:
		level = slog.LevelError
	case answered && prob.kind.code == booking.CodeSoldOut:
		level = slog.LevelDebug
	case status >= 400:
		level = slog.LevelInfo
	}
	if !s.log.Enabled(ctx, level) {
		return
	}
	if route == "" {
		route = unmatchedRoute
	}
	attrs := []slog.Attr{
		slog.String("method", c.Request.Method),
		slog.String("route", route),
		slog.String("path", truncatePath(c.Request.URL.Path)),
		slog.Int("status", status),
		slog.Duration("elapsed", elapsed),
		slog.Int("bytes", c.Writer.Size()),
		slog.String("owner", ownerOf(c)),
		slog.String("request_id", RequestIDOf(c)),
	}
	if answered {
		attrs = append(attrs, slog.String("code", prob.kind.code))
	}
	if status >= 500 {
		attrs = append(attrs, cause...)
	}
	s.log.LogAttrs(ctx, level, "http request", attrs...)
}

// recovery turns a panic in a handler into a 500 problem whose cause (the panic and its
// stack) the request log shows. http.ErrAbortHandler is passed on: it is net/http's way to
// abort a response.
func (s *Server) recovery(c *gin.Context) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if v == http.ErrAbortHandler {
			panic(v)
		}
		s.recovered(c, v)
	}()
	c.Next()
}

// recovered answers a request whose handler panicked with v (not http.ErrAbortHandler).
func (s *Server) recovered(c *gin.Context, v any) {
	cause := []slog.Attr{slog.String("panic", fmt.Sprint(v)), slog.String("stack", string(debug.Stack()))}
	if c.Writer.Written() {
		c.Set(causeKey, cause) // the answer is under way; the log still says why
	} else {
		s.problem(c, answerForCode(booking.CodeInternal, "", 0), cause...)
	}
	c.Abort()
}

// front is the edge's first middleware: what were four (headOnly, the request id, observe and
// recovery, in that order), in one gin handler with one deferred function, and the request's
// edgeState (edgestate.go) made in the same step (issue 17, round 11: the chain down to the
// hold handler was a tenth of the node's CPU at 256 clients). Their behaviour is unchanged:
//
//   - a HEAD request's later handlers write headers but no body (headOnly);
//   - the request gets its id (the client's usable X-Request-Id, else a random one), echoed
//     in X-Request-Id, and its gin Keys map from the pool (requestID);
//   - exactly one request log record and the metrics once the answer is written (observe);
//   - a panic below is answered 500 with its cause in the log (recovery); net/http's
//     http.ErrAbortHandler is passed on, with no log record, as before.
func (s *Server) front(c *gin.Context) {
	bodyless(c)
	s.keys.lend(c)
	st := &edgeState{start: s.cfg.Now()}
	st.idField[0] = requestIDFor(c.Request.Header)
	c.Set(stateKey, st) // for stateOf below a layer that wraps the writer again
	st.lendWriter(c)
	c.Writer.Header()[RequestIDHeader] = st.idField[:] // a canonical key: what c.Header does, without its slice
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				s.keys.reclaim(c)
				panic(v)
			}
			s.recovered(c, v)
		}
		s.logRequest(c, st.start)
		s.keys.reclaim(c)
	}()
	c.Next()
}
