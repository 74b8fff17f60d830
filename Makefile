# BigJob in Go: build, test, demo, bench. `make help` lists the targets.
GO  ?= go
BIN := bin

.PHONY: all build demo test bench deps fmt-check vet clean help FORCE

all: build

help:
	@echo "make build   build bin/pilot-agent (static), bin/hello and bin/pilot-bench"
	@echo "make demo    run the seed example's workload (embedded coordination server if no Redis)"
	@echo "make test    install what the tests need, then gofmt/vet checks and go test -race"
	@echo "make bench   print the performance figures as JSON lines (see docs/PERFORMANCE.md)"

build: $(BIN)/pilot-agent $(BIN)/hello $(BIN)/pilot-bench

# The agent runs on resources that may not have our libc: always static.
$(BIN)/pilot-agent: FORCE
	CGO_ENABLED=0 $(GO) build -trimpath -o $@ ./cmd/pilot-agent

$(BIN)/hello: FORCE
	$(GO) build -trimpath -o $@ ./examples/go/hello

$(BIN)/pilot-bench: FORCE
	$(GO) build -trimpath -o $@ ./cmd/pilot-bench

deps:
	bash scripts/install-deps.sh

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "not gofmt-formatted:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

test: deps fmt-check vet build
	$(GO) test -race -count=1 -timeout 20m ./...

demo: build
	./$(BIN)/hello

bench: deps build
	./$(BIN)/pilot-bench

clean:
	rm -rf $(BIN)

FORCE:
