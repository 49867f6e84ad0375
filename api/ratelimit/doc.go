// Package ratelimit is the edge's abuse control: GCRA rate limits keyed by the caller, with
// bounded memory, an injected clock and a gin middleware that answers 429 with Retry-After and
// the IETF RateLimit-Policy / RateLimit headers.
//
// The pieces, one per file:
//   - Limiter (limiter.go): one GCRA budget (Limit) over many keys, in a sharded map of
//     fixed-size entries whose idle keys are swept when a shard fills, so memory stays bounded
//     whatever the number of distinct callers.
//   - Config (config.go): the budgets and their defaults (DefaultConfig, validate): per
//     subject for signed-in requests, per client IP for anonymous ones, a stricter one for
//     hold creation, and one for failed authentications per client IP; Off for
//     `--rate-limits=off`.
//   - ClientIP (clientip.go): the caller's address, from X-Forwarded-For only when the
//     immediate peer is a trusted proxy (rightmost-untrusted rule); IPv6 by /64.
//   - Limits.Middleware (middleware.go): the gin middleware for one route class.
//   - headers.go: the RateLimit-Policy and RateLimit fields of
//     draft-ietf-httpapi-ratelimit-headers-09 (structured fields, March 2025).
//
// # Wiring (done by the node, not by this package)
//
// Flags (each with an ALLOT_* fallback) map onto Config:
//
//	--rate-limits=on|off          Config.Off
//	--rate-limit-subject 20/1s:40 Config.Subject   (ParseLimit syntax: N/period[:burst])
//	--rate-limit-anonymous ...    Config.Anonymous
//	--rate-limit-holds 2/1s:5     Config.Holds
//	--rate-limit-auth-failures 5/1s:20  Config.AuthFailures
//	--trusted-proxies CIDR,...    Config.TrustedProxies (ParsePrefixes)
//
// api/ratelimits.go installs them on the edge's engine, after the request log and recovery:
// ClassAuthFailures before api.Authenticate, ClassRequests after it (the principal is then
// known), ClassHolds on hold creation; the health probes are skipped.
//
// ClassRequests comes after Authenticate so that a signed-in caller is counted by subject;
// ClassAuthFailures before it so that an address sending bad tokens stops costing signature
// checks.
//
// The refusal passed to fail is a *Exceeded, which unwraps to a *booking.Error with
// booking.CodeRateLimited; api.answerFor maps it to 429 rate-limited problem+json and reads
// its RetryAfter for the Retry-After header. The node's wiring is api/ratelimits.go.
//
// The health probes and the admin listener are not rate limited.
package ratelimit
