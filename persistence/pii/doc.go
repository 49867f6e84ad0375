// Package pii protects personal data at rest: guests' contacts (name, e-mail, phone) are
// sealed with AES-256-GCM under a key ring with key ids before they reach a store, and shown
// masked to operators who may not read them.
//
// The pieces, one per file:
//   - Keyring (keyring.go): named 256-bit keys from `--data-key-file`; the first encrypts,
//     all decrypt. Key bytes are never printed or logged (String, GoString, LogValue redact).
//   - Seal, Open, Rekey (seal.go): a versioned binary ciphertext that names its key.
//   - Contact (contact.go): sealing bound to the resource and user of the hold it belongs to.
//   - Masking (mask.go): j***@example.com, +49******12, J*** D***.
//
// # Key file
//
// One key a line, `id:base64key`, the key 32 random bytes in standard base64 (e.g.
// `echo "k2026a:$(openssl rand -base64 32)"`); blank lines and lines starting with # are
// ignored. The first key is the primary: it seals. Every key opens. Ids are 1-32 characters
// of [A-Za-z0-9._-] and appear in ciphertexts, so never reuse an id for another key. The
// file must not be readable by group or others (mode 0600 or 0400).
//
// Rotation (docs/SECURITY.md has the procedure): append the new key as a second line on every
// node; once all run with it, move it to the first line; then `allot rekey` re-seals old
// ciphertexts (Rekey); once it reports none left under the old id, delete the old line.
//
// # Wiring (done by the node and the stores, not by this package)
//
//	ring, err := pii.LoadKeyring(cfg.DataKeyFile) // --data-key-file; required when holds
//	                                              // carry contacts
//	// writing a hold with a contact:
//	blob, err := ring.SealContact(contact, resourceID, userID) // store blob in a BLOB/bytea
//	// reading it back for an answer:
//	c, err := ring.OpenContact(blob, resourceID, userID)
//	c = c.For(principal.HasScope(auth.ScopePIIRead))
//
// Store only the sealed blob; never a contact field in clear, in a column, an index or a log.
package pii
