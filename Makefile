# layerfs: `make setup` once on a fresh Debian 12 machine (as root), then `make demo` or `make test`.
.PHONY: setup build test demo clean

setup:
	bash scripts/setup

build:
	mvn -q -B package -DskipTests
	bash scripts/cds

test:
	mvn -B verify

demo: build
	bash scripts/demo

clean:
	mvn -q -B clean

# Benchmarks layerfs against kernel overlayfs and fuse-overlayfs (as root; knobs in docs/BENCHMARKS.md).
.PHONY: bench
bench: build
	bash scripts/bench
