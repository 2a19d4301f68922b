# Build, test and demo. Every target that runs models needs root (machines are
# network namespaces) and the distro packages `make deps` installs.
GO ?= go
export PATH := $(PATH):/usr/local/go/bin

.PHONY: all build deps test test-long unit integration demo bench clean fmt vet

all: build

build: bin/localjuju build/postgresql.charm build/pgclient.charm build/s3integrator.charm build/versitygw

bin/localjuju: $(shell find cmd/localjuju internal -name '*.go' 2>/dev/null) go.mod
	$(GO) build -o $@ ./cmd/localjuju

build/postgresql.charm: bin/localjuju $(shell find cmd/postgresql-charm internal templates -name '*.go' -o -name '*.tmpl' 2>/dev/null) metadata.yaml config.yaml actions.yaml manifest.yaml
	rm -rf build/charm && mkdir -p build/charm/hooks
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o build/charm/dispatch ./cmd/postgresql-charm
	cp metadata.yaml config.yaml actions.yaml manifest.yaml build/charm/
	for h in install start upgrade-charm; do ln -sf ../dispatch build/charm/hooks/$$h; done
	bin/localjuju pack build/charm $@

# The test client charm of the relation tests and benchmarks (tests/relations,
# bench/relations).
build/pgclient.charm: bin/localjuju $(shell find tests/charms/pgclient internal/juju -name '*.go' -o -name '*.yaml' 2>/dev/null)
	rm -rf build/pgclient && mkdir -p build/pgclient
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o build/pgclient/dispatch ./tests/charms/pgclient
	cp tests/charms/pgclient/*.yaml build/pgclient/
	bin/localjuju pack build/pgclient $@

# The stand-in for Charmhub's s3-integrator and the S3 server of the
# backup tests (tests/backups/s3_test.go). versitygw (Apache-2.0) takes
# minutes to build: it is built once and kept under build/.
build/s3integrator.charm: bin/localjuju $(shell find tests/charms/s3integrator internal/juju -name '*.go' -o -name '*.yaml' 2>/dev/null)
	rm -rf build/s3integrator && mkdir -p build/s3integrator
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' -o build/s3integrator/dispatch ./tests/charms/s3integrator
	cp tests/charms/s3integrator/*.yaml build/s3integrator/
	bin/localjuju pack build/s3integrator $@

VERSITYGW_VERSION = v1.8.0
build/versitygw:
	mkdir -p build/gobin
	GOBIN=$(CURDIR)/build/gobin CGO_ENABLED=0 $(GO) install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)
	mv build/gobin/versitygw $@

# deps installs what the charm and the tests need on the host: localjuju
# machines share the host's packages and have no route to package mirrors.
deps:
	./scripts/install-deps.sh

test: deps build
	$(GO) test -count=1 -timeout 60m ./...

# test-long repeats the chaos suite three times, with the faults make test
# skips as known bugs (tests/ha/chaos_test.go says which and why), and
# prints each run's table of write gaps and lost writes; then quorum loss
# with five units (make test runs it with three).
test-long: deps build
	PGJUJU_CHAOS_KNOWN_BUGS=1 $(GO) test -count=3 -timeout 180m -v -run 'TestChaos' ./tests/ha/
	PGJUJU_LONG=1 $(GO) test -count=1 -timeout 60m -v -run 'TestQuorumLoss' ./tests/ha/

unit:
	$(GO) test -count=1 -short ./...

demo: deps build
	./scripts/demo.sh

bench: deps build
	./bench/run.sh

vet:
	$(GO) vet ./...

fmt:
	gofmt -w cmd internal tests bench

clean:
	rm -rf bin build
