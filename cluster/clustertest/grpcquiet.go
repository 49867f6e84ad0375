package clustertest

import (
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// Why this exists: protoactor's remote.Start calls grpclog.SetLoggerV2, a write to grpc-go's
// global logger, on every node start. A node booted in the same test process while grpc
// goroutines of an earlier node are still winding down (a transport closing, a reconnect
// backoff ending) races with their reads of that logger, and -race fails whichever test is
// running. Allot runs one node per process, so only tests that boot nodes in-process one
// after another meet this; they call BeforeInProcessNode first.

// nodes holds, for each node a test booted in this process, whether it still runs. While
// one runs, grpc goroutines are expected and are its own: nothing to wait for.
var nodes struct {
	sync.Mutex
	running []func() bool
}

// BeforeInProcessNode waits (up to 10 s) until no grpc goroutine of an earlier in-process node
// is left, unless one of the nodes registered earlier still runs, and registers running: the
// new node's own report of whether it runs (false once it is closed).
func BeforeInProcessNode(tb testing.TB, running func() bool) {
	tb.Helper()
	nodes.Lock()
	defer nodes.Unlock()
	live := nodes.running[:0]
	for _, r := range nodes.running {
		if r() {
			live = append(live, r)
		}
	}
	nodes.running = append(live, running)
	if len(live) > 0 {
		return
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		left := grpcGoroutines()
		if left == "" {
			return
		}
		if time.Now().After(deadline) {
			tb.Logf("grpc goroutines of an earlier node still run; starting anyway:\n%s", left)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// grpcGoroutines returns the stacks of goroutines running grpc-go code, "" when there are none.
func grpcGoroutines() string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "google.golang.org/grpc") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}
