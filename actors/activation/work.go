package activation

import "github.com/allot/allot/actors/booking"

// work is the part of a Core that a quiet activation does not need: the booking state and
// the work under way. A quiet activation (quiet.go) keeps its state packed and has nothing
// under way, so between Steps it drops its work and keeps the Core's own fields: its id,
// epoch, version, lease, last command, idle check, hold deadline, prune time and the packed
// state. Round 15: the Core of a quiet activation went from 224 to 144 bytes (the 288-byte
// class before round 15); a busy one pays a second object (96 bytes: 144 + 96 = 240).
//
// Invariant: c.work != nil during every Step (Step gives a quiet activation's step empty work,
// which nothing fills: an input that could fill it unpacks first) and between Steps unless the
// activation is quiet, in which case work == nil (dropWorkIfQuiet). Methods the shell calls
// between Steps (Busy, Waiting, Missing, Status) read work only when it is there.
type work struct {
	// committed is what the store has, as far as this activation knows; spec is committed
	// plus the effects of the commits in flight plus those of pending. nil until loaded, and
	// while the activation is quiet: then Core.packed holds the state (quiet.go).
	committed *booking.State
	spec      *booking.State

	flights []*flight   // at the store, in the order asked for: up to MaxInFlight commits, or one renewal
	load    *loading    // the load under way, at most one
	pending []*decision // decided after flight was sealed, in decision order
	// deferred are the commands that arrived before the first load, nil when there are none
	// (after it, always): behind a pointer, 16 bytes less in every work.
	deferred *[]*Command
	heldBack int // commands handled since pending could have been committed
}

// dropWorkIfQuiet drops the work of a quiet activation at the end of a Step (see work). Work
// that is not empty stays: it cannot be, by the invariant of quiet.go, but memory is the
// lesser harm than losing what it holds.
func (c *Core) dropWorkIfQuiet() {
	w := c.work
	if c.packed == "" || w == nil || w.committed != nil || w.spec != nil || len(w.flights) > 0 || w.load != nil ||
		len(w.pending) > 0 || w.deferred != nil {
		return
	}
	c.work = nil
}
