package cluster

import (
	"context"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"time"
)

// Joining: a member is "joined" once it belongs to a cluster that it may serve in, and it
// stays joined until it stops (a member whose peers all die later keeps serving alone,
// fenced by the store). It is joined when
//
//   - it reached a seed that is another member (not itself under a host name), or another
//     member reached it (memberlist reported a peer); or
//   - a bootstrap rule says it is the first member: it has no seeds, its seeds are only
//     itself (a DNS name that resolves to this pod alone, or a static list naming only this
//     member), ProviderConfig.Bootstrap is set, or no seed answered for
//     ProviderConfig.BootstrapAfter.
//
// Until then it retries its seeds with a short exponential backoff (JoinRetryMin doubling
// to JoinRetryMax, jittered), so that a member started a moment before its seed joins it
// within a fraction of a second instead of serving as a cluster of one.

// Joined returns a channel that is closed once this member has joined a cluster (see the
// rules above). A Node reports not ready until then.
func (p *Provider) Joined() <-chan struct{} { return p.joined }

// IsJoined reports whether Joined is closed.
func (p *Provider) IsJoined() bool {
	select {
	case <-p.joined:
		return true
	default:
		return false
	}
}

// markJoined closes Joined once and logs why. Safe for concurrent use (memberlist
// callbacks call it).
func (p *Provider) markJoined(why string) {
	p.joinOnce.Do(func() {
		close(p.joined)
		p.log.Info("gossip cluster joined", "how", why)
	})
}

// hasSeeds reports whether the configuration names any seed at all.
func (p *Provider) hasSeeds() bool { return len(p.cfg.Join) > 0 || p.cfg.JoinDNS != "" }

// join contacts the static seeds and the addresses JoinDNS resolves to, skipping self, and
// reports whether some seed answered. memberlist.Join is not cancellable; each unreachable
// address costs up to TCPTimeout (a refused connection costs nothing). quiet logs a failure
// at debug level (the fast retries before the first join).
func (p *Provider) join(ctx context.Context, quiet bool) bool {
	if !p.hasSeeds() {
		p.markJoined("no seeds: first member")
		return false
	}
	self := p.GossipAddr()
	var addrs []string
	for _, a := range p.cfg.Join {
		h, port, err := splitHostPortDefault(a, p.advPort)
		if err != nil {
			continue
		}
		addrs = append(addrs, net.JoinHostPort(h, strconv.Itoa(port)))
	}
	resolved := true
	if p.cfg.JoinDNS != "" {
		host, port, _ := splitHostPortDefault(p.cfg.JoinDNS, p.advPort)
		rctx, cancel := context.WithTimeout(ctx, p.cfg.TCPTimeout)
		hosts, err := p.cfg.LookupHost(rctx, host)
		cancel()
		if err != nil {
			resolved = false
			p.logJoin(quiet, "resolve gossip seeds", "name", host, "error", err)
		}
		for _, h := range hosts {
			addrs = append(addrs, net.JoinHostPort(h, strconv.Itoa(port)))
		}
	}
	addrs = slices.DeleteFunc(addrs, func(a string) bool { return a == self })
	slices.Sort(addrs)
	addrs = slices.Compact(addrs)
	if ctx.Err() != nil {
		return false
	}
	if len(addrs) == 0 {
		if resolved {
			p.markJoined("its own only seed: first member")
		}
		return false
	}
	n, err := p.ml.Join(addrs)
	if n == 0 {
		p.logJoin(quiet, "join gossip seeds", "seeds", addrs, "error", err)
		return false
	}
	if p.ml.NumMembers() <= 1 {
		// Only this member answered: a seed named by a host name that resolves to itself.
		p.logJoin(quiet, "join gossip seeds: only this member answered", "seeds", addrs, "error", err)
		return false
	}
	p.log.Info("joined gossip cluster", "contacted", n, "members", p.ml.NumMembers())
	p.markJoined("reached a seed")
	return true
}

func (p *Provider) logJoin(quiet bool, msg string, args ...any) {
	if quiet {
		p.log.Debug(msg, args...)
		return
	}
	p.log.Warn(msg, args...)
}

// joinRetryDelay is the nominal pause before join retry number attempt (0-based): first
// doubled per attempt, at most limit.
func joinRetryDelay(attempt int, first, limit time.Duration) time.Duration {
	d := first
	for i := 0; i < attempt && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// defaultJitter spreads a retry uniformly over [d/2, d), so members started together do
// not retry in lockstep.
func defaultJitter(d time.Duration) time.Duration {
	if d < 2 {
		return d
	}
	return d/2 + rand.N(d/2)
}

// maintainLoop republishes the activation count, prunes departed members, retries the
// seeds until joined (awaitJoin), then rejoins every RejoinInterval while alone and reaches
// for the members declared dead every ReachDeadInterval.
func (p *Provider) maintainLoop(ctx context.Context) {
	defer p.wg.Done()
	meta := time.NewTicker(p.cfg.MetaRefreshInterval)
	defer meta.Stop()
	if !p.awaitJoin(ctx, meta.C) {
		return
	}
	rejoin := time.NewTicker(p.cfg.RejoinInterval)
	defer rejoin.Stop()
	reach := time.NewTicker(p.cfg.ReachDeadInterval)
	defer reach.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-meta.C:
			p.maintain()
		case <-rejoin.C:
			if p.ml.NumMembers() <= 1 {
				p.join(ctx, false)
			}
		case <-reach.C:
			p.reachDead(ctx)
		}
	}
}

// reachDead starts a push/pull join with each member declared dead (not left, not a client)
// that is still in the member table. memberlist gossips with live members only: after a
// partition heals, each side keeps the other dead until someone syncs with it. A sync tells
// each side that the other declared it dead; both refute, and the views merge within a few
// gossip intervals. Each attempt runs on a goroutine of its own (in p.wg: Shutdown waits for
// it, at most TCPTimeout), so that a dial hanging on a member still cut off delays neither
// this loop nor the next attempt: a partition that heals while one dial hangs is reached by
// the next tick's. At most TCPTimeout/ReachDeadInterval attempts per member run at once.
func (p *Provider) reachDead(ctx context.Context) {
	for _, addr := range p.deadGossipAddrs() {
		if ctx.Err() != nil {
			return
		}
		p.wg.Add(1) // the maintain loop, which holds one count of p.wg, is the only caller
		go func() {
			defer p.wg.Done()
			if n, err := p.ml.Join([]string{addr}); n > 0 {
				p.log.Info("reached a member declared dead", "gossip_addr", addr)
			} else {
				p.log.Debug("reach a member declared dead", "gossip_addr", addr, "error", err)
			}
		}()
	}
}

// awaitJoin retries the seeds with backoff until this member has joined, and bootstraps
// after BootstrapAfter. It returns false when ctx ends first.
func (p *Provider) awaitJoin(ctx context.Context, meta <-chan time.Time) bool {
	if p.IsJoined() {
		return true
	}
	attempt := 0
	retry := time.NewTimer(p.cfg.Jitter(joinRetryDelay(attempt, p.cfg.JoinRetryMin, p.cfg.JoinRetryMax)))
	defer retry.Stop()
	var bootC <-chan time.Time
	if p.cfg.BootstrapAfter > 0 {
		boot := time.NewTimer(p.cfg.BootstrapAfter)
		defer boot.Stop()
		bootC = boot.C
	}
	for {
		select {
		case <-ctx.Done():
			return false
		case <-p.joined:
			return true
		case <-meta:
			p.maintain()
		case <-bootC:
			p.log.Warn("no gossip seed answered: forming a new cluster", "waited", p.cfg.BootstrapAfter,
				"seeds", p.cfg.Join, "dns", p.cfg.JoinDNS)
			p.markJoined("bootstrap: no seed answered within " + p.cfg.BootstrapAfter.String())
		case <-retry.C:
			if !p.join(ctx, true) {
				attempt++
				retry.Reset(p.cfg.Jitter(joinRetryDelay(attempt, p.cfg.JoinRetryMin, p.cfg.JoinRetryMax)))
			}
		}
	}
}

func (p *Provider) maintain() {
	p.refreshMeta()
	p.pruneDeparted()
}
