package notify

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Timers, devices, preferences and feed tokens of SQLStore.

func (s *SQLStore) ClaimTimers(ctx context.Context, now, leaseUntil time.Time, limit int) ([]Timer, error) {
	const cols = `id, kind, hold_id, due_at_ms`
	stmt := `UPDATE notify_timers SET lease_until_ms = ?
 WHERE status = 'pending' AND due_at_ms <= ? AND lease_until_ms <= ? AND id IN
 (SELECT id FROM notify_timers WHERE status = 'pending' AND due_at_ms <= ? AND lease_until_ms <= ?
  ORDER BY due_at_ms, id LIMIT ?)
 RETURNING ` + cols
	args := []any{toMS(leaseUntil), toMS(now), toMS(now), toMS(now), toMS(now), int64(limit)}
	if s.d == Postgres {
		stmt = `WITH due AS (SELECT id FROM notify_timers WHERE status = 'pending' AND due_at_ms <= ? AND lease_until_ms <= ?
  ORDER BY due_at_ms, id LIMIT ? FOR UPDATE SKIP LOCKED)
 UPDATE notify_timers AS t SET lease_until_ms = ? FROM due
 WHERE t.id = due.id AND t.status = 'pending' AND t.due_at_ms <= ? AND t.lease_until_ms <= ?
 RETURNING ` + prefixed("t.", cols)
		args = []any{toMS(now), toMS(now), int64(limit), toMS(leaseUntil), toMS(now), toMS(now)}
	}
	var out []Timer
	err := s.inTxOpts(ctx, &sql.TxOptions{Isolation: sql.LevelReadCommitted}, func(tx *sql.Tx) error {
		out = nil
		rows, err := tx.QueryContext(ctx, s.q(stmt), args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var t Timer
			var kind string
			var due int64
			if err := rows.Scan(&t.ID, &kind, &t.HoldID, &due); err != nil {
				return err
			}
			t.Kind, t.DueAt = TimerKind(kind), fromMS(due)
			out = append(out, t)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("claim timers: %w", err)
	}
	return out, nil
}

func (s *SQLStore) FireTimer(ctx context.Context, t Timer, ns []Notification) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE notify_timers SET status = 'fired'
 WHERE id = ? AND status = 'pending' AND due_at_ms = ?`), t.ID, toMS(t.DueAt))
		if err != nil {
			return err
		}
		if k, err := res.RowsAffected(); err != nil {
			return err
		} else if k == 0 {
			return fmt.Errorf("timer %s: %w", t.ID, ErrStale)
		}
		_, err = s.addNotifications(ctx, &stmts{s: s, q: tx}, ns)
		return err
	})
	if err != nil {
		return fmt.Errorf("fire timer: %w", err)
	}
	return nil
}

func (s *SQLStore) AddDevice(ctx context.Context, d Device) error {
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM notify_devices WHERE token = ? AND id <> ?`), d.Token, d.ID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO notify_devices (id, user_id, token, platform, created_at_ms)
 VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, token = excluded.token,
 platform = excluded.platform`), d.ID, d.UserID, d.Token, d.Platform, toMS(d.CreatedAt))
		return err
	})
	if err != nil {
		return fmt.Errorf("add device: %w", err)
	}
	return nil
}

func (s *SQLStore) DeleteDevice(ctx context.Context, userID, id string) error {
	res, err := s.exec(ctx, s.q(`DELETE FROM notify_devices WHERE id = ? AND user_id = ?`), id, userID)
	if err != nil {
		return fmt.Errorf("delete device: %w", err)
	}
	if k, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("delete device: %w", err)
	} else if k == 0 {
		return fmt.Errorf("device %s: %w", id, ErrNotFound)
	}
	return nil
}

func (s *SQLStore) DeleteToken(ctx context.Context, token string) error {
	if _, err := s.exec(ctx, s.q(`DELETE FROM notify_devices WHERE token = ?`), token); err != nil {
		return fmt.Errorf("delete token: %w", err)
	}
	return nil
}

func (s *SQLStore) Devices(ctx context.Context, userID string) ([]Device, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, user_id, token, platform, created_at_ms FROM notify_devices
 WHERE user_id = ? ORDER BY created_at_ms, id`), userID)
	if err != nil {
		return nil, fmt.Errorf("devices: %w", err)
	}
	defer rows.Close()
	var out []Device
	for rows.Next() {
		var d Device
		var cre int64
		if err := rows.Scan(&d.ID, &d.UserID, &d.Token, &d.Platform, &cre); err != nil {
			return nil, fmt.Errorf("devices: %w", err)
		}
		d.CreatedAt = fromMS(cre)
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("devices: %w", err)
	}
	return out, nil
}

func (s *SQLStore) Preferences(ctx context.Context, userID string) (Preferences, error) {
	var body string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT body FROM notify_preferences WHERE user_id = ?`), userID).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return Preferences{}, fmt.Errorf("preferences: %w", ErrNotFound)
	}
	if err != nil {
		return Preferences{}, fmt.Errorf("preferences: %w", err)
	}
	var p Preferences
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		return Preferences{}, fmt.Errorf("preferences: %w", err)
	}
	return p, nil
}

func (s *SQLStore) PutPreferences(ctx context.Context, userID string, p Preferences, now time.Time) error {
	body, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("put preferences: %w", err)
	}
	if _, err := s.exec(ctx, s.q(`INSERT INTO notify_preferences (user_id, body, updated_at_ms) VALUES (?, ?, ?)
 ON CONFLICT (user_id) DO UPDATE SET body = excluded.body, updated_at_ms = excluded.updated_at_ms`),
		userID, string(body), toMS(now)); err != nil {
		return fmt.Errorf("put preferences: %w", err)
	}
	return nil
}

func (s *SQLStore) SetCalendarToken(ctx context.Context, userID, hash string, now time.Time) error {
	if _, err := s.exec(ctx, s.q(`INSERT INTO notify_calendar_tokens (user_id, token_hash, created_at_ms)
 VALUES (?, ?, ?) ON CONFLICT (user_id) DO UPDATE SET token_hash = excluded.token_hash,
 created_at_ms = excluded.created_at_ms`), userID, hash, toMS(now)); err != nil {
		return fmt.Errorf("set calendar token: %w", err)
	}
	return nil
}

func (s *SQLStore) CalendarTokenUser(ctx context.Context, hash string) (string, error) {
	var user string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT user_id FROM notify_calendar_tokens WHERE token_hash = ?`), hash).Scan(&user)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("calendar token: %w", ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("calendar token: %w", err)
	}
	return user, nil
}
