#!/usr/bin/env bats
# End-to-end tests of `make ablation` (pipelines/ablation.mk) on the tiny fixture data: the
# structure, the stamps, the report, a second run that does nothing, an interrupted run that
# resumes. Not the science: the fixture's figures mean nothing.
load common
load pipeline

TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
# Two seeds, one step of two children of two epochs each (so that children checkpoint and a
# cosine differs from a constant learning rate in the second epoch), one final epoch.
S_ARGS=(DATA="$FMNIST" VAL=200 LIMIT=256 BATCH=32 WIDTHS=4,8 STEPS=1 NEIGH=2 MORPHS=2 EPOCHS_SEED=1
	EPOCHS_NEIGH=2 EPOCHS_FINAL=1 MAX_PARAMS= MAX_GROWTH= LR_START=0.005 DEVICE=cpu SEED=7 ABL_SEEDS=2)

# The outer `make test` exports its flags (a jobserver among them): not for this make.
unset MAKEFLAGS MFLAGS MAKELEVEL

abl() {
	make -C "$TOP" --no-print-directory BUILD="$NASH_BUILD" "${S_ARGS[@]}" "$@"
}

# The result of an ablation: every variant's bests and final network, and the report's table.
# Not (e)'s: its epochs spend (a)'s measured training seconds, which differ from run to run
# (the test of the complete ablation checks them against its budget.txt instead).
fingerprint() {
	nash-show --tsv "$1"/seed*/step0/best.h5 "$1"/seed*/*/step*/best.h5 "$1"/seed*/*/final.h5 |
		awk -F '\t' 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
			$c["model"] !~ /\/seed-only\// { print $c["model"], $c["val_accuracy"], $c["test_accuracy"], $c["params"], $c["weights_hash"] }' |
		sed "s|^$1/||"
	grep -v '^seed-only' "$1/report.tsv" | cut -f 1-8 # less the training seconds
}

# The ablation, made once for the file: its test checks the output saved here; the tests that
# rerun or resume it use a copy or the fingerprint, so that each can run on its own (bats -f).
setup_file() {
	local d=$BATS_FILE_TMPDIR
	abl -j2 ablation ABL_DIR="$d/abl" >"$d/abl.out" 2>&1 && echo 0 >"$d/abl.status" || echo $? >"$d/abl.status"
	[ "$(cat "$d/abl.status")" -ne 0 ] || fingerprint "$d/abl" >"$d/abl.fingerprint"
}

# The output and exit status of the ablation of setup_file.
ablation_result() {
	cat "$BATS_FILE_TMPDIR/abl.out"
	return "$(cat "$BATS_FILE_TMPDIR/abl.status")"
}

# Fails unless the ablation of setup_file completed.
need_ablation() {
	[ -f "$BATS_FILE_TMPDIR/abl.fingerprint" ] || fail "the ablation of setup_file failed: $(tail -n 5 "$BATS_FILE_TMPDIR/abl.out")"
}

@test "make -n ablation: the plan of the five variants on each seed, nothing written" {
	d=$BATS_TEST_TMPDIR/abl
	run -0 abl -n ablation-run ABL_DIR="$d"
	# one seed network per seed, shared by the three searches
	[ "$(grep -c -e '--dataset .* --seed 7 -o '"$d"'/seed7/step0/init.h5' <<<"$output")" -eq 1 ]
	[ "$(grep -c 'nash-init --dataset' <<<"$output")" -eq 2 ]
	assert_output --partial "--label seed8/search/step1/child2 "
	# (b): one child, selected without its parent as a candidate
	assert_output --partial "select --label seed7/random/ --replace --step 1 --steps 1 $d/seed7/random/step1/best.h5 $d/seed7/random/step1/child1.h5 $d/seed7/step0/best.h5"
	refute_output --partial "seed7/random/step1/child2"
	# (c): the children at a constant learning rate, the final training with the cosine
	assert_output --regexp "const-lr/step1/child1 .* --lr 0\.005:0\.005 "
	assert_output --regexp "label seed7/const-lr/final .* --lr 0\.005:0 .* --train-on all "
	# (d): (a)'s last architecture, fresh weights, trained as the final phase for the lineage's epochs
	assert_output --partial "nash-init --like $d/seed7/search/step1/best.h5 --seed 7 -o $d/seed7/scratch/init.h5"
	assert_output --regexp "seed7/scratch/final .* --eval test --train-on all --seed 7999000"
	# (e): the budget of (a)'s training time, then the untouched seed network trained for it
	assert_output --partial "nash-report baseline-budget $d/seed7/seed-only/budget.txt $d/seed7/search/result.tsv $d/seed7/step0/best.h5"
	assert_output --regexp "seed7/seed-only/final $d/seed7/seed-only/final.h5 $d/seed7/step0/init.h5 -- .* --train-on all --seed 7999000"
	# the report over all of them
	assert_output --partial "aggregate.sh ablation $d"
	[ ! -e "$d" ]
	# the paper's epoch budget for (d): EPOCHS_NEIGH * NEIGH * STEPS + EPOCHS_FINAL = 2 * 2 * 1 + 1
	run -0 abl -n ablation-run ABL_DIR="$d" ABL_SCRATCH=budget
	assert_output --regexp "e=5; .*seed8/scratch/final .* --epochs \\\$e "
}

@test "make ablation with bad settings says which" {
	run -2 abl -n ablation-run ABL_DIR="$BATS_TEST_TMPDIR/abl" ABL_SEEDS=0
	assert_output --partial "ABL_SEEDS must be a positive integer"
	run -2 abl -n ablation-run ABL_DIR="$BATS_TEST_TMPDIR/abl" ABL_SCRATCH=forever
	assert_output --partial "ABL_SCRATCH must be lineage, budget or a number of epochs"
	run -2 abl -n ablation-run ABL_DIR="$BATS_TEST_TMPDIR/abl" SEED=9999999999999
	assert_output --partial "SEED+ABL_SEEDS-1 must be below 10^13"
	run -2 abl -n ablation-run ABL_DIR="$BATS_TEST_TMPDIR/abl" KEEP_PARENT=sometimes
	assert_output --partial "KEEP_PARENT must be yes or no"
}

@test "make ablation ABL_SEEDS=2 completes: layout, stamps, variants, table, plot" {
	d=$BATS_FILE_TMPDIR/abl
	run -0 ablation_result
	assert_line --regexp '^  seed7/seed: val [01]\.[0-9]{4}, '
	assert_line --regexp '^seed8/random: step 1/1: best val [01]\.[0-9]{4} \(child1, .*\), 1 child trained'
	assert_line --regexp '^  seed8/scratch/final: val [01]\.[0-9]{4}, test [01]\.[0-9]{4}, '
	assert_line --regexp "^ablation done: $d \\(2 seeds; "
	for v in '(a) search' '(b) random' '(c) const-lr' '(d) scratch' '(e) seed-only'; do
		assert_line --regexp "^  ${v/(/\\(} +test error [0-9.]+ ± [0-9.]+%"
	done
	# the layout: per seed one seed network and four variants
	for s in 7 8; do
		h=$d/seed$s
		for f in step0/best.h5 step0/test.txt search/report.md random/report.md const-lr/report.md \
			search/result.tsv const-lr/report/steps.dat scratch/init.h5 scratch/final.h5 seed-only/budget.txt \
			seed-only/final.h5; do
			[ -f "$h/$f" ] || fail "no $h/$f"
		done
		[ ! -e "$h/search/step0" ] && [ ! -e "$h/random/step0" ]
		# the stamps: the variants differ only where they should
		grep -qx "DATA=$FMNIST WIDTHS=4,8 VAL=200 SEED=$s" "$h/settings/init"
		run -0 cat "$h/search/settings/neigh" "$h/const-lr/settings/neigh" "$h/random/settings/select" "$h/search/settings/select"
		assert_line --index 0 "EPOCHS_NEIGH=2 DATA=$FMNIST LIMIT=256 BATCH=32 LR_START=0.005 LR_END=0 SEED=$s"
		assert_line --index 1 "EPOCHS_NEIGH=2 DATA=$FMNIST LIMIT=256 BATCH=32 LR_START=0.005 LR_END=0 SEED=$s LR_NEIGH=0.005:0.005"
		assert_line --index 2 "NEIGH=1 KEEP_PARENT=no"
		assert_line --index 3 "NEIGH=2"
		grep -q '^ABL_SCRATCH=lineage EPOCHS_FINAL=1 ' "$h/scratch/settings/scratch"
		# (b): its child replaced the parent (no model selection): the table has no parent
		run -0 cut -f 2 "$h/random/step1/select.tsv"
		assert_output "$(printf 'model\n%s' "$h/random/step1/child1.h5")"
		[ "$(nash-show --tsv "$h/random/step1/best.h5" | cut -f 14)" = "$(nash-show --tsv "$h/random/step1/child1.h5" | cut -f 14)" ]
		# (c): a constant learning rate in the children's second epoch, a cosine in (a)'s
		grep -q 'epoch 2/2  lr 0\.0050 ' "$h/const-lr/step1/child1.log"
		grep -q 'epoch 2/2  lr 0\.0025-0\.0000 ' "$h/search/step1/child1.log"
		# (d): (a)'s architecture, not its weights, trained for as many epochs as (a)'s final network
		run -0 nash-show --tsv "$h/search/final.h5" "$h/scratch/final.h5"
		[ "$(cut -f 15 <<<"${lines[1]}")" = "$(cut -f 15 <<<"${lines[2]}")" ]
		[ "$(cut -f 8 <<<"${lines[1]}")" = "$(cut -f 8 <<<"${lines[2]}")" ]
		[ "$(cut -f 14 <<<"${lines[1]}")" != "$(cut -f 14 <<<"${lines[2]}")" ]
		run -0 nash-show "$h/scratch/final.h5"
		assert_output --partial "then reinitialised once"
		assert_output --partial "1 run, "
		assert_output --partial "(trained on), test "
		# (e): the seed network's architecture, untouched by morphisms, from its initial weights,
		# trained for the budget's epochs, which spend (a)'s training seconds at the seed's speed
		run -0 nash-show --tsv "$h/step0/init.h5" "$h/seed-only/final.h5"
		[ "$(cut -f 15 <<<"${lines[1]}")" = "$(cut -f 15 <<<"${lines[2]}")" ]
		[ "$(cut -f 12 <<<"${lines[2]}")" = 0 ]
		e=$(sed -n 's/^epochs=//p' "$h/seed-only/budget.txt")
		[ "$(cut -f 8 <<<"${lines[2]}")" = "$e" ]
		t=$(awk -F '\t' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "train_seconds") c = i; next } { print $c; exit }' \
			"$h/search/result.tsv")
		grep -qx "search_train_seconds=$t" "$h/seed-only/budget.txt"
		r=$(sed -n 's/^seed_images_per_second=//p' "$h/seed-only/budget.txt")
		p=$(sed -n 's/^final_epoch_images=//p' "$h/seed-only/budget.txt")
		[ "$p" = 456 ] # LIMIT 256 + VAL 200: the final phase trains on all
		[ "$(awk -v t="$t" -v r="$r" -v p="$p" 'BEGIN { e = int(t * r / p + 0.5); print e < 1 ? 1 : e }')" = "$e" ]
	done
	# the table: a row per variant, over 2 seeds; the figures: a row per variant and seed
	run -0 cut -f 1,2 "$d/report.tsv"
	assert_output "$(printf 'variant\tseeds\nsearch\t2\nrandom\t2\nconst-lr\t2\nscratch\t2\nseed-only\t2')"
	[ "$(wc -l <"$d/results.tsv")" -eq 11 ]
	run -0 cat "$d/report.md"
	assert_line --regexp '^\| \(a\) the search as configured \| [0-9.]+ ± [0-9.]+ \| - \| [0-9]+ \| [0-9.]+ \| [0-9]+s \| 2 \|$'
	assert_line --regexp '^\| \(b\) random: NEIGH=1, .* \| [0-9.]+ ± [0-9.]+ \| [+-][0-9.]+ ± [0-9.]+ \| '
	assert_line --regexp '^\| \(c\) children at a constant learning rate .* \| 2 \|$'
	assert_line --regexp "^\| \(d\) \(a\)'s network retrained from scratch .* \| 2 \|$"
	assert_line --regexp "^\| \(e\) no search: the seed network trained for \(a\)'s training time \| [0-9.]+ ± [0-9.]+ \| [+-][0-9.]+ ± [0-9.]+ \| .* \| 2 \|$"
	assert_line --regexp "^\*\*Search against no search:\*\* \(a\)'s final network has [0-9.]+ ± [0-9.]+ points (less|more) test error than \(e\), .*; \(a\) is better on [012] of 2 seeds\. "
	assert_line --regexp '^\| 7 \| [0-9.]+% \([0-9]+ params\) \| '
	assert_output --partial "(d) was trained for ABL_SCRATCH=lineage epochs"
	assert_output --regexp '!\[validation accuracy against training time, \(a\) and \(c\)\]\(report/val-time\.(png|svg)\)'
	ls "$d"/report/val-time.*
	# the mean and sample sd of (a)'s test error over the two seeds
	a=$(awk -F '\t' '$1 == "search" && $2 == 7 { print $4 }' "$d/results.tsv")
	b=$(awk -F '\t' '$1 == "search" && $2 == 8 { print $4 }' "$d/results.tsv")
	want=$(awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; if (d < 0) d = -d; printf "%.2f\t%.2f", 50 * (a + b), 100 * d / sqrt(2) }')
	[ "$(awk -F '\t' '$1 == "search" { print $3 "\t" $4 }' "$d/report.tsv")" = "$want" ]
	# the ensemble of (a)'s final networks across the seeds
	run -0 grep -c "^$d/seed[78]/search/final\.h5 " "$d/ensemble.txt"
	[ "$output" -eq 2 ]
	run -0 find "$d" -name '*.tmp' -o -name '*.ckpt.h5' -o -name '.tmp*'
	assert_output ""
}

@test "a second make ablation does nothing" {
	d=$BATS_TEST_TMPDIR/abl
	need_ablation
	cp -a "$BATS_FILE_TMPDIR/abl" "$d" # its times kept: complete to make, as the original is
	run -0 abl -q "$d/report.md" ABL_DIR="$d"
	touch "$BATS_TEST_TMPDIR/marker"
	sleep 1
	run -0 abl ablation-run ABL_DIR="$d"
	assert_line --regexp '^ablation done: '
	refute_line --regexp '^(seed[0-9]+/[a-z-]+: step|  seed[0-9]+/)'
	run -0 find "$d" -newer "$BATS_TEST_TMPDIR/marker"
	assert_output ""
}

@test "make ablation killed with kill -9 mid-way resumes and ends as an uninterrupted one" {
	need_ablation
	d=$BATS_TEST_TMPDIR/abl
	hook=$(make_hook)
	# kill -9 everything once the second seed's constant-lr child has written its first checkpoint
	HOOK_CHILD=seed8/const-lr/step1/child2 HOOK_ACTION=kill search_group -j2 ablation-run ABL_DIR="$d" LAUNCH="$hook"
	[ "$status" -ne 0 ]
	[ ! -f "$d/report.md" ] && [ ! -f "$d/seed8/const-lr/step1/child2.h5" ]
	[ -f "$d/seed8/const-lr/step1/child2.ckpt.h5" ]
	run -0 abl -j2 ablation-run ABL_DIR="$d"
	assert_line --regexp '^  seed8/const-lr/step1/child2: val '
	refute_line --regexp '^  seed[78]/seed: '
	grep -q "resuming from $d/seed8/const-lr/step1/child2.ckpt.h5" "$d/seed8/const-lr/step1/child2.log"
	diff "$BATS_FILE_TMPDIR/abl.fingerprint" <(fingerprint "$d")
}
