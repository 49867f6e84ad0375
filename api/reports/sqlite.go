package reports

import (
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// OpenSQLite opens a connection pool on the node's SQLite file for an SQLStore, beside the
// main store (persistence/sqlite), which must have opened the file first: it applies the
// migrations. Writes take turns with the main store's writer on SQLite's write lock, waiting
// up to busy; transactions begin IMMEDIATE so that Apply's reads (the applied id, the
// resource's row) and its writes are one serialized step. The caller closes the pool.
func OpenSQLite(path string, busy time.Duration) (*sql.DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("reports sqlite: %w", err)
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_txlock", "immediate")
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, fmt.Errorf("reports sqlite: %w", err)
	}
	db.SetMaxOpenConns(4)
	return db, nil
}
