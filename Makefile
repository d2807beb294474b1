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

# Long runs: random operations against kernel overlayfs for SOAK_SECONDS on each binding (new seeds until
# the time is up; a divergence prints its minimal reproduction), then the churn of a container's daemon on
# each binding (ChurnIT: memory and descriptors stay flat; samples in cli/target/churn-BINDING.csv).
# SOAK_SECONDS and SOAK_BINDINGS override.
SOAK_SECONDS ?= 600
SOAK_BINDINGS ?= jnr-fuse,dev-fuse
.PHONY: soak
soak:
	mvn -B -pl fuse-overlay -am test -Dtest='RandomDifferentialTest#soak' -Dsurefire.failIfNoSpecifiedTests=false \
	  -Dlayerfs.soak.seconds=$(SOAK_SECONDS)
	mvn -B -pl cli -am verify -Dtest=none -Dsurefire.failIfNoSpecifiedTests=false \
	  -Dit.test=ChurnIT -Dfailsafe.failIfNoSpecifiedTests=false \
	  -Dlayerfs.churn.seconds=$(SOAK_SECONDS) -Dlayerfs.churn.bindings=$(SOAK_BINDINGS)
