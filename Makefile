# netlab: build, test and demo. `make test` is what CI runs (.ci/run).
GO        ?= go
BIN       ?= bin/netlab
STATICCHECK_VERSION ?= v0.8.2
N         ?= 10,100,1000
RUNS      ?= 3

.PHONY: build test unit e2e lint deps demo clean bench bench-large bench-output bench-multihost docs torture fuzz man

## build: a static netlab binary in bin/
build:
	CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=auto -o $(BIN) ./cmd/netlab

## test: lint, unit tests, and the end-to-end tests against the real kernel in a sandbox
test: deps lint
	scripts/sandboxed.sh $(GO) test -count=1 ./...

## unit: the tests that need no root (topology, plan, record, reach, graph, the fake kernel)
unit:
	$(GO) test -count=1 ./topology/... ./plan/... ./record/... ./reconcile/... ./reach/... ./graph/...

## e2e: only the end-to-end tests (root; they sandbox themselves)
e2e: deps
	scripts/sandboxed.sh $(GO) test -count=1 -v ./tests/

## lint: gofmt, go vet and staticcheck
lint:
	@bad=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$bad" ]; then echo "gofmt would change: $$bad"; exit 1; fi
	$(GO) vet ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

## deps: the programs the tests drive (ip, iptables, ping), installed when missing
deps:
	@scripts/ensure-deps.sh

## demo: build, then plan, apply, ping, re-plan and destroy examples/two-namespaces.yaml
## inside a throwaway sandbox (changes nothing on this machine)
demo: build deps
	scripts/sandboxed.sh unshare --net --mount --propagation private scripts/demo.sh $(BIN) examples/two-namespaces.yaml

## docs: the README's picture of examples/two-namespaces.yaml (Debian's graphviz, installed when missing)
docs:
	@scripts/ensure-deps.sh docs
	$(GO) run ./cmd/netlab graph examples/two-namespaces.yaml | dot -Tsvg -o docs/two-namespaces.svg

## man: netlab's man pages (cobra/doc) in man/: man -l man/netlab-capture.1
man:
	$(GO) run ./cmd/netlab man man

clean:
	rm -rf bin man

## bench: star and chain labs at N=10, 100, 1000 against the floor, naive shell and
## ip -batch, in a sandbox; prints the table and rewrites README.md's (see bench/README.md)
bench: deps
	scripts/sandboxed.sh $(GO) run ./bench -n $(N) -runs $(RUNS) -readme README.md

## bench-large: the star and chain labs at N=1000 and 5000 in one run (their ratios side
## by side), without the naive shell; rewrites README.md's second table
NLARGE ?= 1000,5000
RUNSLARGE ?= 1
bench-large: deps
	scripts/sandboxed.sh $(GO) run ./bench -large -n $(NLARGE) -runs $(RUNSLARGE) -readme README.md

## torture: kill -9 at 100 random moments of apply and of destroy of a 40-namespace lab,
## SIGINT and SIGTERM at 50 moments each, in the sandbox; prints how many recovered
torture: deps
	CI=true scripts/sandboxed.sh $(GO) test -count=1 -run 'TestTorture$$' -v -timeout 60m ./tests/ -torture.kills=100 -torture.signals=50 | grep -E 'recovered|seed|^(ok|FAIL|---)'

## bench-multihost: a lab of 300 namespaces on each of three simulated machines, each
## applying its part at once, against one machine's part alone (see docs/multi-host.md)
bench-multihost: deps
	CI=true scripts/sandboxed.sh $(GO) test -count=1 -run 'TestMultiHostScale$$' -v -timeout 30m ./tests/ -multihost.n=300 | grep -E 'multi-host scale|^(ok|FAIL|---)'

## fuzz: go test -fuzz on the topology loader and the record loader, FUZZTIME each
## (make test runs their seed corpora in testdata/fuzz/)
FUZZTIME ?= 10m
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./topology
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./record

## bench-output: the size of the whole plan in each format and its peak RSS, and
## /etc/netns after apply, for star labs of NOUT namespaces; rewrites README.md's table
NOUT ?= 1000,2000
bench-output: deps
	scripts/sandboxed.sh $(GO) run ./bench -output -n $(NOUT) -readme README.md
