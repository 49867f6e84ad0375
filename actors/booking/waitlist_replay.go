package booking

// Idempotent joins: a join may carry an Idempotency-Key, as a hold does, so that a client
// retrying a join whose answer it lost (a timeout, a partition) gets the entry its first
// attempt created instead of a second one, or a refusal it cannot tell from a real one.
//
// Rules (waitlist_replay_test.go checks them, and the simulation against its reference model):
//   - The key is recorded with the join, in the same event (WaitlistJoined.IdempotencyKey), in
//     the resource's idempotency entries that holds use: HoldID is the entry's OfferHoldID
//     and Fingerprint is the request's hold fingerprint prefixed with joinFingerprintPrefix.
//     A hold fingerprint starts with a digit (the quantity), so the two never collide: a key
//     used for a hold and then for a join (or the other way) is refused as reused with a
//     different request (idempotency_mismatch), like any other different request. The key is
//     kept as long as a hold's (IdempotencyRetention) and pruned with them.
//   - The same key with the same request (buckets in any order, or the range naming them;
//     quantity; user) answers the entry the key created, Replayed, with no events. While it
//     waits, as it is now (its position is the caller's to read). Once offered, as it was,
//     with the offer's hold id: rebuilt from the offer hold, which names the entry
//     (Hold.WaitlistEntryID), and from the key's entry (the entry's CreatedAt). Once it left
//     the waitlist, it is refused with CodeConflict: nothing of it is left to answer, and
//     joining again takes a new key.
//   - The state tells an entry that left from one offered a hold it no longer knows (a
//     terminal hold from before the state was restored) by nothing: then the decision asks the
//     caller to look the hold up (JoinDecision.LookupHold) and to decide again with what it
//     found (JoinWaitlist.OfferLookedUp and Offer).
//   - Everything else about a replay is decided as for holds: an archived or unknown resource
//     refuses it first, and a request whose buckets are not valid is refused as invalid.

// joinFingerprintPrefix starts the fingerprint of a join's idempotency entry.
const joinFingerprintPrefix = "waitlist|"

// joinFingerprint canonicalises a join request (see Fingerprint).
func joinFingerprint(buckets []string, quantity int64, userID string) string {
	return joinFingerprintPrefix + Fingerprint(buckets, quantity, userID)
}

// joinIdempotency is the idempotency entry key records for the join of e.
func joinIdempotency(key string, e *WaitlistEntry) IdempotencyEntry {
	return IdempotencyEntry{Key: key, Fingerprint: joinFingerprint(e.Buckets, e.Quantity, e.UserID),
		HoldID: e.OfferHoldID, CreatedAt: e.CreatedAt}
}

// replayJoin answers a join whose key ie records (see the rules above); buckets are the
// request's, validated and expanded.
func (s *State) replayJoin(cmd JoinWaitlist, buckets []string, ie IdempotencyEntry) (JoinDecision, error) {
	if ie.Fingerprint != joinFingerprint(buckets, cmd.Quantity, cmd.UserID) {
		return JoinDecision{}, Errorf(CodeIdempotencyMismatch, "Idempotency-Key %q was used with a different request", cmd.IdempotencyKey)
	}
	for _, e := range s.waiting() {
		if e.OfferHoldID == ie.HoldID {
			return JoinDecision{Entry: *e.clone(), Replayed: true}, nil
		}
	}
	var h *Hold
	switch mem := s.holds.get(ie.HoldID); {
	case mem != nil:
		v := mem.view(s.id, s.bucketsOf(mem))
		h = &v
	case !cmd.OfferLookedUp:
		return JoinDecision{LookupHold: ie.HoldID}, nil
	default:
		h = cmd.Offer
	}
	// A hold of that id that is not the entry's offer cannot be (ids are unique): it answers
	// as none would.
	if h != nil && h.ID == ie.HoldID && h.ResourceID == s.id && h.WaitlistEntryID != "" {
		return JoinDecision{Entry: offeredEntry(h, ie), Replayed: true}, nil
	}
	return JoinDecision{}, Errorf(CodeConflict, "the waitlist entry this Idempotency-Key created has left the waitlist; join again with a new key")
}

// offeredEntry rebuilds the entry that was offered hold h, which the key of ie joined: as it
// was while waiting, but for its place in line (Seq), which is gone with it.
func offeredEntry(h *Hold, ie IdempotencyEntry) WaitlistEntry {
	return WaitlistEntry{ID: h.WaitlistEntryID, ResourceID: h.ResourceID, UserID: h.UserID, OfferHoldID: h.ID,
		Buckets: append([]string(nil), h.Buckets...), Quantity: h.Quantity, CreatedAt: ie.CreatedAt}
}
