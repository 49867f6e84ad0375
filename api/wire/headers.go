package wire

// HTTP headers of the API beyond the standard ones.
const (
	// IdempotencyKeyHeader carries the client's key of a hold request: a retry with the same
	// key and body gets the first answer.
	IdempotencyKeyHeader = "Idempotency-Key"
	// IdempotentReplayedHeader is "true" on an answer replayed for a repeated key.
	IdempotentReplayedHeader = "Idempotent-Replayed"
	// OwnerHeader names the cluster member that answered a command.
	OwnerHeader = "X-Allot-Owner"
	// StaleHeader is "true" on a read or sold-out refusal that the owner answered from memory
	// without confirming it is current.
	StaleHeader = "X-Allot-Stale"
)
