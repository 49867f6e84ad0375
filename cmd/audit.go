package cmd

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/allot/allot/api"
	"github.com/allot/allot/api/audit"
	"github.com/allot/allot/api/mount"
	"github.com/allot/allot/persistence/postgres"
	"github.com/allot/allot/persistence/sqlite"
)

// nodeAudit is the node's audit log of operator and admin actions (api/audit): the
// audit_log table of migration 0010 in the main store's database, through a database/sql
// handle of its own. The zero value was not started.
type nodeAudit struct {
	db     *sql.DB
	store  audit.Store
	pruner *audit.Pruner // nil with --audit-retention 0
	// afterFunc is the pruning job's timer on the node's clock; time.AfterFunc when nil
	// (tests set it with Main.Now).
	afterFunc func(d time.Duration, f func()) func() bool
}

// startAudit opens the audit store beside the main store (which migrated the table) and
// returns it with GET /v1/audit for the edge.
func (m *Main) startAudit() (audit.Store, []mount.Route, error) {
	a := &m.audit
	dialect := audit.SQLite
	if pg, ok := m.store.(*postgres.Store); ok {
		a.db, dialect = stdlib.OpenDBFromPool(pg.Pool()), audit.Postgres
	} else {
		// A second small pool on the SQLite file, as the webhook store has (same pragmas).
		db, err := sqlite.OpenSidePool(filepath.Join(m.Config.DataDir, "allot.db"), 5*time.Second)
		if err != nil {
			return nil, nil, fmt.Errorf("audit: %w", err)
		}
		a.db = db
	}
	store, err := audit.NewSQLStore(a.db, dialect)
	if err != nil {
		return nil, nil, err
	}
	a.store = store
	if m.Config.AuditRetention > 0 {
		p, err := audit.StartPruner(audit.RetentionConfig{Store: store, Retention: m.Config.AuditRetention,
			Now: m.Now, AfterFunc: a.afterFunc, Log: m.Logger})
		if err != nil {
			return nil, nil, fmt.Errorf("audit: %w", err)
		}
		a.pruner = p
	}
	return store, audit.NewHandlers(store, api.Fail).Routes(), nil
}

// stop stops the pruning job and closes the audit store's connections, after the edge
// stopped. Safe when not started.
func (a *nodeAudit) stop() error {
	if a.pruner != nil {
		a.pruner.Stop()
	}
	if a.db == nil {
		return nil
	}
	if err := a.db.Close(); err != nil {
		return fmt.Errorf("audit db: %w", err)
	}
	return nil
}
