package booking

// Idempotent renewals: a renewal may carry an Idempotency-Key, as a hold and a join do, so
// that a client retrying a renewal whose answer it lost does not spend a second of the hold's
// MaxExtensions (and move its deadline again).
//
// Rules (extend_replay_test.go and the simulation against its reference model check them;
// actors/activation/testdata/extend_replay how the key is committed and replayed):
//   - The key is recorded with the renewal, in the same event (HoldExtended.IdempotencyKey),
//     in the resource's idempotency entries that holds and joins use: HoldID is the renewed
//     hold and Fingerprint is extendFingerprint of the hold id and the user, which starts
//     with extendFingerprintPrefix. A hold's fingerprint starts with a digit and a join's with
//     joinFingerprintPrefix, so none collide: a key used for a hold or a join and then for a
//     renewal (or the other way) is refused as reused with a different request
//     (idempotency_mismatch), as is a key reused to renew another hold or by another user.
//     The key is kept as long as a hold's (IdempotencyRetention, from the renewal) and pruned
//     with them; stores persist it as they persist a hold's key, in the same commit.
//   - The same key with the same request (hold and user) answers the hold as it is now,
//     Replayed, with no events: it is not renewed again, also when that renewal used the
//     hold's last extension or the hold was confirmed, cancelled or expired since.
//   - The key is looked up before anything about the hold: an unknown resource is not found,
//     and a key that is not valid is refused as invalid, as for holds.

// extendFingerprintPrefix starts the fingerprint of a renewal's idempotency entry.
const extendFingerprintPrefix = "extend|"

// extendFingerprint canonicalises a renewal request: the hold and the user renewing it, each
// escaped as Fingerprint escapes them.
func extendFingerprint(holdID, userID string) string {
	var b []byte
	b = append(b, extendFingerprintPrefix...)
	b = appendEscaped(b, userID)
	b = append(b, '|')
	b = appendEscaped(b, holdID)
	return string(b)
}

func appendEscaped(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if s[i] == '|' || s[i] == '\\' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return b
}

// extendIdempotency is the idempotency entry a keyed renewal e of userID's hold records.
func extendIdempotency(e *HoldExtended, userID string) IdempotencyEntry {
	return IdempotencyEntry{Key: e.IdempotencyKey, Fingerprint: extendFingerprint(e.HoldID, userID),
		HoldID: e.HoldID, CreatedAt: e.At}
}

// replayExtend answers a renewal whose key ie records (see the rules above).
func (s *State) replayExtend(cmd ExtendHold, ie IdempotencyEntry) (ExtendDecision, error) {
	if ie.Fingerprint != extendFingerprint(cmd.HoldID, cmd.UserID) || ie.HoldID != cmd.HoldID {
		return ExtendDecision{}, Errorf(CodeIdempotencyMismatch, "Idempotency-Key %q was used with a different request", cmd.IdempotencyKey)
	}
	return ExtendDecision{Replayed: true}, nil
}
