// Package resource is the resource actor: one protoactor-go virtual actor per bookable
// resource (cluster kind KindName, identity = resource id). Every command for a resource goes
// through its mailbox, so the booking state is used without locks.
//
// The actor is a shell around the activation protocol core (package activation, whose
// package doc and testdata/ transcripts describe the protocol: group commit, leases, reload
// and backoff, fencing, passivation). The shell decodes a *protos.Command into the core's
// Command, steps it with the time of its one clock (Config.Now; Config.AfterFunc is that
// clock's timer), and performs what the core asks: it sends the answers as *protos.Reply,
// runs store calls (Commit, Renew, Activate, GetHold) on goroutines it owns and waits for,
// classifies their errors into the core's outcomes and steps the results, which come back to
// the actor as messages, keeps one timer armed for the core's next wake-up, and stops itself
// when the core asks.
//
// # Machinery
//
// The idle check is the core's (protoactor's SetReceiveTimeout races under -race: its timer
// goroutine writes a context field the mailbox goroutine reads); a *actor.ReceiveTimeout is
// still honoured. A graceful stop happens inside protoactor's Stopping message, after which no
// message arrives: there the shell waits for its store call itself (it waits for the goroutine
// and reads the result the goroutine left in the call) and steps the results until the core
// reports it stopped. Commands still in the mailbox once the actor stopped, which protoactor
// would drop, are answered unavailable by the mailbox middleware that counts them
// (mailboxCounter); the count is also what the core sees as Command.Queued. Mailboxes run on a
// dispatcher that reuses warm goroutines (see warmDispatcher), which keeps a hot resource's
// throughput steady. Messages the actor sends itself implement
// actor.NotInfluenceReceiveTimeout and are not logged as dead letters.
package resource
