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

// ViewsConfig configures the availability view counter.
type ViewsConfig struct {
	// Store records the views. Required.
	Store Store
	// Subject returns the signed-in caller's user id, "" for an anonymous caller, whose views
	// are not counted (api.PrincipalOf(c).Subject). Required.
	Subject func(c *gin.Context) string
	// Key keys the hash that stands for a viewer in the store (HMAC-SHA256), so that the
	// table holds no user id and cannot be joined back to users without it. At least 16
	// bytes; derive it from the node's data key. Required.
	Key []byte
	// Now is the clock that dates views. Default time.Now.
	Now func() time.Time
	// Remember bounds the (resource, viewer) pairs of the current day kept in memory to skip
	// repeated writes; when full it is cleared. Default 100000.
	Remember int
	// Timeout bounds one write, which runs after the response is written. Default 1s.
	Timeout time.Duration
	// Logger receives failed writes (resource id only). Default slog.Default().
	Logger *slog.Logger
}

// Views counts distinct signed-in viewers of a resource's availability per UTC day, at the
// edge. The count is exact (one row per resource, day and viewer): a sale's audience is
// thousands to millions of rows a day, which a SQL table holds; a HyperLogLog sketch (about 1
// KiB per resource and day at 2% error) is the step to take when it is not. Safe for
// concurrent use.
type Views struct {
	cfg ViewsConfig

	mu   sync.Mutex
	day  string
	seen map[[2]string]struct{}
}

// NewViews checks cfg and fills its defaults.
func NewViews(cfg ViewsConfig) (*Views, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Remember == 0 {
		cfg.Remember = 100_000
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	switch {
	case cfg.Store == nil || cfg.Subject == nil:
		return nil, errors.New("reports: views config: Store and Subject are required")
	case len(cfg.Key) < 16:
		return nil, errors.New("reports: views config: Key must have at least 16 bytes")
	case cfg.Remember < 0 || cfg.Timeout < 0:
		return nil, errors.New("reports: views config: Remember and Timeout must be positive")
	}
	return &Views{cfg: cfg, seen: map[[2]string]struct{}{}}, nil
}

// viewer is the stored stand-in for a user id.
func (v *Views) viewer(subject string) string {
	m := hmac.New(sha256.New, v.cfg.Key)
	m.Write([]byte(subject))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// Record counts subject's view of resource rid now. A view already counted today costs no
// write.
func (v *Views) Record(ctx context.Context, rid, subject string) error {
	if rid == "" || subject == "" {
		return nil
	}
	day := v.cfg.Now().UTC().Format(time.DateOnly)
	viewer := v.viewer(subject)
	k := [2]string{rid, viewer}
	v.mu.Lock()
	if day != v.day || len(v.seen) >= v.cfg.Remember {
		v.day, v.seen = day, map[[2]string]struct{}{}
	}
	_, dup := v.seen[k]
	v.mu.Unlock()
	if dup {
		return nil
	}
	if err := v.cfg.Store.RecordView(ctx, rid, day, viewer); err != nil {
		return err
	}
	v.mu.Lock()
	if day == v.day {
		v.seen[k] = struct{}{}
	}
	v.mu.Unlock()
	return nil
}

// Middleware counts a view for every successful answer of the route it wraps, which must have
// a :rid parameter (GET /v1/resources/:rid/availability and its stream). It records after the
// handler, so a view never delays or fails the answer; a failed write is logged.
func (v *Views) Middleware() gin.HandlerFunc {
	return func(c *gin.Context) {
		c.Next()
		if c.Writer.Status() != http.StatusOK {
			return
		}
		sub := v.cfg.Subject(c)
		if sub == "" {
			return
		}
		ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), v.cfg.Timeout)
		defer cancel()
		if err := v.Record(ctx, c.Param("rid"), sub); err != nil {
			v.cfg.Logger.LogAttrs(ctx, slog.LevelWarn, "reports: view not recorded",
				slog.String("resource_id", c.Param("rid")), slog.String("error", err.Error()))
		}
	}
}
