// Package booking holds a resource's booking rules as a plain state machine.
//
// It has no actor context, no clock and no I/O, in the manner of etcd's raft RawNode: a caller
// asks State to decide a command at an instant it supplies, gets back events (or a coded
// *Error), and applies the events to move the state on. Deciding never mutates; applying never
// fails. That split is what lets the resource actor keep two copies of one state — what is
// committed to the store, and what it has promised on top of that while a batch is in flight —
// and roll the second back to the first when a batch fails.
//
// Invariant kept by every Decide* method, for every bucket b:
//
//	0 <= b.Held, 0 <= b.Confirmed, b.Held + b.Confirmed <= b.Capacity
//
// where Held and Confirmed are the sums of Quantity over holds in those states that claim b.
package booking
