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
// outlives the commit.
//
// Why not SendBatch: pgx encodes each statement's parameters into a buffer it shrinks back to
// 256 bytes before every statement, so a commit's arrays (the holds, keys and events of
// dozens of holds, tens of KB) were re-grown by appends, element by element, for every
// commit: about a sixth of the bytes a durable hold allocated on the node (docs/PERFORMANCE.md,
// round 4), which the garbage collector then paid for. pgx's write buffer (the Bind messages)
// is still grown per commit; only pgconn could change that.

// encodeBuf holds one statement's encoded parameters; values point into data.
type encodeBuf struct {
	data    []byte
	values  [][]byte
	formats []int16
	offsets [][2]int // where each value lies in data, -1 for a NULL
}

// maxKeptEncodeBuf bounds the buffer kept for the next commit (a huge batch's is dropped).
const maxKeptEncodeBuf = 1 << 20

var encodeBufs = sync.Pool{New: func() any { return new(encodeBuf) }}

// encode encodes args for sd's parameters the way pgx's ExtendedQueryBuilder does: a string
// as text, anything else in the format the parameter's type prefers, falling back to the other
// format if that one cannot encode the value. values is valid until the next encode.
func (e *encodeBuf) encode(m *pgtype.Map, sd *pgconn.StatementDescription, args []any) error {
	if len(sd.ParamOIDs) != len(args) {
		return fmt.Errorf("statement takes %d parameters, got %d", len(sd.ParamOIDs), len(args))
	}
	e.data, e.values, e.formats, e.offsets = e.data[:0], e.values[:0], e.formats[:0], e.offsets[:0]
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
	for _, o := range e.offsets {
		if o[0] < 0 {
			e.values = append(e.values, nil)
		} else {
			e.values = append(e.values, e.data[o[0]:o[1]:o[1]])
		}
	}
	return nil
}

// release returns e to the pool, unless it grew past maxKeptEncodeBuf.
func (e *encodeBuf) release() {
	if cap(e.data) > maxKeptEncodeBuf {
		return
	}
	clear(e.values) // no pointers into data kept past the commit
	encodeBufs.Put(e)
}

// sendCommit runs q's transaction on conn: BEGIN, the statements, COMMIT, in one round trip.
// It returns the first statement's error as read maps it (a refused fence, a hold or entry of
// another resource, a failed COMMIT); on an error the server skipped the rest of the pipeline,
// COMMIT included, and the caller rolls back. Statements are prepared on conn the first time
// (pgx keeps them per connection, by their SQL); an error that leaves the server without a
// statement pgx believes prepared (SQLSTATE 26000, or a plan whose result type changed, 0A000)
// forgets them, so that the next attempt prepares them again.
func sendCommit(ctx context.Context, conn *pgx.Conn, q *commitBatch) error {
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
	// Config.Tracer sees these statements as it saw SendBatch's.
	tracer, _ := conn.Config().Tracer.(pgx.BatchTracer)
	if tracer != nil {
		ctx = tracer.TraceBatchStart(ctx, conn, pgx.TraceBatchStartData{})
	}
	e := encodeBufs.Get().(*encodeBuf)
	defer e.release()
	m := conn.TypeMap()
	p := conn.PgConn().StartPipeline(ctx)
	for i, sd := range sds {
		if err := e.encode(m, sd, q.args(i)); err != nil {
			p.Close() // nothing was flushed: pgconn closes the connection (unsynced requests)
			return err
		}
		p.SendQueryStatement(sd, e.values, e.formats, nil)
	}
	if err := p.Sync(); err != nil {
		p.Close()
		return err
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
