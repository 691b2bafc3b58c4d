#!/usr/bin/env bats
# nash-report on a hand-made search: untrained models (no seconds, no accuracies of their own),
# hand-written step tables and ensemble.txt, so that every figure of the report is known.
load common

# A search of two steps in $BATS_FILE_TMPDIR/r: step 1's child1 won (child2 failed), step 2
# kept its parent (its best has step 1's weights), the final model is step 2's best.
setup_file() {
	r=$BATS_FILE_TMPDIR/r
	mkdir -p "$r/step0" "$r/step1" "$r/step2" "$r/settings"
	init() { nash-init --dataset "$FMNIST" --widths 4,8 --val 200 --seed "$1" -o "$2"; }
	init 1 "$r/step0/best.h5"
	init 2 "$r/step1/child1.h5"
	init 3 "$r/step1/c2.h5"
	nash-select --mark-failed "out of memory" -o "$r/step1/child2.h5" "$r/step1/c2.h5"
	rm "$r/step1/c2.h5"
	cp "$r/step1/child1.h5" "$r/step1/best.h5"
	init 4 "$r/step2/child1.h5"
	cp "$r/step1/best.h5" "$r/step2/best.h5"
	cp "$r/step2/best.h5" "$r/final.h5"
	echo "loss=1.2 test_accuracy=0.5000" >"$r/step0/test.txt"
	h='rank	model	val_accuracy	params	epochs	seconds	since_parent	morphisms	usable	note'
	printf '%s\n' "$h" "1	$r/step1/child1.h5	0.6000	1000	2	30.0	2	wider,deeper	1	-" \
		"2	$r/step0/best.h5	0.5000	900	1	0.0	-1	-	1	-" \
		"3	$r/step1/child2.h5	0.5000	900	1	0.0	-1	-	0	failed: out of memory" >"$r/step1/select.tsv"
	printf '%s\n' "$h" "1	$r/step1/best.h5	0.6000	1000	2	0.0	-1	-	1	-" \
		"2	$r/step2/child1.h5	0.5500	1100	3	90.0	1	skip	1	a|b" >"$r/step2/select.tsv"
	printf '%s\n' "member  params  test_accuracy" "$r/step1/best.h5  1000  0.7000" "ensemble of 1    0.7250" \
		"test_accuracy=0.7250" >"$r/ensemble.txt"
	echo "STEPS=2 SEED=7" >"$r/settings/run"
}

# A copy of the hand-made search at $BATS_TEST_TMPDIR/r (its tables name the original's files).
copy() {
	cp -a "$BATS_FILE_TMPDIR/r" "$BATS_TEST_TMPDIR/r"
}

@test "nash-report --help and --version" {
	run -0 nash-report --help
	assert_output --partial "Usage: nash-report search"
	run -0 nash-report --version
	assert_output --partial "nash-report (nash)"
}

@test "nash-report plot-data: the cumulative training minutes and the best accuracy per step, every trained child's" {
	r=$BATS_FILE_TMPDIR/r
	run -0 nash-report plot-data "$r" 2
	# seconds: the seed's 0, step 1's trained child 30 s (the parent and a failed child do not
	# count), step 2's 90 s: 0, 0.5 and 2 minutes
	run -0 cat "$r/report/steps.dat"
	assert_output "$(printf '0 0 -\n1 0.5 0.6000\n2 2 0.6000')"
	run -0 cat "$r/report/children.dat"
	assert_output "$(printf '1 0.6000\n2 0.5500')"
}

@test "nash-report search: result.tsv and summary.txt against hand-computed figures" {
	r=$BATS_FILE_TMPDIR/r
	params=$(nash-show --tsv "$r/final.h5" | awk -F '\t' 'NR == 2 { print $7 }')
	run -0 nash-report search "$r" 2
	run -0 cat "$r/result.tsv"
	assert_line -n 0 "$(printf 'seed_test\tfinal_test\tensemble_test\tparams\tepochs\ttrain_seconds\tfinal_seconds\tbest_val\ttrain_images\tfinal_epoch_images')"
	# 120 s of training; untrained models: no test accuracy, no images
	assert_line -n 1 "$(printf '0.5000\t-\t0.7250\t%s\t0\t120\t0.0\t-\t0\t-' "$params")"
	run -0 cat "$r/summary.txt"
	assert_line -n 0 "search done: $r (2 steps, 2m00s of training, 0 images)"
	assert_line "    member: step 1                   test 0.7000"
	# step 2's best has step 1's weights: counted once, with step 1's accuracy
	assert_line "    member: step 2                   test 0.7000 (= step 1)"
	# 0.7250 - 0.7000
	assert_line "  snapshot ensemble (1 model, raw)   test 0.7250  (+2.50 points over its best member)"
}

@test "nash-report search: report.md's tables" {
	r=$BATS_FILE_TMPDIR/r
	run -0 nash-report search --final-on all --plot report/val.png "$r" 2
	run -0 cat "$r/report.md"
	assert_line "STEPS=2"
	assert_line "SEED=7"
	assert_line "| 1 | \`step1/best.h5\` | 0.7000 |"
	assert_line "| 2 | \`step2/best.h5\` (same weights as step 1's) | 0.7000 |"
	assert_line "The ensemble against its best member (0.7000): +2.50 percentage points."
	assert_line "Training time, all models: 2m00s (seed 0s, final 0s)."
	assert_line "![validation accuracy against step and training time](report/val.png)"
	assert_output --partial "| after final training (\`final.h5\`) | - (trained on) | - |"
	assert_output --partial "The final model was trained on training + validation images (FINAL_ON=all"
	# the steps: the parent, a failed child without figures, a note's | kept out of the table
	assert_line "| 1 | child1 | 2: wider,deeper | 0.6000 | 1000 | 30.0 |  |"
	assert_line "| 2 | parent | - | 0.5000 | 900 | 0.0 |  |"
	assert_line "| 3 | child2 | - | - | - | - | failed: out of memory |"
	assert_line "| 2 | child1 | 1: skip | 0.5500 | 1100 | 90.0 | a/b |"
	# where: every model trained, the failed child not counted
	assert_line "4 trainings on 1 host."
	assert_line "| step1/child2 | - | (failed: not recorded) | - |"
	assert_line "| final | - | - | - |"
	refute_output --partial "Not finished"
}

@test "nash-report search --partial: how far the search got, report.md only" {
	copy
	r=$BATS_TEST_TMPDIR/r
	rm "$r/final.h5" "$r/ensemble.txt"
	run -0 nash-report search --partial "$r" 1
	[ ! -e "$r/summary.txt" ] && [ ! -e "$r/result.tsv" ]
	run -0 cat "$r/report.md"
	assert_line "**Not finished: 1 step done, no final training yet.** The best network so far is"
	assert_line "Training time, all models: 30s (seed 0s, final not yet)."
	assert_output --partial "| best of the search (\`step1/best.h5\`, 0 morphisms) | - | - |"
	refute_output --partial "after final training"
	assert_line "2 trainings on 1 host."
}

@test "nash-report search --step0: a seed network shared with other searches" {
	copy
	r=$BATS_TEST_TMPDIR/r
	mv "$r/step0" "$BATS_TEST_TMPDIR/step0"
	run -0 nash-report search --partial --step0 "$BATS_TEST_TMPDIR/step0" "$r" 0
	run -0 cat "$r/report.md"
	assert_output --partial "| seed network (\`../step0/best.h5\`) | - | 0.5000 |"
	assert_line "| ../step0/best | - | - | - |"
}

@test "nash-report usage errors exit 2" {
	run -2 nash-report
	assert_output --partial "missing a command"
	run -2 nash-report draw r 1
	assert_output --partial "'draw' is not a command"
	run -2 nash-report search "$BATS_FILE_TMPDIR/r"
	assert_output --partial "missing RUN and STEPS"
	run -2 nash-report search --final-on val "$BATS_FILE_TMPDIR/r" 2
	assert_output --partial "--final-on: 'val' is not train or all"
	run -2 nash-report search "$BATS_FILE_TMPDIR/r" two
	assert_output --partial "STEPS: 'two' is not an integer"
	run -2 nash-report plot-data --partial "$BATS_FILE_TMPDIR/r" 2
}

@test "nash-report on bad input fails with exit 1, naming the file and what is wrong, writing nothing" {
	copy
	r=$BATS_TEST_TMPDIR/r
	rm -f "$r/report.md" "$r/summary.txt" "$r/result.tsv"
	run -1 nash-report search "$r" 3
	assert_output --regexp "^nash-report: $r/step3/select.tsv: "
	cut -f 1-8 "$BATS_FILE_TMPDIR/r/step2/select.tsv" >"$r/step2/select.tsv"
	run -1 nash-report search "$r" 2
	assert_output "nash-report: not a selection table: $r/step2/select.tsv: no column usable"
	sed 's/	90\.0	/	ninety	/' "$BATS_FILE_TMPDIR/r/step2/select.tsv" >"$r/step2/select.tsv"
	run -1 nash-report search "$r" 2
	assert_output "nash-report: $r/step2/select.tsv: row 2: seconds 'ninety' is not a number"
	cp "$BATS_FILE_TMPDIR/r/step2/select.tsv" "$r/step2/select.tsv"
	echo junk >"$r/final.h5"
	run -1 nash-report search "$r" 2
	assert_output --regexp "^nash-report: $r/final.h5: "
	[ ! -e "$r/report.md" ] && [ ! -e "$r/summary.txt" ] && [ ! -e "$r/result.tsv" ]
}
