# Preview Switch: the one entry point for people and CI. Each target is a line or two; the
# logic lives in Rust (the companion) or in scripts/.
CARGO ?= cargo
BIN := target/release/preview-switch

.PHONY: setup build run test lint fmt bench dist clean install-host-% completions

## setup: install what building and testing needs (idempotent, fast when done)
setup:
	@scripts/setup.sh

## build: the companion (release) and every crate
build: setup
	$(CARGO) build --release --workspace

## run: build everything and start the embedded demo (fake Argo CD + routed demo site)
run: build
	$(BIN) demo

## test: formatting, lints (native and wasm32), every test
test: setup lint
	$(CARGO) test --workspace --all-targets
	$(CARGO) test --workspace --doc

## lint: rustfmt and clippy with warnings as errors, native and wasm32
lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	$(CARGO) clippy -p preview-switch-protocol -p preview-switch-extension --target wasm32-unknown-unknown -- -D warnings

fmt:
	$(CARGO) fmt --all

## bench: the DESIGN §7 budgets that the companion owns (see README "Performance")
bench: build
	@scripts/setup.sh bench
	scripts/bench.sh

## install-host-<browser>[-user]: register the native host (e.g. install-host-chromium-user)
install-host-%: build
	$(BIN) install --browser $(subst -user,,$*) $(if $(findstring -user,$*),,--system)

## dist: release binary and completions under dist/
dist: build
	mkdir -p dist/completions
	cp $(BIN) dist/
	for s in bash zsh fish; do $(BIN) completions $$s > dist/completions/preview-switch.$$s; done

clean:
	$(CARGO) clean
	rm -rf dist
