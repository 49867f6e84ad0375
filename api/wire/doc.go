// Package wire holds the JSON bodies of Allot's HTTP API v1: what the server (package api)
// answers and accepts, and what the Go client (package api/client) sends and decodes. It
// depends on neither gin nor the protobuf messages, so a client links nothing of the server.
//
// Times are RFC 3339 in UTC; durations are Go duration strings without trailing zero units
// ("10m", "1h30m", "45s"; see FormatDuration). api/openapi.yaml describes the same shapes; a
// test in package api checks that the two agree.
package wire
