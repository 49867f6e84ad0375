package clustertest

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"sync"
	"sync/atomic"
	"time"

	"github.com/allot/allot/api/wire"
)

// Load is a steady stream of holds (and some confirms and cancels) from Workers clients
// against random resources and random nodes, every logical request with its own
// Idempotency-Key reused on retries. It records what was acknowledged, for the audit.
type Load struct {
	Client    *Client
	Targets   func() []string // base URLs to spread over (re-read each request)
	Resources []string        // resource ids with one bucket "all"
	Workers   int
	Seed      int64

	ok, soldOut, failed, retries atomic.Int64

	mu     sync.Mutex
	acked  map[string]string // hold id -> last acknowledged status
	errs   []string
	owners map[string]int

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Start launches the workers; Stop ends them and waits.
func (l *Load) Start(ctx context.Context) {
	if l.Client.Failover == nil {
		l.Client.Failover = l.Targets // retries go to other nodes, as behind a load balancer
	}
	l.acked = map[string]string{}
	l.owners = map[string]int{}
	ctx, l.cancel = context.WithCancel(ctx)
	for w := 0; w < l.Workers; w++ {
		l.wg.Add(1)
		go l.worker(ctx, w)
	}
}

// Stop stops the workers and waits for them.
func (l *Load) Stop() {
	if l.cancel != nil {
		l.cancel()
	}
	l.wg.Wait()
}

func (l *Load) worker(ctx context.Context, w int) {
	defer l.wg.Done()
	rng := rand.New(rand.NewSource(l.Seed + int64(w)))
	var mine []string
	for i := 0; ctx.Err() == nil; i++ {
		targets := l.Targets()
		base := targets[rng.Intn(len(targets))]
		rid := l.Resources[rng.Intn(len(l.Resources))]
		switch {
		case len(mine) > 0 && rng.Intn(4) == 0:
			// Confirm or cancel one of this worker's holds.
			j := rng.Intn(len(mine))
			hid := mine[j]
			mine = append(mine[:j], mine[j+1:]...)
			op, st := "confirm", "confirmed"
			if rng.Intn(3) == 0 {
				op, st = "cancel", "cancelled"
			}
			rid, id := splitHoldRef(hid)
			h, p, err := l.Client.Transition(ctx, base, rid, id, op)
			if err != nil {
				// Unknown outcome (timeout, or the run stopped mid-request): either status is
				// a correct final state.
				l.mu.Lock()
				l.acked[id] = l.acked[id] + "|" + st
				l.mu.Unlock()
			}
			l.record(err, p, func() { l.setAcked(h.ID, st) })
		default:
			key := fmt.Sprintf("load-%d-%d-%d", l.Seed, w, i)
			got, info, err := l.Client.API(base).PlaceHold(ctx, rid, key, wire.PlaceHold{Buckets: []string{"all"}, Quantity: 1, UserID: fmt.Sprintf("u%d", w)})
			if info.Status != 0 {
				l.retries.Add(int64(info.Attempts - 1))
				l.mu.Lock()
				l.owners[info.Owner]++
				l.mu.Unlock()
			}
			h, p, err := holdOrProblem(got, err)
			l.record(err, p, func() {
				l.setAcked(h.ID, "held")
				mine = append(mine, rid+"/"+h.ID)
			})
		}
	}
}

func splitHoldRef(s string) (string, string) {
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '/' {
			return s[:i], s[i+1:]
		}
	}
	return "", s
}

func (l *Load) record(err error, p *wire.Problem, onOK func()) {
	switch {
	case err != nil:
		if errors.Is(err, context.Canceled) {
			return
		}
		l.failed.Add(1)
		l.mu.Lock()
		if len(l.errs) < 20 {
			l.errs = append(l.errs, err.Error())
		}
		l.mu.Unlock()
	case p != nil && p.Code == "sold_out":
		l.soldOut.Add(1)
	case p != nil:
		l.failed.Add(1)
		l.mu.Lock()
		if len(l.errs) < 20 {
			l.errs = append(l.errs, fmt.Sprintf("%d %s: %s", p.Status, p.Code, p.Detail))
		}
		l.mu.Unlock()
	default:
		l.ok.Add(1)
		onOK()
	}
}

func (l *Load) setAcked(id, st string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.acked[id] = st
}

// Acked returns a copy of the acknowledged holds and their last acknowledged status; after a
// transition with an unknown outcome the status lists the alternatives: "held|cancelled".
func (l *Load) Acked() map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]string, len(l.acked))
	for k, v := range l.acked {
		out[k] = v
	}
	return out
}

// Owners returns how many hold answers each owner (X-Allot-Owner) gave.
func (l *Load) Owners() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]int, len(l.owners))
	for k, v := range l.owners {
		out[k] = v
	}
	return out
}

// Counts returns successes, sold-out answers, failures (after retries) and retries.
func (l *Load) Counts() (ok, soldOut, failed, retries int64) {
	return l.ok.Load(), l.soldOut.Load(), l.failed.Load(), l.retries.Load()
}

// Errors returns up to 20 failure messages.
func (l *Load) Errors() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.errs...)
}

// WaitOK waits until at least n more requests have succeeded, or fails after timeout.
func (l *Load) WaitOK(n int64, timeout time.Duration) error {
	start := l.ok.Load()
	deadline := time.Now().Add(timeout)
	for l.ok.Load()-start < n {
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d successes in %s (failed %d): %v", l.ok.Load()-start, n, timeout, l.failed.Load(), l.Errors())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil
}
