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
//	0 <= b.Held, 0 <= b.Confirmed, b.Held + b.Confirmed <= b.Capacity + b.Allowance
//
// where Held and Confirmed are the sums of Quantity over holds in those states that claim b,
// and Allowance is the resource's overbooking Allowance for b's capacity (0 unless set: then
// the invariant is the plain held + confirmed <= capacity). With Resource.MaxPerUser set,
// also, for every user u: the Units (quantity times buckets) of u's held and confirmed holds
// <= MaxPerUser, except where an update lowered the limit below what u already had. And no
// waiting waitlist entry fits what is free (it would have been offered).
//
// # Rules
//
//   - Renewal (extend.go): DecideExtend gives a live held hold a fresh HoldTTL from now, never
//     shortening it, at most Resource.MaxExtensions times (default 2); event HoldExtended.
//     A renewal's IdempotencyKey is kept with the holds' keys (extend_replay.go): a retry
//     answers the hold, Replayed, without renewing it again.
//   - Overbooking (resource.go): Allowance, units or a percentage per bucket; sold_out beyond
//     capacity + allowance; Bucket.Overbooked says how far into it a bucket is.
//   - Per-user limit: Resource.MaxPerUser bounds a user's Units on the resource (flash-sale
//     anti-scalping: a hold of 2 units over 3 nights is 6; splitting into several holds or
//     buckets does not get around it); refusal limit_exceeded.
//   - Calendars and ranges (calendar.go): CreateResource.Calendar expands into day or slot
//     buckets in the resource's Timezone; PlaceHold.Range and JoinWaitlist.Range name a stay
//     or a run of slots instead of listing keys.
//   - Waitlist (waitlist.go): DecideJoinWaitlist, DecideLeaveWaitlist; offers are appended to
//     the decisions that free units (DecideCancel, ExpireDue, DecideUpdate) as
//     WaitlistOffered + HoldPlaced pairs, first come first served, first fit. A join's
//     IdempotencyKey is kept with the holds' keys (waitlist_replay.go): a retry answers the
//     entry the key created (waiting, or as it was when offered), or conflict once it left.
//   - Browsing and archiving (archive.go): Resource.Tags and Location are search metadata;
//     DecideArchive retires a resource (refused while a hold is live or a user waits), after
//     which it takes no new holds, waitlist entries or updates.
//
// # Wiring (what the resource actor, protos and the HTTP API do with it)
//
// Commands map one to one: POST .../holds/{hid}/extend -> ExtendHold (UserID is the
// authenticated subject), POST .../waitlist -> JoinWaitlist (the actor chooses EntryID and
// OfferHoldID as it chooses hold ids), DELETE .../waitlist/{id} -> LeaveWaitlist, and the new
// fields of CreateResource, UpdateResource and PlaceHold (Range). Position queries are
// State.WaitlistEntry and State.WaitlistOf; UserUnits shows a user's count.
//
// After-images for a store batch, per event (the actor's capture): HoldExtended -> the hold;
// WaitlistJoined -> the entry into Batch.Waitlist; WaitlistLeft and WaitlistOffered -> the
// entry id into Batch.WaitlistRemoved; HoldPlaced of an offer -> the hold (its
// WaitlistEntryID is set) and its buckets; ResourceUpdated -> the resource and the buckets
// of ChangedBuckets (capacities and allowances). A WaitlistOffered is what the notification
// service announces (waitlist.offered): user, hold and deadline are in the event.
// A store's snapshot restores through RestoreSaved (persistence.Snapshot.Saved).
//
// Error codes: CodeLimitExceeded is new (409), for MaxPerUser, MaxExtensions and a full
// waitlist.
package booking
