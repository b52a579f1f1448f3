# LocalRouter — `make run` starts the gateway, `make test` runs every test.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
DATE    ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)
ARGS    ?=
FUZZTIME ?= 8s

# Fuzz targets for everything that parses untrusted bytes: requests, upstream
# streams and answers, the config file, strategy rules.
FUZZ := ./providers:FuzzParseRequest ./providers/sse:FuzzReader \
	./providers/anthropic:FuzzStream ./providers/anthropic:FuzzConvertRequest \
	./providers/google:FuzzStream ./providers/google:FuzzConvertRequest \
	./config:FuzzParse ./strategy:FuzzRuleCompile

.PHONY: build build-mock run test fuzz bench lint clean

build:
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o bin/localrouter .

build-mock:
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS) -X main.defaultMock=true" -o bin/localrouter-mock .

run: build
	./bin/localrouter $(ARGS)

# The short fuzz run goes first so that the suite's own summary closes the output.
test:
	$(MAKE) --no-print-directory fuzz
	go test -race -count=1 -v ./...

# A short run of each fuzz target (make fuzz FUZZTIME=5m for a long one).
# A failing input is saved under testdata/fuzz and replayed first by the
# retry, so the retry only forgives a failure that does not reproduce.
fuzz:
	@set -e; for t in $(FUZZ); do \
		echo "fuzz $${t#*:} in $${t%%:*} for $(FUZZTIME)"; \
		go test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) "$${t%%:*}" || \
		{ echo "fuzz $${t#*:} failed: running it again"; \
		  go test -run '^$$' -fuzz "^$${t#*:}$$" -fuzztime $(FUZZTIME) "$${t%%:*}"; }; \
	done

bench:
	go test -run '^$$' -bench . -benchmem -count 1 ./proxy/ ./providers/...

lint:
	@test -z "$$(gofmt -l . | tee /dev/stderr)" || (echo "gofmt: files above need formatting" && exit 1)
	go vet ./...

clean:
	rm -rf bin
