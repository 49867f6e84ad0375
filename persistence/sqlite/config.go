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
	// CacheKiB is the writer connection's page cache in KiB (PRAGMA cache_size). A commit's
	// hold, idempotency-key and outbox index pages are scattered; the pages a commit does not
	// find cached it reads back from the file or the WAL, one syscall each. 0 (SQLite's
	// default, 2 MiB)..1048576; default 16384 (16 MiB: the cache fills as the file grows, a
	// fixed cost, not one per resource).
	CacheKiB int
	// CheckpointPages is about how many WAL pages the checkpointer copies into the database
	// file at a time, on its own connection, off the commit path (checkpoint.go). 0 leaves
	// every checkpoint to the writer (SQLite's autocheckpoint after a commit, at 1000 pages).
	// 0..walRestartFrames/2; default 1000.
	CheckpointPages int
	// SideWait is the longest a group of side ops only (the outbox's claims and marks,
	// inboxes, the side stores' writes through InGroup) waits for a booking op to join it,
	// while booking commits keep coming (awaitBooking): then both share one transaction and
	// one fsync, and the booking commit does not wait behind the side group. 0 runs every
	// group at once. 0..100ms; default 2ms.
	SideWait time.Duration
	// PageSize is the page size in bytes of a file Open creates (PRAGMA page_size); a file
	// that exists keeps its own (SQLite changes it only by a VACUUM outside WAL mode). 0 is
	// SQLite's default, 4096; else a power of two, 512..65536. Larger pages make a commit write
	// fewer but larger WAL frames; round 19 found no CPU per hold to gain (docs/PERFORMANCE.md).
	PageSize int
	// IdempotencyRows writes every idempotency entry as an idempotency_keys row of its own, as
	// releases before round 20 wrote and read them, instead of a placed hold's entry as its
	// hold row's idem_entry flag (holdkeys.go). Set it for a day before going back to such a
	// release: it would not find the entries the holds carry, and a client's retry of such a
	// hold would place a second hold. Either way Activate reads both.
	IdempotencyRows bool
	// Secondary opens the file beside the node that owns it (a tool such as `allot rekey`):
	// the outbox claims Open otherwise voids, as left by a dead node, are the live node's.
	Secondary bool
}

// DefaultConfig returns the defaults for the database file at path.
func DefaultConfig(path string) Config {
	return Config{Path: path, ReadConns: 4, BusyTimeout: 5 * time.Second, MaxGroup: 256, CacheKiB: 16 << 10, CheckpointPages: 1000,
		SideWait: 2 * time.Millisecond}
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
	case c.CacheKiB < 0 || c.CacheKiB > 1<<20:
		return fmt.Errorf("sqlite config: CacheKiB must be between 0 and 1048576, got %d", c.CacheKiB)
	case c.SideWait < 0 || c.SideWait > 100*time.Millisecond:
		return fmt.Errorf("sqlite config: SideWait must be between 0 and 100ms, got %s", c.SideWait)
	case c.PageSize != 0 && (c.PageSize < 512 || c.PageSize > 65536 || c.PageSize&(c.PageSize-1) != 0):
		return fmt.Errorf("sqlite config: PageSize must be 0 or a power of two between 512 and 65536, got %d", c.PageSize)
	case c.CheckpointPages < 0 || c.CheckpointPages > walRestartFrames/2:
		return fmt.Errorf("sqlite config: CheckpointPages must be between 0 and %d, got %d", walRestartFrames/2, c.CheckpointPages)
	}
	return nil
}

// walRestartFrames is the writer's own autocheckpoint (PRAGMA wal_autocheckpoint, in pages)
// when a checkpointer runs beside it. SQLite starts the WAL over from its beginning only
// after a checkpoint that copied every frame; a passive checkpoint beside a writer that keeps
// appending may never find the WAL fully copied. Past this size (16 MiB of 4 KiB pages) the
// writer checkpoints after its commits, as SQLite does by default past 1000 pages, and then
// finds all except the last few groups' frames already copied: the WAL stays bounded and the
// commit path pays for little.
const walRestartFrames = 4096

// dsn returns the modernc.org/sqlite data source name for an absolute path. The writer
// connection runs in WAL mode with synchronous=FULL, so that a commit is on disk (WAL fsynced)
// before it is acknowledged; readers are query_only. Every connection keeps its temporary
// data in memory (temp_store): a group's SAVEPOINTs journal the pages they change into a
// sub-journal, which otherwise spills into a temporary file past 64 KiB, a create, writes
// and a close per group (it is never needed after a crash: it only undoes a savepoint).
//
// WAL mode and synchronous are the driver's own keys, not _pragma entries: modernc.org/sqlite
// runs the _pragma entries sorted by name (busy_timeout first), then _journal_mode and
// _synchronous. A page_size among the _pragma entries thus comes before WAL mode, whose switch
// writes a new file's first page and so fixes its page size; as a _pragma entry after
// journal_mode(WAL), as up to round 19, it was silently ignored.
func (c Config) dsn(abs string, writer bool) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", c.BusyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "temp_store(MEMORY)")
	if writer {
		if c.PageSize > 0 {
			q.Add("_pragma", fmt.Sprintf("page_size(%d)", c.PageSize))
		}
		q.Set("_journal_mode", "WAL")
		q.Set("_synchronous", "FULL")
		if c.CacheKiB > 0 {
			q.Add("_pragma", fmt.Sprintf("cache_size(%d)", -c.CacheKiB))
		}
		if c.CheckpointPages > 0 {
			q.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", walRestartFrames))
		}
	} else {
		q.Add("_pragma", "query_only(1)")
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	return u.String()
}
