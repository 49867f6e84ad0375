package booking

// SealedContact is a guest's contact (name, e-mail, phone) as the model carries it: a
// ciphertext the edge sealed with the node's data key ring (persistence/pii) before the command
// reached the resource's actor. The model never sees the plaintext or a key: it only keeps the
// bytes with the hold, so that the stores write them and reads return them. The bytes are never
// changed after the hold is placed (a store may re-seal them under a newer key, `allot rekey`),
// so a Hold's copies may share them.
//
// A replay of a hold request by its Idempotency-Key answers the original hold with its
// original contact: a ciphertext is randomized, so it cannot be part of the fingerprint.
type SealedContact []byte

// MaxSealedContactLen bounds a sealed contact. The edge bounds the fields far below it (a
// sealed contact of maximal fields is under 700 bytes); this guards the model and the stores
// against a peer that does not.
const MaxSealedContactLen = 1024

// Validate refuses a sealed contact longer than MaxSealedContactLen.
func (c SealedContact) Validate() error {
	if len(c) > MaxSealedContactLen {
		return Errorf(CodeInvalid, "the sealed contact has %d bytes, at most %d", len(c), MaxSealedContactLen)
	}
	return nil
}

// String shows only whether there is a contact: even sealed, it stays out of logs.
func (c SealedContact) String() string {
	if len(c) == 0 {
		return "none"
	}
	return "sealed"
}
