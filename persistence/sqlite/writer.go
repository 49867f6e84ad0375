package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/allot/allot/persistence"
)

// The writer goroutine owns the single writer connection. It takes the ops queued by
// Activate, Commit and Renew, up to Config.MaxGroup at a time, and runs each group as one
// SQLite transaction (BEGIN IMMEDIATE ... COMMIT), so that concurrent callers share one WAL
// fsync.
// Each op runs inside its own SAVEPOINT: an op that fails (fenced, CHECK violation, foreign
// hold) is rolled back alone and the others commit. If the transaction itself is lost (I/O
// error, failed COMMIT) every op of the group fails with persistence.ErrUnavailable.
//
// Callers are answered only after COMMIT returned, so an acknowledged write is in the fsynced
// WAL (synchronous=FULL). Statements run under context.Background(), not a caller's context:
// one caller giving up must not abort the group it shares with others, and a waiting caller
// is released by submit instead. Lock waits are bounded by Config.BusyTimeout, and Close waits
// for the group in progress. (A background context also spares modernc.org/sqlite an
// interrupt-watcher goroutine per statement.)

// writerStats counts the writer's work; read by tests and benchmarks.
type writerStats struct {
	groups    atomic.Int64
	ops       atomic.Int64
	sideWaits atomic.Int64 // groups of side ops held for a booking op (awaitBooking)
	stmts     atomic.Int64 // statements executed through rawExec (BEGIN, SAVEPOINT, COMMIT included)
}

func (s *Store) runWriter() {
	defer s.wg.Done()
	var buf []*op
	for {
		select {
		case <-s.q.wake:
		case <-s.stop:
			for _, o := range s.q.take(int(^uint(0)>>1), nil) {
				o.done <- result{err: errClosed}
			}
			return
		}
		for {
			buf = s.q.take(s.cfg.MaxGroup, buf)
			if len(buf) == 0 {
				break
			}
			booking := hasBooking(buf)
			if !booking && s.lastBooking && s.cfg.SideWait > 0 {
				buf = s.awaitBooking(buf)
				booking = hasBooking(buf)
			}
			s.lastBooking = booking
			s.runGroup(buf)
			clear(buf)
		}
	}
}

// hasBooking reports whether ops hold a booking op (a commit, an activation, a renewal), as
// opposed to side ops only (fn: the outbox's claims and marks, inboxes, side stores' writes).
func hasBooking(ops []*op) bool {
	for _, o := range ops {
		if o.fn == nil {
			return true
		}
	}
	return false
}

// awaitBooking holds a group of side ops, taken while booking commits are under way (the
// previous group had one), for up to Config.SideWait, until a booking op joins it; it
// returns the group with whatever was queued meanwhile. Without it, under load about 4
// groups in 10 held side ops alone (the webhook intake, claims and records, the reports
// batches, the relay's claims and marks), and a hot resource's next commit, queued while such
// a group ran, waited for it and its fsync before its own group began (docs/EVENTS.md, Cost).
// Joined, both share one transaction and one fsync. The wait is bounded and taken only while
// booking commits keep coming (a group without one ends it), so an idle node's side writes
// do not wait, and no booking op ever waits for it. Writer goroutine only.
func (s *Store) awaitBooking(buf []*op) []*op {
	s.stats.sideWaits.Add(1)
	t := time.NewTimer(s.cfg.SideWait)
	defer t.Stop()
	for len(buf) < s.cfg.MaxGroup {
		select {
		case <-s.q.wake:
			more := s.q.take(s.cfg.MaxGroup-len(buf), nil)
			buf = append(buf, more...)
			if hasBooking(more) {
				return buf
			}
		case <-t.C:
			return buf
		case <-s.stop:
			return buf
		}
	}
	return buf
}

// runGroup executes ops in one transaction and answers each op exactly once.
func (s *Store) runGroup(ops []*op) {
	if h := s.groupHook.Load(); h != nil {
		(*h)(len(ops))
	}
	ctx := context.Background()
	results := make([]result, len(ops))
	fail := func(err error) {
		for _, o := range ops {
			o.done <- result{err: err}
		}
	}
	if err := s.syncForGroup(ctx, ops); err != nil {
		fail(mapErr("synchronous", err))
		return
	}
	if _, err := s.exec(ctx, "BEGIN IMMEDIATE"); err != nil {
		fail(mapErr("begin", err))
		return
	}
	for i, o := range ops {
		if err := o.ctx.Err(); err != nil {
			// The caller gave up after the op was taken: skip it. The caller already returned
			// (ErrUnavailable: it cannot know that we skipped).
			results[i].err = fmt.Errorf("%w: %w", persistence.ErrUnavailable, err)
			continue
		}
		if _, err := s.exec(ctx, "SAVEPOINT op"); err != nil {
			s.abort(ctx)
			fail(mapErr("savepoint", err))
			return
		}
		var err error
		switch {
		case o.commit != nil:
			err = s.applyCommit(ctx, o.commit)
		case o.renew != nil:
			err = s.applyRenew(ctx, o.renew)
		case o.fn != nil:
			err = o.fn(ctx)
		default:
			results[i].snap, err = s.applyActivate(ctx, o.activate)
		}
		if err != nil {
			// Undo this op alone. If SQLite already rolled the whole transaction back (it
			// does on I/O errors and a full disk), the savepoint is gone: give up on the group.
			if rerr := s.rollbackTo(ctx); rerr != nil {
				s.abort(ctx)
				fail(mapErr("group", errors.Join(err, rerr)))
				return
			}
			results[i] = result{err: err}
			continue
		}
		if _, err := s.exec(ctx, "RELEASE op"); err != nil {
			s.abort(ctx)
			fail(mapErr("release", err))
			return
		}
	}
	if _, err := s.exec(ctx, "COMMIT"); err != nil {
		s.abort(ctx)
		err = mapErr("commit", err)
		if !errors.Is(err, persistence.ErrUnavailable) {
			err = fmt.Errorf("%w: %w", persistence.ErrUnavailable, err)
		}
		fail(err)
		return
	}
	s.stats.groups.Add(1)
	s.stats.ops.Add(int64(len(ops)))
	s.committed()
	for i, o := range ops {
		o.done <- results[i]
	}
}

// syncForGroup sets the writer connection's synchronous level for the group ops: NORMAL when
// every op is lossy, else FULL (the DSN's level). A group of the relay's marks and prunes (its
// claims, once writes too, are reads now: claims.go) alone then commits without an fsync of
// the WAL. Under load about 4 groups in 10 were
// such groups (docs/EVENTS.md, Cost), each with its own fsync on the commit path that the
// next booking group waited behind.
//
// Why losing them to a power loss is safe: an SQLite file is one node's store and Open voids
// every outbox claim it finds (voidClaims), so a claim need not survive; a lost mark
// republishes its events, which JetStream deduplicates by Nats-Msg-Id and every durable
// consumer by its inbox (at least once); a lost prune runs again. WAL mode with
// synchronous=NORMAL keeps the file consistent (SQLite's documentation): a crash loses at
// most the unsynced tail of commits, never a commit that was synced after them, since the
// next FULL commit's fsync covers every frame the WAL holds before its own. A process crash
// (kill -9) loses nothing: the frames are in the OS's cache. The level can change only
// outside a transaction, hence before BEGIN; it is set only when it changes.
func (s *Store) syncForGroup(ctx context.Context, ops []*op) error {
	lossy := true
	for _, o := range ops {
		if !o.lossy {
			lossy = false
			break
		}
	}
	if lossy == s.syncNormal {
		return nil
	}
	text := "PRAGMA synchronous = FULL"
	if lossy {
		text = "PRAGMA synchronous = NORMAL"
	}
	if _, err := s.exec(ctx, text); err != nil {
		return err
	}
	s.syncNormal = lossy
	return nil
}

// rollbackTo undoes the current op's savepoint and releases it.
func (s *Store) rollbackTo(ctx context.Context) error {
	if _, err := s.exec(ctx, "ROLLBACK TO op"); err != nil {
		return err
	}
	_, err := s.exec(ctx, "RELEASE op")
	return err
}

// abort rolls back whatever is left of the transaction; it may already be gone.
func (s *Store) abort(ctx context.Context) { _, _ = s.exec(ctx, "ROLLBACK") }

// submit hands an op to the writer and waits for its result. A ctx that ends while the op is
// queued abandons it: nothing was written, and the ctx error is returned. A ctx that ends
// after the writer took it returns persistence.ErrUnavailable wrapping the ctx error: the
// outcome is unknown to the caller.
func (s *Store) submit(o *op) result {
	if err := s.place(o); err != nil {
		return result{err: err}
	}
	return s.await(o)
}

// place queues o for the writer, which takes ops in the order they were placed.
func (s *Store) place(o *op) error {
	if err := o.ctx.Err(); err != nil {
		return err
	}
	if s.closed.Load() {
		return errClosed
	}
	o.done = make(chan result, 1)
	return s.q.enqueue(o)
}

// await waits for the result of an op placed in the queue (see submit).
func (s *Store) await(o *op) result {
	select {
	case r := <-o.done:
		return r
	case <-o.ctx.Done():
		if s.q.abandon(o) {
			return result{err: o.ctx.Err()}
		}
		return result{err: fmt.Errorf("%w: outcome unknown: %w", persistence.ErrUnavailable, o.ctx.Err())}
	}
}

// stmtKey names a prepared statement: a table's multi-row upsert of rows rows, or (rows 0) a
// fixed statement's text.
type stmtKey struct {
	table string
	rows  int
}

// stmt returns the writer connection's prepared statement for key, preparing it on first
// use: a multi-row upsert when rows > 0, else the fixed statement whose text is key.table.
// Only the writer goroutine calls it (and Open, before the writer starts).
func (s *Store) stmt(ctx context.Context, key stmtKey) (*sql.Stmt, error) {
	if st, ok := s.stmts[key]; ok {
		return st, nil
	}
	text, err := statementText(key)
	if err != nil {
		return nil, err
	}
	st, err := s.wc.PrepareContext(ctx, text)
	if err != nil {
		return nil, mapErr("prepare", err)
	}
	s.stmts[key] = st
	return st, nil
}

// exec runs a fixed statement, prepared once, on the writer connection (through the driver:
// rawexec.go).
func (s *Store) exec(ctx context.Context, text string, args ...any) (sql.Result, error) {
	return s.rawExec(ctx, stmtKey{table: text}, args)
}

// query runs a fixed query, prepared once, on the writer connection.
func (s *Store) query(ctx context.Context, text string, args ...any) (*sql.Rows, error) {
	st, err := s.stmt(ctx, stmtKey{table: text})
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// table describes a multi-row upsert: "INSERT INTO name (cols) VALUES (?,..),(?,..) suffix".
type table struct {
	name   string
	cols   []string
	suffix string
	chunk  int // rows per statement; chunk*len(cols) stays far below SQLite's 32766 variables
}

func (t table) insert(rows int) string {
	row := "(" + strings.TrimSuffix(strings.Repeat("?,", len(t.cols)), ",") + ")"
	var b strings.Builder
	b.WriteString("INSERT INTO " + t.name + " (" + strings.Join(t.cols, ", ") + ") VALUES ")
	for i := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(row)
	}
	b.WriteString(" " + t.suffix)
	return b.String()
}

// execRows runs the table's upsert over args (len(cols) values per row) in chunks and returns
// the rows SQLite reports as inserted or updated.
func (s *Store) execRows(ctx context.Context, name string, args []any) (int64, error) {
	t := tables[name]
	width := len(t.cols)
	var total int64
	for len(args) > 0 {
		rows := min(len(args)/width, t.chunk)
		res, err := s.rawExec(ctx, stmtKey{name, rows}, args[:rows*width])
		if err != nil {
			return 0, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, err
		}
		total += n
		args = args[rows*width:]
	}
	return total, nil
}
