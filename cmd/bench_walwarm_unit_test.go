package cmd

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/allot/allot/persistence/pgtest"
)

// TestWarmWAL checks that after warmWAL the next segments the WAL crosses into are recycled
// ones: crossing them adds no file to pg_wal (a new segment would be a file created and
// zero-filled inside a commit).
func TestWarmWAL(t *testing.T) {
	pg := pgtest.MustNewServer(t) // its own fresh initdb, as the bench's
	url := pg.URL("postgres")
	ctx := t.Context()
	ready, err := warmWAL(ctx, url, 8)
	if err != nil {
		t.Fatal(err)
	}
	if ready < 8 {
		t.Fatalf("%d segments ready after warming 8, want at least 8", ready)
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	files := func() int {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_ls_waldir() WHERE name ~ '^[0-9A-F]{24}$'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := files()
	for range ready - 1 {
		if _, err := conn.Exec(ctx, "SELECT txid_current()"); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, "SELECT pg_switch_wal()"); err != nil {
			t.Fatal(err)
		}
	}
	if after := files(); after != before {
		t.Fatalf("crossing %d segments after warming changed pg_wal from %d to %d files: segments were created, not recycled", ready-1, before, after)
	}
}
