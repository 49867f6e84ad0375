package reports

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
)

// ViewKey returns the key of the viewer hash (ViewsConfig.Key), shared by the nodes through
// the database: the first call on a new database makes a random 32-byte key, and every call
// after, on any node, reads the same one. Anyone who can read the database can test whether
// a given user id viewed a resource (by hashing it); the table still holds no user id, and
// exports of it none.
func (s *SQLStore) ViewKey(ctx context.Context) ([]byte, error) {
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("reports: view key: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, s.q(`INSERT INTO report_keys (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`),
		"views", hex.EncodeToString(fresh)); err != nil {
		return nil, fmt.Errorf("reports: view key: %w", err)
	}
	var v string
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT value FROM report_keys WHERE name = ?`), "views").Scan(&v); err != nil {
		return nil, fmt.Errorf("reports: view key: %w", err)
	}
	key, err := hex.DecodeString(v)
	if err != nil || len(key) < 16 {
		return nil, fmt.Errorf("reports: view key: the stored key is not 16 or more hex bytes")
	}
	return key, nil
}

// DetectDialect tells CockroachDB from PostgreSQL on a pgx connection (SELECT version()), so
// that reports read with follower reads only where the clause exists.
func DetectDialect(ctx context.Context, db *sql.DB) (Dialect, error) {
	var v string
	if err := db.QueryRowContext(ctx, `SELECT version()`).Scan(&v); err != nil {
		return 0, fmt.Errorf("reports: detect dialect: %w", err)
	}
	if strings.Contains(v, "CockroachDB") {
		return CockroachDB, nil
	}
	return Postgres, nil
}
