package notify_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/allot/allot/api/notify"
	"github.com/allot/allot/persistence/pii"
)

func testRing(t testing.TB, id string) *pii.Keyring {
	t.Helper()
	line, err := pii.NewKeyLine(id)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(f, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := pii.LoadKeyring(f)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestContactBook, on SQLite and PostgreSQL: a remembered contact reads back, sealed or not;
// a zero contact erases nothing; a changed one replaces it; a sealed one does not open
// without the ring or under another user.
func TestContactBook(t *testing.T) {
	for name, open := range map[string]func(testing.TB) *notify.SQLStore{"sqlite": mustSQLiteStore, "postgres": mustPostgresStore} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := open(t)
			ring := testRing(t, "k1")
			now := func() time.Time { return time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC) }
			sealed := notify.NewContactBook(s, ring, now)
			ann := notify.Contact{Email: "ann@example.com", Phone: "+4915112345678"}
			if c, err := sealed.Contact(ctx, "u-ann"); err != nil || c != (notify.Contact{}) {
				t.Fatalf("unknown user: %+v %v, want the zero contact", c, err)
			}
			if err := sealed.Remember(ctx, "u-ann", ann); err != nil {
				t.Fatal(err)
			}
			if err := sealed.Remember(ctx, "u-ann", notify.Contact{}); err != nil {
				t.Fatal(err)
			}
			if c, err := sealed.Contact(ctx, "u-ann"); err != nil || c != ann {
				t.Fatalf("read back %+v %v", c, err)
			}
			// Another book (another node, a restart) reads it with the ring, not without.
			if c, err := notify.NewContactBook(s, ring, now).Contact(ctx, "u-ann"); err != nil || c != ann {
				t.Fatalf("another book: %+v %v", c, err)
			}
			if _, err := notify.NewContactBook(s, nil, now).Contact(ctx, "u-ann"); err == nil {
				t.Fatal("a sealed contact opened without the ring")
			}
			if _, err := notify.NewContactBook(s, testRing(t, "k2"), now).Contact(ctx, "u-ann"); err == nil {
				t.Fatal("a sealed contact opened under another key")
			}
			moved := notify.Contact{Email: "ann@example.org"}
			if err := sealed.Remember(ctx, "u-ann", moved); err != nil {
				t.Fatal(err)
			}
			if c, _ := sealed.Contact(ctx, "u-ann"); c != moved {
				t.Fatalf("after a change: %+v", c)
			}
			// Unsealed (no --data-key-file) works too.
			plain := notify.NewContactBook(s, nil, now)
			if err := plain.Remember(ctx, "u-bob", notify.Contact{Email: "bob@example.com"}); err != nil {
				t.Fatal(err)
			}
			if c, err := plain.Contact(ctx, "u-bob"); err != nil || c.Email != "bob@example.com" {
				t.Fatalf("unsealed: %+v %v", c, err)
			}
		})
	}
}

// BenchmarkRememberUnchanged is the node's per-request cost of the edge's OnPrincipal hook
// (cmd/notify_contacts.go) on its common path: the user's contact is the one this book
// stored last, so nothing is written (a digest, a lock, a map lookup).
func BenchmarkRememberUnchanged(b *testing.B) {
	ctx := context.Background()
	book := notify.NewContactBook(mustSQLiteStore(b), testRing(b, "k1"), nil)
	ann := notify.Contact{Email: "ann@example.com", Phone: "+4915112345678"}
	if err := book.Remember(ctx, "u-ann", ann); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := book.Remember(ctx, "u-ann", ann); err != nil {
			b.Fatal(err)
		}
	}
}
