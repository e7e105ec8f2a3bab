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

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

# The main job on the embedded demo store (./Stores): the KB 4495258 situation.
demo: build
	$(SWIFT) run -q certstore list --property thumbprint,hasprivatekey,friendlyname,subject

test: deps
	$(SWIFT) test

clean:
	rm -rf .build
