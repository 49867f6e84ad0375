package ratelimit

import (
	"net/http"
	"strconv"
	"time"
)

// The RateLimit-Policy and RateLimit fields follow draft-ietf-httpapi-ratelimit-headers-09
// (March 2025): both are Structured Field lists whose items are a policy name with
// parameters.
//
//	RateLimit-Policy: "subject";q=40;w=2
//	RateLimit: "subject";r=12;t=1
//
// q is the quota (the GCRA burst), w the window in seconds over which the quota is earned
// back (burst × emission interval, rounded up), r the units remaining and t the seconds until
// the whole quota is back (rounded up). A response that passed two budgets (hold creation:
// the caller's own and the holds budget) carries one item of each, on separate field lines,
// which a Structured Field list parser joins.

const (
	headerPolicy    = "RateLimit-Policy"
	headerRateLimit = "RateLimit"
	headerRetry     = "Retry-After"
)

// The two fields' keys as net/http stores them (textproto.CanonicalMIMEHeaderKey of the
// names above): addField writes them straight into the header map, because Header.Add would
// allocate the canonical form of a name it does not know on every response.
const (
	keyPolicy    = "Ratelimit-Policy"
	keyRateLimit = "Ratelimit"
)

// fieldsPerKey is how many values a field gets on the way to a handler: one from the
// requests budget and one from the holds budget (the auth-failures budget adds its only on a
// refusal, which ends the request).
const fieldsPerKey = 2

// addField adds a value to the field stored under key, a canonical key. The first value
// makes room for fieldsPerKey, so that a hold's second budget does not copy the slice
// (issue 17: two allocations per hold).
func addField(h http.Header, key, value string) {
	v := h[key]
	if v == nil {
		v = make([]string, 0, fieldsPerKey)
	}
	h[key] = append(v, value)
}

// addFields adds one item to each of the two fields, as addField does, with the room for
// both fields' values in one array when neither has any yet (a request's first budget): one
// allocation per response instead of two, and not two of 32 bytes, the size class of
// JetStream's subject index leaves (docs/PERFORMANCE.md, Round 8).
func addFields(h http.Header, policy, rateLimit string) {
	if h[keyPolicy] != nil || h[keyRateLimit] != nil {
		addField(h, keyPolicy, policy)
		addField(h, keyRateLimit, rateLimit)
		return
	}
	both := make([]string, 2*fieldsPerKey)
	both[0], both[fieldsPerKey] = policy, rateLimit
	h[keyPolicy] = both[0:1:fieldsPerKey]
	h[keyRateLimit] = both[fieldsPerKey : fieldsPerKey+1 : 2*fieldsPerKey]
}

// policyField is the RateLimit-Policy item for a budget named name.
func policyField(name string, l Limit) string {
	return strconv.Quote(name) + ";q=" + strconv.Itoa(l.Burst) + ";w=" + strconv.FormatInt(ceilSeconds(l.window(), 1), 10)
}

// rateLimitField is the RateLimit item for a decision under the budget named name.
func rateLimitField(name string, d Decision) string {
	// One allocation per response: the item is built in a buffer on the stack.
	var buf [64]byte
	b := strconv.AppendQuote(buf[:0], name)
	b = append(b, ";r="...)
	b = strconv.AppendInt(b, int64(d.Remaining), 10)
	b = append(b, ";t="...)
	b = strconv.AppendInt(b, ceilSeconds(d.Reset, 0), 10)
	return string(b)
}

// ceilSeconds is d in whole seconds, rounded up, and at least floor.
func ceilSeconds(d time.Duration, floor int64) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	return max(s, floor)
}
