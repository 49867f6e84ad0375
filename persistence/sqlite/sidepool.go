package sqlite

import (
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"time"
)

// OpenSidePool opens a small connection pool on the node's SQLite file for the services that
// keep their tables beside the main store (webhooks, notifications, reports, the audit log).
// The main Store must have opened the file first: it applies the migrations. Writes take
// turns with the main store's writer on SQLite's write lock, waiting up to busy; transactions
// begin IMMEDIATE so that none fails on a lock upgrade. The caller closes the pool.
func OpenSidePool(path string, busy time.Duration) (*sql.DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite side pool: %w", err)
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busy.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "temp_store(MEMORY)") // see Config.dsn
	q.Add("_txlock", "immediate")
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, fmt.Errorf("sqlite side pool: %w", err)
	}
	// As many idle as open: a connection closed after a burst is reopened for the next
	// one, its schema read and its page cache cold again.
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	return db, nil
}
