# certstore — the two commands a newcomer needs are `make demo` and `make test`.
PREFIX ?= /usr/local
SWIFT ?= swift
DEPS := libssl-dev libjemalloc-dev openssl pkg-config groff-base mandoc

.PHONY: deps dist-deps mail-deps service-deps acme-deps demo test test-dist build release clean install uninstall docs

BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
SYSTEMDDIR ?= $(PREFIX)/lib/systemd/system
STORE_ROOT ?= /var/lib/certstore
TEXTFILE_DIR ?= /var/lib/prometheus/node-exporter

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

# The real daemons the end-to-end tests run on loopback (a private instance each; the system's own never start):
# postfix (PostfixTests, the diagnose tests), dovecot (IMAP/POP3, doveconf), and what the service-config tests
# validate their output with: postconf, doveconf, apache2 -t, haproxy -c and exim -bP. Debian's postfix is installed
# unconfigured ("No configuration") so the machine's own mail setup is not touched. exim4 would replace postfix as
# Debian's MTA, so its daemon package is unpacked into .build-deps/exim4, never installed, with the libraries it links
# and the Debian-exim account its binary looks up (not setuid: the tests run it as root). A policy-rc.d keeps the
# installed services from starting, and the ones installed here are disabled again.
SERVICE_DEPS := postfix dovecot-core dovecot-imapd dovecot-pop3d apache2 haproxy
EXIM_LIBS := libgnutls30 libgnutls-dane0 libidn12 libidn2-0 libnsl2 libpcre2-8-0 libdb5.3 libcrypt1
EXIM := .build-deps/exim4/usr/sbin/exim4

# mail-deps is the older name of the same target.
mail-deps: service-deps
service-deps: $(EXIM)
	@missing=""; for p in $(SERVICE_DEPS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  sudo=""; [ "$$(id -u)" = 0 ] || { sudo=sudo; echo "installing:$$missing (needs root)"; }; \
	  echo "postfix postfix/main_mailer_type select No configuration" | $$sudo debconf-set-selections; \
	  policy=/usr/sbin/policy-rc.d; added=""; \
	  if [ ! -e $$policy ]; then printf '#!/bin/sh\nexit 101\n' | $$sudo tee $$policy >/dev/null && $$sudo chmod 755 $$policy && added=1; fi; \
	  $$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; status=$$?; \
	  if [ -n "$$added" ]; then $$sudo rm -f $$policy; fi; \
	  [ $$status -eq 0 ] || exit $$status; \
	  for unit in postfix dovecot apache2 haproxy; do case " $$missing " in *" $$unit"*) \
	    $$sudo systemctl disable --now $$unit >/dev/null 2>&1 || true;; esac; done; \
	fi

$(EXIM):
	@sudo=""; [ "$$(id -u)" = 0 ] || sudo=sudo; \
	missing=""; for p in $(EXIM_LIBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then $$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing || exit 1; fi; \
	getent passwd Debian-exim >/dev/null || $$sudo useradd --system --user-group --no-create-home --home-dir /nonexistent \
	  --shell /usr/sbin/nologin Debian-exim || exit 1; \
	rm -rf .build-deps/exim4 .build-deps/exim4-deb && mkdir -p .build-deps/exim4-deb && \
	(cd .build-deps/exim4-deb && apt-get download exim4-daemon-light 2>/dev/null || { $$sudo apt-get update -qq && apt-get download exim4-daemon-light; }) && \
	dpkg -x .build-deps/exim4-deb/exim4-daemon-light_*.deb .build-deps/exim4 && rm -rf .build-deps/exim4-deb && \
	chmod u-s $(EXIM) && \
	$(EXIM) -C /dev/null -bV >/dev/null 2>&1 || { echo "$(EXIM) does not run"; $(EXIM) -C /dev/null -bV; exit 1; }

# The ACME tests (Tests/EndToEndTests/ACMETests.swift) run Debian's pebble (2.4.0: `pebble`, a test ACME server, and
# `pebble-challtestsrv`, its DNS) on loopback with free ports; the package has no service to start. certbot (2.1) is
# run against it by CertbotPebbleTests (its deploy hook is dist/certbot/deploy-hook), curl fetches Pebble's root.
ACME_DEPS := pebble certbot curl

acme-deps:
	@missing=""; for p in $(ACME_DEPS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  sudo=""; [ "$$(id -u)" = 0 ] || { sudo=sudo; echo "installing:$$missing (needs root)"; }; \
	  $$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# What the distribution tests (Tests/dist: the Ansible collection, the Prometheus rules, a real node_exporter and
# Prometheus on loopback) need: Debian's prometheus (with promtool) and prometheus-node-exporter, and a virtualenv
# with ansible-core and pytest. Debian starts services on install: a policy-rc.d keeps them from starting, and
# the ones installed here are disabled again (the tests start their own, on loopback, and stop them).
DIST_DEPS := prometheus prometheus-node-exporter python3-venv
DIST_VENV := .build-dist/venv
ANSIBLE_CORE := ansible-core>=2.19,<2.20
ANSIBLE_GALAXY := $(or $(shell command -v ansible-galaxy 2>/dev/null),$(DIST_VENV)/bin/ansible-galaxy)

dist-deps: $(DIST_VENV)/bin/ansible-galaxy
	@missing=""; for p in $(DIST_DEPS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  sudo=""; [ "$$(id -u)" = 0 ] || { sudo=sudo; echo "installing:$$missing (needs root)"; }; \
	  policy=/usr/sbin/policy-rc.d; added=""; \
	  if [ ! -e $$policy ]; then printf '#!/bin/sh\nexit 101\n' | $$sudo tee $$policy >/dev/null && $$sudo chmod 755 $$policy && added=1; fi; \
	  $$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; status=$$?; \
	  if [ -n "$$added" ]; then $$sudo rm -f $$policy; fi; \
	  [ $$status -eq 0 ] || exit $$status; \
	  for unit in prometheus prometheus-node-exporter; do case " $$missing " in *" $$unit "*) \
	    $$sudo systemctl disable --now $$unit >/dev/null 2>&1 || true;; esac; done; \
	fi

$(DIST_VENV)/bin/ansible-galaxy:
	@dpkg -s python3-venv >/dev/null 2>&1 || python3 -c 'import ensurepip' 2>/dev/null || \
	  { [ "$$(id -u)" = 0 ] && apt-get install -y -qq python3-venv || sudo apt-get install -y -qq python3-venv; }
	python3 -m venv $(DIST_VENV)
	$(DIST_VENV)/bin/python -m pip install -q --disable-pip-version-check '$(ANSIBLE_CORE)' pytest pyyaml

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

# The main job on the embedded demo store (./Stores): the pre-flight audit finds the KB 4495258 failure.
# git does not keep file modes, so a fresh clone's demo keys are 0644: give them the modes certstore writes.
# The audit exits 2 (CRITICAL) on the demo store, which is the point; any other failure stops make.
demo: build
	@chmod 700 Stores/LocalMachine/Keys && chmod 600 Stores/LocalMachine/Keys/*.key Stores/LocalMachine/Services/*/v*/privkey.pem
	@$(SWIFT) run -q certstore audit || { status=$$?; [ $$status -eq 2 ] && echo "(exit status 2: CRITICAL, as expected on the demo store)"; }

# The Swift suites, then the distribution tests (pytest, Tests/dist; see docs/ARCHITECTURE.md). Either failing fails.
test: deps dist-deps service-deps acme-deps
	$(SWIFT) test
	$(MAKE) --no-print-directory test-dist

test-dist: dist-deps
	$(SWIFT) build --product certstore
	cd Tests/dist && PATH="$(CURDIR)/$(DIST_VENV)/bin:$$PATH" CERTSTORE_BIN="$(CURDIR)/.build/debug/certstore" \
	  timeout 1800 "$(CURDIR)/$(DIST_VENV)/bin/python" -m pytest -v -p no:cacheprovider --durations=5 .

# The library's DocC catalogue (Sources/CertStore/CertStore.docc); a warning (an unresolved link, an undocumented
# parameter) fails the build. The archive lands in .build/plugins/Swift-DocC/outputs/CertStore.doccarchive.
docs: deps
	$(SWIFT) package generate-documentation --target CertStore --warnings-as-errors

# Binary, man page, bash/zsh/fish completions (generated by swift-argument-parser) and the audit timer.
install: release $(ANSIBLE_GALAXY)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(SYSTEMDDIR) \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions $(DESTDIR)$(PREFIX)/share/zsh/site-functions \
	  $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	install -m 755 .build/release/certstore $(DESTDIR)$(BINDIR)/certstore
	install -m 644 man/certstore.1 $(DESTDIR)$(MANDIR)/man1/certstore.1
	.build/release/certstore --generate-completion-script bash > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/certstore
	.build/release/certstore --generate-completion-script zsh > $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_certstore
	.build/release/certstore --generate-completion-script fish > $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/certstore.fish
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@STORE_ROOT@|$(STORE_ROOT)|g' -e 's|@TEXTFILE_DIR@|$(TEXTFILE_DIR)|g' \
	  dist/systemd/certstore-audit.service.in > $(DESTDIR)$(SYSTEMDDIR)/certstore-audit.service
	install -m 644 dist/systemd/certstore-audit.timer $(DESTDIR)$(SYSTEMDDIR)/certstore-audit.timer
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@STORE_ROOT@|$(STORE_ROOT)|g' \
	  dist/systemd/certstore-acme-renew.service.in > $(DESTDIR)$(SYSTEMDDIR)/certstore-acme-renew.service
	install -m 644 dist/systemd/certstore-acme-renew.timer $(DESTDIR)$(SYSTEMDDIR)/certstore-acme-renew.timer
	install -d $(DESTDIR)$(PREFIX)/share/certstore/prometheus $(DESTDIR)$(PREFIX)/share/certstore/ansible
	install -m 644 dist/prometheus/certstore.rules.yml $(DESTDIR)$(PREFIX)/share/certstore/prometheus/certstore.rules.yml
	install -d $(DESTDIR)$(PREFIX)/share/certstore/certbot
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@DATADIR@|$(PREFIX)/share/certstore|g' \
	  dist/certbot/deploy-hook.in > $(DESTDIR)$(PREFIX)/share/certstore/certbot/deploy-hook
	chmod 755 $(DESTDIR)$(PREFIX)/share/certstore/certbot/deploy-hook
	$(ANSIBLE_GALAXY) collection build dist/ansible --force --output-path $(DESTDIR)$(PREFIX)/share/certstore/ansible >/dev/null
	@echo "installed under $(DESTDIR)$(PREFIX); enable the audit timer with: systemctl enable --now certstore-audit.timer"

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/certstore $(DESTDIR)$(MANDIR)/man1/certstore.1 \
	  $(DESTDIR)$(PREFIX)/share/bash-completion/completions/certstore $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_certstore \
	  $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/certstore.fish \
	  $(DESTDIR)$(SYSTEMDDIR)/certstore-audit.service $(DESTDIR)$(SYSTEMDDIR)/certstore-audit.timer \
	  $(DESTDIR)$(SYSTEMDDIR)/certstore-acme-renew.service $(DESTDIR)$(SYSTEMDDIR)/certstore-acme-renew.timer \
	  $(DESTDIR)$(PREFIX)/share/certstore/prometheus/certstore.rules.yml \
	  $(DESTDIR)$(PREFIX)/share/certstore/certbot/deploy-hook \
	  $(DESTDIR)$(PREFIX)/share/certstore/ansible/certstore-store-*.tar.gz

clean:
	rm -rf .build
