# Thin wrappers over go commands; developers without make lose nothing.
GO ?= go
PKGS := ./...

.PHONY: test check unit fuzz build tidy bench

# test is what CI runs: formatting and vet, then every test with the race
# detector.
test: check unit

check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

unit:
	$(GO) test -race -shuffle=on -timeout 10m $(PKGS)

# fuzz runs each fuzz target for a short while. Minimizing each new input
# for go test's default 60 s would take most of a short run.
FUZZTIME ?= 20s
FUZZMINTIME ?= 2s
fuzz:
	@for pkg in $$($(GO) list $(PKGS)); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINTIME) $$pkg || exit 1; \
	  done; \
	done

build:
	$(GO) build -ldflags "-X main.version=$$(git describe --always --dirty 2>/dev/null || echo dev)" -o bin/pulse ./cmd/pulse

tidy:
	$(GO) mod tidy && git diff --exit-code go.mod go.sum

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)
