#!/bin/sh
# Installs what nash needs from Debian's packages, or prints the one apt-get line to run.
# (`make deps`; the README's commands run it.)
#
# With --test (`make test`, `make deps`) also what only tests/bats/slurm.bats uses, a Slurm
# (slurm-wlm, munge): installed when run as root; where it cannot be, that test skips and says
# why, and nothing else fails.
# protobuf-c and python3-onnx (which ships onnx.proto): the ONNX export; python3-onnx, -torch,
# -h5py: the export checker and the PyTorch cross-checks; mandoc: the man page lint; nodejs
# with npm: onnxruntime-node for the export tests (tests/node-deps.sh); clang and libomp-dev:
# the fuzz target and the sanitizer replay of its regression corpus; parallel (GNU parallel):
# bats --jobs, which tests/run.sh runs the Bats files with; valgrind: the readers, writers and
# engines under memcheck (tests/bats/valgrind.bats).
pkgs="build-essential libhdf5-dev hdf5-tools zlib1g-dev libopenblas-dev libdnnl-dev libpng-dev libjpeg62-turbo-dev python3-h5py python3-numpy python3-pil bats bats-assert bats-support parallel dataset-fashion-mnist gnuplot-nox graphviz
protobuf-c-compiler libprotobuf-c-dev python3-onnx python3-torch mandoc nodejs clang libomp-dev valgrind"
test_pkgs="slurm-wlm munge"

# The packages of the list not installed. One dpkg-query for all: every make search runs this
# (and the test suite's searches many times), and each dpkg-query reads dpkg's whole database.
missing_of() {
	installed=" $(dpkg-query -W -f='${Package}\t${Status}\n' "$@" 2>/dev/null |
		awk -F '\t' '$2 ~ /ok installed$/ { printf "%s ", $1 }')"
	for p in "$@"; do
		case $installed in *" $p "*) ;; *) printf ' %s' "$p" ;; esac
	done
}

# shellcheck disable=SC2086 # lists of names
missing=$(missing_of $pkgs)
# Debian's nodejs comes without npm (its own package); other nodejs builds bring their own.
command -v npm >/dev/null 2>&1 || missing="$missing npm"
test_missing=
[ "${1:-}" = --test ] && test_missing=$(missing_of $test_pkgs)
[ -z "$missing$test_missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	if [ -n "$missing" ]; then
		echo "make deps: missing packages; run as root:" >&2
		echo "  apt-get install -y$missing$test_missing" >&2
		exit 1
	fi
	echo "make deps: without$test_missing (apt-get install -y$test_missing as root) the Slurm test skips" >&2
	exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || {
	echo "make deps: apt-get update failed" >&2
	exit 1
}
if [ -n "$missing" ]; then
	echo "make deps: installing:$missing" >&2
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null || {
		echo "make deps: apt-get failed" >&2
		exit 1
	}
fi
if [ -n "$test_missing" ]; then
	echo "make deps: installing for the Slurm test:$test_missing" >&2
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $test_missing >/dev/null ||
		echo "make deps: apt-get could not install$test_missing: the Slurm test will skip" >&2
fi
exit 0
