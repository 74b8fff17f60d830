# BigJob in Go: build, test, demo, bench. `make help` lists the targets.
GO      ?= go
PYTHON3 ?= python3
PYTHON2 ?= env PYENV_VERSION=2.7.18 python2
BIN     := bin
PYLIB   := python/pilot/_lib

.PHONY: all build python-lib plugins demo test test-go test-python test-pbs fuzz bench soak deps services fmt-check vet vocab-wasm clean help FORCE

all: build python-lib plugins

help:
	@echo "make             build the agent, the tools, the Python package's library (python/pilot/_lib) and the example plugins"
	@echo "make plugins     build the example WASM plugins into bin/plugins/ and the test fixtures into build/plugins-test/"
	@echo "make demo        run the seed example (examples/example.py) with python3; no Redis needed"
	@echo "make test        install what the tests need, start SLURM and SGE, then Go (-race), C, C++ and Python 2.7/3 tests"
	@echo "make fuzz        run each fuzz target (URLs, descriptions, the C ABI's JSON arguments) for FUZZTIME (20000x: inputs)"
	@echo "make services    start the single-host SLURM and SGE the tests use (scripts/services/start.sh)"
	@echo "make test-pbs    install slurm-wlm-torque (removes gridengine-client) and run the real-PBS tests"
	@echo "make bench       print the performance figures as JSON lines (see docs/PERFORMANCE.md); creates build/bench-venv (Parsl, Dask) for the peers case"
	@echo "make soak        1,000,000 no-exec units through one service: agent/manager RSS and Redis keys stay flat"
	@echo "make install     install pilot.h, libpilot.so, pilot-agent and pilot.pc under PREFIX (/usr/local)"

build: $(BIN)/pilot-agent $(BIN)/hello $(BIN)/data $(BIN)/pilot-bench $(BIN)/pilot-plugin

# The agent runs on resources that may not have our libc: always static.
$(BIN)/pilot-agent: FORCE
	CGO_ENABLED=0 $(GO) build -trimpath -o $@ ./cmd/pilot-agent

$(BIN)/hello: FORCE
	$(GO) build -trimpath -o $@ ./examples/go/hello

$(BIN)/data: FORCE
	$(GO) build -trimpath -o $@ ./examples/go/data

$(BIN)/pilot-bench: FORCE
	$(GO) build -trimpath -o $@ ./cmd/pilot-bench

$(BIN)/pilot-plugin: FORCE
	$(GO) build -trimpath -o $@ ./cmd/pilot-plugin

# WASM plugins (plugins/ABI.md): the examples (Go with GOOS=wasip1, C with
# clang --target=wasm32-wasi), each with its sealed plugin.json; and the
# hostile C fixtures the Python tests load (the Go tests build their own).
PLUGIN_EXAMPLES := tsp allowlist outputs demo
PLUGIN_FIXTURES := loop membomb trap execer writer badabi noexport escape

plugins: $(BIN)/pilot-plugin
	@for p in $(PLUGIN_EXAMPLES); do ./$(BIN)/pilot-plugin build plugins/examples/$$p $(BIN)/plugins/$$p >/dev/null || exit 1; done
	@for p in $(PLUGIN_FIXTURES); do ./$(BIN)/pilot-plugin build plugins/testdata/hostile/$$p build/plugins-test/$$p >/dev/null || exit 1; done
	@echo "plugins: $(PLUGIN_EXAMPLES) in $(BIN)/plugins/; fixtures in build/plugins-test/"

# The Python package carries the library and the agent, so that
# PYTHONPATH=python is enough to import pilot.
python-lib: $(BIN)/pilot-agent
	mkdir -p $(PYLIB)
	$(GO) build -buildmode=c-shared -trimpath -ldflags='-s -w' -o $(PYLIB)/libpilot.so ./capi
	rm -f $(PYLIB)/libpilot.h
	# a new file renamed into place: the old one may be running (a lasting
	# local store's supervisor), and writing into it would fail (ETXTBSY)
	cp $(BIN)/pilot-agent $(PYLIB)/pilot-agent.new && mv -f $(PYLIB)/pilot-agent.new $(PYLIB)/pilot-agent

deps:
	bash scripts/install-deps.sh

# SLURM and SGE, single-host, started by hand (docs/TESTING.md); idempotent.
services: deps
	bash scripts/services/start.sh

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "not gofmt-formatted:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

test: deps services fmt-check vet vocab-wasm build fuzz python-lib plugins test-go test-python

# The vocabulary (package vocab) builds for any WebAssembly host.
vocab-wasm:
	GOOS=wasip1 GOARCH=wasm $(GO) build ./vocab
	GOOS=js GOARCH=wasm $(GO) build ./vocab

# Fuzzing (docs/TESTING.md): each target for FUZZTIME; go test fuzzes one
# target per run. A failing input is written to the package's
# testdata/fuzz/<target>/ and from then on runs with the normal tests.
# A count, not a duration: with a duration Go 1.26's fuzz coordinator can
# fail a target with a bare "context deadline exceeded" at the deadline
# (golang/go#75804, fixed in Go 1.27), which made CI fail on no finding.
FUZZTIME     ?= 20000x
FUZZ_TARGETS := coord:FuzzParseURL coord:FuzzParsePilotName core:FuzzSplitObjectURL \
                vocab:FuzzUnitDescription vocab:FuzzPilotDescription capi:FuzzJSONArgs

fuzz:
	@for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t#*:}; \
		echo "fuzz: $$name (./$$pkg, $(FUZZTIME))"; \
		$(GO) test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) ./$$pkg || exit 1; \
	done

# scripts/test-home.sh: a private BIGJOB_HOME, whose lasting local store
# must be gone when the tests end.
test-go:
	scripts/test-home.sh $(GO) test -race -count=1 -timeout 30m -skip 'PBSReal' ./...

# The guide's PBS section (docs/GUIDE.md) runs in test-pbs, as the Go
# tests' PBSReal do: pbs is skipped here on purpose.
test-python:
	cd python && BIGJOB_TEST_SKIP=pbs,$${BIGJOB_TEST_SKIP:-} ../scripts/test-home.sh $(PYTHON3) -m pytest -q -p no:cacheprovider tests
	cd python && BIGJOB_TEST_SKIP=pbs,$${BIGJOB_TEST_SKIP:-} ../scripts/test-home.sh $(PYTHON2) -m unittest discover -s tests -t .

# PBS is slurm-wlm-torque, which conflicts with gridengine-client: a step of
# its own, after the SGE tests. scripts/services/sge.sh (make services) puts
# SGE back.
test-pbs:
	bash scripts/services/torque.sh
	$(GO) test -race -count=1 -timeout 20m -run 'PBSReal' ./e2e/
	cd python && ../scripts/test-home.sh $(PYTHON3) -m pytest -q -p no:cacheprovider tests/test_guide.py -k pbs

demo: build python-lib
	cd examples && PYTHONPATH=$(CURDIR)/python $(PYTHON3) example.py

bench: deps services build python-lib plugins
	bash scripts/bench-venv.sh
	./$(BIN)/pilot-bench

# 1,000,000 no-exec units through one service: agent and manager RSS and the
# Redis key count after every 50,000 (docs/PERFORMANCE.md, "Soak").
soak: deps build
	./$(BIN)/pilot-bench -cases soak

clean:
	rm -rf $(BIN) build $(PYLIB)

FORCE:

# The C library and its installation. `make install PREFIX=/opt/pilot` puts
# include/pilot.h, lib/libpilot.so, lib/pkgconfig/pilot.pc and bin/pilot-agent
# under PREFIX (default /usr/local); DESTDIR, if set, is prepended for staged
# installs. Only include/pilot.h is the public header: the one cgo writes is
# removed.
PREFIX        ?= /usr/local
PILOT_VERSION  = $(shell sed -n 's/^const Version = "\(.*\)"$$/\1/p' core/errors.go)

.PHONY: lib install

lib:
	mkdir -p build
	$(GO) build -buildmode=c-shared -trimpath -ldflags='-s -w' -o build/libpilot.so ./capi
	rm -f build/libpilot.h

install: lib $(BIN)/pilot-agent
	@test -n "$(PILOT_VERSION)" || { echo "install: no Version constant in core/errors.go" >&2; exit 1; }
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/bin
	install -m 644 include/pilot.h $(DESTDIR)$(PREFIX)/include/pilot.h
	install -m 755 build/libpilot.so $(DESTDIR)$(PREFIX)/lib/libpilot.so
	install -m 755 $(BIN)/pilot-agent $(DESTDIR)$(PREFIX)/bin/pilot-agent
	sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@VERSION@|$(PILOT_VERSION)|g' pilot.pc.in \
		> $(DESTDIR)$(PREFIX)/lib/pkgconfig/pilot.pc
