package sqlite

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
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
// wrote, in all and by table (hotTreeGroups; the test log has them by B-tree).
//
// ids=second makes hold ids as round 18 did (the second, then 128 random bits); ids=tick as
// actors/resource/holdid.go does now (1/256 s, then the same bits). relay=marks marks each
// commit's events published while the next commit is under way, as the node's relay does
// (the mark joins that commit's group; its frames and statements count in the commits').
func BenchmarkCommitHot(b *testing.B) {
	for _, v := range []struct {
		ids   string
		marks bool
	}{{"second", false}, {"tick", false}, {"tick", true}} {
		name := "ids=" + v.ids
		if v.marks {
			name += ",relay=marks"
		}
		b.Run(name, func(b *testing.B) {
			s := MustOpen(b, Config{})
			g := newHotGen(v.ids)
			g.marks = v.marks
			mustCommit(b, s, createBatch("r"))
			for range 50 { // warm: the statements prepared, the file past its first pages
				g.commit(b, s)
			}
			st0, c0 := s.stats.stmts.Load(), g.commits
			cpu0 := cpuTime()
			b.ReportAllocs()
			for b.Loop() {
				g.commit(b, s)
			}
			g.settle(b)
			cpu := cpuTime() - cpu0
			b.StopTimer()
			n := float64(b.N * hotHolds)
			commits := float64(g.commits - c0)
			b.ReportMetric(n/b.Elapsed().Seconds(), "holds/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/n, "cpu-ns/hold")
			b.ReportMetric(float64(s.stats.stmts.Load()-st0)/commits, "stmts/commit")
			var e encodedBatch
			if err := hotEncode(s, g.batch, &e); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(textBytes(e.holds)+textBytes(e.idem)+textBytes(e.events))/hotHolds, "bound-B/hold")
			frames, byTree := hotFrames(b, v.ids, v.marks)
			reportFrames(b, frames, byTree)
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
	ids     string
	marks   bool // mark each commit's events published after it (relay=marks)
	batch   *persistence.Batch
	seq     int
	commits int
	marked  chan error // the mark under way (relay=marks)
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
		h.CreatedAt, h.UpdatedAt, h.ExpiresAt = now, now, now.Add(time.Minute)
		b.Holds[i] = h
		// The entry the actor makes with the hold (actors/booking/idempotency.go): all the
		// hold's, which the store may write as the hold's (holdkeys.go).
		b.Idempotency[i] = booking.IdempotencyEntry{Key: h.IdempotencyKey, Fingerprint: booking.Fingerprint(h.Buckets, h.Quantity, h.UserID),
			HoldID: id, CreatedAt: now}
		b.Events = append(b.Events, events.Event{Type: events.HoldPlaced, ResourceID: "r", Version: b.Version,
			Index: i, OccurredAt: now, Subject: "wrk-user", Hold: &b.Holds[i]})
	}
	b.Buckets = []booking.Bucket{{Key: "a", Capacity: booking.MaxCapacity, Held: int64(g.seq)}}
	mustCommit(tb, s, b)
	g.commits++
	if !g.marks {
		return
	}
	// The relay marks a commit's events while the next commits are under way: its mark
	// joins the next commit's group (awaitBooking), as in the node.
	g.settle(tb)
	keys := make([]persistence.EventKey, 0, len(b.Events))
	for i := range b.Events {
		e := &b.Events[i]
		keys = append(keys, persistence.EventKey{OccurredMS: e.OccurredAt.UnixMilli(), ResourceID: e.ResourceID, Version: e.Version, Index: e.Index})
	}
	done, published := make(chan error, 1), at.Add(time.Duration(g.seq)*time.Second/hotPerSecond)
	g.marked = done
	go func() { done <- s.MarkPublished(context.Background(), keys, published) }()
}

// settle waits for the mark under way, if any.
func (g *hotGen) settle(tb testing.TB) {
	if g.marked != nil {
		if err := <-g.marked; err != nil {
			tb.Fatal(err)
		}
		g.marked = nil
	}
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

// hotFrames returns the WAL frames (pages) a commit writes, in all and by the B-tree each
// page belongs to (dbstat's name: a table or an index; "other" for a page dbstat does not
// list, such as a freelist page), measured on a store of its own without checkpoints (which
// start the WAL over): 300 commits after 300 to warm up, the frames read from the WAL file's
// frame headers and mapped to their B-trees through dbstat.
func hotFrames(b *testing.B, ids string, marks bool) (frames float64, byTree map[string]float64) {
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
	g.marks = marks
	for range 300 {
		g.commit(b, s)
	}
	g.settle(b)
	wal0, err := os.ReadFile(cfg.Path + "-wal")
	if err != nil {
		b.Fatal(err)
	}
	c0 := g.commits
	for range 300 {
		g.commit(b, s)
	}
	g.settle(b)
	commits := float64(g.commits - c0)
	wal, err := os.ReadFile(cfg.Path + "-wal")
	if err != nil {
		b.Fatal(err)
	}
	var pageSize int
	if err := s.rdb.QueryRow("PRAGMA page_size").Scan(&pageSize); err != nil {
		b.Fatal(err)
	}
	tree := map[uint32]string{}
	rows, err := s.rdb.Query(`SELECT name, pageno FROM dbstat`)
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var name string
		var p uint32
		if err := rows.Scan(&name, &p); err != nil {
			b.Fatal(err)
		}
		tree[p] = name
	}
	if err := closeRows(rows); err != nil {
		b.Fatal(err)
	}
	byTree = map[string]float64{}
	for off := len(wal0); off+24 <= len(wal); off += pageSize + 24 {
		frames++
		name, ok := tree[binary.BigEndian.Uint32(wal[off:])]
		if !ok {
			name = "other"
		}
		byTree[name]++
	}
	for k := range byTree {
		byTree[k] /= commits
	}
	return frames / commits, byTree
}

// hotTreeGroups are the B-trees BenchmarkCommitHot reports frames of, by table.
var hotTreeGroups = map[string]string{
	"sqlite_autoindex_holds_1": "id", "holds": "holds", "holds_by_user": "holds", "holds_by_resource": "holds",
	"idempotency_keys": "idem", "sqlite_autoindex_idempotency_keys_1": "idem",
	"outbox": "outbox", "sqlite_autoindex_outbox_1": "outbox", "outbox_unpublished": "outbox", "outbox_unpublished_by_resource": "outbox",
	"outbox_unpublished_in_order": "outbox",
}

// reportFrames reports the frames per commit, in all, by table (hotTreeGroups; "rest" for
// the others), and logs them by B-tree.
func reportFrames(b *testing.B, frames float64, byTree map[string]float64) {
	b.ReportMetric(frames, "frames/commit")
	groups := map[string]float64{"id": 0, "holds": 0, "idem": 0, "outbox": 0, "rest": 0}
	names := make([]string, 0, len(byTree))
	for name, n := range byTree {
		g, ok := hotTreeGroups[name]
		if !ok {
			g = "rest"
		}
		groups[g] += n
		names = append(names, name)
	}
	for g, n := range groups {
		b.ReportMetric(n, g+"-frames/commit")
	}
	sort.Strings(names)
	var log strings.Builder
	for _, name := range names {
		fmt.Fprintf(&log, " %s=%.1f", name, byTree[name])
	}
	b.Logf("frames/commit %.1f:%s", frames, log.String())
}

// hotEncode encodes a batch as s's Commit would.
func hotEncode(s *Store, b *persistence.Batch, e *encodedBatch) error {
	return encode(b, e, !s.cfg.IdempotencyRows)
}
