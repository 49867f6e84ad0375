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
type warmDispatcher struct {
	throughput int
	idle       chan func()
}

const warmIdle = time.Second

func newWarmDispatcher(throughput int) *warmDispatcher {
	return &warmDispatcher{throughput: throughput, idle: make(chan func())}
}

func (d *warmDispatcher) Throughput() int { return d.throughput }

func (d *warmDispatcher) Schedule(fn func()) {
	select {
	case d.idle <- fn:
	default:
		go d.work(fn)
	}
}

func (d *warmDispatcher) work(fn func()) {
	t := time.NewTimer(warmIdle)
	defer t.Stop()
	for {
		fn()
		t.Reset(warmIdle)
		select {
		case fn = <-d.idle:
		case <-t.C:
			return
		}
	}
}
