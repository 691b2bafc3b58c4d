#!/usr/bin/env bats
# nash-report on a hand-made search, repeated searches and an ablation: untrained models (no
# seconds, no accuracies of their own), hand-written tables, so that every figure is known.
load common
load report

# The hand-made search, runs and ablation (report.bash), in $BATS_FILE_TMPDIR/r, runs and abl.
setup_file() {
	hand_made_search "$BATS_FILE_TMPDIR/r"
	hand_made_runs "$BATS_FILE_TMPDIR/runs"
	have_h5py && hand_made_ablation "$BATS_FILE_TMPDIR/abl"
	# a model trained one epoch, whose figures the climb's tests state (set_figures)
	nash-train --data "$FMNIST" --limit 64 --batch 32 --epochs 1 -o "$BATS_FILE_TMPDIR/trained.h5" \
		"$BATS_FILE_TMPDIR/r/step0/best.h5" >/dev/null 2>&1
}

# A copy of the hand-made search at $BATS_TEST_TMPDIR/r (its tables name the original's files).
# The tests that check figures read through those names make a search of their own
# (hand_made_search) and write its report there: the tests run side by side, and one writing
# into the original (a temporary, then a rename) made another's copy miss a temporary it had
# listed.
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
	r=$BATS_TEST_TMPDIR/r
	hand_made_search "$r"
	run -0 nash-report plot-data "$r" 2
	# seconds: the seed's 0, step 1's trained child 30 s (the parent and a failed child do not
	# count), step 2's 90 s: 0, 0.5 and 2 minutes
	run -0 cat "$r/report/steps.dat"
	assert_output "$(printf '0 0 -\n1 0.5 0.6000\n2 2 0.6000')"
	run -0 cat "$r/report/children.dat"
	assert_output "$(printf '1 0.6000\n2 0.5500')"
}

@test "nash-report search: result.tsv and summary.txt against hand-computed figures" {
	r=$BATS_TEST_TMPDIR/r
	hand_made_search "$r"
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
	r=$BATS_TEST_TMPDIR/r
	hand_made_search "$r"
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

@test "nash-report search --started: the wall time against the training time, only for a search one make made whole" {
	copy
	r=$BATS_TEST_TMPDIR/r
	now=$(date +%s)
	touch -d "@$((now - 470))" "$r/step0/init.h5" # the seed network made 10 s after the make started
	run -0 nash-report search --started $((now - 480)) --at-once 2 "$r" 2
	run -0 cat "$r/report.md"
	# 2m00s of the children's training, 2 at once, no seed or final seconds: 1m00s of 8 minutes,
	# 12.5%, printed 12 (8m01s, should the clock tick: 12.47%)
	assert_line --regexp '^Wall time: 8m0[01]s from `make search` to this report, of which the trainings took 1m00s \(2m00s of training: the seed network.s and the final training on every core, the others 2 at once\): 12%; the rest went to starting programs, reading files, morphisms, evaluations, and slots left idle\.$'
	# a seed network older than the make: a search resumed or extended, whose wall time is not known
	run -0 nash-report search --started $((now - 460)) --at-once 2 "$r" 2
	run -1 grep '^Wall time' "$r/report.md"
	run -2 nash-report search --at-once 0 "$r" 2
	run -2 nash-report runs --at-once 2 "$r" run1
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
	assert_output --partial "search: missing RUN STEPS"
	run -2 nash-report runs "$BATS_FILE_TMPDIR/runs"
	assert_output --partial "runs: missing DIR NAME..."
	run -2 nash-report search --final-on val "$BATS_FILE_TMPDIR/r" 2
	assert_output --partial "--final-on: 'val' is not train or all"
	run -2 nash-report search "$BATS_FILE_TMPDIR/r" two
	assert_output --partial "STEPS: 'two' is not an integer"
	run -2 nash-report plot-data --partial "$BATS_FILE_TMPDIR/r" 2
	assert_output --partial "plot-data takes no --partial"
	run -2 nash-report runs --plot p.png "$BATS_FILE_TMPDIR/runs" run1
	assert_output --partial "runs takes no --plot"
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

@test "nash-report climb: the most steps, the saturation, the time budget, against hand-computed values" {
	have_h5py || fail "python3-h5py is missing (tests/deps.sh installs it)"
	r=$BATS_TEST_TMPDIR/r
	climbing "$r"
	budget=(--epochs 2,1,4 --neigh 2 --jobs 2)
	# STEPS: another below the most, none at it, recorded in climb.txt
	run -0 nash-report climb --max-steps 3 "$r" 2
	assert_output continue
	[ ! -e "$r/climb.txt" ]
	run -0 nash-report climb --max-steps 2 "$r" 2
	assert_output "$(printf 'stop\tthe most steps asked for: STEPS=2')"
	run -0 cat "$r/climb.txt"
	assert_output "$(printf 'steps=2\nwhy=the most steps asked for: STEPS=2')"
	# PATIENCE=1: 0.6050 after 0.6000, less than MIN_GAIN=0.01; over 2 steps 0.1050 is not
	run -0 nash-report climb --max-steps 3 --patience 1 --min-gain 0.01 "$r" 2
	assert_output "$(printf 'stop\tthe validation accuracy saturated: 0.6000 after step 1, 0.6050 after step 2, a gain below MIN_GAIN=0.01 in PATIENCE=1 steps')"
	run -0 nash-report climb --max-steps 3 --patience 2 --min-gain 0.01 "$r" 2
	assert_output continue
	# BUDGET: no walls, so the seconds are estimated: the pretraining's 10, the trained children's
	# 30 and 90 over 2 at once, 15 and 45: 70 spent; step 3 1.5 times 45, 67; the final phase
	# 4 epochs of 2 s, a fifth more: 10, a quarter more: 12; 149 in all
	run -0 nash-report climb --max-steps 3 --budget 149 "${budget[@]}" "$r" 2
	assert_output continue
	run -0 nash-report climb --max-steps 3 --budget 148 "${budget[@]}" "$r" 2
	assert_output "$(printf 'stop\tthe time budget: BUDGET=2m28s, 1m10s spent, step 3 would take about 1m07s and the final phase after it about 12s')"
	run -0 cat "$r/climb.txt"
	assert_line "steps=2"
	# a step's wall, as the climb timed it, counts instead (20 s, not 15); a wall that holds no
	# count does not
	echo 20 >"$r/step1/wall"
	echo soon >"$r/step2/wall"
	run -0 nash-report climb --max-steps 3 --budget 149 "${budget[@]}" "$r" 2
	assert_output --partial "BUDGET=2m29s, 1m15s spent, step 3 would take about 1m07s"
	# a next step made by an earlier climb is taken as it is
	run -0 nash-report climb --max-steps 3 --budget 1 --next-made "${budget[@]}" "$r" 2
	assert_output continue
	# FINAL_ON=all, ENSEMBLE=trained: 4 x 2 x 1.1 x 1.2 = 10.56, 11 s; 13 s with a larger network
	run -0 nash-report climb --max-steps 3 --budget 1000 --final-on all --ensemble trained "${budget[@]}" "$r" 2
	assert_output continue
	run -0 nash-report climb --max-steps 3 --budget 100 --final-on all --ensemble trained "${budget[@]}" "$r" 2
	assert_output --partial "and the final phase after it about 13s"
	# after the pretraining: step 1 4 x 10 s / 2 epochs, both children at once: 20 s; the final
	# phase 4 x 5 s x 1.2 = 24 s, 30 s
	run -0 nash-report climb --max-steps 3 --budget 59 "${budget[@]}" "$r" 0
	assert_output "$(printf 'stop\tthe time budget: BUDGET=59s, 10s spent, step 1 would take about 20s and the final phase after it about 30s')"
	run -0 nash-report climb --max-steps 3 --budget 60 "${budget[@]}" "$r" 0
	assert_output continue
	# a step whose best would need a longer final phase than the step before's, past the
	# budget, is set aside: step 2's best at 8 s, its final phase 4 x 8 x 1.2 = 38 s (step 1's
	# 4 x 4 x 1.2 = 19 s); 70 s spent: 108 s in all
	climbing "$BATS_TEST_TMPDIR/d"
	set_figures "$BATS_TEST_TMPDIR/d/step2/best.h5" 0.605 8
	run -0 nash-report climb --max-steps 3 --budget 107 "${budget[@]}" "$BATS_TEST_TMPDIR/d" 2
	assert_output "$(printf "discard\tthe time budget: BUDGET=1m47s, 1m10s spent, and step 2's best would need about 38s of final phase, step 1's less: step 2 is set aside")"
	run -0 cat "$BATS_TEST_TMPDIR/d/climb.txt"
	assert_line "steps=1"
	run -0 nash-report climb --max-steps 3 --budget 108 "${budget[@]}" "$BATS_TEST_TMPDIR/d" 2
	assert_output --partial "$(printf 'stop\tthe time budget: BUDGET=1m48s, 1m10s spent, step 3 would take')"
	# no budget, no setting aside
	run -0 nash-report climb --max-steps 3 "$BATS_TEST_TMPDIR/d" 2
	assert_output continue
	# a step's best measured at the final phase's threads (stepK/speed.h5, as the climb makes
	# it): its seconds per image times the images of the best's last training. Step 2's best
	# trained 2,000 images in 2 s; measured at 1 s for 2,000 images: 1 s, its final phase 4 x
	# 1 x 1.2 = 4.8, 5 s, a quarter more 6 s (not 12): 70 + 67 + 6 = 143 s
	climbing "$BATS_TEST_TMPDIR/m"
	set_figures "$BATS_TEST_TMPDIR/m/step2/best.h5" 0.605 2 2000
	cp "$BATS_TEST_TMPDIR/m/step2/best.h5" "$BATS_TEST_TMPDIR/m/step2/speed.h5"
	set_figures "$BATS_TEST_TMPDIR/m/step2/speed.h5" 0.605 1 2000
	run -0 nash-report climb --max-steps 3 --budget 143 "${budget[@]}" "$BATS_TEST_TMPDIR/m" 2
	assert_output continue
	run -0 nash-report climb --max-steps 3 --budget 142 "${budget[@]}" "$BATS_TEST_TMPDIR/m" 2
	assert_output --partial "and the final phase after it about 6s"
	# a speed file with no training in it is an error naming it
	set_figures "$BATS_TEST_TMPDIR/m/step2/speed.h5" 0.605 0 2000
	run -1 nash-report climb --max-steps 3 --budget 142 "${budget[@]}" "$BATS_TEST_TMPDIR/m" 2
	assert_output --partial "speed.h5: no training seconds or images to measure a speed by"
}

@test "nash-report climb: usage errors exit 2, bad files 1 naming the file" {
	u=$BATS_FILE_TMPDIR/r
	run -2 nash-report climb "$u" 2
	assert_output --partial "climb: missing --max-steps"
	run -2 nash-report climb --max-steps 3 --budget 60 "$u" 2
	assert_output --partial "climb: --budget needs --epochs and --neigh"
	run -2 nash-report climb --max-steps 3 --epochs 1,2 "$u" 2
	assert_output --partial "--epochs: '1,2' is not SEED,NEIGH,FINAL"
	run -2 nash-report climb --max-steps 3 --patience 0 "$u" 2
	assert_output --partial "--patience: 0 is out of range"
	run -2 nash-report search --budget 60 "$u" 2
	assert_output --partial "search takes no --budget"
	run -2 nash-report climb --max-steps 3 "$u"
	assert_output --partial "climb: missing RUN K"
	# the hand-made search's models never trained: no seconds, no accuracies to decide by
	run -1 nash-report climb --max-steps 3 --budget 60 --epochs 2,1,4 --neigh 2 "$u" 2
	assert_output "nash-report: $u/step2/best.h5: no training seconds to predict the final phase from"
	run -1 nash-report climb --max-steps 3 --patience 1 "$u" 2
	assert_output "nash-report: $u/step2/best.h5: no validation accuracy to compare (PATIENCE)"
	run -1 nash-report climb --max-steps 5 "$u" 3
	assert_output --regexp "^nash-report: $u/step3/best.h5: "
	# a step without a wall, nor a table to estimate its seconds from
	cp -a "$u" "$BATS_TEST_TMPDIR/r"
	rm "$BATS_TEST_TMPDIR/r/step2/select.tsv"
	run -1 nash-report climb --max-steps 1 "$BATS_TEST_TMPDIR/r" 2
	assert_output --regexp "^nash-report: $BATS_TEST_TMPDIR/r/step2/select.tsv: "
	[ ! -e "$BATS_TEST_TMPDIR/r/climb.txt" ]
}

@test "nash-report baseline-budget: the seed network's epochs for the search's training time" {
	have_h5py || fail "python3-h5py is missing (tests/deps.sh installs it)"
	d=$BATS_TEST_TMPDIR
	cp "$BATS_FILE_TMPDIR/trained.h5" "$d/seed.h5"
	set_figures "$d/seed.h5" 0.5 2 600
	printf 'train_seconds\tfinal_epoch_images\n120\t456\n' >"$d/result.tsv"
	# 600 images in 2 s: 300 a second; 120 s of them over 456 images an epoch: 78.9, 79 epochs
	run -0 nash-report baseline-budget "$d/budget.txt" "$d/result.tsv" "$d/seed.h5"
	assert_output ""
	run -0 cat "$d/budget.txt"
	assert_output "$(printf 'epochs=79\nsearch_train_seconds=120\nseed_images_per_second=300.0\nfinal_epoch_images=456')"
	# less than an epoch's time: one epoch all the same
	printf 'train_seconds\tfinal_epoch_images\n0.5\t456\n' >"$d/result.tsv"
	run -0 nash-report baseline-budget "$d/budget.txt" "$d/result.tsv" "$d/seed.h5"
	run -0 head -n 1 "$d/budget.txt"
	assert_output "epochs=1"
	# no figures to compute with: exit 1, saying which, the old file kept
	printf 'train_seconds\tfinal_epoch_images\n120\t-\n' >"$d/result.tsv"
	run -1 nash-report baseline-budget "$d/budget.txt" "$d/result.tsv" "$d/seed.h5"
	assert_output "nash-report: no training figures in $d/result.tsv or $d/seed.h5 (train_seconds 120, final_epoch_images -, images 600, seconds 2.0)"
	run -0 head -n 1 "$d/budget.txt"
	assert_output "epochs=1"
	run -1 nash-report baseline-budget "$d/budget.txt" "$d/missing.tsv" "$d/seed.h5"
	assert_output --regexp "^nash-report: $d/missing.tsv: "
	printf 'train_seconds\n120\n' >"$d/result.tsv"
	run -1 nash-report baseline-budget "$d/budget.txt" "$d/result.tsv" "$d/seed.h5"
	assert_output "nash-report: $d/result.tsv: no column final_epoch_images"
	run -2 nash-report baseline-budget "$d/budget.txt" "$d/result.tsv"
	assert_output --partial "baseline-budget: missing OUT RESULT SEED_MODEL"
	run -0 find "$d" -name '*.tmp'
	assert_output ""
}

@test "nash-report check-budget, max-params and max-macs: the settings derived before training, the children's budget and cap" {
	cp "$BATS_FILE_TMPDIR/r/step0/best.h5" "$BATS_TEST_TMPDIR/init.h5"
	m=$BATS_TEST_TMPDIR/init.h5
	p=$(nash-show --tsv "$m" | cut -f 7 | tail -n 1)
	run -0 nash-report check-budget --label run2/ --limit 256 "$m" 4x
	assert_output "$(printf 'run2: data: fashion-mnist (1x28x28, 10 classes), 200 validation images held out; the first 256 training images (LIMIT)\nrun2: seed network: %s parameters; children up to %s parameters (MAX_PARAMS=4x)' "$p" $((4 * p)))"
	run -0 cat "$BATS_TEST_TMPDIR/init.derived"
	assert_line --index 0 "data: fashion-mnist (1x28x28, 10 classes), 200 validation images held out; the first 256 training images (LIMIT)"
	run -0 nash-report check-budget "$m" ''
	assert_line --index 0 --partial "; every training image (no LIMIT)"
	assert_line --index 1 "seed network: $p parameters; no parameter budget (MAX_PARAMS=)"
	run -0 nash-report check-budget "$m" $((p + 1))
	assert_line --index 1 "seed network: $p parameters; children up to $((p + 1)) parameters (MAX_PARAMS)"
	# a budget the seed network fills: said after the settings, exit 1
	run -1 nash-report check-budget "$m" "$p"
	assert_line --index 1 "seed network: $p parameters; children up to $p parameters (MAX_PARAMS)"
	assert_line --index 2 "nash-report: MAX_PARAMS=$p does not exceed what the seed network ($m) has, $p parameters (its widths, classes and image size), so no child could be made: give MAX_PARAMS above $p (say 4x, $((4 * p)) parameters, or MAX_PARAMS= for no budget)"
	# max-params: the budget in parameters, an empty line for none
	run -0 nash-report max-params 2.5x "$m"
	assert_output "$((5 * p / 2))"
	run -0 nash-report max-params 1000 "$m"
	assert_output 1000
	run -0 nash-report max-params '' "$m"
	assert_output ""
	# max-macs: a child's cap under MAX_GROWTH, G times the parent's multiply-adds per image
	# (cut to a whole one), an empty line for none
	macs=$(nash-show --tsv "$m" | awk -F '\t' 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i } NR == 2 { print $c["macs"] }')
	[ "$macs" -gt 0 ]
	run -0 nash-report max-macs 4 "$m"
	assert_output "$((4 * macs))"
	run -0 nash-report max-macs 1.5 "$m"
	assert_output "$((3 * macs / 2))"
	run -0 nash-report max-macs 01.25 "$m"
	assert_output "$((5 * macs / 4))"
	run -0 nash-report max-macs '' "$m"
	assert_output ""
	for g in 0.5 0 .5 1.5x 1. 2e3 x; do
		run -2 nash-report max-macs "$g" "$m"
		assert_output "nash-report: MAX_GROWTH: '$g' is not a factor of 1 or more (1.5: a child costs at most 1.5 times its parent's multiply-adds per image)"
	done
	run -1 nash-report max-macs 2 "$BATS_TEST_TMPDIR/missing.h5"
	assert_output --regexp "^nash-report: $BATS_TEST_TMPDIR/missing.h5: "
	run -2 nash-report max-macs 2
	assert_output --partial "max-macs: missing MAX_GROWTH PARENT"
	# errors
	run -2 nash-report max-params 4y "$m"
	assert_output "nash-report: MAX_PARAMS: '4y' is not a number of parameters (200000) or a multiple of the seed network's (4x)"
	run -2 nash-report check-budget --limit none "$m" 4x
	assert_output --partial "--limit: 'none'"
	run -2 nash-report check-budget "$m"
	assert_output --partial "check-budget: missing MODEL MAX_PARAMS"
	run -1 nash-report check-budget "$BATS_TEST_TMPDIR/missing.h5" 4x
	assert_output --regexp "^nash-report: $BATS_TEST_TMPDIR/missing.h5: "
	[ ! -e "$BATS_TEST_TMPDIR/missing.derived" ]
	run -0 find "$BATS_TEST_TMPDIR" -name '*.tmp'
	assert_output ""
}

@test "nash-report runs: each run's figures, their mean and sample sd, against hand-computed values" {
	d=$BATS_TEST_TMPDIR/runs
	hand_made_runs "$d"
	run -0 nash-report runs "$d" run1 run2 run3
	run -0 cat "$d/runs.tsv"
	assert_line -n 3 "$(printf 'run3\t9\t-\t0.8600\t-\t1100\t300.5')"
	run -0 cat "$d/summary.txt"
	assert_line -n 0 "repeated search done: $d (3 runs, seeds 7 8 9)"
	# final: 0.80, 0.84, 0.86: mean 0.8333, sd sqrt(0.0018667 / 2); the ensembles 0.81, 0.85 (run 3 has none)
	assert_line "  mean ± sd   final test 0.8333 ± 0.0306  snapshot ensemble 0.8300 ± 0.0283  (sample sd over 3 runs)"
	assert_line "  ensemble of the 3 final networks: test 0.8800  (+2.00 points over the best run)"
	run -0 cat "$d/report.md"
	assert_line "| [run3](run3/report.md) | 9 | - | 0.8600 | - | 1100 | 300 s |"
	# seed networks 0.50, 0.55; seconds 100, 200, 300.5: 200
	assert_line "| mean ± sd | | 0.5250 ± 0.0354 | 0.8333 ± 0.0306 | 0.8300 ± 0.0283 | | 200 s |"
	assert_line "(\`ensemble.h5\`, nash-ensemble): test accuracy **0.8800**, +2.00 percentage points over the best single run (0.8600)."
}

@test "nash-report ablation: the variants' table and the verdict against hand-computed values" {
	have_h5py || fail "python3-h5py is missing (tests/deps.sh installs it)"
	d=$BATS_FILE_TMPDIR/abl
	run -0 nash-report ablation --plot report/val-time.png "$d" seed1 seed2
	run -0 cat "$d/results.tsv"
	assert_line -n 1 "$(printf 'search\t7\t0.81\t0.1900\t1001\t9\t111')"
	assert_line -n 10 "$(printf 'seed-only\t8\t0.8600\t0.1400\t%s\t0\t0.0' "$(nash-show --tsv "$d/seed2/seed-only/final.h5" | cut -f 7 | tail -n 1)")"
	run -0 cut -f 1-6,8,9 "$d/report.tsv"
	# test errors: (a) 19, 18; (b) 29, 28; (c) 17, 16; (d) 24, 23; (e) 17, 14 percent
	assert_line "$(printf 'search\t2\t18.50\t0.71\t-\t-\t9.0\t116')"
	assert_line "$(printf 'random\t2\t28.50\t0.71\t10.00\t0.00\t9.0\t116')"
	assert_line "$(printf 'seed-only\t2\t15.50\t2.12\t-3.00\t1.41\t0.0\t0')"
	run -0 cat "$d/summary.txt"
	# 3 x (111 + 122) seconds of training
	assert_line -n 0 "ablation done: $d (2 seeds; 11m39s of training)"
	assert_line --regexp '^  \(c\) const-lr   test error 16\.50 ± 0\.71% vs \(a\) -2\.00 ± 0\.00 +1002 params +1m56s training  2 seeds$'
	assert_line "  Search against no search: (a)'s final network has 3.00 ± 1.41 points more test error than (e), the seed network trained for the same training time without any search; (a) is better on 0 of 2 seeds. The search does not beat no search here."
	assert_line "  seed network (shared)  test error 29.85 ± 0.07%"
	assert_line "  ensemble of (a)'s 2 final networks: test error 10.00%"
	run -0 cat "$d/report.md"
	assert_line "| (b) random: NEIGH=1, the child always taken (no model selection) | 28.50 ± 0.71 | +10.00 ± 0.00 | 1002 | 9.0 | 1m56s | 2 |"
	assert_line --regexp '^\| 8 \| 18\.00% \(1002 params\) \| 28\.00% \(1002 params\) \| 16\.00% \(1002 params\) \| 23\.00% \([0-9]+ params\) \| 14\.00% \([0-9]+ params\) \|$'
	assert_line "![validation accuracy against training time, (a) and (c)](report/val-time.png)"
	assert_output --partial "(d) was trained for ABL_SCRATCH=same epochs."
}

@test "nash-report runs and ablation on a missing or malformed file fail with exit 1, naming it" {
	cp -a "$BATS_FILE_TMPDIR/runs" "$BATS_TEST_TMPDIR/runs"
	d=$BATS_TEST_TMPDIR/runs
	rm -f "$d/runs.tsv" "$d/summary.txt" "$d/report.md"
	run -1 nash-report runs "$d" run1 run4
	assert_output --regexp "^nash-report: $d/run4/settings/init: "
	cut -f 1-3 "$BATS_FILE_TMPDIR/runs/run2/result.tsv" >"$d/run2/result.tsv"
	run -1 nash-report runs "$d" run1 run2
	assert_output "nash-report: $d/run2/result.tsv: no column params"
	[ ! -e "$d/report.md" ]
	run -1 nash-report ablation "$d" run1
	assert_output --regexp "^nash-report: $d/run1/search/result.tsv: "
}
