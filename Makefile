# tallyq: the two commands are `make run` and `make test`.
# The logic lives in scripts/; these targets only name it.

GO ?= go
PKGS ?= ./...
# go test's own limit sits under CI's 30-minute target.
TEST_TIMEOUT ?= 25m
FUZZTIME ?= 5s

.PHONY: run test test-go fuzz deps build lint bench bench-tiny chaos stop clean distclean

## run: start (or reuse) a private Postgres in ./.tallyq, migrate, serve on :8080
run:
	scripts/run.sh

## test: install or name missing system packages, then unit/integration tests
## with -race against throwaway servers, then every fuzz target for $(FUZZTIME)
test: deps
	TALLYQ_TEST_RABBITMQ=1 scripts/with-servers.sh $(MAKE) --no-print-directory test-go fuzz

# test-go and fuzz expect the servers of scripts/with-servers.sh.
test-go:
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) $(PKGS)

fuzz:
	FUZZTIME=$(FUZZTIME) scripts/fuzz-short.sh $(PKGS)

deps:
	scripts/install-deps.sh

## build: bin/tallyq
build:
	$(GO) build -o bin/tallyq ./cmd/tallyq

## lint: go vet, and gofmt must have nothing to change
lint:
	$(GO) vet $(PKGS)
	@out=$$(find . -name '*.go' -not -path './.git/*' -not -path '*/testdata/*' -exec gofmt -l {} +); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

## bench: every benchmark scenario (queue, tally, scale, api, memory, pipeline,
## create) against a throwaway Postgres with fsync on and a private RabbitMQ
## node, into bench/results.json and BENCHMARKS.md (see scripts/bench.sh).
## Ballot pools are cached in the user's cache directory (the first run
## encrypts them). bench-tiny runs the same at tiny sizes into $TMPDIR.
bench: deps
	$(GO) build -o bin/tallyq ./cmd/tallyq
	TALLYQ_TEST_PG_FSYNC=on TALLYQ_TEST_RABBITMQ=1 scripts/with-servers.sh scripts/bench.sh full

bench-tiny: deps
	$(GO) build -o bin/tallyq ./cmd/tallyq
	TALLYQ_TEST_RABBITMQ=1 scripts/with-servers.sh scripts/bench.sh tiny

## chaos: the chaos run on both brokers (see scripts/chaos.sh): a 20,000-ballot
## election through the whole pipeline while worker processes are SIGKILLed
## every 2-5 s, Postgres is crashed once and the RabbitMQ node killed once;
## the results, every job's counts and an audit of every chunk's effect are
## checked. CHAOSFLAGS adds flags of `tallyq bench chaos` (e.g. --verify).
## A shortened run is part of `make test` (bench TestChaosShort).
chaos: deps
	scripts/chaos.sh both $(CHAOSFLAGS)

## stop: stop the Postgres of `make run` (its data stays in ./.tallyq)
stop:
	scripts/postgres.sh stop .tallyq

clean:
	rm -rf bin

## distclean: also delete the `make run` database and its generated secrets
distclean: clean
	scripts/postgres.sh destroy .tallyq
	rm -rf .tallyq
