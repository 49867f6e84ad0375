package cluster

import (
	"context"
	"log"
	"log/slog"
	"strings"
)

// memberlistLog adapts memberlist's *log.Logger output ("[LEVEL] memberlist: msg") to
// slog, and reports the local member's own suspicions, which memberlist exposes only as
// the log line "memberlist: Suspect <name> has failed, no acks received".
//
// Write is called concurrently from memberlist goroutines (log.Logger serializes calls
// to it); onSuspect must therefore be safe for concurrent use and must not call back
// into memberlist (it may run while memberlist holds internal locks).
type memberlistLog struct {
	log       *slog.Logger
	onSuspect func(name string)
}

func newMemberlistLogger(l *slog.Logger, onSuspect func(string)) *log.Logger {
	return log.New(&memberlistLog{log: l, onSuspect: onSuspect}, "", 0)
}

func (w *memberlistLog) Write(b []byte) (int, error) {
	level, msg := parseMemberlistLine(string(b))
	if name, ok := suspectedName(msg); ok && w.onSuspect != nil {
		w.onSuspect(name)
	}
	w.log.Log(context.Background(), level, msg)
	return len(b), nil
}

func parseMemberlistLine(line string) (slog.Level, string) {
	line = strings.TrimSpace(line)
	prefixes := []struct {
		p string
		l slog.Level
	}{
		{"[DEBUG] ", slog.LevelDebug},
		{"[INFO] ", slog.LevelInfo},
		{"[WARN] ", slog.LevelWarn},
		{"[ERR] ", slog.LevelError},
		{"[ERROR] ", slog.LevelError},
	}
	for _, p := range prefixes {
		if rest, ok := strings.CutPrefix(line, p.p); ok {
			return p.l, rest
		}
	}
	return slog.LevelInfo, line
}

func suspectedName(msg string) (string, bool) {
	rest, ok := strings.CutPrefix(msg, "memberlist: Suspect ")
	if !ok {
		return "", false
	}
	name, _, ok := strings.Cut(rest, " has failed")
	if !ok || name == "" {
		return "", false
	}
	return name, true
}

// levelFloor is an slog.Handler that drops records below min before delegating. It is
// how protoactor (very chatty at info) is kept at warn by default.
type levelFloor struct {
	h   slog.Handler
	min slog.Leveler
}

func (f levelFloor) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= f.min.Level() && f.h.Enabled(ctx, l)
}

func (f levelFloor) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < f.min.Level() {
		return nil
	}
	return f.h.Handle(ctx, r)
}

func (f levelFloor) WithAttrs(as []slog.Attr) slog.Handler {
	return levelFloor{h: f.h.WithAttrs(as), min: f.min}
}

func (f levelFloor) WithGroup(name string) slog.Handler {
	return levelFloor{h: f.h.WithGroup(name), min: f.min}
}

func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
