package api

import (
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"

	"github.com/gin-gonic/gin"

	"github.com/allot/allot/actors/booking"
)

// observe records the HTTP metrics and logs every request. Successful requests log at debug,
// and the record is only built when that level is enabled, so the hot path stays cheap.
func (s *Server) observe(c *gin.Context) {
	start := s.cfg.Now()
	c.Next()
	elapsed := s.cfg.Now().Sub(start)
	status := c.Writer.Status()
	route := c.FullPath()
	s.metrics.observe(route, status, elapsed)

	level := slog.LevelDebug
	switch {
	case status == http.StatusServiceUnavailable:
		level = slog.LevelWarn
	case status >= 500:
		level = slog.LevelError
	case status >= 400:
		level = slog.LevelInfo
	}
	ctx := c.Request.Context()
	if !s.log.Enabled(ctx, level) {
		return
	}
	if route == "" {
		route = unmatchedRoute
	}
	s.log.LogAttrs(ctx, level, "http request",
		slog.String("method", c.Request.Method),
		slog.String("route", route),
		slog.String("path", c.Request.URL.Path),
		slog.Int("status", status),
		slog.Duration("elapsed", elapsed),
		slog.Int("bytes", c.Writer.Size()),
		slog.String("owner", c.Writer.Header().Get(OwnerHeader)),
	)
}

// recovery turns a panic in a handler into a logged 500 problem. http.ErrAbortHandler is
// passed on: it is net/http's way to abort a response.
func (s *Server) recovery(c *gin.Context) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		if v == http.ErrAbortHandler {
			panic(v)
		}
		s.log.LogAttrs(c.Request.Context(), slog.LevelError, "http handler panic",
			slog.String("method", c.Request.Method),
			slog.String("route", c.FullPath()),
			slog.String("panic", fmt.Sprint(v)),
			slog.String("stack", string(debug.Stack())),
		)
		if !c.Writer.Written() {
			writeProblem(c, answerForCode(booking.CodeInternal, "", 0))
		}
		c.Abort()
	}()
	c.Next()
}
