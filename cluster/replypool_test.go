package cluster

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// delayedEcho answers "<delay µs>/<token>" with "<token>" after the delay, from a goroutine of
// its own (so replies overtake each other), and answers one of "twice/<token>" twice.
func delayedEcho(sys *actor.ActorSystem) actor.ReceiveFunc {
	return func(ctx actor.Context) {
		m, ok := ctx.Message().(*wrapperspb.StringValue)
		if !ok {
			return
		}
		to := ctx.Sender()
		var us int
		var token string
		if _, err := fmt.Sscanf(m.GetValue(), "%d/%s", &us, &token); err != nil {
			return
		}
		go func() {
			time.Sleep(time.Duration(us) * time.Microsecond)
			sys.Root.Send(to, wrapperspb.String(token))
			if us%7 == 0 { // a reply twice: the second must reach no later attempt
				sys.Root.Send(to, wrapperspb.String("dup-"+token))
			}
		}()
	}
}

// TestReplyPoolAnswersEachAttemptItsOwnReply: with pooled reply processes reused across
// attempts, an attempt gets its own reply or its own give-up, never the late or repeated
// reply of an earlier attempt of the same process (randomized: delays around the give-up
// deadline, concurrent waiters, fixed seeds), and the registry keeps no more processes than
// were waiting at once.
func TestReplyPoolAnswersEachAttemptItsOwnReply(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		for _, installed := range []bool{true, false} {
			t.Run(fmt.Sprintf("%d/installed=%v", seed, installed), func(t *testing.T) {
				testReplyPoolAttempts(t, seed, installed)
			})
		}
	}
}

// testReplyPool returns a pool for sys: installed (its processes found through its own table,
// as a Node's) or not (in the registry).
func testReplyPool(sys *actor.ActorSystem, installed bool) *replyPool {
	rp := new(replyPool)
	if installed {
		rp.install(sys)
	}
	return rp
}

func testReplyPoolAttempts(t *testing.T, seed uint64, installed bool) {
	sys := actor.NewActorSystem()
	defer sys.Shutdown()
	echo := sys.Root.Spawn(actor.PropsFromFunc(delayedEcho(sys)))
	rp := testReplyPool(sys, installed)
	const workers, each = 8, 150
	var gaveUp, answered atomic.Int64
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(w)))
			for i := range each {
				token := fmt.Sprintf("w%d-%d", w, i)
				us := rng.IntN(3000)
				ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Microsecond)
				var expire <-chan time.Time
				if rng.IntN(2) == 0 { // the other way to give up
					ctx, cancel = context.WithCancel(context.Background())
					expire = time.After(1500 * time.Microsecond)
				}
				v, err := rp.request(ctx, sys, echo, wrapperspb.String(fmt.Sprintf("%d/%s", us, token)), expire)
				cancel()
				switch {
				case err != nil:
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("attempt %s: %v", token, err)
					}
					gaveUp.Add(1)
				case v.(*wrapperspb.StringValue).GetValue() != token:
					t.Errorf("attempt %s got %q", token, v.(*wrapperspb.StringValue).GetValue())
				default:
					answered.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if gaveUp.Load() == 0 || answered.Load() == 0 {
		t.Fatalf("answered %d, gave up %d: the test did not exercise both", answered.Load(), gaveUp.Load())
	}
	time.Sleep(5 * time.Millisecond) // late replies land (in dead letters)
	if n := len(rp.free); n > workers {
		t.Fatalf("%d idle reply processes for %d waiters", n, workers)
	}
}

// TestReplyPoolDeadLetter: a request to a stopped activation ends with ErrDeadLetter, and the
// process serves the next attempt.
func TestReplyPoolDeadLetter(t *testing.T) {
	for _, installed := range []bool{true, false} {
		t.Run(fmt.Sprintf("installed=%v", installed), func(t *testing.T) { testReplyPoolDeadLetter(t, installed) })
	}
}

func testReplyPoolDeadLetter(t *testing.T, installed bool) {
	sys := actor.NewActorSystem()
	defer sys.Shutdown()
	echo := sys.Root.Spawn(actor.PropsFromFunc(delayedEcho(sys)))
	gone := sys.Root.Spawn(actor.PropsFromFunc(func(actor.Context) {}))
	if err := sys.Root.StopFuture(gone).Wait(); err != nil {
		t.Fatal(err)
	}
	rp := testReplyPool(sys, installed)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := rp.request(ctx, sys, gone, wrapperspb.String("1/x"), nil); !errors.Is(err, actor.ErrDeadLetter) {
		t.Fatalf("to a stopped actor: %v, want ErrDeadLetter", err)
	}
	v, err := rp.request(ctx, sys, echo, wrapperspb.String("1/y"), nil)
	if err != nil || v.(*wrapperspb.StringValue).GetValue() != "y" {
		t.Fatalf("next attempt: %v, %v", v, err)
	}
	if len(rp.free) != 1 {
		t.Fatalf("%d idle reply processes, want the one reused", len(rp.free))
	}
}

// TestReplyPoolRemovesWhatItDoesNotKeep: a process put back beyond maxIdleReplies leaves the
// registry.
func TestReplyPoolRemovesWhatItDoesNotKeep(t *testing.T) {
	sys := actor.NewActorSystem()
	defer sys.Shutdown()
	var rp replyPool
	p, ok := rp.get(sys)
	if !ok {
		t.Fatal("get")
	}
	pid := &actor.PID{Address: sys.ProcessRegistry.Address, Id: p.id}
	if _, ok := sys.ProcessRegistry.Get(pid); !ok {
		t.Fatal("a reply process in use is not registered")
	}
	rp.free = make([]*localReply, maxIdleReplies) // full
	rp.put(p)
	if _, ok := sys.ProcessRegistry.Get(pid); ok {
		t.Fatal("a reply process the pool did not keep is still registered")
	}
}

// TestReplyPoolInstalledResolvesItsOwn: an installed pool's processes are found through its
// resolver, ahead of a resolver registered before it that answers every address (as
// protoactor's remote does), and not in the registry's map; a process the pool did not keep,
// a slot never taken and an Id that is no slot resolve to dead letters, never to the other
// resolver; other addresses are left to it.
func TestReplyPoolInstalledResolvesItsOwn(t *testing.T) {
	sys := actor.NewActorSystem()
	defer sys.Shutdown()
	reg := sys.ProcessRegistry
	var remoteAsked atomic.Int64
	reg.RegisterAddressResolver(func(*actor.PID) (actor.Process, bool) {
		remoteAsked.Add(1)
		return sys.DeadLetter, true
	})
	rp := testReplyPool(sys, true)
	p, ok := rp.get(sys)
	if !ok {
		t.Fatal("get")
	}
	pid := &actor.PID{Address: p.addr, Id: p.id, RequestId: 1}
	if pid.Address != replyAddress || p.slot != 0 {
		t.Fatalf("process at %s/%s slot %d, want %s slot 0", pid.Address, pid.Id, p.slot, replyAddress)
	}
	if got, ok := reg.Get(pid); !ok || got != actor.Process(p) {
		t.Fatalf("resolved to %T %v, want the process", got, ok)
	}
	if _, ok := reg.GetLocal(p.id); ok {
		t.Fatal("an installed pool's process is in the registry's map")
	}
	for _, id := range []string{"1", "65535", "65536", "007", "x", "", "-1", "123456"} {
		if got, _ := reg.Get(&actor.PID{Address: replyAddress, Id: id}); got != actor.Process(sys.DeadLetter) {
			t.Fatalf("Id %q resolved to %T, want dead letters", id, got)
		}
	}
	rp.free = make([]*localReply, maxIdleReplies) // full
	rp.put(p)
	if got, _ := reg.Get(pid); got != actor.Process(sys.DeadLetter) {
		t.Fatalf("a process the pool did not keep resolved to %T, want dead letters", got)
	}
	if remoteAsked.Load() != 0 {
		t.Fatalf("the other resolver was asked %d times for the pool's address", remoteAsked.Load())
	}
	reg.Get(&actor.PID{Address: "10.0.0.1:1", Id: "x"})
	if remoteAsked.Load() != 1 {
		t.Fatal("another address did not reach the other resolver")
	}
	rp.free = nil
	q, _ := rp.get(sys) // a new process takes the next slot, never the one dropped
	if q.slot != 1 {
		t.Fatalf("new process in slot %d, want 1", q.slot)
	}
}
