package cluster

import (
	"bytes"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestJoinRetryDelayDoublesToTheCap(t *testing.T) {
	var got []time.Duration
	for a := 0; a < 7; a++ {
		got = append(got, joinRetryDelay(a, 100*time.Millisecond, 2*time.Second))
	}
	want := []time.Duration{100e6, 200e6, 400e6, 800e6, 1600e6, 2000e6, 2000e6}
	if !slices.Equal(got, want) {
		t.Fatalf("delays %v, want %v", got, want)
	}
	for _, d := range []time.Duration{1, 3, 100e6, 2e9} {
		if j := defaultJitter(d); j < d/2 || j > d {
			t.Fatalf("jitter(%v) = %v, want within [d/2, d]", d, j)
		}
	}
}

// reservePort returns a 127.0.0.1 port free for TCP and UDP a moment ago.
func reservePort(t *testing.T) int {
	t.Helper()
	for i := 0; i < 50; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// TestProviderNotJoinedUntilSeedAnswers: a member whose seed starts 1.2 s later is not
// joined (a Node reports not ready) until the seed listens; its fast retries then join it
// well before the old 5 s rejoin, and it knows the seed at once.
func TestProviderNotJoinedUntilSeedAnswers(t *testing.T) {
	seedPort := reservePort(t)
	seedAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(seedPort))
	cfg := testProviderConfig(seedAddr)
	cfg.RejoinInterval = time.Minute // only the join backoff may join it
	cfg.Jitter = func(d time.Duration) time.Duration { return d }
	late := MustFakeMember(t, cfg, false)
	time.Sleep(1200 * time.Millisecond) // the seed's start-up lag under test, not a wait for an event
	if isClosed(late.p.Joined()) {
		t.Fatal("joined although its only seed does not listen yet")
	}
	seedCfg := testProviderConfig()
	seedCfg.BindAddr = seedAddr
	seed := MustFakeMember(t, seedCfg, false)
	select {
	case <-late.p.Joined():
	case <-time.After(6 * time.Second): // backoff is at most 2 s; slack for a loaded machine
		t.Fatal("not joined 6 s after the seed started")
	}
	if m := late.member(seed.id()); m.Status != StatusAlive {
		t.Fatalf("joined but the seed is %+v", m)
	}
}

func TestProviderBootstrapRules(t *testing.T) {
	if f := MustFakeMember(t, testProviderConfig(), false); !isClosed(f.p.Joined()) {
		t.Fatal("a member without seeds is the first member: joined at once")
	}
	self := testProviderConfig()
	port := reservePort(t)
	self.BindAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	self.Join = []string{self.BindAddr}
	if f := MustFakeMember(t, self, false); !isClosed(f.p.Joined()) {
		t.Fatal("a member that is its own only seed is the first member: joined at once")
	}
	// A seed that is this member under another name (a host name): reaching it is no join.
	byName := testProviderConfig()
	port = reservePort(t)
	byName.BindAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	byName.Join = []string{net.JoinHostPort("localhost", strconv.Itoa(port))}
	byName.Jitter = func(d time.Duration) time.Duration { return d }
	f := MustFakeMember(t, byName, false)
	time.Sleep(400 * time.Millisecond) // three retries (100+200 ms): none may count as a join
	if isClosed(f.p.Joined()) {
		t.Fatal("a member that reached only itself (by host name) counts as joined")
	}

	nowhere := net.JoinHostPort("127.0.0.1", strconv.Itoa(reservePort(t)))
	boot := testProviderConfig(nowhere)
	boot.Bootstrap = true
	if f := MustFakeMember(t, boot, false); !isClosed(f.p.Joined()) {
		t.Fatal("Bootstrap: joined at once")
	}
	after := testProviderConfig(nowhere)
	after.BootstrapAfter = 300 * time.Millisecond
	start := time.Now()
	f = MustFakeMember(t, after, false)
	if isClosed(f.p.Joined()) {
		t.Fatal("BootstrapAfter: joined before any seed answered or the wait ended")
	}
	select {
	case <-f.p.Joined():
		if took := time.Since(start); took < 300*time.Millisecond {
			t.Fatalf("bootstrapped after %v, before BootstrapAfter", took)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("BootstrapAfter: never joined")
	}
}

// TestExpectedErrorsAreDebug: connection errors about a member that left gracefully, or
// any while stopping, are not logged as errors; others still are.
func TestExpectedErrorsAreDebug(t *testing.T) {
	var buf bytes.Buffer
	base := slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})
	stopping := false
	expected := func(addr string) bool { return stopping || addr == "10.0.0.2:8090" }
	l := slog.New(expectedErrors{h: levelFloor{h: base, min: slog.LevelWarn}, expected: expected})
	l.Error("EndpointWriter lost connection", "address", "10.0.0.2:8090", "error", "EOF")
	l.Error("EndpointWriter lost connection", "address", "10.0.0.3:8090", "error", "EOF")
	stopping = true
	l.Error("EndpointWriter error when closing the stream", "error", "EOF")
	l.Error("activation failed", "error", "boom")
	out := buf.String()
	if strings.Count(out, "level=ERROR") != 2 || !strings.Contains(out, "10.0.0.3:8090") || !strings.Contains(out, "activation failed") {
		t.Fatalf("protoactor log:\n%s", out)
	}

	buf.Reset()
	stopping = false
	w := newMemberlistLogger(slog.New(base), nil, expected)
	w.Print("[ERR] memberlist: Failed to send gossip to 10.0.0.2:8090: write: connection refused")
	w.Print("[ERR] memberlist: Failed to send gossip to 10.0.0.9:7946: write: connection refused")
	if out := buf.String(); strings.Count(out, "level=ERROR") != 1 || !strings.Contains(out, "10.0.0.9") {
		t.Fatalf("memberlist log:\n%s", out)
	}
}

// TestWholeClusterLeavesAtOnce: when every member stops at the same moment (Ctrl-C on
// `make cluster`), nobody is left to confirm a leave broadcast; that is no error.
func TestWholeClusterLeavesAtOnce(t *testing.T) {
	first := MustFakeMember(t, testProviderConfig(), false)
	ms := []*fakeMember{first,
		MustFakeMember(t, testProviderConfig(first.p.GossipAddr()), false),
		MustFakeMember(t, testProviderConfig(first.p.GossipAddr()), false)}
	waitFakeTopology(t, 10*time.Second, ms, ms)
	errs := make(chan error, len(ms))
	for _, m := range ms {
		go func() { errs <- m.p.Shutdown(true) }()
	}
	for range ms {
		if err := <-errs; err != nil {
			t.Errorf("shutdown: %v", err)
		}
	}
}
