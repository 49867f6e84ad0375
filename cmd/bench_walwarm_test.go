package cmd

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/allot/allot/persistence/pgtest"
)

// The bench's PostgreSQL is a fresh initdb (pgtest). Until its first checkpoint completes it
// has no old WAL segments to recycle, so each time the WAL crosses into a new 16 MB segment,
// the backend that crosses creates the file and zero-fills and fsyncs it inside its commit
// (PostgreSQL's wal_init_zero). Allot on PostgreSQL writes about 1.8 KB of WAL per hold, so at
// 256 clients that is a new segment about every second, each adding 8-50 ms to the commit
// that crosses (and to the holds queued behind it): measured, docs/PERFORMANCE.md, Round 10.
// A server in service at that write rate recycles segments renamed at each checkpoint and
// never pays it, nor do the bench's runs once a checkpoint has completed: which of the runs
// pay it depended only on how much WAL the sections before them wrote.
//
// warmWAL makes the bench's server look like one in service before any timed run: it has
// PostgreSQL create segments (a commit and a WAL switch each, no data) and then checkpoints,
// which recycles them as the segments the runs will write next. It returns how many segments
// are then ready ahead of the WAL's current position.
func warmWAL(ctx context.Context, url string, segments int) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	for range segments {
		// txid_current commits a transaction id: WAL to switch away from (a switch right
		// after a switch writes nothing and moves to no new segment).
		if _, err := conn.Exec(ctx, "SELECT txid_current()"); err != nil {
			return 0, err
		}
		if _, err := conn.Exec(ctx, "SELECT pg_switch_wal()"); err != nil {
			return 0, err
		}
	}
	// The checkpoint recycles the segments before its redo point, as many as its estimate of
	// the WAL written between checkpoints allows: 34-35 of the 64 on pgtest's server (about
	// 560 MB, measured; a second CHECKPOINT, or warming again, recycles no more). After them
	// the runs' own checkpoints recycle, and the runs count what is still created
	// (walSnapshot).
	if _, err := conn.Exec(ctx, "CHECKPOINT"); err != nil {
		return 0, err
	}
	var ready int
	err = conn.QueryRow(ctx, `SELECT count(*) FROM pg_ls_waldir()
		WHERE name ~ '^[0-9A-F]{24}$' AND name > pg_walfile_name(pg_current_wal_lsn())`).Scan(&ready)
	return ready, err
}

// walWarmSegments is how many segments warmWAL has PostgreSQL make: max_wal_size (1 GB, the
// server's default) of 16 MB segments, more than a checkpoint keeps recycled.
const walWarmSegments = 64

// postgres returns the bench's PostgreSQL (pgtest's shared server), warming its WAL the first
// time (warmWAL); the sections that use PostgreSQL all take it from here.
func (b *bench) postgres(t *testing.T) *pgtest.Server {
	t.Helper()
	if b.pg != nil {
		return b.pg
	}
	pg := pgtest.MustServer(t)
	b.pg = pg
	start := time.Now()
	ready, err := warmWAL(t.Context(), pg.URL("postgres"), walWarmSegments)
	if err != nil {
		t.Logf("PostgreSQL's WAL was not warmed (the runs may create WAL segments inside commits): %v", err)
		b.walWarm = "not warmed: " + err.Error()
		return pg
	}
	b.walWarm = fmt.Sprintf("WAL warmed before the first run: %d recycled segments ready (%s)", ready, time.Since(start).Round(100*time.Millisecond))
	t.Log(b.walWarm)
	return pg
}

// walWarmNote is how the machine table states the WAL's warm-up ("" when PostgreSQL did not run).
func walWarmNote(s string) string {
	if s == "" {
		return ""
	}
	return "; " + s
}

// walFiles is a count of PostgreSQL's WAL segment files and the position of its last completed
// checkpoint.
type walFiles struct {
	files      int
	checkpoint string // pg_control_checkpoint's checkpoint_lsn; "" when not measured
}

// walSnapshot reads the WAL's files (pg_ls_waldir needs a superuser, which the bench's
// connections are); the zero walFiles when that fails.
func walSnapshot(ctx context.Context, url string) walFiles {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return walFiles{}
	}
	defer conn.Close(context.Background())
	var w walFiles
	if err := conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM pg_ls_waldir() WHERE name ~ '^[0-9A-F]{24}$'),
		(SELECT checkpoint_lsn::text FROM pg_control_checkpoint())`).Scan(&w.files, &w.checkpoint); err != nil {
		return walFiles{}
	}
	return w
}

// created is how many segments PostgreSQL created between w and later: a new segment adds a
// file, a recycled one is an old file renamed, and files are removed only when a checkpoint
// completes, so without one in between the difference is exact; -1 when it is not known.
func (w walFiles) created(later walFiles) int {
	if w.checkpoint == "" || later.checkpoint == "" || later.checkpoint != w.checkpoint || later.files < w.files {
		return -1
	}
	return later.files - w.files
}
