#!/bin/sh
# Groups fuzzing artifacts by what went wrong: the sanitizer's summary, the innermost named
# HDF5 function and the innermost nash function on the stack. One line per group: count,
# kind, HDF5 function, nash function, one example file.
# Usage: tests/fuzz/triage.sh FUZZ_BINARY ARTIFACT...
bin=$1
shift
for f in "$@"; do
	out=$(LSAN_OPTIONS=suppressions=$(dirname "$0")/lsan.supp timeout 60 "$bin" "$f" 2>&1)
	kind=$(printf '%s\n' "$out" | sed -n 's/.*ERROR: [A-Za-z]*Sanitizer: \([A-Za-z-]*\( [a-z]*\)\{0,3\}\).*/\1/p; s/.*runtime error: \(.*\)/ub: \1/p; s/^fuzz_readers: \([^:]*\):.*/\1/p' | head -1)
	[ -n "$kind" ] || kind="no longer fails"
	h5=$(printf '%s\n' "$out" | grep -E '^    #[0-9]+ .* in H5[A-Za-z0-9_]+' | head -1 | sed 's/.* in \(H5[A-Za-z0-9_]*\).*/\1/')
	ours=$(printf '%s\n' "$out" | grep -E '^    #[0-9]+ .* in [a-z_0-9]+ .*/(lib|tests)/' | head -1 | sed 's/.* in \([a-z_0-9]*\) .*\/\(\(lib\|tests\)\/[^ ]*\).*/\1 \2/')
	echo "$kind|${h5:--}|${ours:--}|$f"
done | sort | awk -F'|' '{ k = $1 "|" $2 "|" $3; n[k]++; if (!(k in ex)) ex[k] = $4 } END { for (k in n) print n[k] "|" k "|" ex[k] }' | sort -t'|' -k1,1nr
