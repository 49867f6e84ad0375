package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/cockroachdb/cockroach-go/v2/crdb"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/allot/allot/persistence"
)

// SQLSTATE codes the store looks at.
const (
	codeSerializationFailure = "40001" // retried by cockroach-go
	codeCompletionUnknown    = "40003" // CockroachDB: the statement may or may not have run
	codeUniqueViolation      = "23505"
	codeDuplicateTable       = "42P07"
	codeDuplicateObject      = "42710"
	codeDivisionByZero       = "22012" // a Commit's in-batch check refused it (commit.go)
)

// errHoldOfOtherResource means a hold id in a batch belongs to another resource's hold. The
// batch is refused whole; it is a bug in the id generator, never expected.
var errHoldOfOtherResource = errors.New("a hold id in the batch is taken by another resource's hold")

// errEntryOfOtherResource is errHoldOfOtherResource for a waitlist entry id.
var errEntryOfOtherResource = errors.New("a waitlist entry id in the batch is taken by another resource's entry")

// wrap prefixes err with op and makes persistence.ErrUnavailable reachable through it when the
// database could not be reached or did not answer in time. ErrFenced and ErrNotFound pass
// through.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if unavailable(err) {
		return fmt.Errorf("%s: %w: %w", op, persistence.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// unavailable reports whether err says the database is unreachable, overloaded, shutting down
// or too slow, or that contention outlasted the retries: conditions that pass, after which the
// same call may succeed. Whether a failed write was applied is then unknown.
func unavailable(err error) bool {
	var maxRetries *crdb.MaxRetriesExceededError
	if errors.As(err, &maxRetries) {
		return true
	}
	var restart *crdb.TxnRestartError
	if errors.As(err, &restart) {
		return true
	}
	var ambiguous *crdb.AmbiguousCommitError
	if errors.As(err, &ambiguous) {
		return true
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code[:2] {
		case "08", // connection exception
			"53", // insufficient resources: too many connections, out of memory or disk
			"57", // operator intervention: statement timeout (57014), shutdown, cannot connect now
			"58": // system error: I/O
			return true
		}
		return pe.Code == codeCompletionUnknown || pe.Code == codeSerializationFailure
	}
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.As(err, &ce), errors.As(err, &ne),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed),
		pgconn.Timeout(err), pgconn.SafeToRetry(err):
		return true
	}
	// pgx reports the use of a connection that broke earlier, or of a closed pool, in plain text.
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "closed pool")
}

func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}
