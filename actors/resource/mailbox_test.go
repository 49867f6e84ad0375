package resource

import (
	"fmt"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/asynkron/protoactor-go/actor"
)

// recorder is a MessageInvoker that records what the mailbox hands it, from the dispatcher's
// goroutine (one run at a time), and can panic on a message.
type recorder struct {
	mu        sync.Mutex
	user, sys []any
	failed    []any
	panicOn   any
	running   sync.Mutex // held while a message is handled: two runs at once would block here
	delivered chan struct{}
}

func (r *recorder) InvokeSystemMessage(m any) { r.handle(&r.sys, m) }
func (r *recorder) InvokeUserMessage(m any)   { r.handle(&r.user, m) }
func (r *recorder) handle(to *[]any, m any) {
	if !r.running.TryLock() {
		panic("two runs of one mailbox at once")
	}
	defer r.running.Unlock()
	r.mu.Lock()
	*to = append(*to, m)
	r.mu.Unlock()
	if m == r.panicOn {
		panic("boom")
	}
	if r.delivered != nil {
		r.delivered <- struct{}{}
	}
}
func (r *recorder) EscalateFailure(reason, m any) {
	r.mu.Lock()
	r.failed = append(r.failed, m)
	r.mu.Unlock()
}

type goDispatcher int

func (d goDispatcher) Schedule(fn func()) { go fn() }
func (d goDispatcher) Throughput() int    { return int(d) }

func newTestMailbox(r *recorder) *mailbox {
	m := &mailbox{}
	m.RegisterHandlers(r, goDispatcher(7))
	m.Start()
	return m
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond) // poll: the runs are on their own goroutines
	}
}

// TestMailboxKeepsEachSendersOrder: user messages of concurrent senders arrive once each, in
// each sender's order, system messages too, one run at a time; an emptied mailbox keeps no
// queue and counts none.
func TestMailboxKeepsEachSendersOrder(t *testing.T) {
	r := &recorder{}
	m := newTestMailbox(r)
	const senders, each = 4, 5000
	var wg sync.WaitGroup
	for s := range senders {
		wg.Go(func() {
			for i := range each {
				m.PostUserMessage([2]int{s, i})
				if i%100 == 0 {
					m.PostSystemMessage(fmt.Sprint(s, "/", i))
				}
			}
		})
	}
	wg.Wait()
	waitFor(t, "every message", func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		return len(r.user) == senders*each && len(r.sys) == senders*each/100
	})
	next := make([]int, senders)
	for _, x := range r.user {
		p := x.([2]int)
		if p[1] != next[p[0]] {
			t.Fatalf("sender %d: message %d arrived when %d was due", p[0], p[1], next[p[0]])
		}
		next[p[0]]++
	}
	waitFor(t, "an idle mailbox", func() bool { return m.schedulerStatus.Load() == mailboxIdle })
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.user != nil || m.sys != nil || m.UserMessageCount() != 0 || m.sysMessages.Load() != 0 {
		t.Fatalf("emptied mailbox keeps user %v sys %v, counts %d and %d", m.user, m.sys, m.UserMessageCount(), m.sysMessages.Load())
	}
}

// TestMailboxSuspendsUserMessages: after a SuspendMailbox, user messages wait (system ones
// do not) until a ResumeMailbox.
func TestMailboxSuspendsUserMessages(t *testing.T) {
	r := &recorder{}
	m := newTestMailbox(r)
	m.PostSystemMessage(&actor.SuspendMailbox{})
	m.PostUserMessage("u1")
	m.PostSystemMessage("s1")
	waitFor(t, "the system message", func() bool { r.mu.Lock(); defer r.mu.Unlock(); return len(r.sys) == 1 })
	time.Sleep(20 * time.Millisecond) // a wrong mailbox would deliver u1 within this
	r.mu.Lock()
	if len(r.user) != 0 {
		t.Fatalf("user message delivered while suspended: %v", r.user)
	}
	r.mu.Unlock()
	m.PostSystemMessage(&actor.ResumeMailbox{})
	waitFor(t, "the user message after resume", func() bool { r.mu.Lock(); defer r.mu.Unlock(); return len(r.user) == 1 })
	if len(r.sys) != 1 {
		t.Fatalf("suspend or resume handed to the invoker: %v", r.sys)
	}
}

// TestMailboxEscalatesAPanicWithItsMessage, and goes on with the next messages.
func TestMailboxEscalatesAPanicWithItsMessage(t *testing.T) {
	r := &recorder{panicOn: "bad"}
	m := newTestMailbox(r)
	m.PostUserMessage("bad")
	waitFor(t, "the escalation", func() bool { r.mu.Lock(); defer r.mu.Unlock(); return len(r.failed) == 1 })
	if r.failed[0] != "bad" {
		t.Fatalf("escalated with %v", r.failed[0])
	}
	m.PostUserMessage("good")
	waitFor(t, "the next message", func() bool { r.mu.Lock(); defer r.mu.Unlock(); return len(r.user) == 2 })
}

// batch is a MessageBatch.
type batch []any

func (b batch) GetMessages() []any { return b }

// TestMailboxPostsABatchAsItsMessagesThenItself, as protoactor's mailbox does.
func TestMailboxPostsABatchAsItsMessagesThenItself(t *testing.T) {
	r := &recorder{}
	m := newTestMailbox(r)
	b := batch{"a", "b"}
	m.PostUserMessage(b)
	waitFor(t, "the batch", func() bool { r.mu.Lock(); defer r.mu.Unlock(); return len(r.user) == 3 })
	if r.user[0] != "a" || r.user[1] != "b" {
		t.Fatalf("delivered %v", r.user)
	}
}

// TestMailboxSize: one mailbox (the counter in it) per active resource; its queues are
// dropped when they empty, so this is what an idle activation keeps of its mailbox.
func TestMailboxSize(t *testing.T) {
	if size := unsafe.Sizeof(mailbox{}); size > 128 {
		t.Fatalf("mailbox is %d bytes, over the 128-byte allocation class", size)
	}
}
