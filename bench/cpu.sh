#!/bin/sh
# CPU training throughput of nash-train against PyTorch (Debian's python3-torch) on the same
# cores, same networks and recipe (batch 128, SGD Nesterov, cosine lr, crop+flip augmentation,
# real Fashion-MNIST images): the seed network and, where build/bench/mkgrown exists (built
# with the CUDA engine), the grown one (64, res64, pool, 128, res128, pool, 256, res256, fc).
# Usage: bench/cpu.sh [THREADS] [IMAGES]   (defaults: all cores, 12800 images = 100 steps;
#        the grown network gets a fifth of them). Run it on an otherwise idle machine.
# Prints img/s for each and the ratio nash/PyTorch.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
threads=${1:-$(nproc)}
images=${2:-12800}
bin=${NASH_BIN:-$top/build/bin}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# img/s of the training steps, from nash-train's epoch line (evaluation excluded).
nash_rate() {
	"$bin/nash-train" --epochs 1 --limit "$2" --threads "$threads" -o "$tmp/t.h5" "$1" 2>&1 >/dev/null |
		sed -n 's/.* \([0-9][0-9]*\) img\/s$/\1/p' | tail -n 1
}
torch_rate() {
	/usr/bin/python3 "$top/bench/torch_train.py" "$threads" "$(($2 / 128))" "$1" | sed -n 's/.*: \([0-9]*\) img\/s/\1/p'
}

"$bin/nash-init" -o "$tmp/seed.h5"
nets="seed"
if [ -x "$top/build/bench/mkgrown" ]; then
	"$top/build/bench/mkgrown" grown 1 28 28 "$tmp/grown.h5" && nets="seed grown"
fi
have_torch=0
/usr/bin/python3 -c 'import torch' 2>/dev/null && have_torch=1
echo "| network | threads | nash img/s | PyTorch img/s | nash/PyTorch |"
echo "| --- | --- | --- | --- | --- |"
for net in $nets; do
	n=$images
	[ "$net" = grown ] && n=$((images / 5))
	a=$(nash_rate "$tmp/$net.h5" "$n")
	if [ $have_torch = 1 ]; then
		b=$(torch_rate "$net" "$n")
		r=$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }')
	else
		b="(python3-torch not installed)" r="-"
	fi
	echo "| $net | $threads | $a | $b | $r |"
done
