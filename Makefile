# LocalRouter — `make run` starts the gateway, `make test` runs every test.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
DATE    ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)
ARGS    ?=

.PHONY: build build-mock run test bench lint clean

build:
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o bin/localrouter .

build-mock:
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS) -X main.defaultMock=true" -o bin/localrouter-mock .

run: build
	./bin/localrouter $(ARGS)

test:
	go test -race -count=1 -v ./...

bench:
	go test -run '^$$' -bench . -benchmem -count 1 ./proxy/ ./providers/...

lint:
	@test -z "$$(gofmt -l . | tee /dev/stderr)" || (echo "gofmt: files above need formatting" && exit 1)
	go vet ./...

clean:
	rm -rf bin
