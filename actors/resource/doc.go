// Package resource is the resource actor: one protoactor-go virtual actor per bookable
// resource (cluster kind KindName, identity = resource id). Every command for a resource goes
// through its mailbox, so the booking state is used without locks; the actor decodes a
// *protos.Command, asks the pure model (package booking), persists the events with group
// commit, and answers with a *protos.Reply.
//
// # States
//
// The actor keeps two booking states:
//
//   - committed: what the store holds, as far as this activation knows;
//   - spec: committed plus the effects of the batch in flight plus those of the pending batch.
//
// At most one batch is at the store at a time; commands decided meanwhile accumulate in the
// pending batch. Hence the invariant
//
//	spec = committed + inflight + pending        (effects applied in decision order)
//
// # Protocol
//
//  1. Started: store.Activate loads committed (booking.Restore, or a new state when the
//     resource does not exist) and spec is a clone. Commands that arrive meanwhile wait. If
//     Activate fails they are all answered unavailable and the actor poisons itself.
//  2. A command past its deadline is answered unavailable. If the commands in the mailbox plus
//     those waiting in the actor reach MaxPending it is answered busy. Expiries due at now
//     are applied to spec and appended to the pending batch, with no reply.
//  3. Reads (GetResource, GetHold) are answered from committed (under the lease), never from spec: a read must
//     not see an effect that may still fail. A hold that only spec knows is answered when its
//     batch commits. A hold neither knows (a terminal hold from before this activation) is
//     looked up with store.GetHold, off the actor's goroutine.
//  4. Writes are decided against spec. With events: apply them to spec, record after-images,
//     and append the command to the pending batch; it is answered when that batch commits.
//     Without events (a rejection, a replay, confirm-of-confirmed): decide against committed
//     too; the same answer there goes out at once (the sold-out fast path, microseconds, no
//     store), otherwise the answer waits in the pending batch for what it depends on.
//  5. Flush: with nothing in flight, up to MaxBatch pending entries are sealed into one
//     persistence.Batch (Version = last+1, the activation's Epoch) and committed in a
//     goroutine with CommitTimeout; the result comes back as a message to the actor. After a
//     command, the flush waits while more commands sit in the mailbox, so that a burst already
//     queued is decided first and goes out as one batch; after MaxBatch commands it flushes
//     anyway, so a stream of reads cannot hold writes back.
//  6. Success: the batch's events are applied to committed in order and its commands answered.
//  7. ErrFenced: another activation owns the resource. Everything in flight and pending is
//     answered unavailable and the actor stops; the next request re-activates it.
//  8. Any other failure: the outcome is unknown. Exactly the batch's writes are answered
//     unavailable (the answers in it that only waited for those writes have no outcome of
//     their own: they are decided again); spec is rebuilt from committed and the pending
//     commands decided again; the activation is uncertain and reloads at once
//     (store.Activate, a new epoch that also fences any ghost of itself), deciding the pending
//     commands once more before the next commit. If the reload fails, the pending commands
//     are answered unavailable and writes are refused at once for a backoff that doubles from
//     MinReloadBackoff to MaxReloadBackoff; the first write after it tries to reload again.
//     Reads and rejections that committed agrees with keep being answered from memory.
//  9. One timer is armed for spec's next hold deadline; it runs step 2's expiry.
//  10. Passivation after IdleTimeout with nothing waiting; Stopping flushes what is pending and
//     waits for it (bounded by CommitTimeout), so a graceful stop loses no acknowledged change.
//     Commands still in the mailbox once the actor stopped, which protoactor would drop, are
//     answered unavailable by the mailbox middleware that counts them.
//
// # Leases
//
// Answers from memory (reads from committed, and event-less answers committed agrees with) are
// given only while the activation is leased (lease.go): every commit stores a lease end with
// the batch, a lapsed lease is renewed with store.Renew before such an answer goes out (the
// answers wait in the pending batch, and a sealed run of them triggers the renewal instead of
// being answered at once), and a stream of commands renews it ahead of time. A new activation
// waits, after Activate, until the previous activation's stored lease end has passed. A
// graceful stop ends the lease. If a renewal fails, reads and sold-out refusals are answered
// from memory marked stale (Reply.stale); other answers are unavailable.
//
// A command answered unavailable has an unknown outcome: its effect may be in the store and
// may show up later, even after other acknowledged commands (a linearizable history places it
// there). Clients retry with the same Idempotency-Key.
//
// # Machinery
//
// The idle timer is the actor's own (protoactor's SetReceiveTimeout races under -race: its
// timer goroutine writes a context field the mailbox goroutine reads); a *actor.ReceiveTimeout
// is still honoured. Mailboxes run on a dispatcher that reuses warm goroutines (see
// warmDispatcher), which keeps a hot resource's throughput steady. Messages the actor sends
// itself implement actor.NotInfluenceReceiveTimeout and are not logged as dead letters.
//
// # After-images and replies
//
// Each pending entry records the after-images (from spec, right after its events) of the holds
// and buckets it touched, and its reply. When a batch is sealed nothing is in flight, so by the
// invariant every entry decided before the batch is committed: spec, at the moment an entry
// was decided, equalled committed-before-the-batch plus the batch's entries up to that one (had
// an earlier batch failed, the entry would have been decided again). So the last image of each
// key within the batch is its value after the batch, and an entry's reply is the committed
// answer at its place in the order: the linearization point of a write is its commit, and it
// is answered exactly as a sequential execution in decision order would answer it. Taking the
// images at seal time from spec would be wrong as soon as MaxBatch leaves entries pending,
// since spec then includes their effects too.
//
// A run of sealed entries with no events (answers that only waited for earlier batches) is
// answered at seal time without a store call.
package resource
