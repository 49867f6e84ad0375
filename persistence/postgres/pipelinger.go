package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// A pipe's turnaround (docs/PERFORMANCE.md, round 19, "the PostgreSQL pipe's turnaround"): at
// 256 clients a resource has one or two commits at the store, so a pipe whose queue drained
// used to end with its last result and be rebuilt (a goroutine, a pooled connection, its
// statements looked up, a reader goroutine) for the actor's next commit; and a batch placed
// on a live pipe waited for the pipe's sender to get a core, 0.9-2.9 ms of a 8-12 ms commit
// cycle on the 2 cores measured, while the backend had nothing to do. So:
//
//   - An episode lingers: with nothing queued, sent or in flight, it keeps its connection and
//     both goroutines for pipeLinger before it ends (not when the pool has no connection to
//     spare, nor once the store is closing).
//   - Enqueue sends on its caller's goroutine when the pipe is idle (a live connection, nothing
//     queued, nobody sending, nothing failed on the connection): it encodes and writes the
//     batch itself (send), instead of waking the sender. The reader reads its results as
//     any other's.
//
// Order: one goroutine writes on the connection at a time (pipe.sending, under pipesMu), and
// it takes batches in the order of seq: the caller sends only with nothing queued, and the
// sender waits while a caller sends. Failures are unchanged: send marks a batch that fails
// unsent as failed (the batches behind it are doomed), a batch's ctx closes the socket, and
// no caller sends on a connection on which something failed; the episode ends as before.

// pipeLinger is how long an idle pipe keeps its connection and goroutines for the resource's
// next batch: longer than an actor takes from a commit's answer to its next commit at 256
// clients (under a millisecond of its own work, plus the wait for a core), short enough that
// the 16 connections of a node's pool are not held by resources that went quiet.
const pipeLinger = 5 * time.Millisecond

// lingerState is an episode's linger; guarded by Store.pipesMu.
type lingerState struct {
	gen     uint64 // bumped when the pipe is busy again: a timer of an older gen does nothing
	armed   bool   // a timer runs for gen
	expired bool   // the timer of gen fired: the episode ends
	timer   *time.Timer
}

// reset ends the linger (the pipe is busy, or the episode ends). pipesMu held.
func (l *lingerState) reset() {
	l.gen++
	l.armed, l.expired = false, false
	if l.timer != nil {
		l.timer.Stop()
		l.timer = nil
	}
}

// idle reports whether a batch placed now may be sent on its caller's goroutine: the episode
// holds a connection on which nothing failed, and nothing is queued or being sent. pipesMu
// held.
func (p *pipe) idle() bool {
	return p.conn != nil && !p.sending && len(p.queue) == 0 && !p.failed && !p.broken && !p.ending
}

// sendHere sends pb on p's connection on the calling goroutine (Enqueue, p.idle()). Called with
// pipesMu held; returns with it released.
func (s *Store) sendHere(p *pipe, pb *piped) {
	p.sending = true
	p.linger.reset()
	conn := p.conn
	s.pipesMu.Unlock()
	s.send(p, conn, pb) // a failure is marked on p (failed, doomed, broken) and reported to pb
	s.pipesMu.Lock()
	p.sending = false
	p.cond.Broadcast()
	s.pipesMu.Unlock()
}

// lingerWait waits, once, for the idle pipe to get a batch, arming the linger's timer first.
// It returns false when the episode should end instead: the linger expired, the store is
// closing, or the pool has no connection to spare. pipesMu held (Wait releases it meanwhile).
func (s *Store) lingerWait(p *pipe) bool {
	if s.pipesClosed || p.linger.expired {
		return false
	}
	if !p.linger.armed {
		if !poolHasRoom(s.pool) {
			return false
		}
		p.linger.armed = true
		gen := p.linger.gen
		p.linger.timer = time.AfterFunc(pipeLinger, func() {
			s.pipesMu.Lock()
			if p.linger.gen == gen {
				p.linger.expired = true
				p.cond.Broadcast()
			}
			s.pipesMu.Unlock()
		})
	}
	p.cond.Wait()
	return true
}

// poolHasRoom reports whether another goroutine could acquire a connection from pool without
// waiting for one to be released.
func poolHasRoom(pool *pgxpool.Pool) bool {
	st := pool.Stat()
	return st.IdleConns() > 0 || st.TotalConns() < st.MaxConns()
}

// episode sends p's batches on conn while there are any and nothing failed, lingering when it
// is idle, then waits for their results and returns conn to the pool (or drops it).
func (s *Store) episode(p *pipe, conn *pgxpool.Conn) {
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		s.readPipe(p, conn)
	}()
	s.pipesMu.Lock()
	p.conn = conn
	s.pipesMu.Unlock()
	for {
		s.pipesMu.Lock()
		for {
			if p.sending { // a caller sends (sendHere); what it leaves behind is next
				p.cond.Wait()
				continue
			}
			if p.failed || p.broken || len(p.queue) > 0 {
				break
			}
			if len(p.inflight) > 0 {
				p.cond.Wait()
				continue
			}
			if !s.lingerWait(p) {
				break
			}
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
			p.sending = true
			p.linger.reset()
		}
		end := batch == nil && doomed == nil
		if end {
			p.conn = nil // no caller sends on it from now on
			p.linger.reset()
		}
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
		s.pipesMu.Lock()
		p.sending = false
		p.cond.Broadcast()
		s.pipesMu.Unlock()
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
