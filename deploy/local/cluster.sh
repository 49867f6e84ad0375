#!/usr/bin/env bash
# `make cluster`: a local 3-node Allot cluster on 127.0.0.1 against a local PostgreSQL (the
# wire-compatible stand-in for CockroachDB), for trying Allot by hand. Everything lives under
# ./data/cluster; Ctrl-C stops the nodes and the database.
#
# Signals: each node runs in its own process group (set -m), so the terminal's Ctrl-C reaches
# this script only, and the script sends each node exactly one SIGTERM, then waits for its
# graceful leave. (A node that got two signals used to cut its drain short; nodes now ignore
# a second signal, and exit at once on a third.) Ctrl-C again while stopping leaves the nodes
# to finish their drain on their own.
#
#   node 1: http://127.0.0.1:8081   gossip :7947  remote :8091  admin (metrics) :9091
#   node 2: http://127.0.0.1:8082   gossip :7948  remote :8092  admin (metrics) :9092
#   node 3: http://127.0.0.1:8083   gossip :7949  remote :8093  admin (metrics) :9093
#
#   NATS (events, JetStream, streams on all three): nats://127.0.0.1:4222, :4223, :4224
#   (routes :6222-:6224, monitoring http://127.0.0.1:8222/healthz, :8223, :8224)
#
# Authentication is on (dev mode): the nodes share the signing key $DIR/dev-signing-key.pem.
#   TOKEN=$(bin/allot token --sub u-1 --key-file data/cluster/dev-signing-key.pem)
#   PostgreSQL: 127.0.0.1:${ALLOT_PG_PORT:-5433}, database allot
#
# Security between nodes, as in production: the first run creates a gossip key file and a
# throwaway cluster CA with one peer certificate per node under ./data/cluster/secrets (mode
# 0600 keys; delete the directory to start over), and the nodes gossip encrypted and talk
# over mutual TLS. The HTTP edges stay plain HTTP on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-bin/allot}
NATS_BIN=${NATS_BIN:-bin/nats-server}
DIR=${DIR:-$PWD/data/cluster}
PGPORT=${ALLOT_PG_PORT:-5433}
mkdir -p "$DIR"

pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -n "$pgbin" ] || { echo "PostgreSQL not found: run 'bash .ci/install-deps' (as root) first" >&2; exit 1; }

# initdb and postgres refuse to run as root: run them as the postgres system user then.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

PGDATA="$DIR/pg"
if [ ! -f "$PGDATA/PG_VERSION" ]; then
  mkdir -p "$PGDATA"
  [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$DIR"
  as_pg "$pgbin/initdb" -D "$PGDATA" -U postgres --auth=trust >/dev/null
fi
[ "$(id -u)" = 0 ] && chown -R postgres:postgres "$PGDATA"
as_pg "$pgbin/pg_ctl" -D "$PGDATA" -l "$DIR/pg.log" -w start \
  -o "-p $PGPORT -k $PGDATA -c listen_addresses=127.0.0.1 -c default_transaction_isolation=serializable -c max_connections=200" >/dev/null
URL="postgresql://postgres@127.0.0.1:$PGPORT/allot?sslmode=disable"
as_pg "$pgbin/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='allot'" | grep -q 1 ||
  as_pg "$pgbin/psql" -h 127.0.0.1 -p "$PGPORT" -U postgres -qc "CREATE DATABASE allot"
"$BIN" migrate --db-url "$URL"

# Gossip key ring and peer certificates (DNS name allot-peer, server and client auth).
SECRETS="$DIR/secrets"
make_secrets() {
  command -v openssl >/dev/null || { echo "openssl not found: it makes the cluster's keys" >&2; exit 1; }
  mkdir -p "$SECRETS" && chmod 700 "$SECRETS"
  (
    umask 077
    cd "$SECRETS"
    openssl rand -base64 32 >gossip-keys
    openssl ecparam -name prime256v1 -genkey -noout -out ca.key
    openssl req -x509 -new -key ca.key -subj "/CN=allot local cluster CA" -days 365 -out ca.crt
    for i in 1 2 3; do
      openssl ecparam -name prime256v1 -genkey -noout -out "node$i.key"
      openssl req -new -key "node$i.key" -subj "/CN=allot node $i" -out "node$i.csr"
      printf 'subjectAltName=DNS:allot-peer,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\nkeyUsage=digitalSignature\n' >"node$i.ext"
      openssl x509 -req -in "node$i.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 \
        -extfile "node$i.ext" -out "node$i.crt" 2>/dev/null
      rm -f "node$i.csr" "node$i.ext"
    done
  )
}
[ -f "$SECRETS/node3.crt" ] || make_secrets
# The dev signing key every node shares; created here, so the nodes do not race to.
KEY="$DIR/dev-signing-key.pem"
"$BIN" token --sub cluster-admin --role admin --mfa --key-file "$KEY" >"$DIR/admin.token"
chmod 600 "$DIR/admin.token"

pids=()
nats_pids=()
stopping=""
cleanup() {
  [ -n "$stopping" ] && return
  stopping=1
  echo; echo "stopping the cluster (graceful leave, up to 20s)..."
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  # NATS after the nodes: their relays publish what is left while they drain.
  for p in "${nats_pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${nats_pids[@]}"; do wait "$p" 2>/dev/null || true; done
  as_pg "$pgbin/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null || true
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

# Job control: every node below gets its own process group, out of reach of the terminal's
# Ctrl-C (which would otherwise be a first signal, and cleanup's SIGTERM a second).
set -m

# The event bus: three nats-server processes in one JetStream cluster (each routes to all).
[ -x "$NATS_BIN" ] || { echo "$NATS_BIN not found: run 'make build-nats'" >&2; exit 1; }
NATS_URL="nats://127.0.0.1:4222,nats://127.0.0.1:4223,nats://127.0.0.1:4224"
for i in 1 2 3; do
  mkdir -p "$DIR/nats$i"
  "$NATS_BIN" --name "nats$i" --addr 127.0.0.1 --port "422$((1 + i))" --http_port "822$((1 + i))" \
    --jetstream --store_dir "$DIR/nats$i" --cluster_name allot-events --cluster "nats://127.0.0.1:622$((1 + i))" \
    --routes "nats://127.0.0.1:6222,nats://127.0.0.1:6223,nats://127.0.0.1:6224" \
    >"$DIR/nats$i.log" 2>&1 &
  nats_pids+=($!)
done
# Healthy once JetStream has a leader: the nodes create their streams at start-up.
for i in 1 2 3; do
  for _ in $(seq 300); do
    curl -fsS "http://127.0.0.1:822$((1 + i))/healthz" >/dev/null 2>&1 && break
    sleep 0.1
  done
done

for i in 1 2 3; do
  join=""
  [ "$i" != 1 ] && join="--join 127.0.0.1:7947"
  "$BIN" node --http-addr "127.0.0.1:808$i" --gossip-addr "127.0.0.1:794$((6 + i))" \
    --remote-addr "127.0.0.1:809$i" --advertise-addr 127.0.0.1 --db-url "$URL" $join \
    --gossip-key-file "$SECRETS/gossip-keys" --peer-ca "$SECRETS/ca.crt" \
    --peer-cert "$SECRETS/node$i.crt" --peer-key "$SECRETS/node$i.key" \
    --admin-addr "127.0.0.1:909$i" --node-name "node$i" --key-file "$KEY" \
    --nats-url "$NATS_URL" --nats-replicas 3 \
    >"$DIR/node$i.log" 2>&1 &
  pids+=($!)
done
for i in 1 2 3; do
  for _ in $(seq 300); do
    curl -fsS "http://127.0.0.1:808$i/readyz" >/dev/null 2>&1 && break
    sleep 0.1
  done
done
echo "Allot cluster up: http://127.0.0.1:8081 http://127.0.0.1:8082 http://127.0.0.1:8083"
echo "database: $URL   events: $NATS_URL   logs: $DIR/node*.log $DIR/nats*.log   Ctrl-C stops everything"
echo "tokens: bin/allot token --sub u-1 --key-file $KEY   (an admin's: $DIR/admin.token)"
curl -fsS -H "Authorization: Bearer $(cat "$DIR/admin.token")" http://127.0.0.1:8081/v1/cluster/members || true
echo
wait -n "${pids[@]}" || true
