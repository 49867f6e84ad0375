package sqlbind

import (
	"database/sql"
	"testing"

	_ "modernc.org/sqlite"
)

// TestAddStringsSaysWhichRowsWereNew: a multi-row INSERT ... ON CONFLICT DO NOTHING
// RETURNING names only the rows it added.
func TestAddStringsSaysWhichRowsWereNew(t *testing.T) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.Exec(`CREATE TABLE seen (id TEXT PRIMARY KEY); INSERT INTO seen VALUES ('a')`); err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(`INSERT INTO seen (id) VALUES ('a'), ('b'), ('c') ON CONFLICT (id) DO NOTHING RETURNING id`)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	if err := AddStrings(rows, got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !got["b"] || !got["c"] {
		t.Fatalf("new rows %v, want b and c", got)
	}
	rows, err = db.Query(`SELECT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	if err := AddStrings(rows, got); err == nil {
		t.Fatal("a NULL scanned as a string without error")
	}
}
