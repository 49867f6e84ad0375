# Allot. `make run` starts one node on the embedded store; `make test` runs every test with
# -race after installing what the tests need (PostgreSQL, redis-server) if it is missing.
GO       ?= go
BIN      := bin/allot
PKGS     := ./...
TESTFLAGS ?= -race -count=1 -timeout 60m

.PHONY: all build run test deps lint bench protos cluster chaos clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/allot

run: build
	./$(BIN) node --http-addr :8080 --data-dir ./data

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

# A local 3-node cluster on 127.0.0.1 against a local PostgreSQL (see deploy/local/cluster.sh).
cluster: build
	@bash .ci/install-deps
	bash deploy/local/cluster.sh
