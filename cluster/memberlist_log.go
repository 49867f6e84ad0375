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
// An error about a peer that is leaving gracefully, or any error while this member itself
// is stopping, is expected (expected(addr) says so; addr is "" when the line names none) and
// is logged at debug level: a normal shutdown logs no errors.
//
// Write is called concurrently from memberlist goroutines (log.Logger serializes calls
// to it); onSuspect and expected must therefore be safe for concurrent use and must not
// call back into memberlist (they may run while memberlist holds internal locks).
type memberlistLog struct {
	log       *slog.Logger
	onSuspect func(name string)
	expected  func(addr string) bool
}

func newMemberlistLogger(l *slog.Logger, onSuspect func(string), expected func(addr string) bool) *log.Logger {
	return log.New(&memberlistLog{log: l, onSuspect: onSuspect, expected: expected}, "", 0)
}

func (w *memberlistLog) Write(b []byte) (int, error) {
	level, msg := parseMemberlistLine(string(b))
	if name, ok := suspectedName(msg); ok && w.onSuspect != nil {
		w.onSuspect(name)
	}
	if level >= slog.LevelError && w.expected != nil && w.expected(gossipTarget(msg)) {
		level = slog.LevelDebug
	}
	w.log.Log(context.Background(), level, msg)
	return len(b), nil
}

// gossipTarget is the peer address of "memberlist: Failed to send gossip to ADDR: ...", or "".
func gossipTarget(msg string) string {
	rest, ok := strings.CutPrefix(msg, "memberlist: Failed to send gossip to ")
	if !ok {
		return ""
	}
	addr, _, _ := strings.Cut(rest, ": ")
	return addr
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

// expectedErrors is an slog.Handler for protoactor's logs that turns its connection errors
// about a peer that left gracefully (or any while this member stops) into debug records:
// "EndpointWriter lost connection" and the like are the expected consequence of a leave.
// expected must be safe for concurrent use.
type expectedErrors struct {
	h        slog.Handler
	expected func(addr string) bool
}

func (e expectedErrors) Enabled(ctx context.Context, l slog.Level) bool { return e.h.Enabled(ctx, l) }

func (e expectedErrors) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelError && strings.HasPrefix(r.Message, "Endpoint") {
		addr := ""
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "address" {
				addr = a.Value.String()
				return false
			}
			return true
		})
		if e.expected(addr) {
			d := slog.NewRecord(r.Time, slog.LevelDebug, r.Message, r.PC)
			r.Attrs(func(a slog.Attr) bool { d.AddAttrs(a); return true })
			r = d
		}
	}
	if !e.h.Enabled(ctx, r.Level) {
		return nil
	}
	return e.h.Handle(ctx, r)
}

func (e expectedErrors) WithAttrs(as []slog.Attr) slog.Handler {
	return expectedErrors{h: e.h.WithAttrs(as), expected: e.expected}
}

func (e expectedErrors) WithGroup(name string) slog.Handler {
	return expectedErrors{h: e.h.WithGroup(name), expected: e.expected}
}

func orDiscard(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
