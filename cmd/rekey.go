package cmd

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/api/webhooks"
	"github.com/allot/allot/persistence"
	"github.com/allot/allot/persistence/pii"
	"github.com/allot/allot/persistence/postgres"
	"github.com/allot/allot/persistence/sqlite"
)

// `allot rekey` re-seals every stored contact, and every webhook signing secret, that is not
// under the ring's primary key, so that an old key can leave the ring (docs/SECURITY.md, Key rotation). It is safe while nodes
// run: each contact is replaced by a compare-and-set, a hold's later after-images never write
// its contact again (persistence/contacts.go), and a node's ring opens contacts under any of its
// keys, old or new. It is resumable: a contact already under the primary is skipped without
// being opened, and --after starts past the last hold id a stopped run printed.

// rekeyReport is what a rekey run did.
type rekeyReport struct {
	Scanned  int // stored contacts read
	Resealed int // re-sealed under the primary key
	Current  int // already under the primary key
	Changed  int // changed by someone else between read and write (run again)
	Failed   int // could not be opened: a key not in the ring, or not a contact of its hold
	LastID   string
	// Remaining counts, by key id, the contacts left under another key than the primary
	// (Failed and Changed ones).
	Remaining map[string]int
}

// rekeyContacts re-seals the contacts of cs from after on, page at a time; progress, if not
// nil, is called after every page. It stops at the first store error (the report says how far
// it got) and counts contacts that do not open without stopping.
func rekeyContacts(ctx context.Context, cs persistence.ContactStore, ring *pii.Keyring, after string, page int,
	log *slog.Logger, progress func(rekeyReport)) (rekeyReport, error) {
	rep := rekeyReport{LastID: after, Remaining: map[string]int{}}
	for {
		batch, err := cs.Contacts(ctx, rep.LastID, page)
		if err != nil {
			return rep, fmt.Errorf("rekey: read contacts after %q: %w", rep.LastID, err)
		}
		for _, c := range batch {
			rep.Scanned++
			id, _ := pii.KeyID(c.Contact)
			next, changed, err := ring.Rekey(c.Contact, pii.ContactAD(c.ResourceID, c.UserID))
			switch {
			case err != nil:
				rep.Failed++
				rep.Remaining[id]++
				log.Warn("rekey: a contact does not open", "hold", c.HoldID, "resource", c.ResourceID, "key", id, "err", err)
			case !changed:
				rep.Current++
			default:
				ok, err := cs.ReplaceContact(ctx, c.HoldID, c.Contact, next)
				if err != nil {
					return rep, fmt.Errorf("rekey: hold %s: %w", c.HoldID, err)
				}
				if ok {
					rep.Resealed++
				} else {
					rep.Changed++
					rep.Remaining[id]++
				}
			}
			rep.LastID = c.HoldID
		}
		if progress != nil {
			progress(rep)
		}
		if len(batch) < page {
			return rep, nil
		}
	}
}

func runRekey(args []string, stdout, stderr io.Writer) error {
	cfg := DefaultNodeConfig()
	var after string
	page := 500
	fs := newFlagSet("rekey", "Re-seals every stored guest contact under the first key of the data key ring, so that an\n"+
		"older key can be removed (docs/SECURITY.md). Safe while nodes run; run it again to resume\n"+
		"(or give --after the last hold id it printed). Exit status 1 when a contact could not be\n"+
		"opened with the ring or changed meanwhile (run it again).", stderr)
	fs.StringVar(&cfg.DataKeyFile, "data-key-file", "", "the data key ring, new key first (empty: the dev ring under --data-dir)")
	fs.StringVar(&cfg.DBURL, "db-url", "", "CockroachDB/PostgreSQL URL (postgresql://...); empty: the embedded store under --data-dir")
	fs.StringVar(&cfg.DataDir, "data-dir", cfg.DataDir, "directory of the embedded SQLite store (when --db-url is empty)")
	fs.StringVar(&after, "after", "", "start after this hold id (resume a stopped run)")
	fs.IntVar(&page, "batch", page, fmt.Sprintf("contacts read per page (1 to %d)", persistence.MaxContactsPage))
	timeout := fs.Duration("timeout", time.Hour, "give up after this long")
	dryRun := fs.Bool("dry-run", false, "open every contact and webhook secret with the ring and say what would be re-sealed; write nothing\n"+
		"(before retiring a key: a dry run with the ring that lacks it must report \"not opened 0\")")
	if err := parseWithEnv(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fs: fs, err: fmt.Errorf("unexpected arguments: %q", fs.Args())}
	}
	if page < 1 || page > persistence.MaxContactsPage {
		return usageError{fs: fs, err: fmt.Errorf("--batch must be 1 to %d", persistence.MaxContactsPage)}
	}
	if cfg.DBURL != "" && cfg.DataKeyFile == "" {
		return usageError{fs: fs, err: errors.New("--db-url needs --data-key-file (the ring the nodes share)")}
	}
	ring, err := loadDataRing(cfg.DataKeyFile, cfg.DataDir)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	store, err := openRekeyStore(ctx, &cfg)
	if err != nil {
		return err
	}
	defer store.Close()
	cs, ok := store.(persistence.ContactStore)
	if !ok {
		return fmt.Errorf("rekey: %T keeps no contacts", store)
	}
	verb := "re-sealed"
	var secrets webhooks.SecretRekeyer = ring
	dry := &dryRekeyer{ring: ring}
	if *dryRun {
		cs, secrets, verb = dryRunContacts{cs}, dry, "would re-seal"
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	log.Info("rekey: sealing under the primary key", "ring", ring, "dry_run", *dryRun)
	rep, err := rekeyContacts(ctx, cs, ring, after, page, log, func(r rekeyReport) {
		fmt.Fprintf(stderr, "allot rekey: %d read, %d %s; resume with --after %q\n", r.Scanned, r.Resealed, verb, r.LastID)
	})
	fmt.Fprintf(stdout, "read %d, %s %d, already under %s %d, changed meanwhile %d, not opened %d%s\n",
		rep.Scanned, verb, rep.Resealed, ring.PrimaryID(), rep.Current, rep.Changed, rep.Failed, remaining(rep.Remaining))
	if err != nil {
		return err
	}
	wrep, err := rekeyWebhookSecrets(ctx, store, &cfg, secrets)
	if err != nil {
		return err
	}
	if *dryRun { // the dry rekeyer answered "unchanged" for the secrets it would re-seal
		wrep.Resealed, wrep.Current = dry.would, wrep.Current-dry.would
	}
	fmt.Fprintf(stdout, "webhook secrets: %s %d, already under %s %d, not sealed %d, changed meanwhile %d, not opened %d\n",
		verb, wrep.Resealed, ring.PrimaryID(), wrep.Current, wrep.Unsealed, wrep.Changed, wrep.Failed)
	if rep.Failed > 0 || rep.Changed > 0 || wrep.Failed > 0 || wrep.Changed > 0 {
		return exitError(1)
	}
	return nil
}

// rekeyWebhookSecrets re-seals the webhook endpoints' signing secrets, which the nodes seal
// with the same ring (cmd/webhooks.go), in the store's database.
func rekeyWebhookSecrets(ctx context.Context, store persistence.Store, cfg *NodeConfig, ring webhooks.SecretRekeyer) (webhooks.RekeyReport, error) {
	var db *sql.DB
	dialect := webhooks.SQLite
	if pg, ok := store.(*postgres.Store); ok {
		db, dialect = stdlib.OpenDBFromPool(pg.Pool()), webhooks.Postgres
	} else {
		var err error
		if db, err = sqlite.OpenSidePool(filepath.Join(cfg.DataDir, "allot.db"), 5*time.Second); err != nil {
			return webhooks.RekeyReport{}, err
		}
	}
	defer db.Close()
	ws, err := webhooks.NewSQLStore(db, dialect)
	if err != nil {
		return webhooks.RekeyReport{}, err
	}
	return ws.RekeySecrets(ctx, ring)
}

// dryRunContacts is a ContactStore that reads but never writes: ReplaceContact answers that
// it would have replaced (a dry run's "would re-seal").
type dryRunContacts struct{ persistence.ContactStore }

func (dryRunContacts) ReplaceContact(context.Context, string, booking.SealedContact, booking.SealedContact) (bool, error) {
	return true, nil
}

// dryRekeyer opens secrets like the ring and counts the ones it would re-seal, but answers
// "unchanged" so that RekeySecrets writes nothing.
type dryRekeyer struct {
	ring  *pii.Keyring
	would int
}

func (d *dryRekeyer) Rekey(ciphertext, associatedData []byte) ([]byte, bool, error) {
	_, changed, err := d.ring.Rekey(ciphertext, associatedData)
	if err == nil && changed {
		d.would++
	}
	return ciphertext, false, err
}

// remaining renders the contacts left under other keys, by key id.
func remaining(m map[string]int) string {
	if len(m) == 0 {
		return ""
	}
	ids := make([]string, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	var b strings.Builder
	b.WriteString("; left under other keys:")
	for _, id := range ids {
		fmt.Fprintf(&b, " %q %d", id, m[id])
	}
	return b.String()
}

// openRekeyStore opens the node's store as a tool beside running nodes.
func openRekeyStore(ctx context.Context, cfg *NodeConfig) (persistence.Store, error) {
	if cfg.DBURL != "" {
		pc := postgres.DefaultConfig()
		pc.URL = cfg.DBURL
		pc.MaxConns = 2
		s, err := postgres.Open(ctx, pc)
		if err != nil {
			return nil, fmt.Errorf("open database: %w", err)
		}
		return s, nil
	}
	path := filepath.Join(cfg.DataDir, "allot.db")
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("embedded store: %w", err)
	}
	sc := sqlite.DefaultConfig(path)
	sc.Secondary, sc.ReadConns = true, 1
	s, err := sqlite.Open(ctx, sc)
	if err != nil {
		return nil, fmt.Errorf("open embedded store: %w", err)
	}
	return s, nil
}
