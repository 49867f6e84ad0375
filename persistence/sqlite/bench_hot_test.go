package sqlite

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/actors/events"
	"github.com/allot/allot/persistence"
)

// BenchmarkCommitHot: the writer's work per durable hold in the shape a hot resource commits
// under load (the wrk row of the bench: every hold with an idempotency key and a hold.placed
// event, 32 holds a batch, 5,000 holds a second), sequential commits of one resource on a temp
// file (WAL, synchronous=FULL, the default config). Besides ns/op (one batch, fsync included)
// it reports what the writer spends per hold and per commit: the process's CPU (user+system,
// not fsync waits: the disk is shared and noisy), the statements the writer ran, the bytes of
// text bound per hold, and, measured on a store of its own, the WAL frames (pages) a commit
// wrote and how many of them were leaves of the holds' key index.
//
// ids=second makes hold ids as round 18 did (the second, then 128 random bits); ids=tick as
// actors/resource/holdid.go does now (1/256 s, then the same bits).
func BenchmarkCommitHot(b *testing.B) {
	for _, ids := range []string{"second", "tick"} {
		b.Run("ids="+ids, func(b *testing.B) {
			s := MustOpen(b, Config{})
			g := newHotGen(ids)
			mustCommit(b, s, createBatch("r"))
			for range 50 { // warm: the statements prepared, the file past its first pages
				g.commit(b, s)
			}
			st0, g0 := s.stats.stmts.Load(), s.stats.groups.Load()
			cpu0 := cpuTime()
			b.ReportAllocs()
			for b.Loop() {
				g.commit(b, s)
			}
			cpu := cpuTime() - cpu0
			b.StopTimer()
			n := float64(b.N * hotHolds)
			commits := float64(s.stats.groups.Load() - g0)
			b.ReportMetric(n/b.Elapsed().Seconds(), "holds/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/n, "cpu-ns/hold")
			b.ReportMetric(float64(s.stats.stmts.Load()-st0)/commits, "stmts/commit")
			var e encodedBatch
			if err := encode(g.batch, &e); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(textBytes(e.holds)+textBytes(e.idem)+textBytes(e.events))/hotHolds, "bound-B/hold")
			frames, idFrames := hotFrames(b, ids)
			b.ReportMetric(frames, "frames/commit")
			b.ReportMetric(idFrames, "id-frames/commit")
		})
	}
}

const (
	hotHolds     = 32
	hotPerSecond = 5000 // holds a second: about the wrk row's rate
	hotAlphabet  = "234567abcdefghijklmnopqrstuvwxyz"
)

// hotGen makes the batches of one hot resource.
type hotGen struct {
	ids   string
	batch *persistence.Batch
	seq   int
}

func newHotGen(ids string) *hotGen {
	return &hotGen{ids: ids, batch: &persistence.Batch{ResourceID: "r", Epoch: 1, Version: 1, Resource: res("r"),
		Holds: make([]booking.Hold, hotHolds), Idempotency: make([]booking.IdempotencyEntry, hotHolds)}}
}

// commit commits the next batch.
func (g *hotGen) commit(tb testing.TB, s *Store) {
	b := g.batch
	b.Version++
	b.Events = b.Events[:0]
	at := time.UnixMilli(1_900_000_000_000)
	for i := range b.Holds {
		g.seq++
		now := at.Add(time.Duration(g.seq) * time.Second / hotPerSecond)
		id := g.holdID(now)
		h := newHold("r", id)
		h.UserID = "wrk-user"
		h.IdempotencyKey = fmt.Sprintf("wrk-run-%d-%d", g.seq%4, g.seq)
		b.Holds[i] = h
		b.Idempotency[i] = booking.IdempotencyEntry{Key: h.IdempotencyKey, Fingerprint: "all:1:wrk-user", HoldID: id, CreatedAt: at}
		b.Events = append(b.Events, events.Event{Type: events.HoldPlaced, ResourceID: "r", Version: b.Version,
			Index: i, OccurredAt: at, Subject: "wrk-user", Hold: &b.Holds[i]})
	}
	b.Buckets = []booking.Bucket{{Key: "a", Capacity: booking.MaxCapacity, Held: int64(g.seq)}}
	mustCommit(tb, s, b)
}

// holdID makes an id of 32 characters as the actor would at now: "h_", the time field (the
// second in 20 bits, or the 1/256 s in 22), 128 random bits, in order-preserving base32.
func (g *hotGen) holdID(now time.Time) string {
	var r [16]byte
	_, _ = rand.Read(r[:])
	timeBits, t := uint(20), uint64(now.Unix())
	if g.ids == "tick" {
		timeBits, t = 22, uint64(now.UnixNano()/(int64(time.Second)/256))
	}
	hi, lo := binary.BigEndian.Uint64(r[:8]), binary.BigEndian.Uint64(r[8:])
	bit := func(i uint) uint64 { // bit i of time field + r, from the most significant
		switch {
		case i < timeBits:
			return t >> (timeBits - 1 - i) & 1
		case i < timeBits+64:
			return hi >> (63 - (i - timeBits)) & 1
		case i < timeBits+128:
			return lo >> (63 - (i - timeBits - 64)) & 1
		}
		return 0
	}
	out := []byte("h_")
	for c := uint(0); c < 30; c++ {
		var d uint64
		for k := range uint(5) {
			d = d<<1 | bit(5*c+k)
		}
		out = append(out, hotAlphabet[d])
	}
	return string(out)
}

func textBytes(args []any) int64 {
	var n int64
	for _, a := range args {
		switch v := a.(type) {
		case string:
			n += int64(len(v))
		case []byte:
			n += int64(len(v))
		}
	}
	return n
}

// hotFrames returns the WAL frames (pages) a commit writes, and those of them that are
// leaves of the holds' key index, measured on a store of its own without checkpoints (which
// start the WAL over): 300 commits after 300 to warm up, the frames read from the WAL file's
// frame headers and mapped to their B-trees through dbstat.
func hotFrames(b *testing.B, ids string) (frames, idFrames float64) {
	cfg := DefaultConfig(filepath.Join(b.TempDir(), "frames.db"))
	cfg.CheckpointPages = 0
	s := MustOpen(b, cfg)
	mustCommit(b, s, createBatch("r"))
	if err := s.write(context.Background(), "autocheckpoint", func(ctx context.Context) error {
		_, err := s.exec(ctx, "PRAGMA wal_autocheckpoint = 0")
		return err
	}); err != nil {
		b.Fatal(err)
	}
	g := newHotGen(ids)
	for range 300 {
		g.commit(b, s)
	}
	wal0, err := os.ReadFile(cfg.Path + "-wal")
	if err != nil {
		b.Fatal(err)
	}
	g0 := s.stats.groups.Load()
	for range 300 {
		g.commit(b, s)
	}
	commits := float64(s.stats.groups.Load() - g0)
	wal, err := os.ReadFile(cfg.Path + "-wal")
	if err != nil {
		b.Fatal(err)
	}
	var pageSize int
	if err := s.rdb.QueryRow("PRAGMA page_size").Scan(&pageSize); err != nil {
		b.Fatal(err)
	}
	idLeaves := map[uint32]bool{}
	rows, err := s.rdb.Query(`SELECT pageno FROM dbstat WHERE name = 'sqlite_autoindex_holds_1' AND pagetype = 'leaf'`)
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var p uint32
		if err := rows.Scan(&p); err != nil {
			b.Fatal(err)
		}
		idLeaves[p] = true
	}
	if err := closeRows(rows); err != nil {
		b.Fatal(err)
	}
	var all, id int
	for off := len(wal0); off+24 <= len(wal); off += pageSize + 24 {
		all++
		if idLeaves[binary.BigEndian.Uint32(wal[off:])] {
			id++
		}
	}
	return float64(all) / commits, float64(id) / commits
}
