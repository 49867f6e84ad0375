package nodestats

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/mount"
	"github.com/allot/allot/api/wire"
)

// Path is the route of the stats.
const Path = "/v1/cluster/stats"

// Config configures the stats route.
type Config struct {
	// Gatherer is the node's registry (the edge's and the actors' metrics). Required.
	Gatherer prometheus.Gatherer
	// Members lists the cluster's members with the resources each hosts (api.MemberLister's
	// Members). Nil: no members are listed.
	Members func() []wire.Member
	// Node names this node in the answer.
	Node string
	// Fail answers an error as problem+json (api.Fail). Required.
	Fail func(c *gin.Context, err error)
	// Now is the clock of the samples. Default time.Now.
	Now func() time.Time
	// MinInterval is the least time between two samples: a request within it of the last
	// sample reuses it, so that many pollers cost one gather. Default 500ms.
	MinInterval time.Duration
}

// maxWindow bounds the window a request may ask for, and how long samples are kept.
const maxWindow = 60 * time.Second

// Stats serves the route. Samples are taken when requests come (no goroutine): the rates of
// an answer are over the time since the newest sample at least `window` older than the one
// taken now, so a console polling once a second sees per-second rates. Safe for concurrent use.
type Stats struct {
	cfg Config

	mu      sync.Mutex
	samples []Sample // oldest first, at most maxWindow apart from the newest
}

// New checks cfg and fills its defaults.
func New(cfg Config) (*Stats, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MinInterval == 0 {
		cfg.MinInterval = 500 * time.Millisecond
	}
	if cfg.Gatherer == nil || cfg.Fail == nil {
		return nil, errors.New("nodestats: Gatherer and Fail are required")
	}
	if cfg.MinInterval < 0 {
		return nil, errors.New("nodestats: MinInterval must be positive")
	}
	return &Stats{cfg: cfg}, nil
}

// Routes is the stats route, for operators with a second factor.
func (s *Stats) Routes() []mount.Route {
	return []mount.Route{{Method: http.MethodGet, Path: Path, Policy: auth.Operator, Handler: s.get}}
}

// Body is the answer of GET /v1/cluster/stats. Rates are this node's, over WindowSeconds
// (0, with the rates 0 and no p99, on the first request: there is nothing to compare yet).
type Body struct {
	Node              string        `json:"node"`
	At                time.Time     `json:"at"`
	WindowSeconds     float64       `json:"window_seconds"`
	RequestsPerSecond float64       `json:"requests_per_second"`
	Rate429PerSecond  float64       `json:"rate_429_per_second"`
	P99Seconds        *float64      `json:"p99_seconds"`
	HoldsPerSecond    float64       `json:"holds_per_second"`
	ConfirmsPerSecond float64       `json:"confirms_per_second"`
	Members           []wire.Member `json:"members"`
}

// sample takes a sample now unless the newest is within MinInterval, drops samples older
// than maxWindow, and returns the newest and the base for window.
func (s *Stats) sample(window time.Duration) (base, now Sample, err error) {
	at := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if n := len(s.samples); n == 0 || at.Sub(s.samples[n-1].At) >= s.cfg.MinInterval {
		mfs, err := s.cfg.Gatherer.Gather()
		if err != nil && len(mfs) == 0 {
			return Sample{}, Sample{}, fmt.Errorf("nodestats: gather: %w", err)
		}
		s.samples = append(s.samples, Parse(at, mfs))
	}
	now = s.samples[len(s.samples)-1]
	keep := 0
	for keep < len(s.samples)-1 && now.At.Sub(s.samples[keep].At) > maxWindow {
		keep++
	}
	s.samples = s.samples[keep:]
	base = s.samples[0]
	for _, x := range s.samples[:len(s.samples)-1] {
		if now.At.Sub(x.At) >= window {
			base = x
		}
	}
	return base, now, nil
}

// GET /v1/cluster/stats?window=1s (a duration from 1s to 60s; default 1s)
func (s *Stats) get(c *gin.Context) {
	window := time.Second
	for k := range c.Request.URL.Query() {
		if k != "window" {
			s.cfg.Fail(c, booking.Errorf(booking.CodeInvalid, "unknown query parameter %q", k))
			return
		}
	}
	if w := c.Query("window"); w != "" {
		d, err := time.ParseDuration(w)
		if err != nil {
			if n, nerr := strconv.Atoi(w); nerr == nil {
				d, err = time.Duration(n)*time.Second, nil
			}
		}
		if err != nil || d < time.Second || d > maxWindow {
			s.cfg.Fail(c, booking.Errorf(booking.CodeInvalid, "window must be a duration from 1s to 60s"))
			return
		}
		window = d
	}
	base, now, err := s.sample(window)
	if err != nil {
		s.cfg.Fail(c, err)
		return
	}
	r := Between(base, now)
	b := Body{Node: s.cfg.Node, At: now.At.UTC(), WindowSeconds: r.Window.Seconds(), RequestsPerSecond: r.RequestsPerSecond,
		Rate429PerSecond: r.Code429PerSecond, HoldsPerSecond: r.HoldsPerSecond, ConfirmsPerSecond: r.ConfirmsPerSecond,
		Members: []wire.Member{}}
	if r.P99OK {
		p := r.P99.Seconds()
		b.P99Seconds = &p
	}
	if s.cfg.Members != nil {
		b.Members = append(b.Members, s.cfg.Members()...)
		sort.SliceStable(b.Members, func(i, j int) bool { return b.Members[i].ID < b.Members[j].ID })
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, b)
}
