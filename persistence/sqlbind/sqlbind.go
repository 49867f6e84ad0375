// Package sqlbind helps the stores that keep their tables beside the main store run one set
// of statements on SQLite and PostgreSQL/CockroachDB: placeholders rewritten (Dollar), and
// transactions run again on serialization failures (InTx, tx.go).
package sqlbind

import (
	"strconv"
	"strings"
)

// Dollar rewrites each ? of stmt to $1, $2, ... in order, for PostgreSQL and CockroachDB.
// stmt must have no ? inside a string literal or comment.
func Dollar(stmt string) string {
	var b strings.Builder
	b.Grow(len(stmt) + 8)
	n := 0
	for _, r := range stmt {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
