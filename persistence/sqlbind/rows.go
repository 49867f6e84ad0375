package sqlbind

import "database/sql"

// AddStrings reads the one text column of every row of rows into set, then closes rows. It
// is how a multi-row INSERT ... RETURNING says which of its rows were new (ON CONFLICT DO
// NOTHING returns none for the others). It returns the first scan, close or iteration error.
func AddStrings(rows *sql.Rows, set map[string]bool) error {
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			_ = rows.Close()
			return err
		}
		set[s] = true
	}
	if err := rows.Close(); err != nil {
		return err
	}
	return rows.Err()
}
