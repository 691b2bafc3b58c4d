#!/bin/sh
# Installs what nash needs from Debian's packages, or prints the one apt-get line to run.
# (`make deps`; the README's commands run it.)
# protobuf-c and python3-onnx (which ships onnx.proto): the ONNX export; python3-onnx, -torch,
# -h5py: the export checker and the PyTorch cross-checks; mandoc: the man page lint; nodejs
# with npm: onnxruntime-node for the export tests (tests/node-deps.sh).
pkgs="build-essential libhdf5-dev hdf5-tools zlib1g-dev libopenblas-dev libdnnl-dev libpng-dev libjpeg62-turbo-dev python3-h5py python3-numpy python3-pil bats bats-assert bats-support dataset-fashion-mnist gnuplot-nox graphviz
protobuf-c-compiler libprotobuf-c-dev python3-onnx python3-torch mandoc nodejs"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
# Debian's nodejs comes without npm (its own package); other nodejs builds bring their own.
command -v npm >/dev/null 2>&1 || missing="$missing npm"
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -eq 0 ]; then
	echo "make deps: installing:$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >/dev/null || {
		echo "make deps: apt-get failed" >&2
		exit 1
	}
else
	echo "make deps: missing packages; run as root:" >&2
	echo "  apt-get install -y$missing" >&2
	exit 1
fi
