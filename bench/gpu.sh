#!/bin/sh
# Images/s of `nash-train --device cuda` for the seed network and the grown one (64, res64, pool,
# 128, res128, pool, 256, res256, fc) on 28x28x1 (Fashion-MNIST, 60000 images) and 32x32x3
# (50000 random CIFAR-shaped images), next to PyTorch eager for the same networks and recipe on
# the same GPU in the same run (bench/torch_gpu.py), and the ratios. Runs on the GPU machine.
#
# Usage: bench/gpu.sh [BINDIR]      BINDIR holds nash-train and mkgrown (default build/device/bin)
# Env:   FMNIST_DIR  the Fashion-MNIST IDX .gz files (default /usr/share/datasets/fashion-mnist)
#        EPOCHS      epochs per run, the first one warm-up (default 3)
#        LR          starting learning rate of both (default 0.01: at 0.05 the grown network's
#                    loss explodes in its first steps, docs/GPU.md; images/s do not depend on it)
#        PYTHON      PyTorch's interpreter (default /opt/torch/.venv/bin/python); "none" skips it
#        NASH_TF32=1 TF32 math on both sides
# Prints a table whose lines start with "| "; the exit status is 0 unless a nash run failed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
bin=${1:-build/device/bin}
fm=${FMNIST_DIR:-/usr/share/datasets/fashion-mnist}
E=${EPOCHS:-3}
LR=${LR:-0.01}
py=${PYTHON:-/opt/torch/.venv/bin/python}
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
status=0

"$bin/mkgrown" --fake-cifar "$tmp/cifar" 50000 || exit 1

# nash_rate NET C H W DATA: img/s over epochs 2..E. Each epoch line on stderr ends with the
# run's images/s so far, over its training steps alone ("... 0.3s  181119 img/s"): with R1 after
# epoch 1 and RE after epoch E, epochs 2..E took E/RE - 1/R1 seconds per image of an epoch
# (more precise than the line's seconds, printed to 0.1 s); 0 when the run failed.
nash_rate() {
	"$bin/mkgrown" "$1" "$2" "$3" "$4" "$tmp/m.h5" || { echo 0; return; }
	if ! "$bin/nash-train" --device cuda --epochs "$E" --lr "$LR" --data "$5" -o "$tmp/out.h5" "$tmp/m.h5" \
		>/dev/null 2>"$tmp/log"; then
		sed 's/^/# /' "$tmp/log" >&2
		echo 0
		return
	fi
	sed 's/^/# /' "$tmp/log" >&2
	awk -v E="$E" '
		/: epoch [0-9]+\/[0-9]+ .* img\/s$/ { split($3, e, "/"); r[e[1] + 0] = $(NF - 1) }
		END {
			t = (1 in r && E in r && r[1] > 0 && r[E] > 0) ? E / r[E] - 1 / r[1] : 0
			if (E > 1 && t > 0) printf "%.0f\n", (E - 1) / t; else print 0
		}' "$tmp/log"
}

for net in seed grown; do
	r=$(nash_rate $net 1 28 28 "fashion-mnist:$fm")
	eval "nash_${net}_fm=$r"
	r=$(nash_rate $net 3 32 32 "cifar10:$tmp/cifar")
	eval "nash_${net}_c=$r"
done

gpu="?"
if [ "$py" != none ] && [ -x "$py" ]; then
	BENCH_LR=$LR FMNIST_DIR=$fm "$py" "$here/torch_gpu.py" "$E" >"$tmp/torch" 2>"$tmp/torch.err" || sed 's/^/# /' "$tmp/torch.err" >&2
	sed 's/^/# /' "$tmp/torch" >&2
	gpu=$(sed -n 's/^torch gpu \(.*\) torch .*/\1/p' "$tmp/torch")
fi
torch_rate() { awk -v n="$1" -v s="$2" '$1 == "torch" && $2 == n && $3 == s { print $4 }' "$tmp/torch" 2>/dev/null; }

case ${NASH_TF32:-0} in 0) math=FP32 ;; *) math=TF32 ;; esac
echo "| bench: nash-train --device cuda vs PyTorch eager, $math, batch 128, lr $LR, img/s over epochs 2..$E on $gpu"
echo "| net   | input   | nash img/s | torch img/s | nash/torch |"
for net in seed grown; do
	for sh in fm c; do
		eval "n=\$nash_${net}_$sh"
		if [ $sh = fm ]; then input=28x28x1; else input=32x32x3; fi
		t=$(torch_rate $net $input)
		[ "$n" = 0 ] && status=1
		awk -v net=$net -v inp=$input -v n="$n" -v t="${t:-0}" 'BEGIN {
			r = (t > 0 && n > 0) ? sprintf("%.2f", n / t) : "-"
			printf "| %-5s | %-7s | %10s | %11s | %10s |\n", net, inp, n, (t > 0 ? t : "-"), r }'
	done
done
exit $status
