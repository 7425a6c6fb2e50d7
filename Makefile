# tlspake: password-authenticated TLS 1.3 for devices on private networks.
GO ?= go
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME ?= 10s

.PHONY: all test check fmt vet staticcheck race vectors bench fuzz fuzz-smoke build demo

all: test

## test: everything CI runs: format, vet, staticcheck, race tests, vectors,
## and a short run of every fuzz target.
test: fmt vet staticcheck race vectors fuzz-smoke

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

staticcheck:
	$(STATICCHECK) ./...

race:
	$(GO) test -race -count=1 ./...

## vectors: check every conformance vector the project holds.
vectors:
	$(GO) run ./vectors/cmd/tlspake-vectors check

## bench: run the benchmarks (compare runs with benchstat).
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 6 ./bench/

## fuzz: run each fuzz target for FUZZTIME (default 10s; e.g. make fuzz FUZZTIME=10m,
## or a count such as FUZZTIME=100000x, which avoids golang/go#75804 on Go 1.26).
## Crashers are written to the package's testdata/fuzz and fail later runs.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$t ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 2s $$pkg; \
	  done; done

## fuzz-smoke: every fuzz target briefly, as CI runs it. A count, not a
## duration: with a duration, Go 1.26's fuzz coordinator can report
## "context deadline exceeded" as a failure at the time limit with no
## crasher (golang/go#75804, fixed in Go 1.27); a count avoids that path.
fuzz-smoke:
	@$(MAKE) --no-print-directory fuzz FUZZTIME=3000x

## build: build the device daemon and the client CLI into bin/.
build:
	$(GO) build -o bin/tlspake-device ./device/cmd/tlspake-device
	$(GO) build -o bin/tlspake ./client/cmd/tlspake

## demo: the main job on defaults: a device and a client pairing on loopback.
DEMO_ADDR ?= 127.0.0.1:8443
demo: build
	@set -eu; state=$$(mktemp -d); trap 'kill $$pid 2>/dev/null || true; wait $$pid 2>/dev/null || true; rm -rf "$$state"' EXIT; \
	echo "== Starting the device daemon on $(DEMO_ADDR) with a fresh code"; \
	XDG_STATE_HOME="$$state" ./bin/tlspake-device -listen $(DEMO_ADDR) -name "Demo printer" -show-code \
	  >"$$state/device.out" 2>"$$state/device.log" & pid=$$!; \
	for i in $$(seq 50); do grep -q '^Device code' "$$state/device.out" 2>/dev/null && break; \
	  kill -0 $$pid 2>/dev/null || { cat "$$state/device.log"; exit 1; }; sleep 0.1; done; \
	cat "$$state/device.out"; \
	code=$$(sed -n 's/^Device code: //p' "$$state/device.out"); \
	echo; echo "== tlspake get with the code from the label"; \
	./bin/tlspake get -code "$$code" https://$(DEMO_ADDR)/; \
	echo; echo "== tlspake get with a wrong code"; \
	./bin/tlspake get -code 00000-0001Y https://$(DEMO_ADDR)/ && exit 1 || echo "(exit status $$?, as expected)"; \
	echo; echo "== Device log"; kill $$pid; wait $$pid || true; cat "$$state/device.log"

# Cross-architecture builds, emulated tests and the performance report
# (bench/README.md). Targets live in bench/internal/xbuild.
.PHONY: cross cross-test bench-report bench-device

## cross: build tlspake-device and tlspake for every target (linux amd64,
## arm64, armv7, armv6, mips and mipsle softfloat), static and stripped,
## into bin/cross/TARGET/, and print their sizes.
cross:
	$(GO) run ./bench/cmd/cross

## cross-test: the tlspake and device tests under qemu-user (armv6, mips,
## mipsle) and a pairing with the emulated daemon (also part of race).
cross-test:
	$(GO) test -count=1 -run '^TestEmulated' -v ./bench/

## bench-report: measure natively and under qemu (armv6, mipsle); writes
## bench/REPORT.md and bench/report.png. Takes about 5 minutes.
## BENCH_REPORT_FLAGS passes flags, e.g. -targets=native,linux-mips-softfloat.
BENCH_REPORT_FLAGS ?=
bench-report:
	$(GO) run ./bench/cmd/bench-report $(BENCH_REPORT_FLAGS)

## bench-device: one static benchmark binary for a board, e.g.
## make bench-device GOARCH=arm (GOARM=6 unless set), mips or mipsle
## (GOMIPS=softfloat unless set), arm64, amd64. Copy it over and run it.
bench-device:
	@set -e; arch=$${GOARCH:-$$($(GO) env GOARCH)}; out=bin/bench-device-linux-$$arch; \
	CGO_ENABLED=0 GOOS=linux GOARCH=$$arch GOARM=$${GOARM:-6} GOMIPS=$${GOMIPS:-softfloat} \
	  $(GO) build -trimpath -ldflags='-s -w' -o $$out ./bench/cmd/bench-device; \
	echo "built $$out ($$(du -h $$out | cut -f1)); copy it to the board and run it: it prints the table of bench/REPORT.md for that board (-h for flags)"
