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
// kept between messages. Here an idle activation keeps the 64-byte mailbox alone: the two
// queues are one mailQueue, taken from the kind's pool (mailboxShared) when a message arrives
// at an empty mailbox and given back when both queues have emptied, so that a queue's array
// is reused from burst to burst instead of allocated per burst; what every activation of a
// kind shares (the dispatcher, the metrics, the pool) is one mailboxShared, not per mailbox
// (docs/PERFORMANCE.md, "Round 15"). The behaviour is protoactor's: system messages first,
// SuspendMailbox and ResumeMailbox handled here, user messages until the dispatcher's
// throughput then a yield, a MessageBatch posted as its messages and then as itself, a panic
// escalated to the invoker with the message that caused it, and one run scheduled at a time
// (schedulerStatus).
//
// Invariant: q is nil or holds a message (mu held); a message is in q from its post until the
// run takes it.
//
// Thread safety: PostUserMessage and PostSystemMessage may be called from any goroutine; the
// run (processMessages) is on the dispatcher's goroutine, one at a time.
type mailbox struct {
	mailboxCounter // MessagePosted and MessageReceived are called as protoactor calls a middleware's

	mu sync.Mutex
	q  *mailQueue // the messages not yet taken; nil when there are none

	schedulerStatus atomic.Int32 // idle or running (mailboxIdle, mailboxRunning)
	suspended       atomic.Bool

	invoker actor.MessageInvoker
}

// mailboxShared is what every mailbox of a kind shares (props makes one per Props).
type mailboxShared struct {
	dispatcher actor.Dispatcher
	warm       *warmDispatcher // dispatcher, when it is one (scheduleMailbox)
	metrics    *Metrics
	queues     sync.Pool // of *mailQueue, empty
}

// mailQueue is a mailbox's messages while it has any: system and user messages, each in
// order.
type mailQueue struct {
	sys, user msgQueue
}

// msgQueue is a FIFO of messages in a slice: buf[head:] are the messages not yet taken.
type msgQueue struct {
	buf  []any
	head int
}

// maxPooledQueue is the largest array a mailQueue keeps when it goes back to the pool: a burst
// of more messages than this allocates its own, which the GC takes after it.
const maxPooledQueue = 64

func (q *msgQueue) len() int { return len(q.buf) - q.head }

func (q *msgQueue) push(m any) {
	if len(q.buf) == cap(q.buf) && q.head > 0 && q.head >= len(q.buf)/2 {
		// The taken half is at the front: move the rest there instead of growing.
		n := copy(q.buf, q.buf[q.head:])
		clear(q.buf[n:])
		q.buf, q.head = q.buf[:n], 0
	}
	q.buf = append(q.buf, m)
}

// pop takes the first message; the queue must not be empty.
func (q *msgQueue) pop() any {
	m := q.buf[q.head]
	q.buf[q.head] = nil
	if q.head++; q.head == len(q.buf) {
		q.buf, q.head = q.buf[:0], 0
	}
	return m
}

const (
	mailboxIdle int32 = iota
	mailboxRunning
)

var _ actor.Mailbox = (*mailbox)(nil)

// newMailboxShared returns what the mailboxes of a kind share.
func newMailboxShared(d actor.Dispatcher, metrics *Metrics) *mailboxShared {
	warm, _ := d.(*warmDispatcher)
	return &mailboxShared{dispatcher: d, warm: warm, metrics: metrics}
}

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
	m.post(false, message)
}

// PostSystemMessage implements actor.Mailbox.
func (m *mailbox) PostSystemMessage(message any) { m.post(true, message) }

// post appends message to the system or user queue before scheduling a run: a run that looks
// after the append finds it.
func (m *mailbox) post(sys bool, message any) {
	m.MessagePosted(message)
	m.mu.Lock()
	q := m.q
	if q == nil {
		q, _ = m.shared.queues.Get().(*mailQueue)
		if q == nil {
			q = &mailQueue{}
		}
		m.q = q
	}
	if sys {
		q.sys.push(message)
	} else {
		q.user.push(message)
	}
	m.mu.Unlock()
	m.schedule()
}

// RegisterHandlers implements actor.Mailbox. A mailbox made without the kind's mailboxShared
// (tests), or registered with another dispatcher, gets one of its own.
func (m *mailbox) RegisterHandlers(invoker actor.MessageInvoker, dispatcher actor.Dispatcher) {
	m.invoker = invoker
	if m.shared == nil || m.shared.dispatcher != dispatcher {
		var metrics *Metrics
		if m.shared != nil {
			metrics = m.shared.metrics
		}
		m.shared = newMailboxShared(dispatcher, metrics)
	}
}

// Start implements actor.Mailbox.
func (m *mailbox) Start() { m.MailboxStarted() }

// UserMessageCount implements actor.Mailbox.
func (m *mailbox) UserMessageCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.q == nil {
		return 0
	}
	return m.q.user.len()
}

// pending reports whether the mailbox holds system messages, and user messages.
func (m *mailbox) pending() (sys, user bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.q == nil {
		return false, false
	}
	return m.q.sys.len() > 0, m.q.user.len() > 0
}

func (m *mailbox) schedule() {
	if m.schedulerStatus.CompareAndSwap(mailboxIdle, mailboxRunning) {
		if w := m.shared.warm; w != nil {
			w.scheduleMailbox(m)
			return
		}
		m.shared.dispatcher.Schedule(m.processMessages)
	}
}

func (m *mailbox) processMessages() {
	for {
		m.run()
		m.schedulerStatus.Store(mailboxIdle)
		sys, user := m.pending()
		// Messages posted after the run's last look: run again, unless a post scheduled a run
		// of its own meanwhile.
		if (sys || !m.suspended.Load() && user) && m.schedulerStatus.CompareAndSwap(mailboxIdle, mailboxRunning) {
			continue
		}
		if !user && !m.suspended.Load() {
			m.MailboxEmpty()
		}
		return
	}
}

// pop takes the first system message (sys) or user message, nil if there is none. Once both
// queues are empty the mailQueue goes back to the pool: an idle activation keeps none.
func (m *mailbox) pop(sys bool) any {
	m.mu.Lock()
	q := m.q
	if q == nil {
		m.mu.Unlock()
		return nil
	}
	s := &q.user
	if sys {
		s = &q.sys
	}
	if s.len() == 0 {
		m.mu.Unlock()
		return nil
	}
	msg := s.pop()
	if q.sys.len() != 0 || q.user.len() != 0 {
		m.mu.Unlock()
		return msg
	}
	m.q = nil
	m.mu.Unlock()
	// The queue is no longer the mailbox's: back to the pool outside the mutex.
	q.release()
	m.shared.queues.Put(q)
	return msg
}

// release readies an empty queue for the pool: an array larger than maxPooledQueue is left to
// the GC (a burst's), so that the pool keeps small arrays only.
func (q *mailQueue) release() {
	if cap(q.sys.buf) > maxPooledQueue {
		q.sys.buf = nil
	}
	if cap(q.user.buf) > maxPooledQueue {
		q.user.buf = nil
	}
}

func (m *mailbox) run() {
	var msg any
	defer func() {
		if r := recover(); r != nil {
			m.invoker.EscalateFailure(r, msg)
		}
	}()
	i, t := 0, m.shared.dispatcher.Throughput()
	for {
		if i > t {
			i = 0
			runtime.Gosched()
		}
		i++
		// System messages first, until there are none.
		if msg = m.pop(true); msg != nil {
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
		if msg = m.pop(false); msg == nil {
			return
		}
		m.invoker.InvokeUserMessage(msg)
		m.MessageReceived(msg)
	}
}
