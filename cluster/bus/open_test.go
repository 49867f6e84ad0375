package bus

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// TestOpenWaitsForAClusterThatStartsLater: a node that starts before its NATS server (a
// deployment's pods in any order, a server restarting) keeps trying for StartWithin instead
// of failing its start: CI's chaos round once lost a node whose stream creation timed out
// while the three servers elected their JetStream leader.
func TestOpenWaitsForAClusterThatStartsLater(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()

	cfg := DefaultConfig()
	cfg.URL = fmt.Sprintf("nats://127.0.0.1:%d", port)
	cfg.Timeout = time.Second
	type opened struct {
		b   *Bus
		err error
	}
	done := make(chan opened, 1)
	go func() {
		b, err := Open(context.Background(), cfg)
		done <- opened{b, err}
	}()
	select {
	case o := <-done:
		t.Fatalf("Open returned before any server listened: %v", o.err)
	case <-time.After(1500 * time.Millisecond): // a few attempts fail first
	}
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: t.TempDir(), NoLog: true, NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	ns.Start()
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	o := <-done
	if o.err != nil {
		t.Fatalf("Open after the server started: %v", o.err)
	}
	defer o.b.Close()
	if _, err := o.b.JetStream().Stream(context.Background(), EventsStream); err != nil {
		t.Fatalf("stream %s: %v", EventsStream, err)
	}
}

// TestOpenGivesUpAfterStartWithin: with nothing to reach, Open fails once StartWithin passed,
// naming the stream.
func TestOpenGivesUpAfterStartWithin(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	cfg := DefaultConfig()
	cfg.URL = fmt.Sprintf("nats://127.0.0.1:%d", port)
	cfg.Timeout, cfg.StartWithin = 200*time.Millisecond, time.Second
	start := time.Now()
	b, err := Open(context.Background(), cfg)
	if err == nil {
		b.Close()
		t.Fatal("Open with no server: no error")
	}
	if d := time.Since(start); d < cfg.StartWithin {
		t.Fatalf("gave up after %s, before StartWithin (%s): %v", d, cfg.StartWithin, err)
	}
	t.Logf("%v", err)
}
