# certstore — the two commands a newcomer needs are `make demo` and `make test`.
PREFIX ?= /usr/local
SWIFT ?= swift
DEPS := libssl-dev openssl pkg-config groff-base

.PHONY: deps demo test build release clean

# Debian packages the build and the tests need; installs only what is missing.
deps:
	@missing=""; for p in $(DEPS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else echo "installing:$$missing (needs root)"; sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; fi; \
	fi
	@# The audit tests validate the Prometheus output with the reference parser.
	@# pip where the interpreter allows it; Debian's own python3 refuses pip (PEP 668) and takes the package.
	@python3 -c 'import prometheus_client' 2>/dev/null || python3 -m pip install -q --disable-pip-version-check prometheus-client 2>/dev/null \
	  || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq python3-prometheus-client || sudo apt-get install -y -qq python3-prometheus-client; }

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

# The main job on the embedded demo store (./Stores): the pre-flight audit finds the KB 4495258 failure.
# git does not keep file modes, so a fresh clone's demo keys are 0644: give them the modes certstore writes.
# The audit exits 2 (CRITICAL) on the demo store, which is the point; any other failure stops make.
demo: build
	@chmod 700 Stores/LocalMachine/Keys && chmod 600 Stores/LocalMachine/Keys/*.key
	@$(SWIFT) run -q certstore audit || { status=$$?; [ $$status -eq 2 ] && echo "(exit status 2: CRITICAL, as expected on the demo store)"; }

test: deps
	$(SWIFT) test

clean:
	rm -rf .build
