#!/bin/sh
# CPU training throughput of nash-train's CPU engines -- cpu (oneDNN, the default), cpu-bf16
# (oneDNN, bfloat16 convolution inputs; where the processor has AVX512_BF16) and cpu-blas
# (im2col + OpenBLAS) -- against PyTorch (float32, Debian's python3-torch) on the same cores,
# networks and recipe (batch 128, SGD Nesterov, cosine lr, crop+flip augmentation, real Fashion-MNIST
# images). Networks: seed (nash-init), grown (bench/mkgrown: 64, res64, pool, 128, res128,
# pool, 256, res256, fc) and morphed (three rounds of three nash-morph morphisms from the seed,
# as three search steps make a child; nash engines only, torch_train.py knows seed and grown).
# Usage: bench/cpu.sh [THREADS] [IMAGES] [RUNS]
#   defaults: all cores, 12800 images (100 steps; the grown and morphed networks get a fifth),
#   3 runs. Each run times every engine and PyTorch one after the other, so a machine whose
#   speed drifts slows all alike; the table has each one's median img/s over the runs and the
#   ratio of the medians. The load average is printed before and after: on a shared machine
#   the figures are only as good as it was quiet.
# Both sides run under the same OMP_WAIT_POLICY: nash-train's default, passive, unless set.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
threads=${1:-$(nproc)}
images=${2:-12800}
runs=${3:-3}
bin=${NASH_BIN:-$top/build/bin}
mkgrown=${NASH_MKGROWN:-$top/build/bench/mkgrown}
engines="cpu cpu-blas"
# cpu-bf16 where the processor has bfloat16 instructions
grep -q avx512_bf16 /proc/cpuinfo 2>/dev/null && engines="cpu cpu-bf16 cpu-blas"
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-passive}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# img/s of the training steps, from nash-train's epoch line (evaluation excluded). The learning
# rate is 0.01 on both sides: from 0.05 the grown network diverges within its first epoch from
# mkgrown's initialisation (train loss 41 after 1,280 images), and nash-train stops a run that
# collapses before it prints its rate; the rate does not depend on the learning rate.
nash_rate() { # ENGINE MODEL IMAGES
	r=$("$bin/nash-train" --device "$1" --epochs 1 --limit "$3" --lr 0.01 --threads "$threads" \
		-o "$tmp/t.h5" "$2" 2>"$tmp/train.log" >/dev/null; sed -n 's/.* \([0-9][0-9]*\) img\/s$/\1/p' "$tmp/train.log" | tail -n 1)
	if [ -z "$r" ]; then
		echo "bench/cpu.sh: nash-train --device $1 on $(basename "$2") gave no rate:" >&2
		tail -n 3 "$tmp/train.log" >&2
		exit 1
	fi
	echo "$r"
}
torch_rate() { # NET IMAGES
	/usr/bin/python3 "$top/bench/torch_train.py" "$threads" "$(($2 / 128))" "$1" |
		sed -n 's/.*: \([0-9]*\) img\/s/\1/p'
}
median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

"$bin/nash-init" -o "$tmp/seed.h5"
"$mkgrown" grown 1 28 28 "$tmp/grown.h5"
"$bin/nash-morph" -n 3 --seed 1001001 --max-params 1500000 "$tmp/seed.h5" 2>/dev/null |
	"$bin/nash-morph" -n 3 --seed 1002001 --max-params 1500000 2>/dev/null |
	"$bin/nash-morph" -n 3 --seed 1003001 --max-params 1500000 -o "$tmp/morphed.h5" 2>/dev/null
have_torch=0
/usr/bin/python3 -c 'import torch' 2>/dev/null && have_torch=1

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); OMP_WAIT_POLICY=$OMP_WAIT_POLICY; $runs runs"
for net in seed grown morphed; do
	n=$images
	[ "$net" = seed ] || n=$((images / 5))
	for r in $(seq "$runs"); do
		for e in $engines; do
			nash_rate "$e" "$tmp/$net.h5" "$n" >>"$tmp/$net.$e"
		done
		if [ $have_torch = 1 ] && [ "$net" != morphed ]; then
			torch_rate "$net" "$n" >>"$tmp/$net.torch"
		fi
	done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| network | engine | threads | nash img/s | PyTorch img/s | nash/PyTorch |"
echo "| --- | --- | --- | --- | --- | --- |"
for net in seed grown morphed; do
	b=-
	[ -s "$tmp/$net.torch" ] && b=$(median <"$tmp/$net.torch")
	[ $have_torch = 1 ] || b="(python3-torch not installed)"
	for e in $engines; do
		a=$(median <"$tmp/$net.$e")
		r=$(awk -v a="$a" -v b="$b" 'BEGIN { if (b + 0 > 0) printf "%.2f", a / b; else print "-" }')
		echo "| $net | $e | $threads | $a | $b | $r |"
	done
done
