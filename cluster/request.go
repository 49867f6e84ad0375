package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"google.golang.org/protobuf/proto"
)

// Request sends msg to the activation of identity of kind, wherever it lives, and
// returns its reply.
//
// The call is bounded by ctx and by NodeConfig.RequestTimeout, whichever ends first; it
// returns as soon as ctx is cancelled (a reply that comes after goes to dead letters, as one
// after a protoactor Future's timeout does). Errors:
//   - ErrUnavailable: the message was not delivered (no member hosts kind, the owner
//     could not be located or activated in time, or this Node is not running). Safe to
//     retry.
//   - ErrTimeout: the message was sent to the activation but no reply came in time; it
//     may have been processed.
//   - a context.Canceled-wrapping error if ctx was cancelled while waiting for a reply
//     (outcome unknown, like ErrTimeout).
//   - *cluster.GrainErrorResponse if the actor replied with one.
//
// A message is re-sent only when it was not decided: protoactor reports it was not delivered
// (dead letter: the cached activation has stopped, e.g. passivated or moved to another
// owner), or the reply says the activation that got it is gone without deciding it (a reply
// implementing Redeliverable). So an activation decides a message at most once per Request
// call. Replies must be protobuf messages when the activation is remote.
func (n *Node) Request(ctx context.Context, identity, kind string, msg proto.Message) (any, error) {
	return n.RequestWithin(ctx, n.cfg.RequestTimeout, identity, kind, msg)
}

// RequestWithin is Request bounded by timeout (at most NodeConfig.RequestTimeout) from now
// instead of needing ctx to carry the deadline: ctx only has to carry the caller's
// cancellation. It costs no context of its own while the cached activation answers the
// first attempt (one pooled timer bounds the wait; the edge's context.WithTimeout cost a
// timer and ~5 allocations per request); a retry or an activation derives a ctx with the
// deadline as before. Errors are Request's.
func (n *Node) RequestWithin(ctx context.Context, timeout time.Duration, identity, kind string, msg proto.Message) (any, error) {
	ci := &cluster.ClusterIdentity{Identity: identity, Kind: kind} // stays on the stack: activate copies it
	if msg == nil {
		return nil, fmt.Errorf("request %s: nil message", ci.AsKey())
	}
	if !n.running.Load() {
		return nil, fmt.Errorf("%w: request %s: node not running", ErrUnavailable, ci.AsKey())
	}
	start := time.Now()
	deadline := start.Add(min(timeout, n.cfg.RequestTimeout))
	// bounded: ctx ends by deadline, so waiting on ctx.Done() honours the deadline. The edge's
	// ctx usually ends within RequestTimeout already: then it bounds the call as it is.
	bounded := false
	if dl, ok := ctx.Deadline(); ok && !dl.After(deadline) {
		deadline, bounded = dl, true
	}
	// bound makes ctx end at deadline, once, before anything that waits on ctx alone
	// (backoff, activation, a retried ask).
	cancel := context.CancelFunc(func() {})
	defer func() { cancel() }()
	bound := func() {
		if !bounded {
			ctx, cancel = context.WithDeadline(ctx, deadline)
			bounded = true
		}
	}

	var lastErr error
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			bound()
			if !sleepCtx(ctx, retryBackoff(attempt)) {
				return nil, undelivered(ctx, ci, lastErr)
			}
		}
		if ctx.Err() != nil {
			return nil, undelivered(ctx, ci, lastErr)
		}
		var err error
		owner := n.lookup.currentView().owner(ci)
		if owner == "" {
			return nil, fmt.Errorf("%w: request %s: no member hosts kind %q", ErrUnavailable, ci.AsKey(), kind)
		}
		pid, ok := n.cached(ci, owner)
		if !ok {
			bound()
			pid, err = n.activate(ctx, ci, owner)
		}
		if err != nil {
			if errors.Is(err, errActivation) {
				return nil, fmt.Errorf("%w: request %s: %w", ErrUnavailable, ci.AsKey(), err)
			}
			lastErr = err // dead letter or timeout: owner stopping, gone or unreachable
			continue
		}
		// A first attempt to a cached activation asks right after start was read (no wait,
		// no activation in between): its time is start, one clock read fewer per request.
		now := start
		if attempt > 0 || !ok {
			now = time.Now()
		}
		var res any
		res, err = n.ask(ctx, pid, msg, deadline, now, bounded)
		switch {
		case err == nil && redeliver(res):
			// Reached an activation that is stopping or stopped (its mailbox answers for it
			// once protoactor would drop the message): forget it and locate again.
			n.pids.removeByValue(identity, kind, pid)
			lastErr = errGone
		case err == nil:
			if pid.Address != n.system.Address() {
				n.metrics.observeForward(time.Since(start))
			}
			if gerr, ok := res.(*cluster.GrainErrorResponse); ok {
				return nil, gerr
			}
			return res, nil
		case errors.Is(err, actor.ErrDeadLetter):
			// Not delivered: the activation is gone. Forget it and locate again.
			n.pids.removeByValue(identity, kind, pid)
			lastErr = err
		case errors.Is(err, context.Canceled):
			return nil, fmt.Errorf("request %s: %w", ci.AsKey(), err)
		default: // actor.ErrTimeout, our deadline, or the member left (errMemberLeft)
			return nil, fmt.Errorf("%w: request %s at %s: %w", ErrTimeout, ci.AsKey(), pid.Address, err)
		}
	}
}

// Redeliverable is implemented by replies that can say the activation did not decide the
// message because it is gone (stopped, passivated, moved): nothing of it took effect, and
// Request delivers it again to the identity's current activation. Redeliver must be safe to
// call on a reply from any goroutine and must not change the reply.
type Redeliverable interface{ Redeliver() bool }

// errGone is the last error of a Request whose activations kept answering Redeliver.
var errGone = errors.New("the activation was gone")

func redeliver(res any) bool {
	r, ok := res.(Redeliverable)
	return ok && r.Redeliver()
}

// cached returns the cached PID of ci's activation if it is still on the current owner.
func (n *Node) cached(ci *cluster.ClusterIdentity, owner string) (*actor.PID, bool) {
	if pid, ok := n.pids.get(ci.Identity, ci.Kind); ok && pid != nil {
		if pid.Address == owner {
			return pid, true
		}
		// Topology changed since it was cached: the old owner is poisoning it.
		n.pids.removeByValue(ci.Identity, ci.Kind, pid)
	}
	return nil, false
}

// activate returns the PID of the activation owner's placement actor activates for ci, and
// caches it. ctx must carry the request's deadline.
func (n *Node) activate(ctx context.Context, ci *cluster.ClusterIdentity, owner string) (*actor.PID, error) {
	kept := cluster.NewClusterIdentity(ci.Identity, ci.Kind) // the activation request keeps it
	pid, err := activate(ctx, n.system, owner, kept, remaining(ctx), n.watch(owner))
	if err != nil {
		return nil, err
	}
	n.pids.set(ci.Identity, ci.Kind, pid)
	return pid, nil
}

// ask sends msg to pid and waits for the reply until deadline (now is the time, read by the
// caller). When ctx is bounded it ends by deadline and is waited on alone; otherwise a pooled
// timer fires at deadline too.
func (n *Node) ask(ctx context.Context, pid *actor.PID, msg proto.Message, deadline, now time.Time, bounded bool) (any, error) {
	d := deadline.Sub(now)
	if d <= 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return nil, context.DeadlineExceeded
	}
	local := pid.Address == n.system.Address()
	var expire <-chan time.Time
	if !bounded {
		t := n.timers.get(d)
		defer n.timers.put(t)
		expire = t.C
	}
	if local {
		return n.replies.request(ctx, n.system, pid, msg, expire) // replypool.go
	}
	return requestReply(ctx, n.system, pid, msg, expire, n.watch(pid.Address)) // reply.go
}

// watch returns a memberWatch on addr, or none when addr is this node (it cannot leave
// while it runs a request; watching costs nothing then).
func (n *Node) watch(addr string) memberWatch {
	if addr == n.system.Address() {
		return memberWatch{}
	}
	return memberWatch{l: n.lookup, addr: addr}
}

// await waits for f or ctx. When ctx ends first the helper goroutine lives on until f
// completes or times out (f's timeout never exceeds ctx's deadline in this package).
func await(ctx context.Context, f *actor.Future, w memberWatch) (any, error) {
	left, gone := w.next()
	if gone {
		return nil, errMemberLeft
	}
	if ctx.Done() == nil && left == nil {
		return f.Result()
	}
	type result struct {
		v   any
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := f.Result()
		ch <- result{v, err}
	}()
	for {
		select {
		case r := <-ch:
			return r.v, r.err
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-left:
			if left, gone = w.next(); gone {
				return nil, errMemberLeft
			}
		}
	}
}

func undelivered(ctx context.Context, ci *cluster.ClusterIdentity, lastErr error) error {
	if lastErr == nil {
		return fmt.Errorf("%w: request %s: %w", ErrUnavailable, ci.AsKey(), ctx.Err())
	}
	return fmt.Errorf("%w: request %s: %w (last attempt: %v)", ErrUnavailable, ci.AsKey(), ctx.Err(), lastErr)
}

func remaining(ctx context.Context) time.Duration {
	dl, ok := ctx.Deadline()
	if !ok {
		return time.Hour // unreachable: Request always sets a deadline
	}
	return time.Until(dl)
}

// retryBackoff is 10ms, 20ms, 40ms, ... capped at 200ms.
func retryBackoff(attempt int) time.Duration {
	d := 10 * time.Millisecond << min(attempt-1, 5)
	return min(d, 200*time.Millisecond)
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
