package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"path/filepath"
	"sync/atomic"
)

// The checkpointer copies committed WAL frames into the database file on a connection of its
// own, so that the writer's commits do not wait for it. SQLite's default is to checkpoint
// on the committing connection once the WAL holds 1000 pages: under load that put a read of
// the WAL, a write of every changed page into the file and two fsyncs on the commit path
// every ~16 groups, while every waiting caller waited too.
//
// The writer wakes the checkpointer every ckptEvery committed groups; it runs a PASSIVE
// checkpoint, which takes no lock the writer needs (WAL mode lets a checkpoint run
// beside a write transaction) and copies what was committed when it began. A checkpoint
// does not touch durability: the frames are already fsynced in the WAL, and SQLite fsyncs the
// database file before it lets the WAL be overwritten. SQLite starts the WAL over only after a
// checkpoint found it fully copied, which a writer that keeps appending may prevent: the
// writer keeps an autocheckpoint of its own at walRestartFrames for that, which finds little
// left to copy.
//
// A group changes from a few pages (one small commit) to hundreds (a full group under load),
// so ckptEvery is not fixed: after each checkpoint the checkpointer divides the frames added
// to the WAL since the previous one by the groups committed meanwhile, and sets ckptEvery so
// that the next checkpoint finds about Config.CheckpointPages new frames. (A fixed 8 groups
// checkpointed single-hold commits every ~40 pages: far more checkpoints, each with its fsync
// of the file, than needed.)

// ckptStats counts the checkpointer's work; read by tests and benchmarks.
type ckptStats struct {
	runs atomic.Int64 // checkpoints run
	// lastLog and lastGroups are the WAL's frames and the writer's committed groups at the
	// previous checkpoint; checkpointer goroutine only.
	lastLog, lastGroups int64
	copied              atomic.Int64 // frames they found copied into the file when they returned
	failed              atomic.Int64 // checkpoints that failed (SQLITE_BUSY: another checkpoint ran)
}

// checkpointDSN is the checkpointer's connection: not query_only (a checkpoint writes the
// database file), and synchronous=FULL, which is what makes the checkpoint fsync the file
// before SQLite may overwrite the WAL frames it copied (with synchronous=OFF a power loss
// after the WAL started over could lose them).
func (c Config) checkpointDSN(abs string) string {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", c.BusyTimeout.Milliseconds()))
	q.Add("_pragma", "synchronous(FULL)")
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	return u.String()
}

// openCheckpointer opens the checkpointer's connection pool (one connection, kept).
func (s *Store) openCheckpointer(abs string) error {
	if s.cfg.CheckpointPages == 0 {
		return nil
	}
	var err error
	if s.cdb, err = sql.Open("sqlite", s.cfg.checkpointDSN(abs)); err != nil {
		return fmt.Errorf("sqlite open: checkpointer: %w", err)
	}
	s.cdb.SetMaxOpenConns(1)
	s.cdb.SetMaxIdleConns(1)
	s.cdb.SetConnMaxLifetime(0)
	s.cdb.SetConnMaxIdleTime(0)
	s.ckptWake = make(chan struct{}, 1)
	s.ckptEvery.Store(1) // until the first checkpoint has measured a group
	return nil
}

// committed is called by the writer after each committed group: every ckptEvery groups it
// wakes the checkpointer, without waiting for it. Writer goroutine only.
func (s *Store) committed() {
	if s.cdb == nil {
		return
	}
	if s.sinceCkpt++; s.sinceCkpt < s.ckptEvery.Load() {
		return
	}
	s.sinceCkpt = 0
	select {
	case s.ckptWake <- struct{}{}:
	default: // it is still at the previous one: that one will have to do
	}
}

// runCheckpointer checkpoints when woken until the store closes. A checkpoint in progress
// finishes first; Close then closes the connection.
func (s *Store) runCheckpointer() {
	defer s.wg.Done()
	for {
		select {
		case <-s.stop:
			return
		case <-s.ckptWake:
		}
		s.checkpoint()
	}
}

// checkpoint runs one passive checkpoint. A failure is counted, not returned: the WAL keeps
// the frames, and the next checkpoint, or the writer's own at walRestartFrames, copies them.
func (s *Store) checkpoint() {
	var busy, log, copied int64
	groups := s.stats.groups.Load()
	// Background context: modernc.org/sqlite watches a cancellable context with a goroutine
	// per statement, and Close lets a checkpoint in progress finish anyway.
	err := s.cdb.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &log, &copied)
	s.ckpt.runs.Add(1)
	if err != nil || busy != 0 {
		copied = -1
		s.ckpt.failed.Add(1)
	} else {
		s.ckpt.copied.Add(copied)
		s.ckptEvery.Store(nextEvery(log, s.ckpt.lastLog, groups-s.ckpt.lastGroups, int64(s.cfg.CheckpointPages)))
		s.ckpt.lastLog, s.ckpt.lastGroups = log, groups
	}
	if h := s.ckptHook.Load(); h != nil {
		(*h)(copied)
	}
}

// nextEvery returns how many groups should pass before the next checkpoint for it to find
// about target new frames, from the WAL's frames now (log) and at the previous checkpoint
// (last) and the groups committed in between. A WAL that started over since holds only new
// frames. At least 1 group, at most maxCkptEvery, so that a measurement of nearly empty
// groups cannot put off checkpoints until the writer's own when groups grow.
func nextEvery(log, last, groups, target int64) int64 {
	added := log - last
	if added < 0 {
		added = log
	}
	if groups <= 0 || added <= 0 {
		return 1
	}
	perGroup := max(added/groups, 1)
	return min(max(target/perGroup, 1), maxCkptEvery)
}

// maxCkptEvery bounds the groups between checkpoints (nextEvery).
const maxCkptEvery = 256
