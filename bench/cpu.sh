#!/bin/sh
# CPU training throughput of nash-train against PyTorch (Debian's python3-torch) on the same
# cores, same network and recipe (batch 128, SGD Nesterov, cosine lr, crop+flip augmentation).
# Usage: bench/cpu.sh [THREADS] [IMAGES]   (defaults: all cores, 12800 images = 100 steps)
# Prints img/s for each and the ratio nash/PyTorch. Run on an otherwise idle machine.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
threads=${1:-$(nproc)}
images=${2:-12800}
bin=${NASH_BIN:-$top/build/bin}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$bin/nash-init" -o "$tmp/seed.h5"
# --limit N + 5000 validation images: img/s is measured over the training steps only.
nash_rate() {
	"$bin/nash-train" --epochs 1 --limit "$images" --threads "$threads" -o "$tmp/t.h5" "$1" 2>&1 >/dev/null |
		sed -n 's/.* \([0-9][0-9]*\) img\/s$/\1/p' | tail -n 1
}
nash=$(nash_rate "$tmp/seed.h5")
echo "nash-train seed network, $threads threads: $nash img/s"
if /usr/bin/python3 -c 'import torch' 2>/dev/null; then
	steps=$((images / 128))
	torch=$(/usr/bin/python3 "$top/bench/torch_train.py" "$threads" "$steps" seed | sed -n 's/.*: \([0-9]*\) img\/s/\1/p')
	echo "PyTorch seed network, $threads threads: $torch img/s"
	awk -v a="$nash" -v b="$torch" 'BEGIN { printf "ratio nash/PyTorch: %.2f\n", a / b }'
else
	echo "PyTorch not installed (apt-get install python3-torch): no comparison"
fi
