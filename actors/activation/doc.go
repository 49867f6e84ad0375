// Package activation is the activation protocol core: what one activation of one resource
// does with commands, store results and time, as a synchronous state machine. It is the
// resource actor (package resource) without the actor: no goroutines, no clock reads, no
// actor runtime, no store. Like etcd's raft.RawNode, a Core takes inputs through one method,
// Step(now, input), and returns what to do as data (a Ready): replies to send, a group commit,
// a lease renewal, a load, hold lookups, when to wake it next, and whether to stop. The shell
// performs those actions and feeds their results back as inputs. The transcripts in
// testdata/ show the protocol at work; read them with this comment.
//
// The package imports the booking model (actors/booking: the state, its decisions and events,
// and its coded errors, which are the answers) and the standard library's time (durations
// and instants as values; it never reads the clock). It does not import the store: the shell
// classifies a store's errors into Outcomes and passes loaded data in plain booking types, and
// a Commit carries a Write, field for field what persistence.Batch stores. purity_test.go
// checks all of this.
//
// # States
//
// An activation keeps two booking states:
//
//   - committed: what the store holds, as far as this activation knows;
//   - spec: committed plus the effects of the commits in flight plus those of pending.
//
// Up to MaxInFlight group commits are in flight at a time (a pipeline), or one renewal;
// commands decided meanwhile accumulate as pending decisions. Hence the invariant
//
//	spec = committed + in flight + pending        (effects applied in decision order)
//
// With nothing in flight or pending the two are the same State (Step ends by sharing it), so
// an idle activation keeps one copy; the first change to spec copies it again (ownSpec).
//
// Its life is a Phase: Loading, Serving, Passivating, Stopping, Dead, Stopped. Orthogonal to
// it, Memory says whether committed may lag the store (Uncertain: reload before the next
// commit), and a backoff deadline says whether writes are refused after a store failure.
//
// # Protocol
//
// Loading: Start asks for a Load (store.Activate), which takes a new epoch and so fences
// every earlier activation. Commands that arrive meanwhile wait. If the load fails they are
// all answered unavailable and the activation dies (Ready.StopSelf). A load that reports a
// previous activation's lease end waits for it (see Leases).
//
// Admission: a command past its deadline is answered unavailable; one that finds MaxPending
// commands waiting (parked here or queued in the mailbox) is answered busy. Expiries due at
// now are applied to spec and become pending decisions without a reply; idempotency keys
// past their retention are forgotten now and then.
//
// Reads (GetResource, GetHold) are answered from committed, under the lease, never from
// spec: a read must not see an effect that may still fail. A hold that only spec knows is
// answered when its commit succeeds. A hold neither knows (a terminal hold from before this
// activation) is looked up in the store (a Lookup); a confirm or cancel of one too.
//
// Writes are decided against spec. With events: they are applied to spec, the after-images
// recorded, and the command waits as a pending decision until its commit succeeds. Without
// events (a rejection, a replay, a confirm of a confirmed hold): the command is decided
// against committed too; the same answer there goes out at once, under the lease (the
// sold-out fast path: microseconds, no store); otherwise the answer waits as a pending
// decision for what it depends on.
//
// Group commit: with nothing at the store, or with fewer than MaxInFlight commits there and at
// least MinBehind decisions waiting behind a commit of at most 2×MinBehind, or as many as a
// larger commit ahead carries (default: a full batch), up to MaxBatch pending decisions are sealed into one Commit (Version = the last version written or in flight + 1,
// the activation's epoch, a new lease end). A commit sealed behind others was decided on top
// of them: the shell must have the store apply a resource's commits in the order asked for
// (Ready.Commits), and the store refuses a batch whose version does not follow the stored one.
// Results are applied in that order too, whatever order they come back in, so answers go out
// in commit order; a commit that failed (unknown outcome) or was fenced fails every commit
// behind it (see Commit results). After a command, the
// commit waits while more commands are queued in the mailbox (Command.Queued), so that a burst
// already queued is decided first and goes out as one write; after MaxBatch commands it starts
// anyway, so that a stream of reads cannot hold writes back. A sealed run of decisions
// without events (answers that only waited for earlier commits) is answered at once under the
// lease, or starts a Renewal instead of a commit.
//
// Commit results: Committed applies the commit's events to committed in order and sends its
// answers. Fenced means another activation owns the resource: everything in flight and pending
// is answered unavailable and the activation dies; the next request re-activates it. Unknown
// means the write may or may not have applied: exactly the writes of the commit and of the
// commits behind it are answered unavailable (their answers without events of their own have
// no outcome of their own: they are decided again; results of the commits behind it that come
// later are ignored, and the reload fences those that have not applied), spec is rebuilt from
// committed, the pending commands are decided again,
// memory is Uncertain and a reload starts at once (a new epoch, which also fences any ghost of
// this activation), and the pending commands are decided once more against what it loads. If
// the reload fails, the pending commands are answered unavailable and writes are refused at
// once for a backoff that doubles from MinReloadBackoff to MaxReloadBackoff; the first write
// after it tries to reload again. Reads and refusals that committed agrees with keep being
// answered from memory.
//
// Timers: the core asks for one wake-up (Ready.WakeAt): the earliest of spec's next hold
// deadline, the end of a backoff, the next idle check and the end of a lease a load waits
// for. A Tick does whatever is due at its time.
//
// Passivation: after IdleTimeout without a command, with nothing waiting here or in the
// mailbox, the core asks the runtime to stop the activation (Ready.StopSelf). Stop (a
// graceful stop, from the runtime) commits what is pending and waits for it, bounded by
// CommitTimeout, so that a graceful stop loses no acknowledged change; then it releases the
// lease (Ready.Release) and answers whatever is left unavailable.
//
// A command answered unavailable has an unknown outcome: its effect may be in the store and
// may show up later, even after other acknowledged commands (a linearizable history places it
// there). Clients retry with the same idempotency key.
//
// # Leases
//
// Answers from memory (reads from committed, and event-less answers committed agrees with)
// are given only while the activation is leased (lease.go): every commit stores a lease end,
// a lapsed lease is renewed with a Renewal before such an answer goes out (the answers wait
// as pending decisions, and a sealed run of them starts the renewal), and a stream of
// commands renews it ahead of time. A new activation waits, after its load, until the previous
// activation's stored lease end has passed. A graceful stop ends the lease. If a renewal or a
// reload fails, reads and sold-out refusals are answered from memory marked stale
// (Answer.Stale); other answers are unavailable.
//
// # After-images and answers
//
// Each pending decision records the after-images (from spec, right after its events) of the
// holds and buckets it touched, and its answer. When a commit is sealed every decision before
// it is committed or in a commit ahead of it, which the store applies first: spec, at the
// moment a decision was made, equalled the store's state before the commit plus the commit's
// decisions up to that one (had an earlier commit failed, the decision would have been made
// again). So the
// last image of each key within a commit is its value after the commit, and a decision's
// answer is the committed answer at its place in the order: the linearization point of a
// write is its commit, and it is answered exactly as a sequential execution in decision order
// would answer it. Taking the images at seal time from spec would be wrong as soon as
// MaxBatch leaves decisions pending, since spec then includes their effects too.
//
// # Payments
//
// A hold's payment saga (package payment, pure like this one) is part of the hold
// (booking.Hold.Payment). The payment commands (PayHold, PaymentObserved, PaymentTick,
// PaymentDecided) are writes of one hold like a confirm: decided against spec, their hold
// commands followed as booking events of the same decision, committed with them; a
// cancellation of a hold with a payment records its refund in the same decision. The provider
// commands are the caller's to perform after the answer (payment.go).
package activation
