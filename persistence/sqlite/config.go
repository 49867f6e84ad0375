package sqlite

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"time"
)

// Config configures a Store.
type Config struct {
	// Path is the database file. Open creates it, and its directory, if needed. Required; it
	// must not be ":memory:" (the store is durable by design).
	Path string
	// ReadConns is the size of the connection pool that serves GetHold, ListHolds and Ping.
	// Activate, Commit and Renew use the single writer connection. 1..64; default 4.
	ReadConns int
	// BusyTimeout is how long a statement waits for a lock held by another process (or
	// another Store on the same file) before failing with persistence.ErrUnavailable.
	// 0..1h; default 5s.
	BusyTimeout time.Duration
	// MaxGroup is the most Activate, Commit and Renew calls folded into one SQLite
	// transaction, which then shares one fsync (group commit). 1 disables folding. 1..4096;
	// default 256.
	MaxGroup int
	// Secondary opens the file beside the node that owns it (a tool such as `allot rekey`):
	// the outbox claims Open otherwise voids, as left by a dead node, are the live node's.
	Secondary bool
}

// DefaultConfig returns the defaults for the database file at path.
func DefaultConfig(path string) Config {
	return Config{Path: path, ReadConns: 4, BusyTimeout: 5 * time.Second, MaxGroup: 256}
}

func (c Config) validate() error {
	switch {
	case c.Path == "":
		return fmt.Errorf("sqlite config: Path is required")
	case c.Path == ":memory:" || strings.HasPrefix(c.Path, "file:"):
		return fmt.Errorf("sqlite config: Path must be a file path, got %q", c.Path)
	case c.ReadConns < 1 || c.ReadConns > 64:
		return fmt.Errorf("sqlite config: ReadConns must be between 1 and 64, got %d", c.ReadConns)
	case c.BusyTimeout < 0 || c.BusyTimeout > time.Hour:
		return fmt.Errorf("sqlite config: BusyTimeout must be between 0 and 1h, got %s", c.BusyTimeout)
	case c.MaxGroup < 1 || c.MaxGroup > 4096:
		return fmt.Errorf("sqlite config: MaxGroup must be between 1 and 4096, got %d", c.MaxGroup)
	}
	return nil
}

// dsn returns the modernc.org/sqlite data source name for an absolute path. The writer
// connection runs in WAL mode with synchronous=FULL, so that a commit is on disk (WAL fsynced)
// before it is acknowledged; readers are query_only.
func (c Config) dsn(abs string, writer bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", c.BusyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	if writer {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Add("_pragma", "synchronous(FULL)")
	} else {
		q.Add("_pragma", "query_only(1)")
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	return u.String()
}
