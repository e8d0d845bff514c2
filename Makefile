# Thin wrappers over go commands; developers without make lose nothing.
GO ?= go
PKGS := ./...

.PHONY: test check unit compat compat-go compat-node fuzz build tidy bench

# test is what CI runs: formatting and vet, every test with the race
# detector, then the real Nacos clients against a freshly built binary.
test: check unit compat

# check vets bench/etcdload too, a module of its own: its dependencies (the
# etcd client) come from the module proxy like the others', and vetting it
# costs about a second once they are built.
check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	cd bench/etcdload && $(GO) vet ./...

unit:
	$(GO) test -race -shuffle=on -timeout 10m $(PKGS)

# compat runs both client suites (compat/run.sh) even when the first fails;
# each ends with its own "compat-go: PASS" or "compat-node: FAIL" line.
compat: build
	@status=0; \
	GO=$(GO) bash compat/run.sh go || status=1; \
	GO=$(GO) bash compat/run.sh node || status=1; \
	exit $$status

compat-go: build
	@GO=$(GO) bash compat/run.sh go

compat-node: build
	@GO=$(GO) bash compat/run.sh node

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
	cd compat/gosdk && $(GO) mod tidy && git diff --exit-code go.mod go.sum
	cd bench/etcdload && $(GO) mod tidy && git diff --exit-code go.mod go.sum

bench:
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)
