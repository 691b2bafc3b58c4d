#!/bin/sh
# Installs onnxruntime-node (pinned by tests/onnx/package-lock.json) into DIR/node_modules with
# npm, for the ONNX export tests and examples/classify.js. `make test` runs it (make node-deps).
# When npm cannot reach its registry (offline), the reason goes to DIR/UNAVAILABLE and the
# tests that need onnxruntime skip, saying so; any other npm failure is an error.
# Usage: tests/node-deps.sh DIR
dir=${1:?usage: tests/node-deps.sh DIR}
src=$(cd "$(dirname "$0")/onnx" && pwd) || exit 1
mkdir -p "$dir" || exit 1
# Up to date: the lock file installed is the one in the tree.
if [ -f "$dir/node_modules/onnxruntime-node/package.json" ] && cmp -s "$src/package-lock.json" "$dir/package-lock.json"; then
	exit 0
fi
rm -f "$dir/UNAVAILABLE"
if ! command -v npm >/dev/null 2>&1; then
	echo "npm is not installed (tests/deps.sh installs it as root)" >"$dir/UNAVAILABLE"
	echo "make node-deps: $(cat "$dir/UNAVAILABLE"); the onnxruntime tests will skip" >&2
	exit 0
fi
cp "$src/package.json" "$src/package-lock.json" "$dir/" || exit 1
echo "make node-deps: npm ci (onnxruntime-node) into $dir" >&2
# --ignore-scripts: the package's install script only fetches optional GPU libraries; the CPU
# runtime is in the package itself.
if (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) >"$dir/npm.log" 2>&1; then
	exit 0
fi
if grep -qE 'ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|network' "$dir/npm.log"; then
	echo "npm cannot reach its registry: $(grep -m1 -E 'ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|network' "$dir/npm.log")" >"$dir/UNAVAILABLE"
	rm -f "$dir/package-lock.json" # so the next run tries again
	echo "make node-deps: $(cat "$dir/UNAVAILABLE"); the onnxruntime tests will skip" >&2
	exit 0
fi
echo "make node-deps: npm ci failed:" >&2
cat "$dir/npm.log" >&2
exit 1
