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
// sessions are a small loop over the typed API client (api/client); vegeta would have had to
// be bent around them.
package loadgen
