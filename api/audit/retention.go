package audit

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// Pruner deletes audit entries older than a retention period, once when started and then
// every Every, on an injected clock. The audit wiring (cmd/audit.go) starts and stops it.
type Pruner struct {
	cfg RetentionConfig

	mu      sync.Mutex
	stop    func() bool // stops the armed timer; nil when stopped
	stopped bool
	ctx     context.Context // cancelled by Stop: ends a prune under way
	cancel  context.CancelFunc
	wg      sync.WaitGroup // the prune under way
}

// RetentionConfig configures a Pruner. Retention 0 keeps entries forever (no Pruner needed).
type RetentionConfig struct {
	Store     Store
	Retention time.Duration // entries whose At is older than Now - Retention are deleted
	Every     time.Duration // between prunes; DefaultPruneEvery when 0
	Timeout   time.Duration // bounds one prune; DefaultPruneTimeout when 0
	// Now and AfterFunc are the clock (AfterFunc calls f once d passed and returns a stop
	// function, like time.AfterFunc's Stop); time.Now and time.AfterFunc when nil.
	Now       func() time.Time
	AfterFunc func(d time.Duration, f func()) func() bool
	Log       *slog.Logger // slog.Default() when nil
}

// Defaults of RetentionConfig.
const (
	DefaultRetention    = 400 * 24 * time.Hour // over a year, so that a yearly review sees the whole year
	DefaultPruneEvery   = time.Hour
	DefaultPruneTimeout = 5 * time.Minute
)

func (c RetentionConfig) validate() error {
	if c.Store == nil || c.Retention <= 0 || c.Every < 0 || c.Timeout < 0 {
		return errors.New("audit: a Pruner needs a store, a positive retention and non-negative intervals")
	}
	return nil
}

// StartPruner validates cfg, prunes once at once (in the background) and then every Every.
func StartPruner(cfg RetentionConfig) (*Pruner, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Every == 0 {
		cfg.Every = DefaultPruneEvery
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultPruneTimeout
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.AfterFunc == nil {
		cfg.AfterFunc = func(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	p := &Pruner{cfg: cfg}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	// Not under p.mu: a clock may run f before AfterFunc returns. run then armed the next
	// prune already, whose stop function is the one to keep.
	stop := cfg.AfterFunc(0, p.run)
	p.mu.Lock()
	if p.stop == nil {
		p.stop = stop
	}
	p.mu.Unlock()
	return p, nil
}

// run prunes once and arms the next run, unless stopped.
func (p *Pruner) run() {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return
	}
	p.wg.Add(1)
	p.mu.Unlock()
	defer p.wg.Done()
	ctx, cancel := context.WithTimeout(p.ctx, p.cfg.Timeout)
	n, err := p.cfg.Store.Prune(ctx, p.cfg.Now().Add(-p.cfg.Retention))
	cancel()
	if err != nil && p.ctx.Err() == nil {
		p.cfg.Log.Error("audit entries past their retention not all deleted", "deleted", n, "err", err)
	} else if n > 0 {
		p.cfg.Log.Info("audit entries past their retention deleted", "deleted", n)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.stopped {
		p.stop = p.cfg.AfterFunc(p.cfg.Every, p.run)
	}
}

// Stop stops the timer and waits for a prune under way (cancelling it). Safe twice.
func (p *Pruner) Stop() {
	p.mu.Lock()
	if p.stopped {
		p.mu.Unlock()
		return
	}
	p.stopped = true
	if p.stop != nil {
		p.stop()
	}
	p.mu.Unlock()
	p.cancel()
	p.wg.Wait()
}
