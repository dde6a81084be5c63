# rear-mdcontainer: IMSM/DDF firmware-RAID containers for Relax-and-Recover.
#
#   make install [DESTDIR=...] [PREFIX=/usr]   drop the plugin into ReaR's tree
#   make uninstall                             remove exactly what install put there
#   make test                                  unit, bats and VM tests (installs what it needs)
#   make demo                                  the main job, end to end, in a VM
#   make e2e                                   the end-to-end VM tests (mkbackup, rescue ISO, recover, boot)
#   make lint                                  ruff, shellcheck, bash -n
#   make deb / make rpm [DISTDIR=dist]         the rear-mdcontainer package (Debian / RPM, noarch)
#   make bench [BENCH="codegen ..."]           what the plugin costs, measured (not part of make test)
#   make stress                                races, power cuts, mdmon killed, in VMs (not part of make test)
#   make test-trixie                           the recording and dirty-disk VM scenarios on Debian trixie (issue #6)
#   make test-bullseye                         the same on Debian bullseye (ReaR 2.6, mdadm 4.1, Python 3.9)

PREFIX ?= /usr
DESTDIR ?=
SHAREDIR ?= $(PREFIX)/share/rear
# Where the Python package lives: under ReaR's share dir, so that ReaR copies it
# into the rescue image by itself (everything below /usr/share/rear is copied).
PYLIBDIR ?= $(SHAREDIR)/mdcontainer/python
# A .pth file here makes `python3 -m rear_mdcontainer` work on the host as well.
PYTHON_SITEDIR ?= $(PREFIX)/lib/python3/dist-packages
PYTHON ?= /usr/bin/python3
MANDIR ?= $(PREFIX)/share/man
PYTEST_ARGS ?=
# The one place the version is written; the packages take it from here.
VERSION := $(shell sed -n 's/^__version__ = "\(.*\)"$$/\1/p' pyhelpers/rear_mdcontainer/__init__.py)
# `make deb` / `make rpm` write their packages to DISTDIR and work in PKGBUILDDIR.
DISTDIR ?= dist
PKGBUILDDIR ?= build/packaging
# The VM tests dominate the run time: two VMs at a time with one emulated CPU each
# use both cores of a 2-core machine better than one VM with two (measured: a
# 1-CPU guest boots in 30 s, a 2-CPU guest in 44 s under TCG).
PYTEST_WORKERS ?= 2
export MDC_VM_CPUS ?= 1

# Files we install, relative to their source folders (no generated or cached files).
REAR_FILES := $(shell cd usr/share/rear && find . -type f \( -name '*.sh' -o -name '*.adoc' -o -name '*.conf' \) | sed 's|^\./||' | LC_ALL=C sort)
PLUGIN_LIB_FILES := $(shell cd rear-plugin/lib && find . -type f -name '*.sh' | sed 's|^\./||' | LC_ALL=C sort)
PY_FILES := $(shell cd pyhelpers && find rear_mdcontainer -type f \( -name '*.py' -o -name '*.j2' \) | LC_ALL=C sort)

.PHONY: all install uninstall test test-quick test-trixie test-bullseye deps lint demo e2e stress bench clean installed-files deb rpm pkg-source

all:
	@echo "Nothing to build. Try 'make install', 'make test' or 'make demo'."

install:
	@set -e; for f in $(REAR_FILES); do \
	    install -D -m 0644 "usr/share/rear/$$f" "$(DESTDIR)$(SHAREDIR)/$$f"; \
	done
	@set -e; for f in $(PLUGIN_LIB_FILES); do \
	    install -D -m 0644 "rear-plugin/lib/$$f" "$(DESTDIR)$(SHAREDIR)/lib/$$f"; \
	done
	@set -e; for f in $(PY_FILES); do \
	    install -D -m 0644 "pyhelpers/$$f" "$(DESTDIR)$(PYLIBDIR)/$$f"; \
	done
	install -d "$(DESTDIR)$(MANDIR)/man8"
	gzip -9n <doc/rear-mdcontainer.8 >"$(DESTDIR)$(MANDIR)/man8/rear-mdcontainer.8.gz"
	chmod 0644 "$(DESTDIR)$(MANDIR)/man8/rear-mdcontainer.8.gz"
	install -d "$(DESTDIR)$(PYTHON_SITEDIR)"
	echo "$(PYLIBDIR)" > "$(DESTDIR)$(PYTHON_SITEDIR)/rear_mdcontainer.pth"
	@echo "rear-mdcontainer installed below $(DESTDIR)$(SHAREDIR)"

# The list of every path install writes, for uninstall and for the packaging tests.
installed-files:
	@for f in $(REAR_FILES); do echo "$(SHAREDIR)/$$f"; done
	@for f in $(PLUGIN_LIB_FILES); do echo "$(SHAREDIR)/lib/$$f"; done
	@for f in $(PY_FILES); do echo "$(PYLIBDIR)/$$f"; done
	@echo "$(PYTHON_SITEDIR)/rear_mdcontainer.pth"
	@echo "$(MANDIR)/man8/rear-mdcontainer.8.gz"

uninstall:
	@set -e; $(MAKE) -s --no-print-directory installed-files | while read -r f; do \
	    rm -f "$(DESTDIR)$$f"; \
	done
	@find "$(DESTDIR)$(PYLIBDIR)" -name __pycache__ -type d -prune -exec rm -rf {} + 2>/dev/null || true
	@for d in $$(cd pyhelpers && find rear_mdcontainer -type d | LC_ALL=C sort -r); do \
	    rmdir "$(DESTDIR)$(PYLIBDIR)/$$d" 2>/dev/null || true; \
	done
	@rmdir "$(DESTDIR)$(PYLIBDIR)" "$(DESTDIR)$(SHAREDIR)/mdcontainer" 2>/dev/null || true
	@rm -f "$(DESTDIR)$(MANDIR)/man8/rear-mdcontainer.8"  # the name before install gzipped the man page
	@echo "rear-mdcontainer removed from $(DESTDIR)$(SHAREDIR)"

deps:
	@./tests/setup-deps.sh

lint: deps
	.venv/bin/ruff check pyhelpers tests
	shellcheck -s bash -S warning -e SC2034,SC2154,SC2168 $$(find usr/share/rear rear-plugin -name '*.sh')
	@for f in $$(find usr/share/rear rear-plugin tests -name '*.sh'); do bash -n "$$f" || exit 1; done

test: deps
	.venv/bin/python -m pytest tests -n $(PYTEST_WORKERS) --dist load --durations=15 $(PYTEST_ARGS)

# Everything but the VM tests: seconds, not minutes.
test-quick: deps
	.venv/bin/python -m pytest tests -m 'not vm' $(PYTEST_ARGS)

# --- packages ---------------------------------------------------------------------------
# Both build from a copy of exactly the files `make install` reads (PKGBUILDDIR/src),
# so what is packaged is the working tree, committed or not. Each run starts afresh.
PKG_NAME := rear-mdcontainer
PKG_SRC = $(PKGBUILDDIR)/src/$(PKG_NAME)-$(VERSION)
PKG_SOURCE_FILES = Makefile doc/rear-mdcontainer.8 $(addprefix usr/share/rear/,$(REAR_FILES)) \
	$(addprefix rear-plugin/lib/,$(PLUGIN_LIB_FILES)) $(addprefix pyhelpers/,$(PY_FILES))
# The date in the packages (debian/changelog, the tarball): SOURCE_DATE_EPOCH, else the last commit's.
PKG_EPOCH = $(or $(SOURCE_DATE_EPOCH),$(shell git log -1 --format=%ct 2>/dev/null),$(shell date +%s))
# rpmbuild checks BuildRequires against the rpm database, which is empty on Debian.
RPMBUILD_FLAGS ?= $(if $(shell rpm -q --quiet rpm 2>/dev/null && echo yes),,--nodeps)

pkg-source:
	@test -n "$(VERSION)" || { echo "no __version__ in pyhelpers/rear_mdcontainer/__init__.py" >&2; exit 1; }
	rm -rf "$(PKGBUILDDIR)/src"
	mkdir -p "$(PKG_SRC)"
	cp --parents $(PKG_SOURCE_FILES) "$(PKG_SRC)/"

deb: pkg-source
	./tests/setup-deps.sh deb
	rm -rf "$(PKGBUILDDIR)/deb"
	mkdir -p "$(PKGBUILDDIR)/deb" "$(DISTDIR)"
	cp -a "$(PKG_SRC)" "$(PKGBUILDDIR)/deb/"
	cp -a rear-plugin/packaging/debian "$(PKGBUILDDIR)/deb/$(PKG_NAME)-$(VERSION)/debian"
	@# debian/changelog carries the version: one entry, generated from VERSION.
	{ echo "$(PKG_NAME) ($(VERSION)) unstable; urgency=medium"; echo; \
	  echo "  * Built from the source tree; the git history has the changes."; echo; \
	  echo " -- $$(sed -n 's/^Maintainer: //p' rear-plugin/packaging/debian/control)  $$(date -R -u -d @$(PKG_EPOCH))"; \
	} >"$(PKGBUILDDIR)/deb/$(PKG_NAME)-$(VERSION)/debian/changelog"
	cd "$(PKGBUILDDIR)/deb/$(PKG_NAME)-$(VERSION)" && dpkg-buildpackage -b -us -uc
	cp "$(PKGBUILDDIR)/deb/$(PKG_NAME)_$(VERSION)_all.deb" "$(DISTDIR)/"
	@echo "$(DISTDIR)/$(PKG_NAME)_$(VERSION)_all.deb"

rpm: pkg-source
	./tests/setup-deps.sh rpm
	rm -rf "$(PKGBUILDDIR)/rpm"
	mkdir -p "$(PKGBUILDDIR)/rpm/SOURCES" "$(DISTDIR)"
	tar -C "$(PKGBUILDDIR)/src" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@$(PKG_EPOCH) \
	    -czf "$(PKGBUILDDIR)/rpm/SOURCES/$(PKG_NAME)-$(VERSION).tar.gz" "$(PKG_NAME)-$(VERSION)"
	rpmbuild -bb $(RPMBUILD_FLAGS) --define "_topdir $(abspath $(PKGBUILDDIR)/rpm)" \
	    --define "mdc_version $(VERSION)" rear-plugin/packaging/$(PKG_NAME).spec
	cp "$(PKGBUILDDIR)"/rpm/RPMS/noarch/$(PKG_NAME)-$(VERSION)-*.noarch.rpm "$(DISTDIR)/"
	@ls "$(DISTDIR)"/$(PKG_NAME)-$(VERSION)-*.noarch.rpm

demo: deps
	.venv/bin/python -m tests.vm.demo

# The end-to-end VM tests (BIOS with the dirty-disk variant, UEFI; MDC_E2E_VARIANTS="bios uefi bios-migrate"
# chooses), 45-100 VM minutes each on 2 cores: not in make test.
e2e: deps
	MDC_E2E=1 MDC_E2E_DIRTY=1 .venv/bin/python -m pytest tests/vm/test_e2e.py -s -p no:cacheprovider $(PYTEST_ARGS)

# Debian trixie (rear 2.7, mdadm 4.4, Python 3.13, kernel 6.12; issue #6): the test bed, the recording scenarios
# and the dirty-disk recovery in a trixie image (built on first use, ~4 min). make test runs them on bookworm, and
# its unit tests read both mdadm versions' fixtures. About 85 VM minutes one after another (measured).
TRIXIE_TESTS := tests/vm/test_testbed.py tests/vm/test_record.py \
	tests/vm/test_recover.py::test_recover_dirty_disks_assembled_at_boot
test-trixie: deps
	MDC_VM_SUITE=trixie .venv/bin/python -m pytest $(TRIXIE_TESTS) -n $(PYTEST_WORKERS) --dist load \
	    -p no:cacheprovider --durations=0 $(PYTEST_ARGS)

# Debian bullseye: the oldest versions the plugin supports (ReaR 2.6, mdadm 4.1, Python 3.9, jinja2 2.11,
# plumbum 1.6.9, kernel 5.10), the same VM tests as for trixie; the image boots bullseye's own initramfs
# (its klibc has no insmod for the test initramfs).
test-bullseye: deps
	MDC_VM_SUITE=bullseye .venv/bin/python -m pytest $(TRIXIE_TESTS) -n $(PYTEST_WORKERS) --dist load \
	    -p no:cacheprovider --durations=0 $(PYTEST_ARGS)

# Robustness in VMs (issue #7): 20 recoveries racing udev on dirty disks, power cuts at each step of the
# generated code, mdmon killed (tests/vm/test_stress.py; 2 hours and more under TCG: not in make test).
# MDC_STRESS_RUNS= changes the number of race runs, MDC_STRESS_FIRST= the number of the first (two sessions
# at once: MDC_STRESS_RUNS=10 and MDC_STRESS_RUNS=10 MDC_STRESS_FIRST=10 share the 20 runs).
stress: deps
	MDC_STRESS=1 .venv/bin/python -m pytest tests/vm/test_stress.py -s -p no:cacheprovider $(PYTEST_ARGS)

# Overheads measured side by side (issues #3, #7), a benchmark, not a test: BENCH= chooses parts out of
# savelayout recreate rescue codegen (default all: VMs one after another, 1.5-2 hours; results in
# tests/bench/results.txt); BENCH=codegen runs on the host only, in under a minute.
BENCH ?=
bench: deps
	.venv/bin/python -m tests.bench.bench $(BENCH)

clean:
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
	rm -rf .pytest_cache build/packaging dist
