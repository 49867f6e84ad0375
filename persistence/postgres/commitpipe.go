package postgres

import (
	"context"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// A Commit's round trip at the pgconn level: the same messages pgx.Conn.SendBatch sends in
// its default mode (the statements prepared once per connection, then Bind/Execute for each
// in one pipeline ending in one Sync), with the parameters encoded here into a buffer that
// outlives the commit, and the messages written from another such buffer.
//
// Why not SendBatch: pgx encodes each statement's parameters into a buffer it shrinks back to
// 256 bytes before every statement, so a commit's arrays (the holds, keys and events of
// dozens of holds, tens of KB) were re-grown by appends, element by element, for every
// commit; and pgconn's write buffer, which the Bind messages are appended to, starts every
// commit at 1 KB and grows the same way. The two were a third of the bytes a durable hold
// allocated on the node (docs/PERFORMANCE.md, round 4), which the garbage collector paid for.

// encodeBuf holds a commit's encoded parameters, every statement's; values point into data.
type encodeBuf struct {
	data    []byte
	values  [][]byte
	formats []int16
	offsets [][2]int // where each value lies in data, -1 for a NULL
	first   []int    // the index in values of each statement's first parameter, and the end
}

// maxKeptBuf bounds a buffer kept for the next commit (a huge batch's is dropped).
const maxKeptBuf = 1 << 20

// commitBufs keeps a Store's encodeBufs and writeBufs from one commit to the next. Its zero
// value is ready; it is safe for concurrent use (each commit takes its own buffers).
type commitBufs struct {
	encode, write sync.Pool
	arenas        sync.Pool // *commitArena (commitarena.go)
}

func (c *commitBufs) encodeBuf() *encodeBuf {
	if e, _ := c.encode.Get().(*encodeBuf); e != nil {
		return e
	}
	return new(encodeBuf)
}

func (c *commitBufs) writeBuf() *writeBuf {
	if w, _ := c.write.Get().(*writeBuf); w != nil {
		return w
	}
	return new(writeBuf)
}

// encode encodes args for each statement's parameters the way pgx's ExtendedQueryBuilder
// does: a string as text, anything else in the format the parameter's type prefers, falling
// back to the other format if that one cannot encode the value.
func (e *encodeBuf) encode(m *pgtype.Map, sds []*pgconn.StatementDescription, args func(int) []any) error {
	e.data, e.values, e.formats, e.offsets, e.first = e.data[:0], e.values[:0], e.formats[:0], e.offsets[:0], e.first[:0]
	for s, sd := range sds {
		e.first = append(e.first, len(e.offsets))
		if err := e.encodeOne(m, sd, args(s)); err != nil {
			return err
		}
	}
	e.first = append(e.first, len(e.offsets))
	for _, o := range e.offsets {
		if o[0] < 0 {
			e.values = append(e.values, nil)
		} else {
			e.values = append(e.values, e.data[o[0]:o[1]:o[1]])
		}
	}
	return nil
}

func (e *encodeBuf) encodeOne(m *pgtype.Map, sd *pgconn.StatementDescription, args []any) error {
	if len(sd.ParamOIDs) != len(args) {
		return fmt.Errorf("statement takes %d parameters, got %d", len(sd.ParamOIDs), len(args))
	}
	for i, arg := range args {
		oid := sd.ParamOIDs[i]
		format := m.FormatCodeForOID(oid)
		switch arg.(type) {
		case string, *string:
			format = pgtype.TextFormatCode
		}
		start := len(e.data)
		buf, err := m.Encode(oid, format, arg, e.data)
		if err != nil {
			other := int16(pgtype.TextFormatCode)
			if format == pgtype.TextFormatCode {
				other = pgtype.BinaryFormatCode
			}
			var err2 error
			if buf, err2 = m.Encode(oid, other, arg, e.data[:start]); err2 != nil {
				return fmt.Errorf("encode parameter $%d: %w", i+1, err)
			}
			format = other
		}
		e.formats = append(e.formats, format)
		if buf == nil { // NULL
			e.offsets = append(e.offsets, [2]int{-1, -1})
			continue
		}
		e.data = buf
		e.offsets = append(e.offsets, [2]int{start, len(buf)})
	}
	return nil
}

// statement returns the values and formats of the s-th statement's parameters.
func (e *encodeBuf) statement(s int) ([][]byte, []int16) {
	a, b := e.first[s], e.first[s+1]
	return e.values[a:b:b], e.formats[a:b:b]
}

// release returns e to pool, unless it grew past maxKeptBuf.
func (e *encodeBuf) release(pool *sync.Pool) {
	if cap(e.data) > maxKeptBuf {
		return
	}
	clear(e.values) // no pointers into data kept past the commit
	pool.Put(e)
}

// writeBuf is lent to the connection's pgproto3.Frontend as its write buffer for one commit,
// with room for all of the commit's messages, so that they are appended without growing it.
//
// Sent as a message (Frontend.Send) it adds no bytes: its Encode moves what the frontend
// has buffered into buf and hands buf back as the frontend's buffer. The frontend writes it
// out at the Sync's flush and, having held more than 1 KB, replaces it with a small buffer of
// its own (pgproto3.Frontend.Flush); whether it did is checked (held), never assumed: a
// buffer the frontend may still use is not kept for another commit.
type writeBuf struct {
	buf   []byte
	probe bool // Encode only checks whether the frontend's buffer is buf
	held  bool // what the probe found
}

func (w *writeBuf) Frontend() {}
func (w *writeBuf) Decode(_ []byte) error {
	return fmt.Errorf("commit: a write buffer is not a message")
}
func (w *writeBuf) Encode(dst []byte) ([]byte, error) {
	if w.probe {
		w.held = cap(dst) > 0 && cap(w.buf) > 0 && &dst[:1][0] == &w.buf[:1][0]
		return dst, nil
	}
	return append(w.buf[:0], dst...), nil
}

// lendThreshold is the least a commit's parameters weigh for its messages to go through a
// writeBuf: more than the 1 KB a frontend keeps after a flush, so that it lets the buffer go.
const lendThreshold = 2 << 10

// messagesSize bounds from above the bytes of the Bind, Describe and Execute messages of
// sds with e's parameters, and the Sync.
func messagesSize(sds []*pgconn.StatementDescription, e *encodeBuf) int {
	n := len(e.data) + 5
	for s, sd := range sds {
		params := e.first[s+1] - e.first[s]
		n += 5 + 1 + len(sd.Name) + 1 + 2 + 2*params + 2 + 4*params + 2 + 7 + 10
	}
	return n
}

// sendCommit runs q's transaction on conn: BEGIN, the statements, COMMIT, in one round trip.
// It returns the first statement's error as readResults maps it (a refused fence, a hold or entry of
// another resource, a failed COMMIT); on an error the server skipped the rest of the pipeline,
// COMMIT included, and the caller rolls back. Statements are prepared on conn the first time
// (pgx keeps them per connection, by their SQL); an error that leaves the server without a
// statement pgx believes prepared (SQLSTATE 26000, or a plan whose result type changed, 0A000)
// forgets them, so that the next attempt prepares them again.
func sendCommit(ctx context.Context, conn *pgx.Conn, q *commitBatch, bufs *commitBufs) error {
	n := len(q.queries) + 2
	sds := make([]*pgconn.StatementDescription, n)
	for i := range n {
		sql := q.sql(i)
		sd, err := conn.Prepare(ctx, sql, sql)
		if err != nil {
			return err
		}
		sds[i] = sd
	}
	e := bufs.encodeBuf()
	defer e.release(&bufs.encode)
	if err := e.encode(conn.TypeMap(), sds, q.args); err != nil {
		return err
	}
	// Config.Tracer sees these statements as it saw SendBatch's.
	tracer, _ := conn.Config().Tracer.(pgx.BatchTracer)
	if tracer != nil {
		ctx = tracer.TraceBatchStart(ctx, conn, pgx.TraceBatchStartData{})
	}
	p := conn.PgConn().StartPipeline(ctx)
	var w *writeBuf
	if len(e.data) > lendThreshold {
		w = bufs.writeBuf()
		if size := messagesSize(sds, e); cap(w.buf) < size {
			w.buf = make([]byte, 0, size)
		}
		w.probe = false
		conn.PgConn().Frontend().Send(w)
	}
	for s, sd := range sds {
		values, formats := e.statement(s)
		p.SendQueryStatement(sd, values, formats, nil)
	}
	if err := p.Sync(); err != nil {
		p.Close()
		return err // w is not kept: the frontend may hold it (the connection is closed)
	}
	if w != nil {
		w.probe, w.held = true, true // held unless the probe finds otherwise
		conn.PgConn().Frontend().Send(w)
		if !w.held && cap(w.buf) <= maxKeptBuf {
			bufs.write.Put(w)
		}
	}
	err := q.readPipeline(p, func(i int, tag pgconn.CommandTag, err error) {
		if tracer != nil {
			tracer.TraceBatchQuery(ctx, conn, pgx.TraceBatchQueryData{SQL: q.sql(i), Args: q.args(i), CommandTag: tag, Err: err})
		}
	})
	if cerr := p.Close(); err == nil {
		err = cerr
	}
	if tracer != nil {
		tracer.TraceBatchEnd(ctx, conn, pgx.TraceBatchEndData{Err: err})
	}
	if code := sqlState(err); code == "26000" || code == "0A000" {
		for i := range n {
			_ = conn.Deallocate(ctx, q.sql(i))
		}
	}
	return err
}

// sql is the text of the i-th statement of q's transaction (0: BEGIN, last: COMMIT).
func (q *commitBatch) sql(i int) string {
	switch {
	case i == 0:
		return sqlBegin
	case i == len(q.queries)+1:
		return sqlCommit
	}
	return q.queries[i-1].sql
}

func (q *commitBatch) args(i int) []any {
	if i == 0 || i == len(q.queries)+1 {
		return nil
	}
	return q.queries[i-1].args
}

// readPipeline reads the results of sendCommit's statements in order (readResults), telling
// trace each statement's result.
func (q *commitBatch) readPipeline(p *pgconn.Pipeline, trace func(i int, tag pgconn.CommandTag, err error)) error {
	i := 0
	exec := func() (tag pgconn.CommandTag, err error) {
		defer func() { trace(i, tag, err); i++ }()
		res, err := p.GetResults()
		if err != nil {
			return pgconn.CommandTag{}, err
		}
		rr, ok := res.(*pgconn.ResultReader)
		if !ok {
			return pgconn.CommandTag{}, fmt.Errorf("commit: unexpected pipeline result %T", res)
		}
		return rr.Close()
	}
	return q.readResults(exec)
}
