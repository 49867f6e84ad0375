package reports

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// ViewsConfig configures the availability view counter. Defaults are filled by NewViews.
type ViewsConfig struct {
	// Store records the views. Required.
	Store Store
	// Subject returns the signed-in caller's user id, "" for an anonymous caller, whose views
	// are not counted (api.PrincipalOf(c).Subject). Required.
	Subject func(c *gin.Context) string
	// Key keys the hash that stands for a viewer in the store (HMAC-SHA256), so that the
	// table holds no user id and cannot be joined back to users without it. At least 16
	// bytes; every node must use the same key, or one user counts once per node. Required.
	Key []byte
	// Now is the clock that dates views. Default time.Now.
	Now func() time.Time
	// FlushInterval is how often Start's loop writes the views recorded since the last
	// write, in one transaction. Default 5s.
	FlushInterval time.Duration
	// MaxPending bounds the views waiting for a write (while the store is slow or down);
	// further views are dropped, counted in Dropped, and logged at the next flush. It also
	// bounds the (resource, user) pairs of the current day remembered to skip repeats: when
	// full they are forgotten, which costs a repeated (idempotent) write, never a wrong
	// count. Default 100000.
	MaxPending int
	// Timeout bounds one flush. Default 5s.
	Timeout time.Duration
	// Logger receives failed flushes and drops (counts only). Default slog.Default().
	Logger *slog.Logger
}

func (c *ViewsConfig) withDefaults() {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = 5 * time.Second
	}
	if c.MaxPending == 0 {
		c.MaxPending = 100_000
	}
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

func (c *ViewsConfig) validate() error {
	switch {
	case c.Store == nil || c.Subject == nil:
		return errors.New("reports: views config: Store and Subject are required")
	case len(c.Key) < 16:
		return errors.New("reports: views config: Key must have at least 16 bytes")
	case c.MaxPending < 0 || c.Timeout < 0 || c.FlushInterval < 0:
		return errors.New("reports: views config: FlushInterval, MaxPending and Timeout must be positive")
	}
	return nil
}

// Views counts distinct signed-in viewers of a resource's availability per UTC day, at the
// edge, off the request's path: Record only notes the view in memory (a map lookup under a
// mutex; a user already seen today costs nothing more), and Flush writes the new views in one
// transaction, every FlushInterval from the loop Start runs. The count is exact (one row per
// resource, day and viewer): a sale's audience is thousands to millions of rows a day, which a
// SQL table holds; a HyperLogLog sketch (about 1 KiB per resource and day at 2% error) is the
// step to take when it is not. Views recorded but not yet written when the process dies are
// lost (at most FlushInterval of new viewers); Close writes what is pending. Safe for
// concurrent use.
type Views struct {
	cfg ViewsConfig

	mu      sync.Mutex
	day     string
	seen    map[[2]string]struct{} // (resource, user id) noted today: in memory only
	pending []View
	dropped int64

	startOnce, closeOnce sync.Once
	stop, done           chan struct{}
	closeErr             error
}

// NewViews checks cfg and fills its defaults. Nothing runs until Start.
func NewViews(cfg ViewsConfig) (*Views, error) {
	cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Views{cfg: cfg, seen: map[[2]string]struct{}{}, stop: make(chan struct{}), done: make(chan struct{})}, nil
}

// viewer is the stored stand-in for a user id.
func (v *Views) viewer(subject string) string {
	m := hmac.New(sha256.New, v.cfg.Key)
	m.Write([]byte(subject))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// Record notes subject's view of resource rid now, for the next Flush. It never blocks on
// the store.
func (v *Views) Record(rid, subject string) {
	if rid == "" || subject == "" {
		return
	}
	day := v.cfg.Now().UTC().Format(time.DateOnly)
	k := [2]string{rid, subject}
	v.mu.Lock()
	defer v.mu.Unlock()
	if day != v.day || len(v.seen) >= v.cfg.MaxPending {
		v.day, v.seen = day, map[[2]string]struct{}{}
	}
	if _, dup := v.seen[k]; dup {
		return
	}
	if len(v.pending) >= v.cfg.MaxPending {
		v.dropped++
		return
	}
	v.seen[k] = struct{}{}
	v.pending = append(v.pending, View{ResourceID: rid, Day: day, Viewer: v.viewer(subject)})
}

// Pending returns how many views wait for a write; Dropped how many were dropped because
// MaxPending views were waiting.
func (v *Views) Pending() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.pending)
}

// Dropped: see Pending.
func (v *Views) Dropped() int64 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.dropped
}

// Flush writes the pending views in one transaction. When the write fails they are pending
// again (within MaxPending) for the next Flush, and the error is returned.
func (v *Views) Flush(ctx context.Context) error {
	v.mu.Lock()
	batch := v.pending
	v.pending = nil
	v.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, v.cfg.Timeout)
	defer cancel()
	err := v.cfg.Store.RecordViews(ctx, batch)
	if err == nil {
		return nil
	}
	v.mu.Lock()
	keep := min(len(batch), max(0, v.cfg.MaxPending-len(v.pending)))
	v.dropped += int64(len(batch) - keep)
	v.pending = append(batch[:keep:keep], v.pending...)
	v.mu.Unlock()
	return err
}

// Start runs the flush loop until Close. Calling it again does nothing.
func (v *Views) Start() {
	v.startOnce.Do(func() {
		go func() {
			defer close(v.done)
			t := time.NewTicker(v.cfg.FlushInterval)
			defer t.Stop()
			var reported int64
			for {
				select {
				case <-v.stop:
					return
				case <-t.C:
				}
				if err := v.Flush(context.Background()); err != nil {
					v.cfg.Logger.Warn("reports: views not written yet", "pending", v.Pending(), "error", err)
				}
				if d := v.Dropped(); d != reported {
					v.cfg.Logger.Warn("reports: views dropped (the store is behind)", "dropped", d-reported)
					reported = d
				}
			}
		}()
	})
}

// Close stops the loop (if started) and writes what is pending. Safe to call twice; the
// second call returns the first's result.
func (v *Views) Close() error {
	v.closeOnce.Do(func() {
		close(v.stop)
		started := true
		v.startOnce.Do(func() { started = false })
		if started {
			<-v.done
		}
		v.closeErr = v.Flush(context.Background())
	})
	return v.closeErr
}

// Middleware notes a view for every successful answer of the route it wraps, which must have
// a :rid parameter (GET /v1/resources/:rid/availability). It runs after the handler and
// only touches memory, so a view never delays or fails the answer.
func (v *Views) Middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Next()
		if c.Writer.Status() != http.StatusOK {
			return
		}
		v.Record(c.Param("rid"), v.cfg.Subject(c))
	}
}
