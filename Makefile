# guestprep: two commands set up everything on a fresh Debian machine.
#   make demo   install what is missing, build, plan the bundled sample guest, show the diff
#   make test   install what is missing, build, run every test
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Debian packages the build, the tests, the demo and the benchmark need. netplan.io only gives
# the tests `netplan generate` to check netplan output with (its generator writes nothing while
# /etc/netplan is empty); ifupdown is left out on purpose: its postinst enables networking.service.
# rpm gives the kernel-prune tests rpmbuild and rpm --root. grub-pc-bin gives the boot-loader tests
# GRUB's real boot.img (it and grub-common only add files: no /etc/default/grub, no boot loader
# installed, no service enabled); mtools fills ESP images.
DEBIAN_PACKAGES := pkg-config libblkid-dev libudev-dev libmount-dev util-linux mount fdisk e2fsprogs dosfstools cryptsetup-bin diffutils patch time bc python3 python3-jsonschema busybox-static dnsmasq-base isc-dhcp-client netplan.io rpm grub-pc-bin mtools
# The initramfs reader links the four compressors kernels use; cpio, xz-utils, zstd and lz4 make test images.
DEBIAN_PACKAGES += zlib1g-dev liblzma-dev libzstd-dev liblz4-dev cpio xz-utils zstd lz4
SWIFT_BUILD_FLAGS ?=
# A module that imports another it does not declare in Package.swift fails the build.
IMPORT_CHECK := --explicit-target-dependency-import-check error
DEMO_DIR := .demo
# Tools the tests run but that must not be installed on this machine.
TOOLS_DIR := .build/tools
# The sample guest's NIC as the source hypervisor would report it (offline, no config names its MAC).
DEMO_NIC := enp1s0=52:54:00:6b:3c:58

.PHONY: help deps build debug demo test test-debian-initramfs bench fmt clean

help:
	@echo "make demo   - build and run 'guestprep plan' on the bundled sample guest"
	@echo "make test   - build and run every test"
	@echo "make build  - release binary with the Swift runtime linked in (.build/release/guestprep)"
	@echo "make test-debian-initramfs - debootstrap a Debian root (cached) and test initramfs-drivers, media-repos and kernel-prune on it"
	@echo "make bench  - time 'guestprep plan' on generated guests of growing size"
	@echo "make fmt    - format the sources with swift-format"

deps:
	@missing=""; for p in $(DEBIAN_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@# ifquery checks the ifupdown files tests write; ifupdown is unpacked, not installed, because
	@# its postinst would enable networking.service on this machine.
	@if [ ! -x $(TOOLS_DIR)/ifupdown/sbin/ifquery ]; then \
	  mkdir -p $(TOOLS_DIR) && cd $(TOOLS_DIR) && rm -f ifupdown_*.deb && \
	  { apt-get download ifupdown >/dev/null 2>&1 && dpkg-deb -x ifupdown_*.deb ifupdown && echo "Unpacked ifupdown's ifquery into $(TOOLS_DIR)"; } \
	  || echo "note: could not download ifupdown; tests will not validate with ifquery"; \
	fi
	@# The lvm.conf Debian ships, which the lvm-identity tests round-trip; unpacked, not installed,
	@# because lvm2's postinst enables its monitoring services on this machine.
	@if [ ! -f $(TOOLS_DIR)/lvm2/etc/lvm/lvm.conf ]; then \
	  mkdir -p $(TOOLS_DIR) && cd $(TOOLS_DIR) && rm -f lvm2_*.deb && \
	  { apt-get download lvm2 >/dev/null 2>&1 && dpkg-deb -x lvm2_*.deb lvm2 && echo "Unpacked lvm2's lvm.conf into $(TOOLS_DIR)"; } \
	  || echo "note: could not download lvm2; the shipped lvm.conf is not round-tripped"; \
	fi

debug: deps
	swift build $(IMPORT_CHECK) $(SWIFT_BUILD_FLAGS) 2>&1 | tee .build-log.txt; test $${PIPESTATUS[0]} = 0
	@scripts/check-warnings .build-log.txt

# One binary that needs only glibc, libblkid.so.1, libudev.so.1 and libmount.so.1 (which brings
# libselinux and libpcre2 on Debian, as mount(8) itself does), plus libz, liblzma, libzstd and liblz4 for
# reading initramfs images (each in every Debian/RHEL base system) on the guest: the Swift
# runtime is linked in, and so is libstdc++ (Foundation's ICU is C++), by putting a directory
# holding only libstdc++.a first on the library path, so the runtime's own -lstdc++ finds it.
STATIC_CXX_DIR := .build/static-libstdcxx
build: deps
	mkdir -p $(STATIC_CXX_DIR) && ln -sf "$$(gcc -print-file-name=libstdc++.a)" $(STATIC_CXX_DIR)/libstdc++.a
	swift build -c release --static-swift-stdlib -Xlinker -L$(CURDIR)/$(STATIC_CXX_DIR) \
	  -Xswiftc -Xclang-linker -Xswiftc -static-libgcc $(SWIFT_BUILD_FLAGS)
	@bin=$$(swift build -c release --show-bin-path)/guestprep; \
	  echo "Built $$bin, which needs:"; ldd "$$bin" | sed 's/^/  /'; \
	  if ldd "$$bin" | grep -vE 'linux-vdso|ld-linux|libc\.so|libm\.so|libblkid\.so|libudev\.so|libmount\.so|libselinux\.so|libpcre2-8\.so|libz\.so|liblzma\.so|libzstd\.so|liblz4\.so' | grep -q .; then \
	    echo "error: the release binary needs libraries beyond glibc, libblkid, libudev, libmount and the four compressors" >&2; exit 1; fi

demo: debug
	scripts/make-sample-guest $(DEMO_DIR)
	@echo
	@echo "$$ guestprep plan --root $(DEMO_DIR)/root --disk vda=$(DEMO_DIR)/vda.img --disk vdb=$(DEMO_DIR)/vdb.img --nic $(DEMO_NIC)"
	@$$(swift build --show-bin-path)/guestprep plan --root $(DEMO_DIR)/root --disk vda=$(DEMO_DIR)/vda.img --disk vdb=$(DEMO_DIR)/vdb.img --nic $(DEMO_NIC)

test: deps
	swift build --build-tests $(IMPORT_CHECK) $(SWIFT_BUILD_FLAGS) 2>&1 | tee .build-log.txt; test $${PIPESTATUS[0]} = 0
	@scripts/check-warnings .build-log.txt
	swift test --skip-build $(SWIFT_BUILD_FLAGS)

# Opt-in (not part of `make test`): debootstraps a Debian root with linux-image-amd64 and
# initramfs-tools into /var/cache/guestprep-tests (about nine minutes, needs a Debian mirror) and
# runs initramfs-drivers against images update-initramfs builds. Once cached, `make test` runs it too.
test-debian-initramfs: deps
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap
	swift build --build-tests $(IMPORT_CHECK) $(SWIFT_BUILD_FLAGS)
	GUESTPREP_DEBOOTSTRAP=1 swift test --skip-build --filter "DebianInitramfsTests|DebianPackageSourcesTests" $(SWIFT_BUILD_FLAGS)

bench: build
	scripts/bench $$(swift build -c release --show-bin-path)/guestprep

fmt:
	swift format --in-place --recursive --configuration .swift-format Sources Tests Package.swift

clean:
	rm -rf .build $(DEMO_DIR) .build-log.txt
