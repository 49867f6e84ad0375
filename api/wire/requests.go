package wire

// Request bodies, as a client sends them. The server decodes them more strictly than
// encoding/json would (exact member names, no duplicates, required members; see api's
// decode.go); a test in package api checks that what these types encode is what it accepts.

// CreateResource is the body of POST /v1/resources. HoldTTL and Price are optional (the
// server's default TTL applies when HoldTTL is empty).
type CreateResource struct {
	ID      string           `json:"id"`
	Name    string           `json:"name"`
	Buckets map[string]int64 `json:"buckets"`
	HoldTTL string           `json:"hold_ttl,omitempty"`
	Price   *Money           `json:"price,omitempty"`
}

// PlaceHold is the body of POST /v1/resources/{rid}/holds. The Idempotency-Key travels in a
// header (IdempotencyKeyHeader).
type PlaceHold struct {
	Buckets  []string `json:"buckets"`
	Quantity int64    `json:"quantity"`
	UserID   string   `json:"user_id,omitempty"` // empty: the token's user (only operators name another)
}
