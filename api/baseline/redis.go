package baseline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/allot/allot/actors/booking"
	"github.com/allot/allot/api/wire"
)

// NewRedis returns the Redis design: one Lua script per hold checks every bucket's capacity
// and, only if all have room, increments their held counters and records the hold and its
// Idempotency-Key, atomically (Redis runs a script alone). Durable only when the server runs
// with appendonly yes and appendfsync always, as MustRedis starts it: Redis then fsyncs its
// AOF before it answers. The client is the caller's, not closed by the handler.
//
// Keys of a resource share the hash tag {rid}, so a Redis Cluster keeps them in one slot:
// allot:{rid}:meta (hash: name, hold_ttl_ms, price), allot:{rid}:cap and allot:{rid}:held
// (hash: bucket key -> units), allot:{rid}:holds (hash: hold id -> hold JSON) and
// allot:{rid}:idem (hash: Idempotency-Key -> hold id "\n" fingerprint).
func NewRedis(client redis.Cmdable) *Handler { return newHandler(&redisStore{c: client}) }

type redisStore struct{ c redis.Cmdable }

func redisKeys(rid string) []string {
	p := "allot:{" + rid + "}:"
	return []string{p + "meta", p + "cap", p + "held", p + "holds", p + "idem"}
}

// createScript creates a resource unless it exists.
// KEYS: meta, cap, held. ARGV: name, hold_ttl_ms, price_amount, price_currency, then bucket
// key and capacity pairs.
var createScript = redis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 'already_exists' end
redis.call('HSET', KEYS[1], 'name', ARGV[1], 'hold_ttl_ms', ARGV[2], 'price_amount', ARGV[3], 'price_currency', ARGV[4])
for i = 5, #ARGV, 2 do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i+1])
  redis.call('HSET', KEYS[3], ARGV[i], 0)
end
return 'ok'
`)

// holdScript places a hold, all buckets or none.
// KEYS: meta, cap, held, holds, idem. ARGV: hold id, quantity, hold JSON, Idempotency-Key
// ("" for none), fingerprint, then the bucket keys.
// Answers {'ok'}, {'replay', hold JSON}, {'mismatch'}, {'not_found'}, {'no_bucket', key} or
// {'sold_out', key}.
var holdScript = redis.NewScript(`
if ARGV[4] ~= '' then
  local prev = redis.call('HGET', KEYS[5], ARGV[4])
  if prev then
    local nl = string.find(prev, '\n', 1, true)
    if string.sub(prev, nl + 1) ~= ARGV[5] then return {'mismatch'} end
    return {'replay', redis.call('HGET', KEYS[4], string.sub(prev, 1, nl - 1))}
  end
end
if redis.call('EXISTS', KEYS[1]) == 0 then return {'not_found'} end
local q = tonumber(ARGV[2])
for i = 6, #ARGV do
  local cap = redis.call('HGET', KEYS[2], ARGV[i])
  if not cap then return {'no_bucket', ARGV[i]} end
  if tonumber(redis.call('HGET', KEYS[3], ARGV[i])) + q > tonumber(cap) then return {'sold_out', ARGV[i]} end
end
for i = 6, #ARGV do redis.call('HINCRBY', KEYS[3], ARGV[i], q) end
redis.call('HSET', KEYS[4], ARGV[1], ARGV[3])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[5], ARGV[4], ARGV[1] .. '\n' .. ARGV[5]) end
return {'ok'}
`)

func (s *redisStore) createResource(ctx context.Context, r *resource) error {
	args := []any{r.Name, r.ttl.Milliseconds(), "", ""}
	if r.Price != nil {
		args[2], args[3] = r.Price.Amount, r.Price.Currency
	}
	for k, cp := range r.Buckets {
		args = append(args, k, cp)
	}
	res, err := createScript.Run(ctx, s.c, redisKeys(r.ID)[:3], args...).Text()
	if err != nil {
		return redisError("create resource", err)
	}
	if res == "already_exists" {
		return booking.Errorf(booking.CodeAlreadyExists, "resource %q exists", r.ID)
	}
	return nil
}

func (s *redisStore) availability(ctx context.Context, rid string) (map[string]wire.Bucket, error) {
	keys := redisKeys(rid)
	var capCmd, heldCmd *redis.MapStringStringCmd
	_, err := s.c.Pipelined(ctx, func(p redis.Pipeliner) error {
		capCmd = p.HGetAll(ctx, keys[1])
		heldCmd = p.HGetAll(ctx, keys[2])
		return nil
	})
	if err != nil {
		return nil, redisError("availability", err)
	}
	caps, held := capCmd.Val(), heldCmd.Val()
	if len(caps) == 0 {
		return nil, notFound(rid)
	}
	out := make(map[string]wire.Bucket, len(caps))
	for k, c := range caps {
		cp, err1 := strconv.ParseInt(c, 10, 64)
		h, err2 := strconv.ParseInt(held[k], 10, 64)
		if err := errors.Join(err1, err2); err != nil {
			return nil, fmt.Errorf("availability %s/%s: %w", rid, k, err)
		}
		out[k] = wire.Bucket{Capacity: cp, Held: h, Available: max(cp-h, 0)}
	}
	return out, nil
}

func (s *redisStore) placeHold(ctx context.Context, h *wire.Hold, idemKey, fingerprint string) ([]byte, bool, error) {
	raw, err := json.Marshal(h)
	if err != nil {
		return nil, false, err
	}
	args := make([]any, 0, 5+len(h.Buckets))
	args = append(args, h.ID, h.Quantity, raw, idemKey, fingerprint)
	for _, k := range h.Buckets {
		args = append(args, k)
	}
	res, err := holdScript.Run(ctx, s.c, redisKeys(h.ResourceID), args...).StringSlice()
	if err != nil {
		return nil, false, redisError("place hold", err)
	}
	if len(res) == 0 {
		return nil, false, errors.New("place hold: empty script answer")
	}
	switch res[0] {
	case "ok":
		return raw, false, nil
	case "replay":
		if len(res) < 2 {
			return nil, false, fmt.Errorf("place hold: replay without a hold")
		}
		return []byte(res[1]), true, nil
	case "mismatch":
		return nil, false, booking.Errorf(booking.CodeIdempotencyMismatch, "Idempotency-Key %q was used with a different request", idemKey)
	case "not_found":
		return nil, false, notFound(h.ResourceID)
	case "sold_out":
		return nil, false, soldOut(res[1])
	case "no_bucket":
		return nil, false, booking.Errorf(booking.CodeInvalid, "the resource has no bucket %q", res[1])
	}
	return nil, false, fmt.Errorf("place hold: unexpected script answer %q", res)
}

// redisError reports an error answer of Redis (a script error, a wrong type) as it is, and
// anything else (the connection, a timeout) as unavailable: a script whose answer was lost may
// have run.
func redisError(op string, err error) error {
	var re redis.Error
	if errors.As(err, &re) {
		return fmt.Errorf("%s: %w", op, err)
	}
	return unavailable(op, err)
}
