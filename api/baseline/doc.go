// Package baseline holds what users would pick instead of Allot, behind the same minimal gin
// handler and the same API subset (create a resource, read availability, place a hold), so
// that `allot loadgen --hold-only` measures them against Allot on equal terms:
//
//   - NewClassic: PostgreSQL, one transaction per hold with SELECT ... FOR UPDATE;
//   - NewRedis: Redis, one Lua script per hold, durable with appendfsync always;
//   - NewEmpty: the HTTP ceiling, a handler that stores nothing.
//
// Serve runs one on an address; Command is `allot-bench baseline`; ClassicHold is the classic
// transaction itself. MustRedis starts a throwaway durable redis-server for tests. None of it
// is linked into the allot binary (cmd/allot); cmd/allot-bench serves it.
package baseline
