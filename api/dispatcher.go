package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/api/wire"
	"github.com/allot/allot/protos"
)

// Names on the hold path. "Dispatch" used to mean four things between an HTTP request and
// the store; each now has its own word, and on the edge side only the first is "dispatch":
//
//   - Dispatcher.Dispatch (this file; implemented in cmd over cluster.Node.Request): deliver
//     one command to the activation that owns its resource, wherever it lives, and return
//     its reply. The only seam between the edge and the cluster.
//   - Server.askOwner (this file): the edge's round trip around Dispatch — set the command's
//     deadline, call Dispatch, report the owner, turn a refusal or a transport failure into
//     a problem. Handlers call askOwner, never Dispatch.
//   - In the resource actor (actors/resource), deciding one admitted request against the
//     booking model, and protoactor's "dispatcher", which schedules mailboxes on goroutines.
//     Neither is visible here.

// OwnerHeader names the cluster member that answered a command (Reply.owner, a node name). It
// is shown only to operators (actsAsOperator): to others it would map the cluster.
const OwnerHeader = wire.OwnerHeader

// StaleHeader is "true" on a read or sold-out refusal that the owner answered from memory
// without being able to confirm with the store that it still owns the resource (Reply.stale).
const StaleHeader = wire.StaleHeader

// ownerKey is the gin context key of the owner that answered, for the request log, when the
// edge's chain did not start the request (setOwner).
const ownerKey = "allot.owner"

// transportRetryAfter is the Retry-After of a 503 for a command that got no reply.
const transportRetryAfter = time.Second

// Dispatcher delivers a command to the activation that owns cmd.ResourceId — in this process
// or on another node — and returns its reply.
//
// Thread-safety: Dispatch is called concurrently by every request in flight.
//
// Deadline: the edge sets cmd.DeadlineUnixMs and a ctx deadline at the same instant: the
// request's deadline, Config.RequestTimeout after its first command, shared by all of its
// commands. ctx is also cancelled when the client goes away. Dispatch must return once ctx
// is done; it must not retain cmd.
//
// Errors: every outcome the owner decided, including its busy and unavailable answers, is a
// Reply with Error set (Error.Code a booking.Code*, RetryAfterMs for busy and unavailable) and
// a nil error. A successful reply carries the Resource (create, get, update) or the Hold
// (place, get, confirm, cancel) and Replayed for an idempotent replay. A non-nil error means
// transport trouble — the command may or may not have been decided (timeout, owner
// unreachable, no member hosts the kind); the edge answers 503 with Retry-After and the client
// retries, with the same Idempotency-Key for a hold. When the client itself went away (the
// request's context is cancelled), the edge records 499 instead.
type Dispatcher interface {
	Dispatch(ctx context.Context, cmd *protos.Command) (*protos.Reply, error)
}

// timedDispatcher is a Dispatcher that bounds a command by a timeout it is given, so the
// edge need not put the deadline in a ctx: a context.WithTimeout per request costs a runtime
// timer and ~5 allocations, and the cluster's reply wait bounds itself anyway. cmd's
// dispatcher (over cluster.Node.RequestWithin) implements it; askOwner falls back to Dispatch
// with a deadline ctx for any other Dispatcher.
//
// DispatchWithin is Dispatch with the deadline timeout from now instead of in ctx (ctx carries
// the client's cancellation only): it must return by then, and a timeout is an error as
// Dispatch's is. Thread-safety and the other errors are Dispatch's.
type timedDispatcher interface {
	DispatchWithin(ctx context.Context, timeout time.Duration, cmd *protos.Command) (*protos.Reply, error)
}

// dispatchWithin sends cmd through d with the deadline timeout from now: by d's own bound if
// it has one, else by a ctx deadline.
func dispatchWithin(ctx context.Context, d Dispatcher, timeout time.Duration, cmd *protos.Command) (*protos.Reply, error) {
	if td, ok := d.(timedDispatcher); ok {
		return td.DispatchWithin(ctx, timeout, cmd)
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return d.Dispatch(ctx, cmd)
}

// askOwner sends cmd to the resource's owner through Config.Dispatcher, with the request's
// deadline (requestDeadline: one for all of a request's asks, so a hold's read and then its
// command share it), and checks the reply. It returns the reply and true on success; otherwise
// it has answered the request with a problem and returns false. A request whose deadline has
// passed (its earlier ask used it up) sends nothing and is answered as a timeout. Every
// reply's owner is reported in OwnerHeader to operators, and in the request log.
func (s *Server) askOwner(c *gin.Context, cmd *protos.Command) (*protos.Reply, bool) {
	now := s.cfg.Now()
	deadline := s.requestDeadline(c, now)
	left := deadline.Sub(now)
	cmd.DeadlineUnixMs = deadline.UnixMilli()
	var reply *protos.Reply
	var err error
	if left > 0 {
		reply, err = dispatchWithin(c.Request.Context(), s.cfg.Dispatcher, left, cmd)
	} else {
		err = fmt.Errorf("ask %s: the request's deadline passed before the ask: %w", cmd.ResourceId, context.DeadlineExceeded)
	}
	if err != nil {
		detail := "the resource's owner could not be reached; retry later"
		if errors.Is(err, context.DeadlineExceeded) {
			detail = "the resource's owner did not answer in time; retry later"
		}
		s.problem(c, answerForCode(booking.CodeUnavailable, detail, transportRetryAfter),
			slog.String("resource_id", cmd.ResourceId), slog.Any("err", err))
		return nil, false
	}
	if reply == nil {
		s.fail(c, errors.New("dispatcher returned neither a reply nor an error"))
		return nil, false
	}
	if reply.Owner != "" {
		setOwner(c, reply.Owner)
		if actsAsOperator(PrincipalOf(c)) {
			c.Header(OwnerHeader, reply.Owner)
		}
	}
	if reply.Stale {
		c.Header(StaleHeader, "true")
	}
	if e := reply.Error; e != nil {
		s.problem(c, answerForCode(e.Code, e.Message, time.Duration(e.RetryAfterMs)*time.Millisecond),
			slog.String("resource_id", cmd.ResourceId), slog.String("message", e.Message))
		return nil, false
	}
	return reply, true
}

// errNoPayload reports a successful reply without the resource or hold its op returns.
var errNoPayload = errors.New("dispatcher reply has no payload")
