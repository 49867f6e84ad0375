package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/allot/allot/persistence"
)

// errClosed is what every method returns once Close has begun.
var errClosed = fmt.Errorf("%w: sqlite store closed", persistence.ErrUnavailable)

// mapErr wraps a driver error with prefix and makes persistence.ErrUnavailable reachable for
// failures to reach the data: locks held too long by another process (SQLITE_BUSY/LOCKED),
// I/O errors, a full disk, a file that cannot be opened, an interrupted statement, a closed
// connection, and a context that ended while the statement ran. Constraint violations and
// other errors are returned wrapped but unmapped: they are the batch's fault, not the disk's.
func mapErr(prefix string, err error) error {
	if err == nil {
		return nil
	}
	if unavailable(err) {
		return fmt.Errorf("%s: %w: %w", prefix, persistence.ErrUnavailable, err)
	}
	return fmt.Errorf("%s: %w", prefix, err)
}

func unavailable(err error) bool {
	if errors.Is(err, persistence.ErrUnavailable) {
		return false // already mapped
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, sql.ErrConnDone) || errors.Is(err, driver.ErrBadConn) {
		return true
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL,
			sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PROTOCOL, sqlite3.SQLITE_NOMEM,
			sqlite3.SQLITE_INTERRUPT, sqlite3.SQLITE_READONLY:
			return true
		}
		return false
	}
	return err.Error() == "sql: database is closed"
}

// isConstraint reports whether err is an SQLite constraint violation (CHECK, PRIMARY KEY...).
func isConstraint(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_CONSTRAINT
}
