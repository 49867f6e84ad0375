package api

import (
	"bytes"
	_ "embed"
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/api/wire"
)

// openAPIDocument is the API's OpenAPI 3.1 description, served at OpenAPIPath.
//
//go:embed openapi.yaml
var openAPIDocument []byte

// GET /healthz: 200 while the process serves.
func (s *Server) healthz(c *gin.Context) {
	s.writeJSON(c, http.StatusOK, wire.Status{Status: "ok"})
}

// GET /readyz: 200 when Config.Ready says so, else 503 unavailable.
func (s *Server) readyz(c *gin.Context) {
	if !s.cfg.Ready() {
		s.problem(c, answerForCode(booking.CodeUnavailable, "the node is starting or draining", 0))
		return
	}
	s.writeJSON(c, http.StatusOK, wire.Status{Status: "ready"})
}

// GET /metrics: the Prometheus exposition of Config.Gatherer. promhttp serves what it can
// gather; when it fails outright it would answer a text/plain 5xx, which is held back here and
// answered as a problem instead, like every other error.
func (s *Server) metricsHandler() gin.HandlerFunc {
	h := promhttp.HandlerFor(s.cfg.Gatherer, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	return func(c *gin.Context) {
		w := &errorHoldingWriter{ResponseWriter: c.Writer}
		h.ServeHTTP(w, c.Request)
		if w.status != 0 {
			s.fail(c, fmt.Errorf("serve metrics: status %d: %s", w.status, strings.TrimSpace(w.body.String())))
		}
	}
}

// errorHoldingWriter passes a successful answer through and holds back an error answer
// (status >= 400): its status and the start of its body.
type errorHoldingWriter struct {
	gin.ResponseWriter
	status int // the error status held back; 0 while passing through
	body   bytes.Buffer
}

func (w *errorHoldingWriter) WriteHeader(code int) {
	if code >= 400 && !w.ResponseWriter.Written() {
		w.status = code
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *errorHoldingWriter) Write(p []byte) (int, error) {
	if w.status != 0 {
		if w.body.Len() < 512 {
			w.body.Write(p[:min(len(p), 512-w.body.Len())])
		}
		return len(p), nil
	}
	return w.ResponseWriter.Write(p)
}

func (w *errorHoldingWriter) WriteString(s string) (int, error) { return w.Write([]byte(s)) }

// GET /openapi.yaml
func (s *Server) openAPI(c *gin.Context) {
	c.Data(http.StatusOK, "application/yaml", openAPIDocument)
}
