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
	ci := cluster.NewClusterIdentity(identity, kind)
	if msg == nil {
		return nil, fmt.Errorf("request %s: nil message", ci.AsKey())
	}
	if !n.running.Load() {
		return nil, fmt.Errorf("%w: request %s: node not running", ErrUnavailable, ci.AsKey())
	}
	start := time.Now()
	if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > n.cfg.RequestTimeout {
		// The edge's ctx usually ends within RequestTimeout already: then it bounds the call
		// as it is, without a second timer.
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, n.cfg.RequestTimeout)
		defer cancel()
	}

	var lastErr error
	for attempt := 0; ; attempt++ {
		if attempt > 0 && !sleepCtx(ctx, retryBackoff(attempt)) {
			return nil, undelivered(ctx, ci, lastErr)
		}
		if ctx.Err() != nil {
			return nil, undelivered(ctx, ci, lastErr)
		}
		owner := n.lookup.currentView().owner(ci)
		if owner == "" {
			return nil, fmt.Errorf("%w: request %s: no member hosts kind %q", ErrUnavailable, ci.AsKey(), kind)
		}
		pid, err := n.resolve(ctx, ci, owner)
		if err != nil {
			if errors.Is(err, errActivation) {
				return nil, fmt.Errorf("%w: request %s: %w", ErrUnavailable, ci.AsKey(), err)
			}
			lastErr = err // dead letter or timeout: owner stopping, gone or unreachable
			continue
		}
		res, err := n.ask(ctx, pid, msg)
		switch {
		case err == nil && redeliver(res):
			// Reached an activation that is stopping or stopped (its mailbox answers for it
			// once protoactor would drop the message): forget it and locate again.
			n.c.PidCache.RemoveByValue(identity, kind, pid)
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
			n.c.PidCache.RemoveByValue(identity, kind, pid)
			lastErr = err
		case errors.Is(err, context.Canceled):
			return nil, fmt.Errorf("request %s: %w", ci.AsKey(), err)
		default: // actor.ErrTimeout or our deadline
			return nil, fmt.Errorf("%w: request %s at %s", ErrTimeout, ci.AsKey(), pid.Address)
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

// resolve returns the PID of ci's activation on owner: the cached one if it is still on
// the current owner, else whatever owner's placement actor activates.
func (n *Node) resolve(ctx context.Context, ci *cluster.ClusterIdentity, owner string) (*actor.PID, error) {
	if pid, ok := n.c.PidCache.Get(ci.Identity, ci.Kind); ok && pid != nil {
		if pid.Address == owner {
			return pid, nil
		}
		// Topology changed since it was cached: the old owner is poisoning it.
		n.c.PidCache.RemoveByValue(ci.Identity, ci.Kind, pid)
	}
	pid, err := activate(ctx, n.system, owner, ci, remaining(ctx))
	if err != nil {
		return nil, err
	}
	n.c.PidCache.Set(ci.Identity, ci.Kind, pid)
	return pid, nil
}

func (n *Node) ask(ctx context.Context, pid *actor.PID, msg proto.Message) (any, error) {
	if remaining(ctx) <= 0 {
		return nil, ctx.Err()
	}
	return requestReply(ctx, n.system, pid, msg) // reply.go
}

// await waits for f or ctx. When ctx ends first the helper goroutine lives on until f
// completes or times out (f's timeout never exceeds ctx's deadline in this package).
func await(ctx context.Context, f *actor.Future) (any, error) {
	if ctx.Done() == nil {
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
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
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
