package cmd

import (
	"bytes"
	"context"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/allot/allot/api/auth"
	"github.com/allot/allot/api/wire"
	"github.com/allot/allot/cluster/clustertest"
	"github.com/allot/allot/persistence/pgtest"
	"github.com/allot/allot/persistence/pii"
)

// lockedBuffer collects a node's log, written from many goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// runLoggedNode boots the real program like MustRunMain, logging at debug level into logs.
// The caller closes it (closeNode) or leaves it to Cleanup.
func runLoggedNode(t *testing.T, logs *lockedBuffer, mutate func(*NodeConfig)) *Main {
	t.Helper()
	m := NewMain()
	m.Config.HTTPAddr, m.Config.GossipAddr, m.Config.RemoteAddr = "127.0.0.1:0", "127.0.0.1:0", "127.0.0.1:0"
	m.Config.AdvertiseAddr, m.Config.AdminAddr = "127.0.0.1", "127.0.0.1:0"
	m.Config.DataDir = t.TempDir()
	m.Config.LeaveTimeout = 10 * time.Second
	m.Config.LogLevel = "debug"
	m.Stderr = logs
	mutate(&m.Config)
	if !m.Config.Single() && m.Config.KeyFile == "" {
		m.Config.KeyFile = clustertest.KeyFile(t)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	clustertest.BeforeInProcessNode(t, func() bool { return m.Node() != nil && !m.Closed() })
	if err := m.Run(ctx); err != nil {
		t.Fatalf("run main: %v", err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

// writeRing writes a key file of the given lines (mode 0600) and returns its path.
func writeRing(t *testing.T, dir, name string, lines ...string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func keyLine(t *testing.T, id string) string {
	t.Helper()
	l, err := pii.NewKeyLine(id)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// The guest every test books for: values distinctive enough that finding one anywhere is a
// leak.
var (
	guest = wire.Contact{Name: "Zephyrine Quillfeather", Email: "zq.7f3a9c@guest-mail.example", Phone: "+49 151 8642 0975"}
	// Phone fragments are long enough not to turn up by chance in a number the log prints
	// (a latency of 11.086424ms held "8642").
	guestTraces = []string{"Zephyrine", "Quillfeather", "zq.7f3a9c", "guest-mail.example", "86420975", "8642 0975", "151 8642", "4915186420975"}
)

const contactResource = `{"id":"inn-1","name":"Inn","buckets":{"room":50}}`

func guestHold(c wire.Contact) string {
	return `{"buckets":["room"],"quantity":1,"contact":{"name":"` + c.Name + `","email":"` + c.Email + `","phone":"` + c.Phone + `"}}`
}

var innOperator = auth.TokenSpec{Subject: "op-1", Roles: []auth.Role{auth.RoleOperator}, MFA: true, TTL: time.Hour}

// bookGuest creates inn-1 and walks holds with the guest's contact through the node: placed by
// the guest (u-guest) and by an operator for them, read, listed, confirmed and cancelled. It
// returns the ids of the guest's holds.
func bookGuest(t *testing.T, m *Main) []string {
	t.Helper()
	c := nodeClient{t: t, m: m, base: m.HTTPURL()}
	c.do("POST", "/v1/resources", webhookAdmin, contactResource, nil)
	guestSpec := auth.TokenSpec{Subject: "u-guest", TTL: time.Hour}
	var ids []string
	for i := range 3 {
		var h wire.Hold
		c.do("POST", "/v1/resources/inn-1/holds", guestSpec, guestHold(guest), &h)
		if h.Contact == nil || *h.Contact != guest {
			t.Fatalf("hold %d answers contact %+v", i, h.Contact)
		}
		ids = append(ids, h.ID)
	}
	var forGuest wire.Hold
	c.do("POST", "/v1/resources/inn-1/holds", innOperator,
		strings.Replace(guestHold(guest), `"buckets"`, `"user_id":"u-guest","buckets"`, 1), &forGuest)
	ids = append(ids, forGuest.ID)
	var got wire.Hold
	c.do("GET", "/v1/resources/inn-1/holds/"+ids[0], guestSpec, "", &got)
	c.do("GET", "/v1/resources/inn-1/holds/"+ids[0], innOperator, "", &got)
	if got.Contact == nil || !got.ContactMasked || strings.Contains(got.Contact.Email, "zq.") {
		t.Fatalf("operator reads %+v", got.Contact)
	}
	c.do("POST", "/v1/resources/inn-1/holds/"+ids[1]+"/confirm", guestSpec, "", nil)
	c.do("POST", "/v1/resources/inn-1/holds/"+ids[2]+"/cancel", guestSpec, "", nil)
	var list wire.HoldList
	c.do("GET", "/v1/resources/inn-1/holds", innOperator, "", &list)
	c.do("GET", "/v1/me/holds", guestSpec, "", &list)
	if len(list.Holds) != 4 {
		t.Fatalf("own listing: %d holds", len(list.Holds))
	}
	return ids
}

// expectNoTraces fails when text holds any trace of the guest.
func expectNoTraces(t *testing.T, what string, text []byte) {
	t.Helper()
	for _, s := range guestTraces {
		if i := bytes.Index(text, []byte(s)); i >= 0 {
			lo, hi := max(i-80, 0), min(i+80, len(text))
			t.Fatalf("%s holds %q: ...%q...", what, s, text[lo:hi])
		}
	}
}

// TestContactsNotInPlaintextOnSQLite books for a guest through a real single node (dev ring)
// at debug log level, stops it, and greps every file under its data dir (the SQLite database
// and its WAL, the embedded NATS JetStream's event files, the keys) and the log for the guest.
func TestContactsNotInPlaintextOnSQLite(t *testing.T) {
	logs := &lockedBuffer{}
	dataDir := t.TempDir()
	m := runLoggedNode(t, logs, func(c *NodeConfig) { c.DataDir = dataDir })
	bookGuest(t, m)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}

	st, err := os.Stat(DevDataKeyFile(dataDir))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("dev data key: %v %v", st, err)
	}
	files, control := 0, 0
	err = filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files++
		if bytes.Contains(b, []byte("u-guest")) { // the hold's user is stored in clear
			control++
		}
		expectNoTraces(t, path, b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 3 || control < 2 { // the database and the event stream name the user
		t.Fatalf("%d files under the data dir, %d name the hold's user: the grep reads nothing", files, control)
	}
	out := logs.String()
	if !strings.Contains(out, "level=DEBUG") || !strings.Contains(out, "inn-1") {
		t.Fatalf("the node logged no debug records of the requests:\n%s", out)
	}
	expectNoTraces(t, "the debug log", []byte(out))
}

// TestContactsNotInPlaintextOnPostgreSQL books for a guest through a real node on PostgreSQL
// and reads every row of every table of the database as text (what pg_dump would write), and
// the node's debug log, looking for the guest.
func TestContactsNotInPlaintextOnPostgreSQL(t *testing.T) {
	url := pgtest.MustServer(t).MustDatabase(t)
	keyFile := writeRing(t, t.TempDir(), "data.keys", keyLine(t, "k1"))
	logs := &lockedBuffer{}
	m := runLoggedNode(t, logs, func(c *NodeConfig) {
		c.DBURL, c.DataKeyFile, c.Contacts = url, keyFile, ContactsOn
	})
	bookGuest(t, m)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var dump bytes.Buffer
	sawContact := false
	for _, table := range tables {
		rows, err := conn.Query(ctx, `SELECT t::text FROM `+pgx.Identifier{table}.Sanitize()+` AS t`)
		if err != nil {
			t.Fatal(err)
		}
		texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		for _, s := range texts {
			dump.WriteString(table + ": " + s + "\n")
		}
	}
	if err := conn.QueryRow(ctx, `SELECT count(*) > 0 FROM holds WHERE contact IS NOT NULL`).Scan(&sawContact); err != nil || !sawContact {
		t.Fatalf("no sealed contact stored: %v", err)
	}
	if len(tables) < 5 || !strings.Contains(dump.String(), "u-guest") {
		t.Fatalf("the dump of %d tables does not show the holds:\n%s", len(tables), dump.String())
	}
	expectNoTraces(t, "the database", dump.Bytes())
	expectNoTraces(t, "the debug log", []byte(logs.String()))
}

// TestNodeContactsModes: a hold with a contact is refused by a node without a ring (auto on
// a --db-url node without --data-key-file, and off), and --contacts on refuses to start such
// a node.
func TestNodeContactsModes(t *testing.T) {
	onDB := func(c *NodeConfig) { c.DBURL, c.KeyFile = "postgresql://x", "k" }
	for _, tc := range []struct {
		name    string
		cfg     func(*NodeConfig)
		valid   bool
		enabled bool
	}{
		{"single dev node, auto", func(*NodeConfig) {}, true, true},
		{"single dev node, off", func(c *NodeConfig) { c.Contacts = ContactsOff }, true, false},
		{"db-url without a key file, auto", onDB, true, false},
		{"db-url without a key file, on", func(c *NodeConfig) { onDB(c); c.Contacts = ContactsOn }, false, false},
		{"db-url with a key file, on", func(c *NodeConfig) { onDB(c); c.Contacts, c.DataKeyFile = ContactsOn, "f" }, true, true},
		{"auth oidc without a key file, on", func(c *NodeConfig) { c.Contacts, c.Auth, c.OIDCIssuer = ContactsOn, AuthOIDC, "https://id.example" }, false, false},
		{"bad value", func(c *NodeConfig) { c.Contacts = "yes" }, false, false},
	} {
		c := DefaultNodeConfig()
		tc.cfg(&c)
		if err := c.validate(); (err == nil) != tc.valid {
			t.Errorf("%s: validate = %v", tc.name, err)
		}
		if tc.valid && c.contactsEnabled() != tc.enabled {
			t.Errorf("%s: contacts enabled = %v", tc.name, c.contactsEnabled())
		}
	}

	m := MustRunMain(t, func(c *NodeConfig) { c.Contacts = ContactsOff })
	c := nodeClient{t: t, m: m, base: m.HTTPURL()}
	c.do("POST", "/v1/resources", webhookAdmin, contactResource, nil)
	req, _ := http.NewRequest("POST", m.HTTPURL()+"/v1/resources/inn-1/holds", strings.NewReader(guestHold(guest)))
	req.Header.Set("Authorization", "Bearer "+c.token(auth.TokenSpec{Subject: "u-guest", TTL: time.Hour}))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("off: a hold with a contact answered %d", res.StatusCode)
	}
}
