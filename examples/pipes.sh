#!/bin/sh
# The programs in pipes: one hill-climbing step by hand. A seed network, trained; CHILDREN
# children, each morphed and trained in one pipe; the best of them and the parent; its test
# accuracy; the ensemble of all. Every program reads a model on standard input and writes one
# on standard output, so only the results touch the disk.
#
# Usage: examples/pipes.sh [OUT]   (default OUT: pipes-out)
# Settings (environment): DATA (default fashion-mnist), CHILDREN (3), MORPHS (3), EPOCHS (1),
# LIMIT (training images; 5000), VAL (500).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
[ -d "$top/build/bin" ] && PATH="$top/build/bin:$PATH" # run from a clone; else the installed tools
out=${1:-pipes-out}
DATA=${DATA:-fashion-mnist} CHILDREN=${CHILDREN:-3} MORPHS=${MORPHS:-3} EPOCHS=${EPOCHS:-1}
LIMIT=${LIMIT:-5000} VAL=${VAL:-500}
train="nash-train --data $DATA --epochs $EPOCHS --limit $LIMIT --lr 0.02"
mkdir -p "$out"

# seed -> trained seed
nash-init --dataset "$DATA" --widths 16,32,64 --val "$VAL" | $train -o "$out/seed.h5"

# parent -> morphed child -> trained child, one pipe each
for k in $(seq 1 "$CHILDREN"); do
	nash-morph -n "$MORPHS" --seed "$k" "$out/seed.h5" | $train -o "$out/child$k.h5"
done

# the best by validation accuracy (the parent competes), then its test accuracy
best=$(nash-select -o "$out/best.h5" "$out"/child*.h5 "$out/seed.h5")
echo "best: $best"
nash-train --data "$DATA" --epochs 0 --eval test "$out/best.h5"

# every model in one table (model, val accuracy, params, lineage), then the ensemble
nash-show --tsv "$out"/seed.h5 "$out"/child*.h5 | cut -f1,5,7,13
nash-ensemble --data "$DATA" --eval test "$out"/child*.h5 "$out/seed.h5" | tail -n 1
