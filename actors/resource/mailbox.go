package resource

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
)

// mailbox is an activation's mailbox: protoactor's default mailbox (actor.UnboundedLockfree)
// rewritten for what one activation keeps while it is idle, with the command counter
// (mailboxCounter) inside it. protoactor's is a 96-byte mailbox, two lock-free queues of 16
// bytes each, the node each queue keeps after its last message (24 bytes each), a slice for
// its middlewares and the counter on its own: about 215 bytes per active resource, all of it
// kept between messages. Here the queues are slices under the mailbox's mutex, dropped when
// they empty, so an idle activation keeps the mailbox alone (128 bytes); a burst of messages
// costs a slice that grows as append grows it (the lock-free queue allocated a node per
// message). The behaviour is protoactor's: system messages first, SuspendMailbox and
// ResumeMailbox handled here, user messages until the dispatcher's throughput then a yield,
// a MessageBatch posted as its messages and then as itself, a panic escalated to the invoker
// with the message that caused it, and one run scheduled at a time (schedulerStatus).
//
// Thread safety: PostUserMessage and PostSystemMessage may be called from any goroutine; the
// run (processMessages) is on the dispatcher's goroutine, one at a time.
type mailbox struct {
	mailboxCounter // MessagePosted and MessageReceived are called as protoactor calls a middleware's

	mu   sync.Mutex
	user []any // user messages not yet taken, in order; nil when there are none
	sys  []any // system messages likewise

	schedulerStatus atomic.Int32 // idle or running (mailboxIdle, mailboxRunning)
	userMessages    atomic.Int32
	sysMessages     atomic.Int32
	suspended       atomic.Bool

	invoker    actor.MessageInvoker
	dispatcher actor.Dispatcher
}

const (
	mailboxIdle int32 = iota
	mailboxRunning
)

var _ actor.Mailbox = (*mailbox)(nil)

// PostUserMessage implements actor.Mailbox.
func (m *mailbox) PostUserMessage(message any) {
	// A batch is posted as its messages, then as itself (as protoactor's mailbox does).
	if batch, ok := message.(actor.MessageBatch); ok {
		for _, msg := range batch.GetMessages() {
			m.PostUserMessage(msg)
		}
	}
	if env, ok := message.(*actor.MessageEnvelope); ok {
		if batch, ok := env.Message.(actor.MessageBatch); ok {
			for _, msg := range batch.GetMessages() {
				m.PostUserMessage(msg)
			}
		}
	}
	m.post(&m.user, &m.userMessages, message)
}

// PostSystemMessage implements actor.Mailbox.
func (m *mailbox) PostSystemMessage(message any) {
	m.post(&m.sys, &m.sysMessages, message)
}

// post appends message to *q (m.user or m.sys) and counts it in *n before scheduling a run:
// a run that finds *n > 0 finds the message in *q.
func (m *mailbox) post(q *[]any, n *atomic.Int32, message any) {
	m.MessagePosted(message)
	m.mu.Lock()
	*q = append(*q, message)
	m.mu.Unlock()
	n.Add(1)
	m.schedule()
}

// RegisterHandlers implements actor.Mailbox.
func (m *mailbox) RegisterHandlers(invoker actor.MessageInvoker, dispatcher actor.Dispatcher) {
	m.invoker, m.dispatcher = invoker, dispatcher
}

// Start implements actor.Mailbox.
func (m *mailbox) Start() { m.MailboxStarted() }

// UserMessageCount implements actor.Mailbox.
func (m *mailbox) UserMessageCount() int { return int(m.userMessages.Load()) }

func (m *mailbox) schedule() {
	if m.schedulerStatus.CompareAndSwap(mailboxIdle, mailboxRunning) {
		m.dispatcher.Schedule(m.processMessages)
	}
}

func (m *mailbox) processMessages() {
	for {
		m.run()
		m.schedulerStatus.Store(mailboxIdle)
		sys, user := m.sysMessages.Load(), m.userMessages.Load()
		// Messages posted after the run's last look: run again, unless a post scheduled a run
		// of its own meanwhile.
		if (sys > 0 || !m.suspended.Load() && user > 0) && m.schedulerStatus.CompareAndSwap(mailboxIdle, mailboxRunning) {
			continue
		}
		if user == 0 && !m.suspended.Load() {
			m.MailboxEmpty()
		}
		return
	}
}

// pop takes the first message of *q (m.user or m.sys), nil if there is none. A queue that
// empties is dropped: an idle activation keeps no array.
func (m *mailbox) pop(q *[]any) any {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(*q) == 0 {
		return nil
	}
	msg := (*q)[0]
	(*q)[0] = nil
	if *q = (*q)[1:]; len(*q) == 0 {
		*q = nil
	}
	return msg
}

func (m *mailbox) run() {
	var msg any
	defer func() {
		if r := recover(); r != nil {
			m.invoker.EscalateFailure(r, msg)
		}
	}()
	i, t := 0, m.dispatcher.Throughput()
	for {
		if i > t {
			i = 0
			runtime.Gosched()
		}
		i++
		// System messages first, until there are none.
		if msg = m.pop(&m.sys); msg != nil {
			m.sysMessages.Add(-1)
			switch msg.(type) {
			case *actor.SuspendMailbox:
				m.suspended.Store(true)
			case *actor.ResumeMailbox:
				m.suspended.Store(false)
			default:
				m.invoker.InvokeSystemMessage(msg)
			}
			m.MessageReceived(msg)
			continue
		}
		if m.suspended.Load() { // until a ResumeMailbox
			return
		}
		if msg = m.pop(&m.user); msg == nil {
			return
		}
		m.userMessages.Add(-1)
		m.invoker.InvokeUserMessage(msg)
		m.MessageReceived(msg)
	}
}
