# Preview Switch: the one entry point for people and CI. Each target is a line or two; the
# logic lives in Rust (the companion) or in scripts/.
CARGO ?= cargo
BIN := target/release/preview-switch
# The Node.js 20 that `make setup` installs when the system's is older (Debian 12's is 18).
export PATH := $(CURDIR)/.tools/node/bin:$(PATH)

.PHONY: setup setup-wasm build build-extension run test test-wasm test-e2e lint-firefox lint fmt bench fuzz soak dist dist-check crx install uninstall clean install-host-% completions

## setup: install what building and testing needs (idempotent, fast when done)
setup:
	@scripts/setup.sh

## build: the companion (release) and the extension (dist/chromium, dist/firefox and their zips)
build: setup build-extension
	$(CARGO) build --release -p preview-switch

## setup-wasm: wasm32 target, wasm-bindgen-cli (= the crate's pin) into .tools/, wasm-opt via npm ci
setup-wasm:
	scripts/build-extension.sh setup

## build-extension: dist/chromium, dist/firefox (+ zips; dist/extension links to chromium);
## prints the gzipped wasm size, fails over 250 KB
build-extension: setup-wasm
	scripts/build-extension.sh build

## run: build everything and start the embedded demo (fake Argo CD + routed demo site)
run: build
	$(BIN) demo

## test: formatting, lints (native and wasm32), every test, web-ext lint of the Firefox
## build, then the browser end-to-end suites (Chromium and Firefox)
test: setup lint
	$(CARGO) test --workspace --all-targets
	$(CARGO) test --workspace --doc
	$(MAKE) --no-print-directory test-wasm lint-firefox test-e2e

## test-wasm: the extension's glue smoke tests in headless Chromium (wasm-bindgen-test;
## the browser's flags are in extension/webdriver.json)
test-wasm: setup setup-wasm
	CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=$(CURDIR)/.tools/bin/wasm-bindgen-test-runner \
	CHROMEDRIVER=/usr/bin/chromedriver \
	  $(CARGO) test --target wasm32-unknown-unknown -p preview-switch-extension

## test-e2e: the extension in headless Chromium and Firefox against the real companion, the
## fake Argo CD and nginx (e2e/; artifacts in target/e2e/, see README "End-to-end tests")
test-e2e: setup build-extension
	$(CARGO) build -p preview-switch --bin preview-switch --example e2e-fake
	node --test --test-concurrency=1 e2e/

## lint-firefox: web-ext lint (Mozilla's addons-linter) on dist/firefox; 0 errors, and no
## warning that scripts/lint-firefox.sh does not justify
lint-firefox: setup build-extension
	scripts/lint-firefox.sh dist/firefox

## lint: rustfmt and clippy with warnings as errors, native, wasm32, and the companion for
## Windows (x86_64-pc-windows-gnu: its registry code is built only there); the fuzz crate
## (outside the workspace, run on nightly by `make fuzz`) is compiled on stable so it cannot rot
lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy -p preview-switch-protocol -p preview-switch-extension --target wasm32-unknown-unknown --all-targets -- -D warnings
	$(CARGO) clippy -p preview-switch --target x86_64-pc-windows-gnu -- -D warnings
	$(CARGO) check --locked --manifest-path fuzz/Cargo.toml --target-dir target/fuzz

fmt:
	$(CARGO) fmt --all

## bench: every docs/DESIGN.md §7/§10 budget, PASS or FAIL each, then popup open to rows on the
## real toolbar popup in Chromium and Firefox; fails on a miss (README "Performance")
bench: build
	@scripts/setup.sh bench
	@rc=0; scripts/bench.sh || rc=1; scripts/bench-popup.sh || rc=1; exit $$rc

## fuzz: each cargo-fuzz target for FUZZ_SECONDS (default 60) on nightly; see README "Robustness"
fuzz:
	scripts/fuzz.sh

## soak: one host, 10,000 list requests + 1,000 watch changes; fails on RSS or fd growth
soak:
	$(CARGO) build --release -p preview-switch --bin preview-switch --example bench-tool
	target/release/examples/bench-tool soak $(BIN) 10000 1000

## install-host-<browser>[-user]: register the native host (e.g. install-host-chromium-user)
install-host-%: build
	$(BIN) install --browser $(subst -user,,$*) $(if $(findstring -user,$*),,--system)

## dist: every release artifact in dist/ (README "Artifacts"): the Debian package (lintian
## clean), the Linux tarball, the Windows zip, the extension's store zips, the policy
## templates (dist/policy/), SHA256SUMS; with CRX_KEY set, also what `make crx` writes
dist: build
	@scripts/setup.sh dist
	scripts/dist.sh

## crx: for teams that host the Chromium extension themselves: dist/chromium as a CRX3 signed
## with the team's RSA key, dist/preview-switch-chromium-<version>.crx, and dist/update.xml for
## it (CRX_KEY=key.pem CRX_URL=https://intranet.example/preview-switch.crx make crx)
crx: build-extension
	node scripts/crx3.mjs

## dist-check: the built dist/ .deb installed into a scratch root, removed and purged
## (companion/tests/it/package.rs on the release package)
dist-check: dist
	PREVIEW_SWITCH_DEB=$(CURDIR)/$$(ls dist/preview-switch_*_amd64.deb) $(CARGO) test -p preview-switch --test it package

## install: the companion from this checkout into PREFIX (default ~/.local): binary, man
## pages, completions, and the host manifests for your user (sudo make install SYSTEM=1:
## /usr/local and every browser user of the machine); uninstall takes it back
install: build
	@scripts/install-from-checkout.sh install

uninstall:
	@scripts/install-from-checkout.sh uninstall

clean:
	$(CARGO) clean
	rm -rf dist
