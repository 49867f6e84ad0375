package resource

import "time"

// warmDispatcher runs mailboxes on reused goroutines. protoactor's default dispatcher starts a
// goroutine each time a mailbox goes from empty to non-empty; on a hot resource that is every
// few commands, and each new goroutine then grows its stack through the actor's call chain
// (runtime.newstack was a fifth of the CPU in the hot-resource benchmark). Here a goroutine
// that finished a mailbox run waits up to warmIdle for the next one before it exits, so its
// grown stack is reused. Schedule never blocks and never limits concurrency: with no idle
// goroutine it starts one. Idle goroutines exit on their own after warmIdle.
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
