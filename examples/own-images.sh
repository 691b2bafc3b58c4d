#!/bin/sh
# Bring your own images: a folder with one subfolder of PNG or JPEG images per class (the
# ImageFolder convention) -> a dataset file -> a search -> the best network as ONNX -> images
# classified with onnxruntime, without nash.
#
# Usage: examples/own-images.sh IMAGES_DIR [IMAGE.png...]
#   The images to classify default to the first PNG of IMAGES_DIR.
# Settings (environment): OUT (default own-images-out), RESIZE (HxW, when sizes differ), and
# the search's STEPS (2), NEIGH (3), MORPHS (3), EPOCHS_SEED (2), EPOCHS_NEIGH (1),
# EPOCHS_FINAL (3); VAL (the search's: a tenth of the training images, up to 5,000).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
[ -d "$top/build/bin" ] && PATH="$top/build/bin:$PATH"
images=${1:?usage: examples/own-images.sh IMAGES_DIR [IMAGE.png...]}
shift
mkdir -p "${OUT:=own-images-out}"
out=$(cd "$OUT" && pwd)

# 1. pack: the test set is a seeded tenth of each class (or give --test DIR)
nash-data pack "$images" ${RESIZE:+--resize "$RESIZE"} -o "$out/data.h5"
nash-data info "$out/data.h5" | tee "$out/info.txt"
channels=$(awk '$1 == "images" { sub(/x.*/, "", $2); print $2 }' "$out/info.txt")

# 2. search (the pipeline of `make search`, on the packed file)
# (VAL: derived from the data unless given, a tenth of the training images up to 5,000)
make -C "$top" --no-print-directory search DATA="h5:$out/data.h5" RUN="$out/run" \
	${VAL:+VAL="$VAL"} STEPS="${STEPS:-2}" NEIGH="${NEIGH:-3}" MORPHS="${MORPHS:-3}" \
	EPOCHS_SEED="${EPOCHS_SEED:-2}" EPOCHS_NEIGH="${EPOCHS_NEIGH:-1}" EPOCHS_FINAL="${EPOCHS_FINAL:-3}"

# 3. export the final network
nash-export --onnx -o "$out/model.onnx" "$out/run/final.h5"

# 4. classify with onnxruntime (onnxruntime-node from npm; make node-deps installs it)
[ $# -gt 0 ] || set -- "$(find "$images" -name '*.png' | sort | head -n 1)"
if [ -d "$top/build/node/node_modules" ] || make -C "$top" --no-print-directory node-deps; then
	NODE_PATH="$top/build/node/node_modules${NODE_PATH:+:$NODE_PATH}"
	export NODE_PATH
fi
# (the class names are in the model: nash-init took them from the dataset, nash-export put them
# into the ONNX model's metadata)
node "$top/examples/classify.js" --channels "$channels" "$out/model.onnx" "$@"
