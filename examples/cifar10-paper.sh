#!/bin/sh
# CIFAR-10 at the paper's settings (Elsken et al. 2017: 8 hill-climbing steps of 8 children,
# 5 morphisms each, 17 epochs per child, 20 of pretraining, 100 final epochs, the whole
# training set, SGDR 0.05 -> 0): hours on a GPU, days on a CPU. `make -j8` trains the children
# of a step in parallel. Then the final network as ONNX and the report.
#
# Usage: examples/cifar10-paper.sh CIFAR10_DIR   (the binary version: data_batch_1.bin ...
#        data_batch_5.bin, test_batch.bin; https://www.cs.toronto.edu/~kriz/cifar.html)
# Settings (environment): RUN (runs/cifar10-paper), JOBS (make -j; 1), PROFILE (cifar10), DATA
# (cifar10:CIFAR10_DIR; cifar10@TRAIN,TEST:DIR for a smaller copy), and
# any setting of the pipeline to override the profile's (STEPS, NEIGH, MORPHS, EPOCHS_SEED,
# EPOCHS_NEIGH, EPOCHS_FINAL, LIMIT, VAL, WIDTHS, DEVICE; docs/SEARCH.md).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
dir=$(cd "${1:?usage: examples/cifar10-paper.sh CIFAR10_DIR}" && pwd)
mkdir -p "${RUN:=runs/cifar10-paper}"
run=$(cd "$RUN" && pwd)
set --
for v in STEPS NEIGH MORPHS EPOCHS_SEED EPOCHS_NEIGH EPOCHS_FINAL LIMIT VAL WIDTHS DEVICE; do
	eval "[ -z \"\${$v+set}\" ] || set -- \"\$@\" \"$v=\$$v\""
done
make -C "$top" --no-print-directory -j"${JOBS:-1}" search PROFILE="${PROFILE:-cifar10}" \
	DATA="${DATA:-cifar10:$dir}" RUN="$run" "$@"
"$top/build/bin/nash-export" --onnx -o "$run/final.onnx" "$run/final.h5"
echo "report: $run/report.md; the network as ONNX: $run/final.onnx"
