# tlspake: password-authenticated TLS 1.3 for devices on private networks.
GO ?= go
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME ?= 10s

.PHONY: all test check fmt vet staticcheck race vectors bench fuzz

all: test

## test: everything CI runs: format, vet, staticcheck, race tests, vectors.
test: fmt vet staticcheck race vectors

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

## fuzz: run each fuzz target for FUZZTIME.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; done
