package api

import (
	_ "embed"
	"net/http"

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
		writeProblem(c, answerForCode(booking.CodeUnavailable, "the node is starting or draining", 0))
		return
	}
	s.writeJSON(c, http.StatusOK, wire.Status{Status: "ready"})
}

// GET /metrics: the Prometheus exposition of Config.Gatherer.
func (s *Server) metricsHandler() gin.HandlerFunc {
	h := promhttp.HandlerFor(s.cfg.Gatherer, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	return gin.WrapH(h)
}

// GET /openapi.yaml
func (s *Server) openAPI(c *gin.Context) {
	c.Data(http.StatusOK, "application/yaml", openAPIDocument)
}
