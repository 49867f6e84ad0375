package resource

import "time"

// warmDispatcher runs mailboxes on reused goroutines. protoactor's default dispatcher starts a
// goroutine each time a mailbox goes from empty to non-empty; on a hot resource that is every
// few commands, and each new goroutine may then grow its stack through the actor's call chain
// (runtime.newstack was a fifth of the CPU in a profile of the hot-resource benchmark, which
// ran at 40k-150k holds/s from run to run with the default dispatcher and at 110k-155k with
// this one). Here a goroutine that finished a mailbox run waits up to warmIdle for the next
// one before it exits, so its grown stack is reused. Schedule never blocks and never limits
// concurrency: with no idle goroutine it starts one. Idle goroutines exit on their own after
// warmIdle, so there is nothing to stop.
//
// A run is handed over as a warmRun: a mailbox's own run goes as the mailbox (scheduleMailbox),
// not as the method value m.processMessages, which is a closure allocated at every schedule
// (most durable holds schedule their resource's mailbox once; issue 17, round 20).
type warmDispatcher struct {
	throughput int
	idle       chan warmRun
}

// warmRun is a run to make: mb's processMessages, or fn when mb is nil.
type warmRun struct {
	mb *mailbox
	fn func()
}

func (r warmRun) run() {
	if r.mb != nil {
		r.mb.processMessages()
		return
	}
	r.fn()
}

const warmIdle = time.Second

func newWarmDispatcher(throughput int) *warmDispatcher {
	return &warmDispatcher{throughput: throughput, idle: make(chan warmRun)}
}

func (d *warmDispatcher) Throughput() int { return d.throughput }

// Schedule implements actor.Dispatcher.
func (d *warmDispatcher) Schedule(fn func()) { d.schedule(warmRun{fn: fn}) }

// scheduleMailbox is Schedule(m.processMessages) without the method value.
func (d *warmDispatcher) scheduleMailbox(m *mailbox) { d.schedule(warmRun{mb: m}) }

func (d *warmDispatcher) schedule(r warmRun) {
	select {
	case d.idle <- r:
	default:
		go d.work(r)
	}
}

func (d *warmDispatcher) work(r warmRun) {
	t := time.NewTimer(warmIdle)
	defer t.Stop()
	for {
		r.run()
		r = warmRun{} // nothing of the run kept while idle
		t.Reset(warmIdle)
		select {
		case r = <-d.idle:
		case <-t.C:
			return
		}
	}
}
