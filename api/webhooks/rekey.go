package webhooks

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
)

// SecretRekeyer re-seals a ciphertext under the newest key of a ring, leaving one already under
// it unchanged (changed false): *pii.Keyring's Rekey. Safe for concurrent use.
type SecretRekeyer interface {
	Rekey(ciphertext, associatedData []byte) (out []byte, changed bool, err error)
}

// RekeyReport counts what RekeySecrets did with the endpoints' signing secrets.
type RekeyReport struct {
	Resealed int // re-sealed under the newest key
	Current  int // already under it
	Unsealed int // stored in clear (registered on a node without a data key): left as they are
	Failed   int // sealed under a key the ring lacks, or malformed: left as they are
	Changed  int // changed by someone else between read and write: run again
}

// RekeySecrets re-seals every sealed signing secret under r's newest key (`allot rekey`, after
// a data key rotation), each by a compare-and-set so that it is safe while nodes run: a node's
// ring opens a secret under any of its keys. A secret that does not re-seal is counted, not
// fatal; the error is a database error.
func (s *SQLStore) RekeySecrets(ctx context.Context, r SecretRekeyer) (RekeyReport, error) {
	var rep RekeyReport
	rows, err := s.db.QueryContext(ctx, `SELECT id, secret FROM webhook_endpoints ORDER BY id`)
	if err != nil {
		return rep, fmt.Errorf("rekey secrets: %w", err)
	}
	type row struct{ id, secret string }
	var all []row
	for rows.Next() {
		var x row
		if err := rows.Scan(&x.id, &x.secret); err != nil {
			rows.Close()
			return rep, fmt.Errorf("rekey secrets: %w", err)
		}
		all = append(all, x)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return rep, fmt.Errorf("rekey secrets: %w", err)
	}
	for _, x := range all {
		rest, sealed := strings.CutPrefix(x.secret, sealedPrefix)
		if !sealed {
			rep.Unsealed++
			continue
		}
		ct, err := base64.RawURLEncoding.DecodeString(rest)
		if err != nil {
			rep.Failed++
			continue
		}
		next, changed, err := r.Rekey(ct, secretAD(x.id))
		switch {
		case err != nil:
			rep.Failed++
			continue
		case !changed:
			rep.Current++
			continue
		}
		res, err := s.db.ExecContext(ctx, s.q(`UPDATE webhook_endpoints SET secret = ? WHERE id = ? AND secret = ?`),
			sealedPrefix+base64.RawURLEncoding.EncodeToString(next), x.id, x.secret)
		if err != nil {
			return rep, fmt.Errorf("rekey secret of %s: %w", x.id, err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			rep.Resealed++
		} else {
			rep.Changed++
		}
	}
	return rep, nil
}
