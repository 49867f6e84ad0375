package auth

import (
	"context"
	"net"
	"sync"
	"time"
)

// A connection's memo of the last token verified on it. A client keeps its connection open
// and sends the same bearer token with every request, and every request looked the token up
// in the verifier's shared cache: a lock every request of the node takes and a lookup in a
// map of up to Config.CacheSize entries, most of them out of the CPU's caches (about 2% of
// the node's CPU per hold at 256 clients; issue 17, round 11). With the memo, a request whose
// token is its connection's last pays the token's hash (which it paid before too) and one
// comparison.
//
// What a memo hit answers is exactly what the shared cache answers for that token: the same
// principal, until the same expiry, after which the token goes through the cache (and is
// refused as expired). Like the cache, a memo keeps a digest of the token, never the token:
// a memoKey, the token hashed with the verifier's two random maphash seeds (128 bits), not
// its SHA-256, which a memo hit then no longer computes (about 0.5% of the node's CPU per
// hold at 256 clients; issue 17, round 13). The seeds are the process's secret and no digest
// leaves it, so finding another token with a memo's digest is a 2⁻¹²⁸ guess per request; and
// a memo only ever holds a token its own connection sent.
// A memo is used only when the verifier caches (Config.CacheSize > 0), and it holds one
// entry, so it keeps nothing the cache would not: a principal the cache evicted stays in at
// most the memos of the connections that sent its token, and only until they close or send
// another token.

// connMemoKey is the context key of a connection's *connMemo.
type connMemoKey struct{}

// connMemo is one connection's last verified token. Safe for concurrent use: an HTTP/2
// connection serves several requests at once. A mutex rather than an atomic pointer to an
// immutable entry: a connection whose requests carry different tokens (a proxy's, or a load
// generator's shared pool) then replaces its memo without an allocation per request.
type connMemo struct {
	mu    sync.Mutex
	key   memoKey
	entry *cacheEntry // the token's entry in the shared cache (or evicted from it); nil: empty
}

// memoKey identifies a token in a connection's memo (Verifier.memoKey).
type memoKey [2]uint64

// ConnContext gives a connection's context the memo of the tokens verified on it; set it as
// the edge's http.Server.ConnContext. Verify uses the memo of the ctx it is given (a request's
// context descends from its connection's); without one it uses the shared cache alone.
func ConnContext(ctx context.Context, _ net.Conn) context.Context {
	return context.WithValue(ctx, connMemoKey{}, new(connMemo))
}

// memoOf returns ctx's connection memo, nil if it has none.
func memoOf(ctx context.Context) *connMemo {
	m, _ := ctx.Value(connMemoKey{}).(*connMemo)
	return m
}

// get returns the principal of key if it is the memo's token and not expired at now, and
// marks the token seen in the shared cache (tokenCache's idle expiry counts memo hits).
func (m *connMemo) get(key memoKey, now time.Time) *Principal {
	if m == nil {
		return nil
	}
	m.mu.Lock()
	e := m.entry
	if e != nil && (m.key != key || now.After(e.principal.Expiry)) { // the expiry as tokenCache.get
		e = nil
	}
	m.mu.Unlock()
	if e == nil {
		return nil
	}
	e.markSeen(now)
	return &e.principal
}

// put makes key, verified as e's principal, the memo's token.
func (m *connMemo) put(key memoKey, e *cacheEntry) {
	if m == nil {
		return
	}
	m.mu.Lock()
	m.key, m.entry = key, e
	m.mu.Unlock()
}
