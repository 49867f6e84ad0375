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
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			sys := actor.NewActorSystem()
			defer sys.Shutdown()
			echo := sys.Root.Spawn(actor.PropsFromFunc(delayedEcho(sys)))
			var rp replyPool
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
		})
	}
}

// TestReplyPoolDeadLetter: a request to a stopped activation ends with ErrDeadLetter, and the
// process serves the next attempt.
func TestReplyPoolDeadLetter(t *testing.T) {
	sys := actor.NewActorSystem()
	defer sys.Shutdown()
	echo := sys.Root.Spawn(actor.PropsFromFunc(delayedEcho(sys)))
	gone := sys.Root.Spawn(actor.PropsFromFunc(func(actor.Context) {}))
	if err := sys.Root.StopFuture(gone).Wait(); err != nil {
		t.Fatal(err)
	}
	var rp replyPool
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
