# Allot. `make run` starts one node on the embedded store; `make test` runs every test with
# -race after installing what the tests need (PostgreSQL, redis-server) if it is missing.
GO       ?= go
BIN      := bin/allot
BENCH_BIN := bin/allot-bench
PKGS     := ./...
TESTFLAGS ?= -race -count=1 -timeout 60m

.PHONY: all build build-bench build-nats run test deps lint bench protos cluster chaos clean console-screenshots

all: build

build:
	$(GO) build -o $(BIN) ./cmd/allot

# A single node (no --db-url, no --join) opens the HTTP edge only, here on loopback; gossip
# and the actor remote stay on 127.0.0.1 ephemeral ports (README "Running a node").
# allot-bench serves the competitors the benchmarks measure Allot against (the allot binary
# does not link them).
build-bench:
	$(GO) build -o $(BENCH_BIN) ./cmd/allot-bench

run: build
	./$(BIN) node --http-addr 127.0.0.1:8080 --data-dir ./data

deps:
	@bash .ci/install-deps

test: deps
	$(GO) test $(TESTFLAGS) $(PKGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

protos:
	@command -v protoc >/dev/null || { echo "install protobuf-compiler (apt-get install protobuf-compiler)"; exit 1; }
	@command -v protoc-gen-go >/dev/null || $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
	PATH="$$PATH:$$($(GO) env GOPATH)/bin" protoc --go_out=. --go_opt=module=github.com/allot/allot protos/*.proto

clean:
	rm -rf bin

# nats-server, built from the module go.mod pins (the version the tests run), for `make cluster`.
build-nats:
	$(GO) build -o bin/nats-server github.com/nats-io/nats-server/v2

# A local 3-node cluster on 127.0.0.1 against a local PostgreSQL, publishing its events to a
# local 3-server NATS JetStream cluster (see deploy/local/cluster.sh).
cluster: build build-nats
	@bash .ci/install-deps
	bash deploy/local/cluster.sh

# Regenerates docs/BENCHMARKS.md from scratch: HTTP flash sales against Allot and the baselines,
# a 3-node cluster, the Go benchmarks, memory, the same paths under wrk, and the bounds of this
# machine (fsync, PostgreSQL's commit). About 20 minutes; it uses the whole machine.
# Knobs: ALLOT_BENCH_DURATION, _RUNS, _CLIENTS, _RESOURCES, _SECTIONS (see docs/BENCHMARKS.md).
bench: deps build build-bench
	ALLOT_BENCH=1 ALLOT_BENCH_BIN=$(CURDIR)/$(BIN) ALLOT_BENCH_BASELINE_BIN=$(CURDIR)/$(BENCH_BIN) \
	  ALLOT_BENCH_OUT=$(CURDIR)/docs/BENCHMARKS.md \
	  $(GO) test -run '^TestBenchmarks$$' -count=1 -timeout 60m -v ./cmd

# Fault injection with linearizability checking (docs/RELIABILITY.md): ALLOT_CHAOS_DURATION of
# faults (default 10m) in rounds of ALLOT_CHAOS_ROUND (default 2m), each on a fresh 5-node
# cluster, seeds ALLOT_CHAOS_SEED, +1, ... (default: the clock). Prints each round's report and
# a summary per fault type; ALLOT_CHAOS_OUT=dir keeps histories, visualizations and logs. Then
# TestOwnershipSettlesAfterHeal (ownership after a healed partition; too load-sensitive for make test).
chaos: deps
	ALLOT_CHAOS_DURATION=$${ALLOT_CHAOS_DURATION:-10m} ALLOT_CHAOS_SEED=$${ALLOT_CHAOS_SEED:-$$(date +%s)} ALLOT_CHAOS_SETTLE=1 \
	  $(GO) test -run '^(TestChaos|TestOwnershipSettlesAfterHeal)$$' -count=1 -timeout 120m -v ./cluster/chaos

# Rewrites the console's screenshots in docs/img from its browser test (chromium, .ci/install-deps).
console-screenshots: deps
	$(GO) test -count=1 -run Browser ./api/console -screenshots=$(CURDIR)/docs/img
