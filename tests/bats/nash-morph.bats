#!/usr/bin/env bats
load common

# The 16-hex-digit value of a string attribute (model_id, parent_id).
attr_id() {
	h5dump -a "/$2" "$1" | grep -oE '"[0-9a-f]{16}"' | tr -d '"'
}

# The operators of the lineage, one per line.
lineage_ops() {
	h5dump -y -d /lineage "$1" | grep -oE '"(deeper|wider|skip-add|skip-concat)"' | tr -d '"'
}

# train_loss (4th field) of every row of the training record, one per line.
train_losses() {
	h5dump -y -d /training/record "$1" |
		awk '/DATA \{/ { d = 1; next } d && /\{/ { k = 0; next } d && /[0-9]/ { k++; gsub(/[ ,]/, ""); if (k == 4) print }'
}

@test "nash-morph --help and --version" {
	run -0 nash-morph --help
	assert_output --partial "Usage: nash-morph"
	assert_output --partial "--max-params"
	assert_output --partial "--max-macs"
	run -0 nash-morph --version
	assert_output --partial "nash-morph (nash)"
}

@test "nash-morph usage errors exit 2" {
	run -2 script -qec "nash-morph" /dev/null
	assert_output --partial "missing PARENT"
	m=$(seed_model)
	run -2 nash-morph --op shallower "$m"
	assert_output --partial "'shallower' is not an operator"
	assert_output --partial "Try 'nash-morph --help'"
	run -2 nash-morph --op deeper,,wider -o "$BATS_TEST_TMPDIR/c.h5" "$m"
	run -2 nash-morph -n 0 "$m"
	assert_output --partial "-n"
	run -2 nash-morph -n five "$m"
	run -2 nash-morph --seed -3 "$m"
	run -2 nash-morph --max-params 0 "$m"
	run -2 nash-morph "$m" "$m"
	assert_output --partial "too many arguments"
	[ ! -e "$BATS_TEST_TMPDIR/c.h5" ]
}

@test "nash-morph reports each morphism and records the lineage" {
	m=$(seed_model)
	run -0 --separate-stderr nash-morph -n 4 --seed 3 -o "$BATS_TEST_TMPDIR/c.h5" "$m"
	assert_output ""
	[ "$(printf '%s\n' "$stderr" | grep -cE '^nash-morph: (deeper after|wider|skip-add from|skip-concat from) [0-9]{3}_')" -eq 4 ]
	[[ "$stderr" == *"nash-morph: child "* ]]
	run -0 lineage_ops "$BATS_TEST_TMPDIR/c.h5"
	[ "${#lines[@]}" -eq 4 ]
	[ "$(attr_id "$BATS_TEST_TMPDIR/c.h5" parent_id)" = "$(attr_id "$m" model_id)" ]
	[ "$(attr_id "$BATS_TEST_TMPDIR/c.h5" model_id)" != "$(attr_id "$m" model_id)" ]
	# a grandchild: the parent's lineage plus its own
	run -0 nash-morph -n 2 -o "$BATS_TEST_TMPDIR/g.h5" "$BATS_TEST_TMPDIR/c.h5"
	run -0 lineage_ops "$BATS_TEST_TMPDIR/g.h5"
	[ "${#lines[@]}" -eq 6 ]
}

@test "nash-morph: the same parent and seed give a byte-identical child" {
	m=$(seed_model)
	nash-morph -n 5 --seed 11 -o "$BATS_TEST_TMPDIR/a.h5" "$m" 2>/dev/null
	nash-morph -n 5 --seed 11 "$m" 2>/dev/null > "$BATS_TEST_TMPDIR/b.h5"
	nash-morph -n 5 --seed 12 -o "$BATS_TEST_TMPDIR/c.h5" "$m" 2>/dev/null
	cmp "$BATS_TEST_TMPDIR/a.h5" "$BATS_TEST_TMPDIR/b.h5"
	run ! cmp -s "$BATS_TEST_TMPDIR/a.h5" "$BATS_TEST_TMPDIR/c.h5"
}

@test "nash-morph --op forces operators, repeated and comma-separated" {
	m=$(seed_model)
	run -0 nash-morph -n 3 --op deeper -o "$BATS_TEST_TMPDIR/d.h5" "$m"
	run -0 lineage_ops "$BATS_TEST_TMPDIR/d.h5"
	assert_output "$(printf 'deeper\ndeeper\ndeeper')"
	run -0 nash-morph -n 6 --seed 2 --op skip-concat --op wider,skip-add -o "$BATS_TEST_TMPDIR/e.h5" "$m"
	run -0 lineage_ops "$BATS_TEST_TMPDIR/e.h5"
	[ "${#lines[@]}" -eq 6 ]
	refute_output --partial "deeper"
}

@test "nash-morph: a forced operator without a valid place is exit 5, no output" {
	nash-init --dataset "$FMNIST" --widths 4 --val 200 -o "$BATS_TEST_TMPDIR/m.h5"
	cd "$BATS_TEST_TMPDIR"
	run -5 nash-morph --op skip-add -o c.h5 m.h5
	assert_output "nash-morph: m.h5: no valid place for skip-add"
	[ ! -e c.h5 ]
	run -5 nash-morph --op skip -o c.h5 m.h5
	assert_output --partial "no valid place for skip-add or skip-concat"
	[ ! -e c.h5 ]
	# drawn among others, an impossible operator is simply redrawn
	run -0 nash-morph -n 3 --op skip,deeper -o c.h5 m.h5
	[ -s c.h5 ]
}

@test "nash-morph --max-params bounds the child, or fails cleanly" {
	m=$(seed_model)
	run -0 --separate-stderr nash-morph -n 3 --max-params 25000 -o "$BATS_TEST_TMPDIR/c.h5" "$m"
	n=$(printf '%s\n' "$stderr" | sed -nE 's/^nash-morph: child .*: ([0-9]+) parameters.*/\1/p')
	[ -n "$n" ] && [ "$n" -le 25000 ]
	run -5 nash-morph --max-params 100 -o "$BATS_TEST_TMPDIR/d.h5" "$m"
	assert_output --partial "--max-params 100"
	[ ! -e "$BATS_TEST_TMPDIR/d.h5" ]
}

@test "nash-morph --max-macs bounds the child's multiply-adds per image, or fails cleanly" {
	m=$(seed_model)
	d=$BATS_TEST_TMPDIR
	base=$(nash-show --tsv "$m" | awk -F '\t' 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i } NR == 2 { print $c["macs"] }')
	[ "$base" -gt 0 ]
	cap=$((base * 3 / 2))
	over=0
	for s in 1 2 3 4 5 6; do
		# without the cap, some of these children cost more: the cap has something to do
		nash-morph -n 3 --seed $s -o "$d/free.h5" "$m" 2>"$d/free.log"
		n=$(sed -nE 's/^nash-morph: child .*: [0-9]+ parameters, ([0-9]+) multiply-adds per image \(parent [0-9]+, '"$base"'\)$/\1/p' "$d/free.log")
		[ -n "$n" ] && [ "$n" -ge "$base" ]
		[ "$n" -le "$cap" ] || over=$((over + 1))
		run -0 --separate-stderr nash-morph -n 3 --seed $s --max-macs $cap -o "$d/c.h5" "$m"
		n=$(printf '%s\n' "$stderr" | sed -nE 's/^nash-morph: child .*: [0-9]+ parameters, ([0-9]+) multiply-adds per image .*/\1/p')
		[ -n "$n" ] && [ "$n" -le "$cap" ]
		[ "$(nash-show --tsv "$d/c.h5" | awk -F '\t' 'NR == 2 { print $NF }')" = "$n" ]
	done
	[ "$over" -gt 0 ]
	# the same parent, seed and cap: the same child
	nash-morph -n 3 --seed 6 --max-macs $cap -o "$d/again.h5" "$m" 2>/dev/null
	cmp "$d/c.h5" "$d/again.h5"
	# every wider and deeper adds multiply-adds: none fits the parent's own cost (exit 5)
	run -5 nash-morph --op wider,deeper --max-macs "$base" -o "$d/d.h5" "$m"
	assert_output "nash-morph: $m: no morphism keeps the network within --max-macs $base (100 draws; it costs $base multiply-adds per image)"
	[ ! -e "$d/d.h5" ]
	# both limits, each rejecting every draw: the error names both
	run -5 nash-morph --op wider,deeper --max-macs "$base" --max-params 1 "$m"
	assert_output --partial "within --max-params 1 and --max-macs $base (100 draws; it has "
	run -2 nash-morph --max-macs 0 "$m"
	assert_output --partial "--max-macs: must be at least 1"
	run -2 nash-morph --max-macs 1.5x "$m"
	assert_output --partial "--max-macs: '1.5x' is not a non-negative integer"
}

@test "nash-morph on bad input fails with exit 1 naming the file" {
	echo "not a model" > "$BATS_TEST_TMPDIR/bad.h5"
	run -1 nash-morph -o "$BATS_TEST_TMPDIR/c.h5" "$BATS_TEST_TMPDIR/bad.h5"
	assert_output --partial "bad.h5"
	[ ! -e "$BATS_TEST_TMPDIR/c.h5" ]
	run -1 nash-morph -o "$BATS_TEST_TMPDIR/c.h5" "$BATS_TEST_TMPDIR/missing.h5"
	assert_output --partial "missing.h5"
	run -1 nash-morph -o "$BATS_TEST_TMPDIR/c.h5" - < "$BATS_TEST_TMPDIR/bad.h5"
	assert_output --partial "<stdin>"
	[ ! -e "$BATS_TEST_TMPDIR/c.h5" ]
}

@test "nash-morph output is atomic: a failure leaves an existing file as it was" {
	nash-init --dataset "$FMNIST" --widths 4 --val 200 -o "$BATS_TEST_TMPDIR/m.h5"
	echo "old" > "$BATS_TEST_TMPDIR/c.h5"
	run -5 nash-morph --op skip-concat -o "$BATS_TEST_TMPDIR/c.h5" "$BATS_TEST_TMPDIR/m.h5"
	[ "$(cat "$BATS_TEST_TMPDIR/c.h5")" = "old" ]
	[ "$(ls "$BATS_TEST_TMPDIR")" = "$(printf 'c.h5\nm.h5')" ]
}

@test "nash-init | nash-morph | nash-train: the child trains" {
	set -o pipefail
	nash-init --dataset "$FMNIST" --widths 4,8 --val 200 |
		nash-morph -n 3 --seed 7 - |
		nash-train --data "$FMNIST" --epochs 2 --limit 1000 --lr 0.02 --device cpu - > "$BATS_TEST_TMPDIR/c.h5"
	run -0 train_losses "$BATS_TEST_TMPDIR/c.h5"
	[ "${#lines[@]}" -eq 2 ]
	awk -v a="${lines[0]}" -v b="${lines[1]}" 'BEGIN { exit !(b < a) }'
	run -0 lineage_ops "$BATS_TEST_TMPDIR/c.h5"
	[ "${#lines[@]}" -eq 3 ]
	# the file is valid: it reads back, and a further morph keeps the training record
	run -0 nash-train --data "$FMNIST" --epochs 0 --device cpu "$BATS_TEST_TMPDIR/c.h5"
	assert_output --regexp 'val_accuracy=0\.[0-9]{4}'
	nash-morph -n 1 -o "$BATS_TEST_TMPDIR/g.h5" "$BATS_TEST_TMPDIR/c.h5" 2>/dev/null
	run -0 train_losses "$BATS_TEST_TMPDIR/g.h5"
	[ "${#lines[@]}" -eq 2 ]
}
