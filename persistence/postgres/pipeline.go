package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/allot/allot/persistence"
)

// Pipelined commits (Enqueue): the batches of one resource go to PostgreSQL on one connection,
// each its own transaction (BEGIN .. COMMIT, one Sync), the next one sent while the previous
// one is still being applied, so that the backend finds the next transaction waiting in its
// socket when it finishes one, instead of a round trip through the actor later (issue 17,
// docs/PERFORMANCE.md round 11).
//
// A resource with batches queued or in flight has a pipe: one goroutine (run) that owns a
// pooled connection, sends the batches in the order Enqueue placed them, and ends when none
// is left (the connection goes back to the pool); and, while it holds the connection, one
// reader goroutine that reads the batches' results in the same order. The two share the
// connection's socket only: the sender writes messages through the connection's
// pgproto3.Frontend (its write half), the reader receives through it (its read half); pgx's
// own state is not used meanwhile (pgconn's pipeline is not safe for a concurrent reader).
//
// Failures: PostgreSQL applies a connection's transactions one after the other, and every
// batch's fence wants the version the previous batch writes, so a batch behind one that was
// not applied is refused by the server (the fence's division by zero, or, while the failed
// transaction is still open, "current transaction is aborted"). Each batch reports what the
// server said about it; batches not yet sent when one fails are failed without being sent;
// the connection is dropped (not pooled) unless it is idle and healthy. Nothing is retried
// in the pipe itself: a retry of one batch would have to resend all the batches behind it,
// which the server refused meanwhile. The first batch that fails with a serialization failure
// or an insert conflict is sent again through Commit (with its retries) before anything else
// of the resource is sent (readPipe); the batches behind it fail (their outcome unknown) and
// the actor reloads, as after any failed commit.

// PipelineShape is how an actor pipelines its commits on this store (actors/resource,
// pipelineShaper): at most 2 commits of a resource at the store, and one sealed behind the
// commit in flight only with at least 16 commands, behind a commit of at most 32 (or, behind a
// larger one, with as many commands as it carries: round 19). The backend applies a resource's
// transactions one at a time, so one waiting in its socket is all it needs; smaller batches
// behind, or deeper pipelines, split the same holds into more commits, and PostgreSQL's CPU
// per hold grows with the commits (docs/PERFORMANCE.md, round 11).
func (s *Store) PipelineShape() (depth, minBatch int) { return 2, 16 }

// pipeSQL is every statement a batch may send, prepared on a pipe's connection before it sends
// anything (pgx caches them on the connection; the sender must not prepare while results are
// being read).
var pipeSQL = []string{
	sqlBegin, sqlCommit, sqlUpdateResource, sqlInsertResource, sqlUpsertBuckets, sqlUpsertHolds,
	sqlUpsertWaitlist, sqlInsertHolds, sqlDeleteWaitlist, sqlInsertIdempotency, sqlInsertIdempotencyNew,
	sqlInsertOutbox,
}

// pipe is one resource's queue of batches, from Enqueue to their results. Its fields are
// guarded by Store.pipesMu; cond is signalled whenever one changes.
type pipe struct {
	id       string
	cond     sync.Cond
	queue    []*piped // placed, not yet sent
	inflight []*piped // sent, results not yet read, in order
	seq      uint64   // the last batch placed
	// doomed: batches up to this seq were placed before a batch ahead of them failed; those
	// not sent yet are failed unsent.
	doomed uint64
	// Per connection (an episode of run):
	failed  bool // a batch failed on this connection: send nothing more on it
	broken  bool // the connection failed (I/O): everything in flight fails
	ending  bool // the sender is done; the reader ends when inflight is empty
	txState byte // the last ReadyForQuery's transaction status
}

// piped is one batch placed by Enqueue.
type piped struct {
	ctx   context.Context
	b     *persistence.Batch
	seq   uint64
	arena *commitArena // q's memory, until its results are read
	q     *commitBatch
	stop  func() bool // stops closing the connection when ctx ends
	err   error
	done  chan struct{}
}

// Enqueue is Commit in two halves, for an actor that pipelines its commits (actors/resource,
// pipeliner): it places b behind the resource's batches placed before it and returns at
// once; wait, called once, returns what Commit would have (a batch refused with a
// serialization failure or a conflicting insert is retried through Commit; those behind it
// fail; see above). The
// batches of one resource apply in the order Enqueue placed them, and one behind a batch that
// failed is refused. ctx bounds both halves and must not end before wait returned: a ctx that
// ends while its batch is at the server drops the connection, failing the batches in flight
// on it (their outcome unknown).
func (s *Store) Enqueue(ctx context.Context, b *persistence.Batch) (wait func() error) {
	if err := checkBatch(b); err != nil {
		return func() error { return fmt.Errorf("commit %s: %w", batchID(b), err) }
	}
	if s.cfg.Tracer != nil {
		// A tracer sees each statement as Commit sends it; one at a time, in order.
		return s.enqueueSerial(ctx, b)
	}
	pb := &piped{ctx: ctx, b: b, done: make(chan struct{})}
	s.pipesMu.Lock()
	if s.pipesClosed {
		s.pipesMu.Unlock()
		return func() error { return errClosed("commit") }
	}
	p := s.pipes[b.ResourceID]
	if p == nil {
		p = &pipe{id: b.ResourceID}
		p.cond.L = &s.pipesMu
		if s.pipes == nil {
			s.pipes = make(map[string]*pipe)
		}
		s.pipes[b.ResourceID] = p
		s.pipesWG.Add(1)
		go s.runPipe(p)
	}
	p.seq++
	pb.seq = p.seq
	p.queue = append(p.queue, pb)
	p.cond.Broadcast()
	s.pipesMu.Unlock()
	return func() error {
		<-pb.done
		return pb.err
	}
}

// enqueueSerial is Enqueue through Commit, one batch at a time in the order placed.
func (s *Store) enqueueSerial(ctx context.Context, b *persistence.Batch) (wait func() error) {
	done := make(chan error, 1)
	s.pipesMu.Lock()
	if s.pipesClosed {
		s.pipesMu.Unlock()
		return func() error { return errClosed("commit") }
	}
	prev := s.serialTail[b.ResourceID]
	mine := make(chan struct{})
	if s.serialTail == nil {
		s.serialTail = make(map[string]chan struct{})
	}
	s.serialTail[b.ResourceID] = mine
	s.pipesWG.Add(1)
	s.pipesMu.Unlock()
	go func() {
		defer s.pipesWG.Done()
		if prev != nil {
			<-prev
		}
		done <- s.Commit(ctx, b)
		s.pipesMu.Lock()
		if s.serialTail[b.ResourceID] == mine {
			delete(s.serialTail, b.ResourceID)
		}
		s.pipesMu.Unlock()
		close(mine)
	}()
	return func() error { return <-done }
}

// finish reports pb's result to its wait.
func (pb *piped) finish(err error) {
	pb.err = err
	close(pb.done)
}

// runPipe sends p's batches, one connection at a time, until none is queued.
func (s *Store) runPipe(p *pipe) {
	defer s.pipesWG.Done()
	for {
		s.pipesMu.Lock()
		var doomed []*piped // placed behind a failure the last connection saw
		for len(p.queue) > 0 && p.queue[0].seq <= p.doomed {
			doomed = append(doomed, p.queue[0])
			p.queue = p.queue[1:]
		}
		if len(doomed) > 0 {
			s.pipesMu.Unlock()
			for _, pb := range doomed {
				pb.finish(errBehind(p.id))
			}
			continue
		}
		if len(p.queue) == 0 {
			delete(s.pipes, p.id)
			s.pipesMu.Unlock()
			return
		}
		head := p.queue[0]
		p.failed, p.broken, p.ending, p.txState = false, false, false, 'I'
		s.pipesMu.Unlock()
		ctx, cancel := s.opContext(head.ctx)
		conn, err := s.pool.Acquire(ctx)
		if err == nil {
			err = prepareAll(ctx, conn)
			if err != nil {
				conn.Release()
			}
		}
		cancel()
		if err != nil {
			// Every batch queued is head or behind it.
			s.pipesMu.Lock()
			failed := p.queue
			p.queue = nil
			p.doomed = p.seq
			s.pipesMu.Unlock()
			for _, pb := range failed {
				pb.finish(wrap("commit "+p.id, err))
			}
			continue
		}
		s.episode(p, conn)
	}
}

// prepareAll prepares pipeSQL on conn (a no-op for the statements pgx has prepared there).
func prepareAll(ctx context.Context, conn *pgxpool.Conn) error {
	for _, sql := range pipeSQL {
		if _, err := conn.Conn().Prepare(ctx, sql, sql); err != nil {
			return err
		}
	}
	return nil
}

// episode sends p's batches on conn while there are any and nothing failed, then waits for
// their results and returns conn to the pool (or drops it).
func (s *Store) episode(p *pipe, conn *pgxpool.Conn) {
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		s.readPipe(p, conn)
	}()
	for {
		s.pipesMu.Lock()
		for !p.failed && !p.broken && len(p.queue) == 0 && len(p.inflight) > 0 {
			p.cond.Wait()
		}
		var batch []*piped
		var doomed []*piped
		switch {
		case p.failed || p.broken:
			// Fail what was placed behind the failure; later batches wait for a clean
			// connection (the next episode).
			for len(p.queue) > 0 && p.queue[0].seq <= p.doomed {
				doomed = append(doomed, p.queue[0])
				p.queue = p.queue[1:]
			}
		case len(p.queue) > 0:
			batch = p.queue
			p.queue = nil
		}
		end := batch == nil && doomed == nil
		s.pipesMu.Unlock()
		for _, pb := range doomed {
			pb.finish(errBehind(p.id))
		}
		if end {
			break
		}
		for i, pb := range batch {
			if !s.send(p, conn, pb) {
				// Not sent, and failed: the rest were placed behind it.
				s.pipesMu.Lock()
				p.queue = append(batch[i+1:len(batch):len(batch)], p.queue...)
				s.pipesMu.Unlock()
				break
			}
		}
	}
	// Nothing more to send on this connection: wait for the results of what was sent.
	s.pipesMu.Lock()
	for len(p.inflight) > 0 {
		p.cond.Wait()
	}
	p.ending = true
	p.cond.Broadcast()
	clean := !p.broken && p.txState == 'I'
	s.pipesMu.Unlock()
	<-readerDone
	if !clean {
		// A failed transaction may be open, or the socket is in an unknown state.
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = conn.Conn().Close(ctx)
		cancel()
	}
	conn.Release() // a closed connection is destroyed by the pool
}

// send encodes pb and writes its transaction to conn, placing it in flight. It returns false
// when pb failed before it was sent (the caller stops sending: the batches behind it are
// doomed, and marked so here).
func (s *Store) send(p *pipe, conn *pgxpool.Conn, pb *piped) bool {
	fail := func(err error) bool {
		s.pipesMu.Lock()
		p.failed = true
		p.doomed = p.seq
		p.cond.Broadcast()
		s.pipesMu.Unlock()
		pb.finish(err)
		return false
	}
	if err := pb.ctx.Err(); err != nil {
		return fail(wrap("commit "+p.id, err))
	}
	pb.arena = s.bufs.arena()
	q, err := newCommitBatch(pb.b, pb.arena, false, !s.cfg.IdempotencyRows)
	if err != nil {
		s.bufs.putArena(pb.arena)
		return fail(fmt.Errorf("commit %s: %w", p.id, err))
	}
	pb.q = q
	c := conn.Conn()
	n := len(q.queries) + 2
	sds := make([]*pgconn.StatementDescription, n)
	for i := range n {
		sql := q.sql(i)
		// Prepared by prepareAll: found in pgx's cache, no I/O.
		sd, err := c.Prepare(pb.ctx, sql, sql)
		if err != nil {
			s.bufs.putArena(pb.arena)
			return fail(wrap("commit "+p.id, err))
		}
		sds[i] = sd
	}
	e := s.bufs.encodeBuf()
	defer e.release(&s.bufs.encode)
	if err := e.encode(c.TypeMap(), sds, q.args); err != nil {
		s.bufs.putArena(pb.arena)
		return fail(fmt.Errorf("commit %s: %w", p.id, err))
	}
	fe := c.PgConn().Frontend()
	// The messages go into a writeBuf lent to the frontend (as sendCommit's do): the
	// frontend's own buffer starts every flush at 1 KB and would be grown by appends to a
	// batch's tens of KB, every batch (a fifth of the bytes the node allocated per hold at
	// 256 clients; docs/PERFORMANCE.md, round 12).
	var w *writeBuf
	if len(e.data) > lendThreshold {
		w = s.bufs.writeBuf()
		if size := messagesSize(sds, e); cap(w.buf) < size {
			w.buf = make([]byte, 0, size)
		}
		w.probe = false
		fe.Send(w)
	}
	for i, sd := range sds {
		values, formats := e.statement(i)
		fe.SendBind(&pgproto3.Bind{PreparedStatement: sd.Name, ParameterFormatCodes: formats, Parameters: values})
		fe.SendExecute(&pgproto3.Execute{})
	}
	fe.SendSync(&pgproto3.Sync{})
	netConn := c.PgConn().Conn()
	pb.stop = context.AfterFunc(pb.ctx, func() { _ = netConn.Close() })
	s.pipesMu.Lock()
	p.inflight = append(p.inflight, pb)
	p.cond.Broadcast()
	s.pipesMu.Unlock()
	if err := fe.Flush(); err != nil {
		// The reader finds the connection failed too, and fails pb. w is not kept: the
		// frontend may hold it (the connection is closed).
		_ = netConn.Close()
		s.pipesMu.Lock()
		p.broken = true
		p.cond.Broadcast()
		s.pipesMu.Unlock()
		return true
	}
	if w != nil {
		w.probe, w.held = true, true // held unless the probe finds otherwise
		fe.Send(w)
		if !w.held && cap(w.buf) <= maxKeptBuf {
			s.bufs.write.Put(w)
		}
	}
	return true
}

// errBehind is the error of a batch not sent because a batch placed ahead of it failed.
func errBehind(id string) error {
	return fmt.Errorf("commit %s: %w: not sent: a batch ahead of it failed", id, persistence.ErrUnavailable)
}

// retryableInPipe reports whether err, a batch's own failure read from the server, means the
// batch was refused whole and Commit would have sent it again: a serialization failure
// (40001), or a plain insert that met a stored row (errInsertConflict).
func retryableInPipe(err error) bool {
	if errors.Is(err, errInsertConflict) {
		return true
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == codeSerializationFailure
}

// errPipeIO marks a failure to read a batch's results: the connection failed.
var errPipeIO = errors.New("pipeline connection failed")

// readPipe reads the results of p's batches in flight on conn, in order, until the sender
// ends and nothing is in flight.
func (s *Store) readPipe(p *pipe, conn *pgxpool.Conn) {
	fe := conn.Conn().PgConn().Frontend()
	for {
		s.pipesMu.Lock()
		for len(p.inflight) == 0 && !p.ending {
			p.cond.Wait()
		}
		if len(p.inflight) == 0 {
			s.pipesMu.Unlock()
			return
		}
		pb := p.inflight[0]
		broken := p.broken
		s.pipesMu.Unlock()
		var err error
		var state byte
		if broken {
			err = errPipeIO
		} else {
			state, err = readBatch(fe, pb.q)
		}
		// The socket was closed under pb's results (its ctx ended): the connection must not
		// go back to the pool, whatever was read.
		closed := !pb.stop()
		s.bufs.putArena(pb.arena)
		pb.arena, pb.q = nil, nil
		if errors.Is(err, errPipeIO) && pb.ctx.Err() != nil {
			err = fmt.Errorf("%w: %w", err, pb.ctx.Err())
		}
		s.pipesMu.Lock()
		p.inflight[0] = nil
		p.inflight = p.inflight[1:]
		if errors.Is(err, errPipeIO) || closed {
			p.broken = true
		}
		if !errors.Is(err, errPipeIO) {
			p.txState = state
		}
		behind := p.failed // a batch ahead of pb on this connection failed
		if err != nil && !p.failed {
			p.failed = true
			p.doomed = p.seq
		}
		p.cond.Broadcast()
		s.pipesMu.Unlock()
		switch {
		case err == nil:
		case behind:
			// Refused because of the failure ahead (its version, or the aborted transaction):
			// not a successor's fence. The actor gave up on pb already.
			err = fmt.Errorf("commit %s: %w: a batch ahead of it failed: %v", p.id, persistence.ErrUnavailable, err)
		case retryableInPipe(err) && pb.ctx.Err() == nil:
			// The server refused pb whole (a serialization failure, or a plain insert that met
			// a stored row) and everything ahead of it applied: Commit sends it again, with
			// its retries, as it would have alone. This runs before the reader reads the
			// results behind pb, so the episode (and any batch placed later) waits for it:
			// nothing of the resource reaches the server meanwhile but this retry, and the
			// batches already behind pb were refused (pb's version was not written) or are
			// failed unsent (doomed). Without it, a serialization failure between two
			// resources' transactions, which SERIALIZABLE reports now and then, reached the
			// client as a 503.
			err = s.Commit(pb.ctx, pb.b)
		case errors.Is(err, persistence.ErrFenced):
			err = fmt.Errorf("commit %s epoch %d: %w", p.id, pb.b.Epoch, err)
		case errors.Is(err, errPipeIO):
			err = fmt.Errorf("commit %s: %w: %w", p.id, persistence.ErrUnavailable, err)
		default:
			err = wrap("commit "+p.id, err)
		}
		pb.finish(err)
	}
}

// readBatch reads one transaction's results (readResults), up to its ReadyForQuery, and
// returns the first error and the transaction status the server reported. An error wrapping
// errPipeIO means the connection failed.
func readBatch(fe *pgproto3.Frontend, q *commitBatch) (byte, error) {
	ready := false
	var state byte
	exec := func() (pgconn.CommandTag, error) {
		for !ready {
			msg, err := fe.Receive()
			if err != nil {
				return pgconn.CommandTag{}, fmt.Errorf("%w: %w", errPipeIO, err)
			}
			switch m := msg.(type) {
			case *pgproto3.CommandComplete:
				return pgconn.NewCommandTag(string(m.CommandTag)), nil
			case *pgproto3.EmptyQueryResponse:
				return pgconn.CommandTag{}, nil
			case *pgproto3.ErrorResponse:
				return pgconn.CommandTag{}, pgconn.ErrorResponseToPgError(m)
			case *pgproto3.ReadyForQuery:
				ready, state = true, m.TxStatus
			}
		}
		return pgconn.CommandTag{}, errors.New("commit: the server ended the transaction's results early")
	}
	err := q.readResults(exec)
	if errors.Is(err, errPipeIO) {
		return 0, err
	}
	for !ready {
		msg, rerr := fe.Receive()
		if rerr != nil {
			return 0, fmt.Errorf("%w: %w", errPipeIO, rerr)
		}
		if m, ok := msg.(*pgproto3.ReadyForQuery); ok {
			ready, state = true, m.TxStatus
		}
	}
	return state, err
}
