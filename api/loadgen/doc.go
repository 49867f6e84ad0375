// Package loadgen is the load generator behind `allot loadgen`: closed-loop simulated mobile
// clients that create their own resources, play a scenario (flash-sale, hotel, browse, mixed)
// against one or more Allot nodes, and then audit that nothing was oversold and that every
// hold acknowledged to a client is still there.
//
// Library choices. Percentiles come from github.com/HdrHistogram/hdrhistogram-go (bounded
// memory, 0.1% precision, no sample retention). github.com/tsenart/vegeta/v12 was considered
// and not used: it is an open-model, rate-and-target attacker where each request is
// independent, while a booking client is a closed-loop session (hold, then confirm or cancel
// the hold id the server returned) with one Idempotency-Key per logical request reused on its
// retries, whose every acknowledged outcome must be recorded for the oversell audit. Those
// sessions are a small loop; vegeta would have had to be bent around them.
//
// The client's own cost. Setup, reconciliation and the audit use the typed API client
// (api/client, over net/http). The load phase does not: net/http's Transport and a
// reflection decode of every answer cost about 90 µs of CPU per request, as much as the
// server measured, on the same cores. Each simulated client instead has its own keep-alive
// connection per target (conn.go), writes each request with one write from a reused buffer,
// reads the answer with a minimal HTTP/1.1 parser fuzzed against net/http's (response.go),
// takes only the hold id from a 2xx hold (holdid.go), and retries as api/client would
// (sender.go). See docs/PERFORMANCE.md, round 17.
package loadgen
