package resource

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/persistence"
)

// batchRecorder wraps a real store and records the holds per successful commit.
type batchRecorder struct {
	persistence.Store
	mu    sync.Mutex
	sizes []int
	// atStore sums the time Commit calls spent in the store (Commit only, not Enqueue):
	// against the wall time, the share of it with a commit at the store.
	atStore time.Duration
	// For a pipelining store: atStore is the time with at least one commit at the store
	// (enqueued, not yet answered), latency the sum of each commit's time there.
	inflight  int
	busySince time.Time
	latency   time.Duration
}

func (r *batchRecorder) Commit(ctx context.Context, b *persistence.Batch) error {
	start := time.Now()
	err := r.Store.Commit(ctx, b)
	d := time.Since(start)
	r.mu.Lock()
	r.atStore += d
	r.mu.Unlock()
	return r.record(b, err)
}

func (r *batchRecorder) record(b *persistence.Batch, err error) error {
	if err == nil && !b.Create {
		r.mu.Lock()
		r.sizes = append(r.sizes, len(b.Holds))
		r.mu.Unlock()
	}
	return err
}

// pipelineRecorder is a batchRecorder of a store that pipelines (see pipeliner).
type pipelineRecorder struct{ *batchRecorder }

func (r pipelineRecorder) Enqueue(ctx context.Context, b *persistence.Batch) func() error {
	start := time.Now()
	r.mu.Lock()
	if r.inflight == 0 {
		r.busySince = start
	}
	r.inflight++
	r.mu.Unlock()
	wait := r.Store.(pipeliner).Enqueue(ctx, b)
	return func() error {
		err := wait()
		end := time.Now()
		r.mu.Lock()
		r.latency += end.Sub(start)
		r.inflight--
		if r.inflight == 0 {
			r.atStore += end.Sub(r.busySince)
		}
		r.mu.Unlock()
		return r.record(b, err)
	}
}

// PipelineShape is the store's (pipelineShaper), if it has one.
func (r pipelineRecorder) PipelineShape() (depth, minBatch int) {
	if s, ok := r.Store.(pipelineShaper); ok {
		return s.PipelineShape()
	}
	return 0, 0
}

// recorded wraps store in a batchRecorder that keeps its ability to pipeline.
func recorded(store persistence.Store) (persistence.Store, *batchRecorder) {
	rec := &batchRecorder{Store: store}
	if _, ok := store.(pipeliner); ok {
		return pipelineRecorder{rec}, rec
	}
	return rec, rec
}

// reset forgets what was recorded (the setup's commits).
func (r *batchRecorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.sizes, r.atStore, r.latency = nil, 0, 0
}

// storeTime is the time with a commit at the store, the sum of the commits' times there, and
// how many commits succeeded.
func (r *batchRecorder) storeTime() (busy, latency time.Duration, commits int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	latency = r.latency
	if latency == 0 { // Commit: one at a time
		latency = r.atStore
	}
	return r.atStore, latency, len(r.sizes)
}

func (r *batchRecorder) median() float64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.sizes) == 0 {
		return 0
	}
	s := slices.Clone(r.sizes)
	slices.Sort(s)
	return float64(s[len(s)/2])
}

// BenchmarkHotResource measures durable holds per second on one resource, in process, with 64
// concurrent requesters each waiting for its reply (every reply follows a successful commit).
func BenchmarkHotResource(b *testing.B) {
	b.Run("memstore", func(b *testing.B) { benchHot(b, MustMemstore(b), DefaultConfig().MaxInFlight) })
	// sqlite pipelines up to MaxInFlight commits of the resource (its writer takes them in
	// order, several in one transaction).
	b.Run("sqlite", func(b *testing.B) { benchHot(b, MustSQLite(b), DefaultConfig().MaxInFlight) })
	// The same without the pipeline: one commit of the resource at the store at a time.
	b.Run("sqlite-in-flight=1", func(b *testing.B) { benchHot(b, MustSQLite(b), 1) })
}

func benchHot(b *testing.B, store persistence.Store, inFlight int) {
	const requesters = 64
	st, rec := recorded(store)
	h := newHarness(b, st)
	h.cfg.MaxInFlight = inFlight
	pid := h.spawn("hot")
	h.create(pid, "hot", map[string]int64{"all": booking.MaxCapacity})
	var (
		next   atomic.Int64
		failed atomic.Int64
		wg     sync.WaitGroup
	)
	b.ResetTimer()
	start := time.Now()
	for range requesters {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				rep, err := h.tryAsk(pid, holdCmd("hot", "", "user-1", 1, "all"))
				if err != nil || rep.GetError() != nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d holds failed", n, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "holds/s")
	b.ReportMetric(rec.median(), "median-batch")
	b.ReportMetric(float64(b.N)/float64(len(rec.sizes)), "mean-batch")
}

// BenchmarkSoldOut measures the sold-out answer of a full resource: no store call, one
// requester waiting for each reply (the latency of the fast path, future included).
func BenchmarkSoldOut(b *testing.B) {
	store := MustMemstore(b)
	h := newHarness(b, store)
	pid := h.spawn("full")
	h.create(pid, "full", map[string]int64{"all": 1})
	mustOK(b, h.ask(pid, holdCmd("full", "", "u", 1, "all")))
	var commits atomic.Int64
	store.SetCommitHook(func(context.Context, *persistence.Batch) error { commits.Add(1); return nil })
	cmd := holdCmd("full", "", "u", 1, "all")
	b.ResetTimer()
	for range b.N {
		rep, err := h.tryAsk(pid, cmd)
		if err != nil || code(rep) != booking.CodeSoldOut {
			b.Fatalf("reply %v, %v", rep, err)
		}
	}
	b.StopTimer()
	if commits.Load() != 0 {
		b.Fatalf("%d commits for sold-out answers", commits.Load())
	}
}
