# LocalRouter — `make run` starts the gateway, `make test` runs every test.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
DATE    ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)
ARGS    ?=
# pipefail in the test recipe needs bash.
SHELL   := /bin/bash
# How long make fuzz explores each target.
FUZZTIME ?= 30s
# Go minimizes every new input it finds for up to a minute by default: a slow
# target then spends its whole budget minimizing instead of searching (60 s of
# config:FuzzParse from a cold cache: 14,020 execs so, 653,019 with 1s).
FUZZMINTIME ?= 1s

# Every fuzz target in the tree (providers/makefile_test.go fails when one is
# missing): everything that parses untrusted bytes, such as requests, upstream
# streams and answers, the config file, strategy rules.
FUZZ := ./config/clients:FuzzEdit ./providers:FuzzParseRequest ./providers:FuzzDuplicateKeys ./providers:FuzzScanMessages ./providers:FuzzScanResponses ./providers:FuzzScanInputs \
	./providers:FuzzWithModel ./providers:FuzzFindUsage ./providers:FuzzFactsRuneCount \
	./providers:FuzzAppendJSONString ./providers:FuzzUnquote ./providers:FuzzDecode ./providers:FuzzLineReader ./providers:FuzzMembers \
	./providers/sse:FuzzReader ./providers/sse:FuzzReaderMultiline ./providers/sse:FuzzReaderLimits \
	./providers/anthropic:FuzzStream ./providers/anthropic:FuzzConvertRequest \
	./providers/anthropic:FuzzToChatRequest ./providers/anthropic:FuzzChatToMessagesStream \
	./providers/anthropic:FuzzEncodeRequest ./providers/google:FuzzEncodeRequest \
	./providers/openai:FuzzResponsesToChat ./providers/openai:FuzzChatToResponsesStream ./providers/openai:FuzzToMistralFIM ./providers/openai:FuzzMistralFIM \
	./providers/google:FuzzStream ./providers/google:FuzzConvertRequest ./providers/google:FuzzResponse ./providers/google:FuzzEmbeddingsRequest \
	./providers/ollama:FuzzScanChat ./providers/ollama:FuzzChatToChat ./providers/ollama:FuzzGenerate ./providers/ollama:FuzzNDJSONStream \
	./providers/ollama:FuzzCompletionStream ./providers/ollama:FuzzEmbed ./providers/ollama:FuzzAnswers \
	./providers:FuzzSecretScan ./config:FuzzParse ./strategy:FuzzRuleCompile .:FuzzLineHandler

.PHONY: build build-mock run test fuzz bench lint clean

build:
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o bin/localrouter .

build-mock:
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS) -X main.defaultMock=true" -o bin/localrouter-mock .

run: build
	./bin/localrouter $(ARGS)

# Deterministic: plain go test replays each fuzz target's seed corpus (its
# f.Add inputs and testdata/fuzz) as ordinary tests and searches nothing, so
# the result never depends on what a random search happens to find. CI reads
# the closing "N passed, N failed" line.
test:
	@log=$$(mktemp); set -o pipefail; \
	go test -race -count=1 -v ./... 2>&1 | tee $$log; status=$$?; \
	echo "$$(grep -c -- '--- PASS' $$log) passed, $$(grep -c -- '--- FAIL' $$log) failed"; \
	rm -f $$log; exit $$status

# Explores every target for FUZZTIME (make fuzz FUZZTIME=5m for a long run).
# go test writes an input that fails to the package's testdata/fuzz/<Target>/,
# where plain go test replays it from then on: this lists the new ones, keeps
# them, and goes on with the other targets; fix the bug, then commit them.
fuzz:
	@failed=; for t in $(FUZZ); do \
		pkg=$${t%%:*}; name=$${t#*:}; dir=$$pkg/testdata/fuzz/$$name; \
		before=$$(ls -1 $$dir 2>/dev/null); \
		echo "fuzz $$name in $$pkg for $(FUZZTIME)"; \
		go test -run '^$$' -fuzz "^$$name$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINTIME) $$pkg || \
			failed="$$failed $$t"; \
		for f in $$(ls -1 $$dir 2>/dev/null | grep -vxF -e "$$before"); do \
			echo "fuzz $$name: new input $$dir/$$f"; \
		done; \
	done; \
	if [ -n "$$failed" ]; then \
		echo "fuzz failed:$$failed (the inputs above are kept: fix the bug, then commit them)"; exit 1; \
	fi; echo "fuzz: every target passed"

bench:
	go test -run '^$$' -bench . -benchmem -count 1 ./proxy/ ./providers/...

lint:
	@test -z "$$(gofmt -l . | tee /dev/stderr)" || (echo "gofmt: files above need formatting" && exit 1)
	go vet ./...

clean:
	rm -rf bin

# ---- Packaging: release archives, desktop install, Docker (see packaging/) ----

.PHONY: dist install uninstall docker desktop-validate

# The version stamped into the binaries also names the archives (read from
# LDFLAGS, so both agree even if the tree changes during a build).
DIST_VERSION := $(patsubst main.version=%,%,$(filter main.version=%,$(LDFLAGS)))
DIST_DOCS    := LICENSE README.md README_zh.md docs
ICON_SIZES   := 16 24 32 48 64 128 256 512
# go-winres embeds the icon, manifest and version info in the Windows .exe.
GOWINRES     ?= go run github.com/tc-hib/go-winres@v0.3.3
WINDOWS_CC   ?= x86_64-w64-mingw32-gcc
# Windows version resources are numeric: v1.2.3-4-gabc → 1.2.3, untagged → 0.0.0.
WINVER = $(or $(shell printf '%s\n' '$(DIST_VERSION)' | sed -n 's/^v\{0,1\}\([0-9]\{1,\}\(\.[0-9]\{1,\}\)\{1,3\}\)\([-+].*\)\{0,1\}$$/\1/p'),0.0.0)
PREFIX  ?= $(HOME)/.local
DESTDIR ?=
BIN     ?=
IMAGE   ?= localrouter

# Copies the desktop entry, the icons and the systemd user unit under $(1)/share.
share-files = install -Dm644 packaging/linux/localrouter.desktop $(1)/share/applications/localrouter.desktop && \
	for s in $(ICON_SIZES); do \
		install -Dm644 packaging/linux/icons/hicolor/$${s}x$${s}/apps/localrouter.png \
			$(1)/share/icons/hicolor/$${s}x$${s}/apps/localrouter.png || exit 1; \
	done && \
	install -Dm644 packaging/linux/localrouter.service $(1)/share/systemd/user/localrouter.service

# dist/localrouter_<version>_linux_{amd64,arm64}.tar.gz and _windows_amd64.zip,
# each with the binary, LICENSE, the READMEs and docs/ (the Linux ones also share/:
# desktop entry, icons, systemd user unit), and dist/SHA256SUMS. Linux builds
# are static (CGO_ENABLED=0; the tray talks D-Bus in pure Go); the Windows
# build is a GUI-subsystem .exe with cgo (mingw-w64) and embedded resources.
dist:
	rm -rf dist
	@set -e; for arch in amd64 arm64; do \
		name=localrouter_$(DIST_VERSION)_linux_$$arch; d=dist/$$name; \
		echo "dist: $$name"; \
		CGO_ENABLED=0 GOOS=linux GOARCH=$$arch go build -trimpath -ldflags "$(LDFLAGS)" -o $$d/localrouter . ; \
		cp -r $(DIST_DOCS) $$d/; \
		$(call share-files,$$d); \
		tar -C dist --sort=name --owner=0 --group=0 --numeric-owner -czf $$d.tar.gz $$name; \
		rm -rf $$d; \
	done
	@set -e; name=localrouter_$(DIST_VERSION)_windows_amd64; d=dist/$$name; \
	echo "dist: $$name"; \
	trap 'rm -f rsrc_windows_amd64.syso' EXIT; \
	$(GOWINRES) make --in packaging/windows/winres.json --arch amd64 --out rsrc \
		--file-version '$(WINVER)' --product-version '$(WINVER) ($(DIST_VERSION))'; \
	CGO_ENABLED=1 CC=$(WINDOWS_CC) GOOS=windows GOARCH=amd64 \
		go build -trimpath -ldflags "$(LDFLAGS) -H windowsgui" -o $$d/localrouter.exe . ; \
	rm -f rsrc_windows_amd64.syso; \
	cp -r $(DIST_DOCS) $$d/; \
	(cd dist && rm -f $$name.zip && zip -qr $$name.zip $$name); \
	rm -rf $$d
	cd dist && sha256sum *.tar.gz *.zip > SHA256SUMS && sha256sum -c SHA256SUMS
	@set -e; arch=$$(go env GOHOSTARCH); name=localrouter_$(DIST_VERSION)_linux_$$arch; \
	if [ -f dist/$$name.tar.gz ] && [ "$$(go env GOHOSTOS)" = linux ]; then \
		tmp=$$(mktemp -d); tar -C $$tmp -xzf dist/$$name.tar.gz; \
		out=$$($$tmp/$$name/localrouter --version); rm -rf $$tmp; echo "dist: $$out"; \
		case "$$out" in "localrouter $(DIST_VERSION) (commit "*) ;; \
		*) echo "dist: the binary is not stamped with $(DIST_VERSION)" >&2; exit 1 ;; esac; \
	fi
	@ls -l dist

# Desktop install for the current user (Linux): the binary, the desktop entry,
# the icons and the systemd user unit under $(PREFIX). BIN=path installs a
# binary built elsewhere instead of running make build.
install: $(if $(BIN),,build)
	install -Dm755 $(or $(BIN),bin/localrouter) '$(DESTDIR)$(PREFIX)/bin/localrouter'
	$(call share-files,'$(DESTDIR)$(PREFIX)')
	sed -i -e 's|^Exec=localrouter|Exec=$(PREFIX)/bin/localrouter|' -e 's|^TryExec=localrouter|TryExec=$(PREFIX)/bin/localrouter|' \
		'$(DESTDIR)$(PREFIX)/share/applications/localrouter.desktop'
	sed -i -e 's|%h/.local/bin/localrouter|$(PREFIX)/bin/localrouter|' '$(DESTDIR)$(PREFIX)/share/systemd/user/localrouter.service'
	@echo "installed LocalRouter under $(DESTDIR)$(PREFIX): start it from the application menu (it lives in the tray),"
	@echo "or headless: systemctl --user daemon-reload && systemctl --user enable --now localrouter"

# Removes what make install put under $(PREFIX), and the directories it leaves
# empty; the config (~/.config/localrouter) and the cache stay.
uninstall:
	@unit='$(DESTDIR)$(PREFIX)/share/systemd/user/localrouter.service'; \
	if [ -f "$$unit" ] && command -v systemctl >/dev/null 2>&1 && \
		[ "$$(systemctl --user show -p FragmentPath --value localrouter.service 2>/dev/null)" = "$$unit" ]; then \
		systemctl --user disable --now localrouter.service || true; \
	fi
	rm -f '$(DESTDIR)$(PREFIX)/bin/localrouter' \
		'$(DESTDIR)$(PREFIX)/share/applications/localrouter.desktop' \
		'$(DESTDIR)$(PREFIX)/share/systemd/user/localrouter.service' \
		$(foreach s,$(ICON_SIZES),'$(DESTDIR)$(PREFIX)/share/icons/hicolor/$(s)x$(s)/apps/localrouter.png')
	@for d in $(foreach s,$(ICON_SIZES),share/icons/hicolor/$(s)x$(s)/apps share/icons/hicolor/$(s)x$(s)) \
		share/icons/hicolor share/icons share/applications share/systemd/user share/systemd share bin; do \
		rmdir '$(DESTDIR)$(PREFIX)'/$$d 2>/dev/null || true; \
	done

# The headless image (packaging/Dockerfile); needs a running Docker engine.
docker:
	docker build -f packaging/Dockerfile -t $(IMAGE):$(DIST_VERSION) -t $(IMAGE):latest \
		--build-arg VERSION=$(DIST_VERSION) --build-arg COMMIT=$(COMMIT) --build-arg DATE=$(DATE) .

desktop-validate:
	desktop-file-validate packaging/linux/localrouter.desktop
