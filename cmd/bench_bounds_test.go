package cmd

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// machineBounds are what this machine allows whatever the design: how long its disk takes to
// make a write durable, and how long PostgreSQL takes to commit the smallest transaction.
// "Why the misses" (bench_misses_test.go) sets the runs' numbers against them.
type machineBounds struct {
	Dir string // where the fsync loop wrote: the directory of the benchmark's PostgreSQL data
	// Fsync is the latency of an 8 KiB write + fdatasync, median and p99 of FsyncN.
	FsyncP50, FsyncP99 time.Duration
	FsyncN             int
	// PgTestFsync is pg_test_fsync's fdatasync of one 8 kB write, µs per op ("" without it).
	PgTestFsyncUs float64
	PgTestFsync   string // the command
	// PGCommit is the latency of an autocommitted one-row INSERT on the benchmark's
	// PostgreSQL (fsync on, synchronous_commit on), one connection: the commit floor.
	PGCommitP50, PGCommitP99 time.Duration
	PGCommitN                int
	Err                      []string
}

// measureBounds measures the bounds next to the data of the benchmark's PostgreSQL (or a temp
// directory without it). A few seconds, with nothing else running.
func (b *bench) measureBounds(t *testing.T) {
	mb := &machineBounds{Dir: t.TempDir()}
	if b.pg != nil {
		mb.Dir = filepath.Dir(b.pg.LogPath())
	}
	var err error
	if mb.FsyncP50, mb.FsyncP99, mb.FsyncN, err = fsyncLoop(mb.Dir, 2*time.Second); err != nil {
		mb.Err = append(mb.Err, "fsync loop: "+err.Error())
	}
	if bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_test_fsync"); len(bins) > 0 {
		file := filepath.Join(mb.Dir, "pg_test_fsync.out")
		mb.PgTestFsync = fmt.Sprintf("%s -s 1 -f %s", bins[len(bins)-1], file)
		out, err := exec.CommandContext(t.Context(), bins[len(bins)-1], "-s", "1", "-f", file).CombinedOutput()
		_ = os.Remove(file)
		if err != nil {
			mb.Err = append(mb.Err, fmt.Sprintf("pg_test_fsync: %v", err))
		} else if us, ok := pgTestFdatasync(string(out)); ok {
			mb.PgTestFsyncUs = us
		}
	}
	if b.pg != nil {
		if mb.PGCommitP50, mb.PGCommitP99, mb.PGCommitN, err = pgCommitLoop(t.Context(), b.pg.MustDatabase(t), 2*time.Second); err != nil {
			mb.Err = append(mb.Err, "PostgreSQL commit loop: "+err.Error())
		}
	}
	for _, e := range mb.Err {
		t.Logf("bounds: %s", e)
	}
	t.Logf("bounds: fsync p50 %s p99 %s (%d), pg_test_fsync %.0f µs, PostgreSQL commit p50 %s p99 %s (%d)",
		mb.FsyncP50, mb.FsyncP99, mb.FsyncN, mb.PgTestFsyncUs, mb.PGCommitP50, mb.PGCommitP99, mb.PGCommitN)
	b.bounds = mb
}

// fsyncLoop writes 8 KiB and fdatasyncs it, over and over for d, in a file of dir: a file of
// 1 MiB written and synced first, then overwritten at advancing offsets, as a WAL segment is
// (so that no sync has to update the file's size).
func fsyncLoop(dir string, d time.Duration) (p50, p99 time.Duration, n int, err error) {
	f, err := os.CreateTemp(dir, "fsync-*.bin")
	if err != nil {
		return 0, 0, 0, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := f.Write(make([]byte, 1<<20)); err != nil {
		return 0, 0, 0, err
	}
	if err := f.Sync(); err != nil {
		return 0, 0, 0, err
	}
	buf := make([]byte, 8<<10)
	var lat []time.Duration
	end := time.Now().Add(d)
	for off := int64(0); time.Now().Before(end); off = (off + int64(len(buf))) % (1 << 20) {
		start := time.Now()
		if _, err := f.WriteAt(buf, off); err != nil {
			return 0, 0, 0, err
		}
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			return 0, 0, 0, err
		}
		lat = append(lat, time.Since(start))
	}
	p50, p99 = pctDur(lat, 0.5), pctDur(lat, 0.99)
	return p50, p99, len(lat), nil
}

// pgCommitLoop commits one-row INSERTs on one connection for d: the floor of a PostgreSQL
// commit on this machine (a round trip, a WAL flush), which no batch can go under.
func pgCommitLoop(ctx context.Context, url string, d time.Duration) (p50, p99 time.Duration, n int, err error) {
	ctx, cancel := context.WithTimeout(ctx, d+30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return 0, 0, 0, err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS bench_commit_floor (n BIGINT)"); err != nil {
		return 0, 0, 0, err
	}
	var lat []time.Duration
	end := time.Now().Add(d)
	for i := 0; time.Now().Before(end); i++ {
		start := time.Now()
		if _, err := conn.Exec(ctx, "INSERT INTO bench_commit_floor VALUES ($1)", i); err != nil {
			return 0, 0, 0, err
		}
		lat = append(lat, time.Since(start))
	}
	return pctDur(lat, 0.5), pctDur(lat, 0.99), len(lat), nil
}

func pctDur(xs []time.Duration, q float64) time.Duration {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// pgTestFdatasync reads the fdatasync line of pg_test_fsync's "one 8kB write" comparison:
// "        fdatasync                          1234.567 ops/sec     810 usecs/op".
var pgTestFdatasyncRe = regexp.MustCompile(`(?m)^\s+fdatasync\s+[\d.]+ ops/sec\s+(\d+) usecs/op`)

func pgTestFdatasync(out string) (float64, bool) {
	m := pgTestFdatasyncRe.FindStringSubmatch(out)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	return v, err == nil
}

func TestPgTestFdatasync(t *testing.T) {
	out := "Compare file sync methods using one 8kB write:\n" +
		"        open_datasync                      1500.1 ops/sec     667 usecs/op\n" +
		"        fdatasync                          1234.567 ops/sec     810 usecs/op\n"
	if v, ok := pgTestFdatasync(out); !ok || v != 810 {
		t.Fatalf("got %v %v, want 810", v, ok)
	}
	if _, ok := pgTestFdatasync("nothing"); ok {
		t.Fatal("no fdatasync line: want !ok")
	}
}
