# Packaging (included by the Makefile): `make deb` builds the Debian package with Debian's own
# tools (debian/: debhelper compat 13, dpkg-buildpackage) from a copy of the tree in
# PKG_DIR/src, so the package build's `debian/rules clean` never touches build/, and checks it
# with lintian (any error or warning fails; debian/*.lintian-overrides say why one is not a
# fault).  The .deb, its -dbgsym and the .changes land in PKG_DIR.  docs/testing.md,
# test_deb.sh.

PKG_DIR ?= build-pkg
# dpkg-buildpackage, debhelper, fakeroot and lintian for `make deb`; mmdebstrap for test_deb
# (a fresh Debian root); ansible-core for test_ansible (docs/examples/ansible).
DEPS    += dpkg-dev debhelper fakeroot lintian mmdebstrap ansible-core

DEB_VERSION = $(shell dpkg-parsechangelog -l debian/changelog -S Version)
DEB_ARCH    = $(shell dpkg --print-architecture)
DEB_FILE    = $(PKG_DIR)/warren_$(DEB_VERSION)_$(DEB_ARCH).deb

.PHONY: deb pkg-clean
deb: deps
	$(Q)rm -rf $(PKG_DIR) && mkdir -p $(PKG_DIR)/src
	$(Q)tar -C $(CURDIR) --exclude=./.git --exclude='./build*' --exclude=./$(PKG_DIR) \
		--exclude=./tests/integration/cache -cf - . | tar -C $(PKG_DIR)/src -xf -
	@echo "  DEB     $(DEB_FILE)"
	$(Q)cd $(PKG_DIR)/src && dpkg-buildpackage -us -uc -b -rfakeroot -j2 \
		>../dpkg-buildpackage.log 2>&1 || { tail -n 30 ../dpkg-buildpackage.log; exit 1; }
	@echo "  LINTIAN $(DEB_FILE)"
	$(Q)lintian --fail-on error,warning --info $(PKG_DIR)/warren_$(DEB_VERSION)_$(DEB_ARCH).changes

clean: pkg-clean
pkg-clean:
	rm -rf $(PKG_DIR)
