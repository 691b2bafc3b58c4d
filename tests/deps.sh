#!/bin/sh
# Installs what nash needs from Debian's packages, or prints the one apt-get line to run.
# (`make deps`; the README's commands run it.)
pkgs="build-essential libhdf5-dev hdf5-tools zlib1g-dev libopenblas-dev libdnnl-dev libpng-dev libjpeg62-turbo-dev python3-h5py python3-numpy python3-pil bats bats-assert bats-support dataset-fashion-mnist gnuplot-nox graphviz clang libomp-dev"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
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
