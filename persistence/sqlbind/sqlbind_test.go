package sqlbind

import "testing"

func TestDollar(t *testing.T) {
	for in, want := range map[string]string{
		"":                                   "",
		"SELECT 1":                           "SELECT 1",
		"INSERT INTO t (a, b) VALUES (?, ?)": "INSERT INTO t (a, b) VALUES ($1, $2)",
		"WHERE a = ? AND b IN (?, ?, ?)":     "WHERE a = $1 AND b IN ($2, $3, $4)",
		"x = ?, é = ?":                       "x = $1, é = $2",
	} {
		if got := Dollar(in); got != want {
			t.Errorf("Dollar(%q) = %q, want %q", in, got, want)
		}
	}
}
