package cluster

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// replyProcess is the sender of one Request attempt: a process in the actor system's registry
// that takes the first reply (or dead letter) and hands it over on a channel. It does what
// protoactor's Future does for RootContext.RequestFuture, without the future's timer and
// without the goroutine await needs to watch ctx next to a Future: the attempt is bounded by
// ctx alone, whose deadline the caller set (Request's ctx has one already), and the waiter
// selects on the channel and ctx.Done(). One attempt costs a registry entry and a channel.
//
// Invariant: done is set exactly once, by whoever removes the process from the registry
// (the first reply, a stop, or the waiter giving up); only that one writes to ch, which has
// room for that one value, so no sender ever blocks. That one writes r before it sends on
// ch, and r is read only after a receive from ch (ch carries no value: a channel of an
// element without pointers is one allocation, of replyResult two).
type replyProcess struct {
	system *actor.ActorSystem
	done   atomic.Bool
	ch     chan struct{}
	r      replyResult
}

type replyResult struct {
	v   any
	err error
}

// errReplyStopped is the outcome of an attempt whose reply process was stopped from outside
// (nothing in this package does): like a timeout, the command may have been decided.
var errReplyStopped = errors.New("reply process stopped")

var _ actor.Process = (*replyProcess)(nil)

func (p *replyProcess) SendUserMessage(pid *actor.PID, message any) {
	_, msg, _ := actor.UnwrapEnvelope(message)
	if _, ok := msg.(*actor.DeadLetterResponse); ok {
		p.finish(pid, replyResult{err: actor.ErrDeadLetter})
		return
	}
	p.finish(pid, replyResult{v: msg})
}

func (p *replyProcess) SendSystemMessage(pid *actor.PID, message any) {
	p.finish(pid, replyResult{v: message})
}

func (p *replyProcess) Stop(pid *actor.PID) { p.finish(pid, replyResult{err: errReplyStopped}) }

func (p *replyProcess) finish(pid *actor.PID, r replyResult) {
	if p.done.CompareAndSwap(false, true) {
		p.system.ProcessRegistry.Remove(pid)
		p.r = r
		p.ch <- struct{}{}
	}
}

// requestReply sends msg to pid and waits for its reply, for ctx to end (then it returns
// ctx.Err()), for expire (nil: never) to fire (then it returns context.DeadlineExceeded), or
// for pid's member to leave the cluster as w sees it (then it returns errMemberLeft: the
// message may have been decided before it left). A reply arriving later goes to dead
// letters, as one after a Future's timeout.
func requestReply(ctx context.Context, system *actor.ActorSystem, pid *actor.PID, msg any, expire <-chan time.Time, w memberWatch) (any, error) {
	left, gone := w.next()
	if gone {
		return nil, errMemberLeft
	}
	p := &replyProcess{system: system, ch: make(chan struct{}, 1)}
	reg := system.ProcessRegistry
	self, ok := reg.Add(p, replyID(reg))
	if !ok { // cannot happen: ids are unique
		return nil, errors.New("reply process id taken")
	}
	system.Root.RequestWithCustomSender(pid, msg, self)
	for {
		select {
		case <-p.ch:
			return p.r.v, p.r.err
		case <-ctx.Done():
			return p.giveUp(self, ctx.Err())
		case <-expire:
			return p.giveUp(self, context.DeadlineExceeded)
		case <-left:
			if left, gone = w.next(); gone {
				return p.giveUp(self, errMemberLeft)
			}
		}
	}
}

// replyID names a reply process in one allocation ("future"+reg.NextId() made two): "reply$"
// and a number of the registry's sequence, which NextId draws from too, so no two reply
// processes share an id, and no other process's id ("$…" from NextId, protoactor's
// "future$…", named actors) begins with "reply$".
func replyID(reg *actor.ProcessRegistryValue) string {
	var buf [len("reply$") + 20]byte
	b := append(buf[:0], "reply$"...)
	b = strconv.AppendUint(b, atomic.AddUint64(&reg.SequenceID, 1), 10)
	return string(b)
}

// giveUp ends the wait of the attempt self with err, unless the reply won the race.
func (p *replyProcess) giveUp(self *actor.PID, err error) (any, error) {
	if p.done.CompareAndSwap(false, true) {
		p.system.ProcessRegistry.Remove(self)
		return nil, err
	}
	<-p.ch // the reply won the race: it is there now
	return p.r.v, p.r.err
}

// timerPool reuses the timers that bound a reply wait whose ctx has no deadline of its own.
// Safe for concurrent use. Since Go 1.23 Stop and Reset leave no stale value in a timer's
// channel, so a reused timer fires only for its new wait.
type timerPool struct{ p sync.Pool }

func (tp *timerPool) get(d time.Duration) *time.Timer {
	if t, ok := tp.p.Get().(*time.Timer); ok {
		t.Reset(d)
		return t
	}
	return time.NewTimer(d)
}

func (tp *timerPool) put(t *time.Timer) {
	t.Stop()
	tp.p.Put(t)
}
