// Package api is Allot's HTTP edge: the mobile API v1 on gin, RFC 9457 problem responses,
// the OpenAPI document, health, readiness and Prometheus metrics.
package api

// Operational endpoints. Deploy manifests and probes depend on these paths.
const (
	HealthzPath = "/healthz"
	ReadyzPath  = "/readyz"
	MetricsPath = "/metrics"
	OpenAPIPath = "/openapi.yaml"
)
