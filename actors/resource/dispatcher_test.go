package resource

import (
	"sync"
	"testing"
)

// TestWarmDispatcher: every scheduled function runs, concurrently when needed (a blocked run
// does not hold up the others), and idle goroutines are reused.
func TestWarmDispatcher(t *testing.T) {
	d := newWarmDispatcher(7)
	if d.Throughput() != 7 {
		t.Fatalf("throughput %d", d.Throughput())
	}
	block := make(chan struct{})
	blocked := make(chan struct{})
	d.Schedule(func() { close(blocked); <-block })
	<-blocked
	var wg sync.WaitGroup
	for range 100 {
		wg.Add(1)
		d.Schedule(wg.Done)
	}
	wg.Wait() // ran although one goroutine is blocked
	close(block)

	// Sequential runs go to the idle goroutine: Schedule finds it waiting.
	done := make(chan struct{})
	d.Schedule(func() { close(done) })
	<-done
}
