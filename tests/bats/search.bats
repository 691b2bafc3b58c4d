#!/usr/bin/env bats
# End-to-end tests of `make search` (pipelines/search.mk) on the tiny fixture data, and of
# nash-show, which the report uses.
load common
load pipeline

TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
. "$TOP/pipelines/common.sh" # tsv_col
# Tiny but real: 2 steps of 2 children, 3 epochs per child and 2 final ones so that children and
# snapshots checkpoint. A small learning rate, so that the search does not reach 100% validation
# accuracy in step 1: step 2's best is then a child, and step 1's snapshot is trained.
S_ARGS=(DATA="$FMNIST" VAL=200 LIMIT=256 BATCH=32 WIDTHS=4,8 STEPS=2 NEIGH=2 MORPHS=2
	EPOCHS_SEED=1 EPOCHS_NEIGH=3 EPOCHS_FINAL=2 MAX_PARAMS= MAX_GROWTH= LR_START=0.005 DEVICE=cpu SEED=7
	ENSEMBLE=trained TTA= LR_NEIGH=)

# The outer `make test` exports its flags (a jobserver among them): not for this make.
unset MAKEFLAGS MFLAGS MAKELEVEL

search() {
	make -C "$TOP" --no-print-directory BUILD="$NASH_BUILD" "${S_ARGS[@]}" "$@"
}

# The result of a run: weights and accuracies of every step's best, the final model, the
# trained snapshots and the ensemble.
fingerprint() {
	nash-show --tsv "$1"/step*/best.h5 "$1/final.h5" "$1"/snap/step*.h5 "$1/ensemble.h5" |
		awk -F '\t' 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
			{ print $c["val_accuracy"], $c["test_accuracy"], $c["params"], $c["weights_hash"] }'
}

# The reference searches, made once for the file (concurrently): the search (a) and RUNS=2
# (r2). Their tests check the output saved here; the tests that compare with them use the
# fingerprint, those that rerun or resume them a copy (reference_copy), so that every test can
# run on its own (bats -f) or beside the others.
setup_file() {
	local d=$BATS_FILE_TMPDIR
	{ search search RUN="$d/a" >"$d/a.out" 2>&1 && echo 0 >"$d/a.status" || echo $? >"$d/a.status"; } &
	{ search -j2 search RUN="$d/r2" RUNS=2 "${R_ARGS[@]}" >"$d/r2.out" 2>&1 && echo 0 >"$d/r2.status" || echo $? >"$d/r2.status"; } &
	wait
	[ "$(cat "$d/a.status")" -ne 0 ] || fingerprint "$d/a" >"$d/a.fingerprint"
	[ "$(cat "$d/r2.status")" -ne 0 ] || runs_fingerprint "$d/r2" >"$d/r2.fingerprint"
}

# The output and exit status of reference search $1 (a or r2).
reference() {
	cat "$BATS_FILE_TMPDIR/$1.out"
	return "$(cat "$BATS_FILE_TMPDIR/$1.status")"
}

# Fails unless reference search $1 completed.
need_reference() {
	[ -f "$BATS_FILE_TMPDIR/$1.fingerprint" ] || fail "the reference search $1 (setup_file) failed: $(tail -n 5 "$BATS_FILE_TMPDIR/$1.out")"
}

# A copy of reference search $1 at $2, its times kept: complete to make, as the original is.
reference_copy() {
	need_reference "$1"
	cp -a "$BATS_FILE_TMPDIR/$1" "$2"
}

# The real full-disk test's tmpfs goes with its test, whatever happened in it.
teardown() {
	! mountpoint -q "$BATS_TEST_TMPDIR/full" || umount "$BATS_TEST_TMPDIR/full"
}

@test "make -n search shows the plan and trains nothing" {
	run -0 search -n search RUN="$BATS_TEST_TMPDIR/run"
	assert_output --partial "nash-init"
	assert_output --partial "step1/child2.h5"
	assert_output --partial "nash-morph -n 2"
	assert_output --partial "--seed 7002001"
	# the final phase: on training + validation images, step 1's snapshot trained like the final model
	assert_output --regexp "final\.h5 .* --train-on all --seed 7999000"
	assert_output --regexp "snap --label snap/step1 .* --train-on all --seed 7999001"
	run -0 search -n search RUN="$BATS_TEST_TMPDIR/run" FINAL_ON=train ENSEMBLE=raw
	refute_output --partial "--train-on"
	refute_output --partial "snap/step1"
	assert_output --partial "search.sh select --step 2"
	assert_output --partial "nash-ensemble"
	[ ! -e "$BATS_TEST_TMPDIR/run" ] # not even the settings stamps
	# the training recipe: on every training, and the seed network's test with the same views
	run -0 search -n search RUN="$BATS_TEST_TMPDIR/run" SMOOTHING=0.1 EMA=0.9 TTA=flip
	[ "$(grep -c -e '--label-smoothing 0\.1 --ema 0\.9 --tta flip --epochs' <<<"$output")" -eq 7 ] # seed, 4 children, final, snapshot
	assert_output --regexp "nash-train .* --tta flip --epochs 0 --eval test $BATS_TEST_TMPDIR/run/step0/best\.h5"
	# the seed network: nash-init's default unless ARCH, PROFILE=paper's named
	run -0 search -n search RUN="$BATS_TEST_TMPDIR/run"
	refute_output --partial "--arch"
	run -0 search -n search RUN="$BATS_TEST_TMPDIR/run" ARCH=groups
	assert_output --regexp "nash-init --dataset [^ ]+ --arch groups --widths 4,8 "
	run -0 search -n search RUN="$BATS_TEST_TMPDIR/run" PROFILE=paper
	assert_output --regexp "nash-init --dataset [^ ]+ --arch paper --widths 4,8 "
	# PROFILE=cifar10-cpu: the groups seed network at its widths, the children at 0.02, a long
	# final phase, the mirror in every evaluation, the raw ensemble (no snapshot trainings)
	run -0 make -C "$TOP" --no-print-directory BUILD="$NASH_BUILD" -n search RUN="$BATS_TEST_TMPDIR/run" \
		PROFILE=cifar10-cpu DATA="cifar10:$BATS_TEST_TMPDIR"
	assert_output --regexp "nash-init --dataset cifar10:[^ ]+ --arch groups --widths 32,64,128 "
	assert_output --regexp "nash-train .* --lr 0\.02:0 .* --tta flip --epochs 1 "
	assert_output --regexp "final\.h5 .* --tta flip --epochs 12 --eval test --train-on all"
	refute_output --partial "snap/step1"
	[ ! -e "$BATS_TEST_TMPDIR/run" ]
}

@test "make search with bad settings says which" {
	run -2 search search RUN="$BATS_TEST_TMPDIR/run" STEPS=two
	assert_output --partial "STEPS must be non-negative integers"
	run -2 search search RUN="$BATS_TEST_TMPDIR/run" PROFILE=huge
	assert_output --partial "PROFILE must be default, paper, cifar10, cifar10-cpu or ablation"
	run -2 search search RUN="$BATS_TEST_TMPDIR/run" FINAL_ON=val
	assert_output --partial "FINAL_ON must be train or all"
	run -2 search search RUN="$BATS_TEST_TMPDIR/run" ENSEMBLE=best
	assert_output --partial "ENSEMBLE must be trained or raw"
	run -2 search -n search RUN="$BATS_TEST_TMPDIR/run" PROFILE=cifar10-cpu DATA=fashion-mnist
	assert_output --partial "PROFILE=cifar10-cpu needs DATA=cifar10:DIR"
	run -2 make -C "$TOP" --no-print-directory -n search RUN="$BATS_TEST_TMPDIR/run" PROFILE=cifar10
	assert_output --partial "PROFILE=cifar10 needs DATA=cifar10:DIR"
	run -2 search -n search RUN="$BATS_TEST_TMPDIR/run" SMOOTHING=1
	assert_output --partial "SMOOTHING must be a number from 0 to below 1 (nash-train --label-smoothing), not '1'"
	run -2 search -n search RUN="$BATS_TEST_TMPDIR/run" EMA=high
	assert_output --partial "EMA must be a number from 0 to below 1 (nash-train --ema), not 'high'"
	run -2 search -n search RUN="$BATS_TEST_TMPDIR/run" ARCH=resnet
	assert_output --partial "ARCH must be empty, paper or groups (nash-init --arch), not 'resnet'"
	run -2 search -n search RUN="$BATS_TEST_TMPDIR/run" TTA=crop
	assert_output --partial "TTA must be none, flip or flip-shift (nash-train --tta), not 'crop'"
	run -2 search -n baseline RUN="$BATS_TEST_TMPDIR/run" RUNS=2
	assert_output --partial "baseline: one search only (RUNS=1)"
}

@test "make search STEPS=2 NEIGH=2 completes: progress, valid models, report, settings" {
	run=$BATS_FILE_TMPDIR/a
	run -0 reference a
	assert_line --regexp '^  seed: val [01]\.[0-9]{4}, [0-9]+ params, [0-9]+s$'
	assert_line --regexp '^  step1/child1: (val [01]\.[0-9]{4}|FAILED)'
	assert_line --regexp '^step 1/2: best val [01]\.[0-9]{4} \(.*\), 2 children trained.*elapsed$'
	assert_line --regexp '^step 2/2: best val '
	assert_line --regexp '^  final: val [01]\.[0-9]{4}, test [01]\.[0-9]{4}, '
	assert_line --regexp '^  snap/step1: val [01]\.[0-9]{4}, test [01]\.[0-9]{4}, '
	assert_line --regexp '^  after final training .*FINAL_ON=all\)$'
	assert_line --regexp '^    member: step 1 +test [01]\.[0-9]{4}$'
	assert_line --regexp '^    member: step 2 +test [01]\.[0-9]{4}$'
	assert_line --regexp '^  snapshot ensemble \(2 models, trained\) +test [01]\.[0-9]{4}  \([+-][0-9.]+ points over its best member\)$'
	assert_line --regexp '^search done: '
	assert_line --regexp '^  seed network +val 0\.[0-9]{4}  test 0\.[0-9]{4}'
	# the final phase trained on training + validation images; step 1's snapshot too, the last
	# step's snapshot is the final model itself
	grep -q -e '--train-on all' "$run/final.log"
	grep -q -e '--train-on all' "$run/snap/step1.log"
	[ -f "$run/snap/step1.h5" ] && [ ! -L "$run/snap/step1.h5" ]
	[ "$(readlink "$run/snap/step2.h5")" = ../final.h5 ]
	run -0 nash-show --tsv "$run/snap/step1.h5" "$run/step1/best.h5"
	[ "$(cut -f 8 <<<"${lines[1]}")" -eq $(($(cut -f 8 <<<"${lines[2]}") + 2)) ] # EPOCHS_FINAL more epochs
	run -0 grep -c '/snap/step[12]\.h5 ' "$run/ensemble.txt"
	[ "$output" -eq 2 ]
	# the final model: a valid model file, trained further than the search's best, tested
	run -0 nash-show "$run/final.h5"
	assert_output --regexp 'accuracy    val [01]\.[0-9]{4} \(trained on\), test [01]\.[0-9]{4}'
	run -0 h5dump -a test_accuracy "$run/final.h5"
	run -0 nash-train --epochs 0 "$run/final.h5"
	[ -f "$run/ensemble.h5" ] && nash-ensemble --eval none -o "$BATS_TEST_TMPDIR/e.h5" "$run/ensemble.h5"
	# selection: the parent is always a candidate; the best is one of the candidates
	run -0 cut -f 2 "$run/step2/select.tsv"
	assert_line "$run/step1/best.h5"
	assert_line "$run/step2/child1.h5"
	# the report: a table per step, the plot, the drawing
	run -0 cat "$run/report.md"
	assert_output --partial "### Step 1"
	assert_output --partial "### Step 2"
	assert_output --partial "The final model was trained on training + validation images (FINAL_ON=all"
	assert_output --partial "### Ensemble members"
	assert_output --regexp '\| 1 \| `snap/step1\.h5` \| [01]\.[0-9]{4} \|'
	assert_output --regexp 'The ensemble against its best member \([01]\.[0-9]{4}\): [+-][0-9.]+ percentage points'
	assert_output --partial "| rank | model | morphisms since parent"
	assert_output --regexp '!\[validation accuracy.*\]\(report/val\.(png|svg)\)'
	assert_output --partial "![the best architecture](report/best.svg)"
	ls "$run"/report/val.* "$run/report/best.svg"
	# the settings are recorded; no checkpoint or temporary is left
	run -0 cat "$run/settings/run"
	assert_output --partial "STEPS=2"
	assert_output --partial "SEED=7"
	assert_output --partial "FINAL_ON=all"
	assert_output --partial "ENSEMBLE=trained"
	run -0 find "$run" -name '*.tmp' -o -name '*.ckpt.h5' -o -name '.tmp*'
	assert_output ""
	# the training compute, in images: the seed's epoch and every trained child's 3 of LIMIT 256
	# images, the final phase's 2 of 456 (256 + the 200 validation images); failed ones left out
	kids=$(cat "$run"/step[12]/select.tsv | awk -F '\t' 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i } $c["model"] ~ /child[0-9]\.h5$/ && $c["usable"] == 1' | wc -l)
	images=$((256 + kids * 3 * 256 + 2 * 456))
	[ "$(tsv_col train_images "$run/result.tsv" 1)" = "$images" ]
	[ "$(tsv_col final_epoch_images "$run/result.tsv" 1)" = 456 ]
	run -0 reference a
	assert_line --regexp "^search done: $run \(2 steps, [0-9ms]+ of training, $images images = $(awk -v i="$images" 'BEGIN { printf "%.1f", i / 456 }' | sed 's/\./\\./') epochs of the final phase's data\)$"
	run -0 nash-show --tsv "$run/final.h5"
	[ "$(tsv_col images <(printf '%s\n' "${lines[@]}") 1)" = 912 ]
}

@test "make baseline: the seed network trained, untouched, for the search's training time" {
	run=$BATS_TEST_TMPDIR/a
	reference_copy a "$run"
	run -0 search baseline RUN="$run"
	assert_line --regexp '^  baseline/final: val [01]\.[0-9]{4}, test [01]\.[0-9]{4}, '
	assert_line --regexp '^search     test [01]\.[0-9]{4}  [0-9]+ params \(final network\)$'
	assert_line --regexp "^no search  test [01]\.[0-9]{4}  [0-9]+ params, [0-9.]+ s of training \($run/baseline/final\.h5\)$"
	e=$(sed -n 's/^epochs=//p' "$run/baseline/budget.txt")
	[ "$e" -ge 1 ]
	grep -qx "search_train_seconds=$(tsv_col train_seconds "$run/result.tsv" 1)" "$run/baseline/budget.txt"
	grep -qx 'final_epoch_images=456' "$run/baseline/budget.txt"
	# the seed network's architecture and first weights (no morphism), trained for the budget's epochs
	run -0 nash-show --tsv "$run/step0/init.h5" "$run/baseline/final.h5"
	[ "$(cut -f 15 <<<"${lines[1]}")" = "$(cut -f 15 <<<"${lines[2]}")" ]
	[ "$(cut -f 12 <<<"${lines[2]}")" = 0 ] && [ "$(cut -f 8 <<<"${lines[2]}")" = "$e" ]
	grep -q -e "--train-on all --seed 7999000" "$run/baseline/final.log"
	# a second one does nothing
	run -0 search -q "$run/baseline/final.h5" RUN="$run"
}

@test "make search BIN=DIR runs those programs and builds nothing" {
	bin=$BATS_TEST_TMPDIR/bin
	mkdir "$bin"
	for p in init train morph select ensemble show report; do
		printf '#!/bin/sh\necho nash-%s >>"%s/calls"\nexec "%s/bin/nash-%s" "$@"\n' \
			$p "$BATS_TEST_TMPDIR" "$NASH_BUILD" $p >"$bin/nash-$p"
		chmod +x "$bin/nash-$p"
	done
	run -0 make -C "$TOP" --no-print-directory BUILD="$BATS_TEST_TMPDIR/nobuild" BIN="$bin" \
		"${S_ARGS[@]}" STEPS=1 NEIGH=1 EPOCHS_NEIGH=1 EPOCHS_FINAL=1 RUN="$BATS_TEST_TMPDIR/run" search
	assert_line --regexp '^search done: '
	[ ! -e "$BATS_TEST_TMPDIR/nobuild" ] # nothing was built
	run -0 sort -u "$BATS_TEST_TMPDIR/calls"
	assert_output --partial "nash-init"
	assert_output --partial "nash-train"
	assert_output --partial "nash-morph"
	run -2 search search RUN="$BATS_TEST_TMPDIR/run2" BIN="$BATS_TEST_TMPDIR/none"
	assert_output --partial "holds no nash-train"
}

@test "a second make search does nothing" {
	run=$BATS_TEST_TMPDIR/a
	reference_copy a "$run"
	run -0 search -q "$run/report.md" RUN="$run"
	touch "$BATS_TEST_TMPDIR/marker"
	sleep 1
	run -0 search search RUN="$run"
	assert_line --regexp '^search done: '
	refute_line --regexp '^(step [0-9]|  seed: |  step[0-9]|  final: )'
	run -0 find "$run" -newer "$BATS_TEST_TMPDIR/marker"
	assert_output ""
}

@test "changing a setting reruns exactly what depends on it" {
	run=$BATS_TEST_TMPDIR/a
	reference_copy a "$run"
	touch "$BATS_TEST_TMPDIR/marker"
	sleep 1
	run -0 search search RUN="$run" EPOCHS_FINAL=1
	assert_line --regexp '^  final: val '
	refute_line --regexp '^(step [0-9]|  seed: |  step[0-9])'
	run -0 sh -c 'find "$1" -type f -name "*.h5" -newer "$2" | sort' _ "$run" "$BATS_TEST_TMPDIR/marker"
	# (best.h5: the best network so far, the new final model)
	assert_output "$(printf '%s\n' "$run/best.h5" "$run/ensemble.h5" "$run/final.h5" "$run/snap/step1.h5")"
	[ "$run/best.h5" -ef "$run/final.h5" ]
	# the raw ensemble: the steps' bests as they left the search, nothing trained
	run -0 search search RUN="$run" EPOCHS_FINAL=1 ENSEMBLE=raw
	refute_line --regexp '^(step [0-9]|  seed: |  step[0-9]|  final: |  snap/)'
	assert_line --regexp '^  snapshot ensemble \(2 models, raw\) '
	run -0 grep -c '/step[12]/best\.h5 ' "$run/ensemble.txt"
	[ "$output" -eq 2 ]
	# and back: the final training again, nothing else
	run -0 search search RUN="$run"
	refute_line --regexp '^(step [0-9]|  seed: |  step[0-9])'
	run -0 search -q "$run/report.md" RUN="$run"
	# fewer steps: the final model, the ensemble and the report follow the new last step
	run -0 search search RUN="$run" STEPS=1
	refute_line --regexp '^(step [0-9]|  seed: |  step[0-9])'
	assert_line --regexp '^  final: val '
	a=$(h5dump -a model_id "$run/final.h5" | grep '(0)') b=$(h5dump -a model_id "$run/step1/best.h5" | grep '(0)')
	[ -n "$a" ] && [ "$a" = "$b" ]
	run -0 search -q "$run/report.md" RUN="$run" STEPS=1
	run -0 search search RUN="$run"
	assert_line --regexp '^  final: val '
}

@test "a serial make -j1 search gives the same result as the default parallel one" {
	need_reference a
	# the default (no -j, no THREADS): -j(cores), every core for what trains alone, the cores
	# shared by the trainings at once (a step's children; the final training and the trained
	# snapshot), at least one thread each: on 2 cores one each, on 16 (S_NPROC: what nproc
	# says) 8 each
	run -0 search -n search-run RUN="$BATS_TEST_TMPDIR/plan" THREADS=1 THREADS_ALONE=2 THREADS_SHARED=2
	assert_output --regexp "label seed .* --threads 2 "
	assert_output --regexp "label step1/child1 .* --threads 1 "
	assert_output --regexp "label final .* --threads 1 "
	run -0 search -n search RUN="$BATS_TEST_TMPDIR/plan16" S_NPROC=16
	assert_output --regexp "label seed .* --threads 16 "
	assert_output --regexp "label step1/child1 .* --threads 8 "
	assert_output --regexp "label step2/child2 .* --threads 8 "
	assert_output --regexp "label final .* --threads 8 "
	assert_output --regexp "label snap/step1 .* --threads 8 "
	for l in "${lines[@]}"; do # (no training on one thread; the evaluations keep THREADS)
		[[ $l != *"search.sh train "* || $l != *"--threads 1 "* ]] || fail "a training on one thread: $l"
	done
	# three children on 4 cores: one thread each (4 / 3); 3 steps: the final training and 2
	# snapshots, one each
	run -0 search -n search RUN="$BATS_TEST_TMPDIR/plan4" S_NPROC=4 NEIGH=3 STEPS=3
	assert_output --regexp "label step1/child3 .* --threads 1 "
	assert_output --regexp "label snap/step2 .* --threads 1 "
	# -j1 with the same threads trains one model at a time
	run -0 search -j1 search RUN="$BATS_FILE_TMPDIR/j1" THREADS=1 THREADS_ALONE="$(nproc)" THREADS_SHARED="$(nproc)"
	assert_line --regexp '^search done: '
	diff "$BATS_FILE_TMPDIR/a.fingerprint" <(fingerprint "$BATS_FILE_TMPDIR/j1")
	grep -q "^PROFILE=default STEPS=2 .* THREADS=1 THREADS_ALONE=$(nproc) THREADS_SHARED=$(nproc)\( \|$\)" "$BATS_FILE_TMPDIR/a/settings/run"
}

@test "a run killed with kill -9 mid-way resumes from its checkpoint and ends as an uninterrupted one" {
	need_reference a
	# one training at a time (the kills below come at points of a serial order), on the
	# reference's threads (the default's: one per training, every core for what trains alone)
	SERIAL=(-j1 THREADS=1 THREADS_ALONE="$(nproc)" THREADS_SHARED="$(nproc)")
	run=$BATS_TEST_TMPDIR/k
	hook=$(make_hook)
	# kill -9 everything once step 1's second child has written its first checkpoint
	HOOK_CHILD=child2 HOOK_ACTION=kill search_group "${SERIAL[@]}" search RUN="$run" LAUNCH="$hook"
	[ "$status" -ne 0 ]
	[ -f "$run/step1/child1.h5" ]
	[ ! -f "$run/step1/child2.h5" ]
	[ ! -f "$run/final.h5" ]
	[ -f "$run/step1/child2.ckpt.h5" ]
	touch "$BATS_TEST_TMPDIR/marker"
	sleep 1
	# again, once step 1's trained snapshot has written its first checkpoint
	HOOK_CHILD=step1 HOOK_ACTION=kill search_group "${SERIAL[@]}" search RUN="$run" LAUNCH="$hook"
	[ "$status" -ne 0 ]
	# nothing complete is redone: child1 is untouched, child2 resumes from its checkpoint
	run -0 cat "$BATS_TEST_TMPDIR/make.out"
	refute_line --regexp '^  seed: '
	refute_line --regexp '^  step1/child1: '
	assert_line --regexp '^  step1/child2: '
	[ ! "$run/step1/child1.h5" -nt "$BATS_TEST_TMPDIR/marker" ]
	grep -q "resuming from $run/step1/child2.ckpt.h5" "$run/step1/child2.log"
	[ -f "$run/final.h5" ]
	[ ! -e "$run/snap/step1.h5" ]
	[ -f "$run/snap/step1.ckpt.h5" ]
	# the snapshot resumes; the final model is not trained again
	run -0 search "${SERIAL[@]}" search RUN="$run"
	refute_line --regexp '^  (final|step[12]/child[12]): '
	assert_line --regexp '^  snap/step1: val '
	grep -q "resuming from $run/snap/step1.ckpt.h5" "$run/snap/step1.log"
	diff "$BATS_FILE_TMPDIR/a.fingerprint" <(fingerprint "$run")
}

@test "Ctrl-C (SIGINT) stops the search without recording a failure; a rerun completes" {
	run=$BATS_TEST_TMPDIR/i
	hook=$(make_hook)
	HOOK_CHILD=child1 HOOK_ACTION=int search_group search RUN="$run" LAUNCH="$hook" STEPS=1 NEIGH=1
	[ "$status" -ne 0 ]
	[ ! -f "$run/step1/best.h5" ] && [ ! -f "$run/step1/child1.h5" ]
	[ -f "$run/step1/child1.key" ]
	run -0 search search RUN="$run" STEPS=1 NEIGH=1
	assert_line --regexp '^  step1/child1: val '
	run -0 nash-show --tsv "$run/step1/child1.h5"
	assert_line --index 1 --regexp $'\t0\t[0-9]+\t[a-z,-]+\t[0-9a-f]{16}\t'
}

# A search in $1 with NEIGH=$2, stopped by SIGTERM while step 1's child1 trains under a
# launcher that takes a second to end once its training has (srun may take longer).
stop_slow_child() {
	local run=$1 hook
	hook=$(make_hook)
	HOOK_CHILD=child1 HOOK_ACTION=term-slow search_group search RUN="$run" LAUNCH="$hook" STEPS=1 NEIGH="$2"
	[ "$status" -ne 0 ]
	[ -f "$run/step1/child1.ckpt.h5" ]
	# when make has exited, the launcher has, and search.sh has cleaned up and said why:
	# a rerun (a requeued job starts again at once) finds nothing of this run at work
	[ -e "$run/step1/launcher-ended" ]
	run -0 cat "$BATS_TEST_TMPDIR/make.out"
	assert_line "  step1/child1: stopped (nash-train: killed by signal 15 (TERM)), a rerun resumes from $run/step1/child1.ckpt.h5"
	[ ! -e "$run/step1/child1.h5" ]
}

@test "a stopped make exits only after its recipes have: nothing of the stopped run goes on after it" {
	stop_slow_child "$BATS_TEST_TMPDIR/w" 1
	# two children at once (make search, given no -j, runs -j(cores)): child2's recipe ends at
	# once, child1's a second later; make search's own make, which passes a SIGTERM on to the
	# make it starts, must not end that one before child1's recipe has (GNU make dies of a
	# second SIGTERM)
	stop_slow_child "$BATS_TEST_TMPDIR/w2" 2
}

# $1: the run of a search stopped just after step 1's child1 had finished training: the child
# is kept, whole and not marked failed, nothing after it exists, and the next make search does
# not train it again.
child1_kept() {
	local run=$1
	[ -f "$run/step1/child1.h5" ]
	[ ! -e "$run/step1/child1.ckpt.h5" ] && [ ! -e "$run/step1/child1.key" ] && [ ! -e "$run/step1/best.h5" ]
	run -0 nash-show --tsv "$run/step1/child1.h5"
	[ "$(cut -f 11 <<<"${lines[1]}")" -eq 0 ] # not failed
	run -0 find "$run" -name '*.tmp'
	assert_output ""
	touch "$BATS_TEST_TMPDIR/marker"
	run -0 search search RUN="$run" STEPS=1 NEIGH=1 "${@:2}"
	refute_line --regexp '^  step1/child1: '
	assert_line --regexp '^step 1/1: best val .*, 1 child trained,'
	[ ! "$run/step1/child1.h5" -nt "$BATS_TEST_TMPDIR/marker" ]
}

@test "a signal that comes just after a child's training ended keeps the child; the target fails and the rerun does not train it again" {
	run=$BATS_TEST_TMPDIR/t
	hook=$(make_hook)
	# the training ends, then SIGTERM reaches make, search.sh and the launcher (which srun
	# passes on as its exit status, 143)
	HOOK_CHILD=child1 HOOK_ACTION=term-after search_group search RUN="$run" LAUNCH="$hook" STEPS=1 NEIGH=1
	[ "$status" -ne 0 ]
	run -0 cat "$BATS_TEST_TMPDIR/make.out"
	assert_line --regexp '^  step1/child1: val [01]\.[0-9]{4}, [0-9]+ params, [0-9]+ morphisms: [a-z,-]+, [0-9]+s$'
	assert_line "search: step1/child1: trained, kept in $run/step1/child1.h5; interrupted"
	assert_line --regexp 'step1/child1\.h5.* Error 130'
	refute_line --partial 'stopped'
	child1_kept "$run"
}

# BIN=$1 for make search: the real programs, but the first nash-show to read the file $2 ends,
# with its process group (make's), by SIGTERM: as a Ctrl-C, scancel or requeue ends the helper
# that reads the figures of a training just ended.
term_show_bin() {
	local bin=$1 file=$2 p
	mkdir -p "$bin"
	for p in init morph select ensemble train report; do
		ln -s "$NASH_BUILD/bin/nash-$p" "$bin/nash-$p"
	done
	cat >"$bin/nash-show" <<-EOF
		#!/bin/bash
		for a in "\$@"; do
			if [ "\$a" = "$file" ] && [ ! -e "$bin/ended" ]; then
				: >"$bin/ended"
				kill -TERM 0
			fi
		done
		exec "$NASH_BUILD/bin/nash-show" "\$@"
	EOF
	chmod +x "$bin/nash-show"
}

@test "a signal that ends nash-show after a child's training fails the target with the reason, keeps the child, and feeds no empty figure on" {
	run=$BATS_TEST_TMPDIR/n
	bin=$BATS_TEST_TMPDIR/bin
	term_show_bin "$bin" "$run/step1/child1.h5"
	search_group search RUN="$run" BIN="$bin" STEPS=1 NEIGH=1
	[ "$status" -ne 0 ]
	[ -e "$bin/ended" ]
	run -0 cat "$BATS_TEST_TMPDIR/make.out"
	assert_line "search: nash-show: killed by signal 15 (TERM)"
	assert_line "search: step1/child1: trained, kept in $run/step1/child1.h5, but its figures cannot be read; interrupted"
	assert_line --regexp 'step1/child1\.h5.* Error 130'
	refute_line --regexp '^  step1/child1: '
	refute_output --partial 'arithmetic'
	child1_kept "$run" BIN="$bin"
}

@test "children whose network fails (diverges, out of memory) are recorded as failed, lose, and the search goes on" {
	run=$BATS_TEST_TMPDIR/f
	hook=$(make_hook)
	HOOK_CHILD=child2 HOOK_ACTION=diverge run -0 search search RUN="$run" LAUNCH="$hook" STEPS=1 NEIGH=3 \
		EPOCHS_NEIGH=1
	assert_line --regexp '^  step1/child2: FAILED \(nash-train: training diverged or collapsed; nash-train: '
	assert_line --regexp '^step 1/1: best val .*, 2 of 3 children trained \(1 failed\)'
	assert_line --regexp '^search done: '
	# the report shows no figures for it (its file holds its parent's)
	run -0 grep -F '| child2 |' "$run/report.md"
	assert_output --regexp '^\| 4 \| child2 \| .* \| - \| - \| - \| failed: loss diverged '
	run -0 search -q "$run/report.md" RUN="$run" STEPS=1 NEIGH=3 EPOCHS_NEIGH=1
	run -0 h5dump -a failure "$run/step1/child2.h5"
	assert_output --partial "diverged"
	run -0 awk -F '\t' 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i } $c["model"] ~ /child2/ { print $c["rank"], $c["usable"] }' "$run/step1/select.tsv"
	assert_output "4 0"
	# out of memory (nash-train exit 3) for another child (LAUNCH is no setting that
	# invalidates results, so the child is removed to be redone)
	rm "$run/step1/child3.h5"
	HOOK_CHILD=child3 HOOK_ACTION=oom run -0 search search RUN="$run" LAUNCH="$hook" STEPS=1 NEIGH=3 \
		EPOCHS_NEIGH=1
	# (its seconds are the wall time of its morphism and failed start: 1 on a loaded machine)
	assert_line --regexp '^  step1/child3: FAILED \(nash-train: out of memory; nash-train: out of memory\), [0-9]+s$'
	assert_line --regexp '^step 1/1: .*\(2 failed\)'
	run -0 nash-show --tsv "$run/step1/child3.h5"
	assert_line --index 1 --regexp $'\t1\t[0-9]+\t[a-z,-]*\t[0-9a-f]{16}\t'
	# failures are results: a rerun does not retry them
	run -0 search -q "$run/report.md" RUN="$run" STEPS=1 NEIGH=3 EPOCHS_NEIGH=1
}

@test "no silent no-op: a budget the seed network fills is refused before training, a step where no morphism fits stops the search" {
	# MAX_PARAMS below the seed network: refused before its pretraining, naming both figures
	run -2 search search RUN="$BATS_TEST_TMPDIR/m" STEPS=1 NEIGH=2 EPOCHS_NEIGH=1 EPOCHS_FINAL=1 MAX_PARAMS=100
	seed=$(nash-show --tsv "$BATS_TEST_TMPDIR/m/step0/init.h5" | cut -f 7 | tail -n 1)
	assert_line "nash-report: MAX_PARAMS=100 does not exceed what the seed network ($BATS_TEST_TMPDIR/m/step0/init.h5) has, $seed parameters (its widths, classes and image size), so no child could be made: give MAX_PARAMS above $seed (say 4x, $((4 * seed)) parameters, or MAX_PARAMS= for no budget)"
	[ ! -e "$BATS_TEST_TMPDIR/m/step0/best.h5" ]
	# one parameter of room: nash-morph finds no morphism within it (exit 5) for any child, the
	# step stops the search instead of keeping the parent for ever
	run -2 search search RUN="$BATS_TEST_TMPDIR/m" STEPS=2 NEIGH=2 EPOCHS_NEIGH=1 EPOCHS_FINAL=1 MAX_PARAMS=$((seed + 1))
	assert_line --regexp '^  step1/child1: FAILED \(nash-morph: no morphism fits; nash-morph: .*--max-params '$((seed + 1))
	assert_line --regexp "^search: step 1: every child failed, and every later step would: failed: .*no morphism keeps the network within --max-params $((seed + 1)) .* \(the parent has $seed parameters, [0-9]+ multiply-adds per image\); give a larger MAX_PARAMS \(or MAX_PARAMS= for no budget\), or fewer MORPHS$"
	[ ! -e "$BATS_TEST_TMPDIR/m/step1/best.h5" ] && [ ! -e "$BATS_TEST_TMPDIR/m/report.md" ]
	refute_line --regexp '^search done: '
	# with no budget the children are made again (their morph settings changed) and the search ends
	run -0 search search RUN="$BATS_TEST_TMPDIR/m" STEPS=2 NEIGH=2 EPOCHS_NEIGH=1 EPOCHS_FINAL=1 MAX_PARAMS=
	assert_line --regexp '^search done: '
}

@test "settings derived from the data: the validation split, the parameter budget, printed before training" {
	run=$BATS_TEST_TMPDIR/d
	# 100 classes, 600 training images: a tenth would be 60 validation images, fewer than one a
	# class, so 100; the budget is 4 times the seed network's parameters, whatever their count
	run -0 search search RUN="$run" DATA="$CIFAR100" VAL= MAX_PARAMS=4x STEPS=1 NEIGH=1 EPOCHS_NEIGH=1 EPOCHS_FINAL=1 ENSEMBLE=raw
	seed=$(nash-show --tsv "$run/step0/init.h5" | cut -f 7 | tail -n 1)
	assert_line --index 0 "data: cifar100 (3x32x32, 100 classes), 100 validation images held out; the first 256 training images (LIMIT)"
	assert_line --index 1 "seed network: $seed parameters; children up to $((4 * seed)) parameters (MAX_PARAMS=4x)"
	grep -q -e "^search: .*/nash-morph -n 2 --seed 7001001 --max-params $((4 * seed)) -o " "$run/step1/child1.log"
	# a percentage, and no LIMIT
	run -0 search "$run/p/step0/best.h5" RUN="$run/p" VAL=25% LIMIT= MAX_PARAMS=
	assert_line --index 0 "data: fashion-mnist (1x28x28, 10 classes), 300 validation images held out; every training image (no LIMIT)"
	assert_line --index 1 "seed network: $(nash-show --tsv "$run/p/step0/init.h5" | cut -f 7 | tail -n 1) parameters; no parameter budget (MAX_PARAMS=)"
	# what is neither a count nor a multiple or percentage is refused, naming the setting
	run -2 search -n search RUN="$run/x" MAX_PARAMS=4y
	assert_output --partial "search: MAX_PARAMS must be a number of parameters (200000) or a multiple of the seed network's (4x), not '4y'"
	run -2 search -n search RUN="$run/x" VAL=ten
	assert_output --partial "search: VAL must be a number of validation images (5000) or a percentage of the training set (10%), not 'ten'"
}

@test "a child killed by a signal (a crash, the OOM killer) is no result: the target fails, a rerun trains it" {
	run=$BATS_TEST_TMPDIR/s
	hook=$(make_hook)
	for action in crash oomkill; do
		HOOK_CHILD=child2 HOOK_ACTION=$action run search search RUN="$run" LAUNCH="$hook" STEPS=1 NEIGH=2 EPOCHS_NEIGH=1
		[ "$status" -ne 0 ]
		signal=SEGV
		[ $action = oomkill ] && signal=KILL
		assert_line --regexp "^search: step1/child2: training failed, not by the network's fault: nash-train: killed by signal [0-9]+ \\($signal\\); nothing recorded, a rerun trains it again \\(see $run/step1/child2\\.log\\)$"
		refute_line --partial FAILED
		[ ! -e "$run/step1/child2.h5" ]
		[ ! -e "$run/step1/best.h5" ]
	done
	run -0 search search RUN="$run" STEPS=1 NEIGH=2 EPOCHS_NEIGH=1
	assert_line --regexp '^  step1/child2: val [01]\.[0-9]{4}, '
	refute_line --regexp '^  step1/child1: ' # done before, kept
	assert_line --regexp '^step 1/1: best val .*, 2 children trained,'
	run -0 find "$run" -name '*.tmp'
	assert_output ""
}

# BIN=$1 for make search: the real programs, but nash-train fails once as on a full disk (exit
# 1, nash's message for ENOSPC) for the output ending in /$2.h5, and works when run again.
enospc_once_bin() {
	local bin=$1 child=$2
	mkdir -p "$bin"
	for p in init morph select ensemble show report; do
		ln -s "$NASH_BUILD/bin/nash-$p" "$bin/nash-$p"
	done
	cat >"$bin/nash-train" <<-EOF
		#!/bin/bash
		out= prev=
		for a in "\$@"; do
			[ "\$prev" = -o ] && out=\$a
			prev=\$a
		done
		if [[ \$out == */$child.h5 ]] && [ ! -e "$bin/failed-once" ]; then
			: >"$bin/failed-once"
			echo "nash-train: \$out: No space left on device" >&2
			exit 1
		fi
		exec "$NASH_BUILD/bin/nash-train" "\$@"
	EOF
	chmod +x "$bin/nash-train"
}

@test "a full disk fails the target, records nothing, leaves no temporary; a rerun completes (a nash-train that fails once)" {
	need_reference a
	run=$BATS_TEST_TMPDIR/d
	enospc_once_bin "$BATS_TEST_TMPDIR/bin" child2
	run search search RUN="$run" BIN="$BATS_TEST_TMPDIR/bin"
	[ "$status" -ne 0 ]
	assert_line "search: step1/child2: training failed, not by the network's fault: nash-train: exit status 1; nash-train: $run/step1/child2.h5: No space left on device; nothing recorded, a rerun trains it again (see $run/step1/child2.log)"
	refute_line --partial FAILED
	[ ! -e "$run/step1/child2.h5" ] && [ ! -e "$run/step1/best.h5" ]
	run -0 find "$run" -name '*.tmp'
	assert_output ""
	run -0 search search RUN="$run" BIN="$BATS_TEST_TMPDIR/bin"
	assert_line --regexp '^  step1/child2: val '
	assert_line --regexp '^search done: '
	diff "$BATS_FILE_TMPDIR/a.fingerprint" <(fingerprint "$run")
}

@test "a real full disk (a small tmpfs) fails the search without recording failures; with space a rerun ends as an uninterrupted one" {
	need_reference a
	[ "$(id -u)" -eq 0 ] || skip "mounting a tmpfs needs root"
	mnt=$BATS_TEST_TMPDIR/full
	mkdir "$mnt"
	mount -t tmpfs -o size=900k nash-full "$mnt" 2>/dev/null || skip "cannot mount a tmpfs here (no CAP_SYS_ADMIN)"
	run=$mnt/run
	# 900 KiB: the seed network, step 1's first child, then the disk is full (the whole run takes ~2.4 MB)
	run search search RUN="$run"
	[ "$status" -ne 0 ]
	assert_output --partial "No space left on device"
	assert_line --regexp "^search: step[12]/[a-z0-9]+: .*; nothing recorded, a rerun trains it again"
	refute_line --partial FAILED
	run -0 find "$run" -name '*.tmp'
	assert_output ""
	for m in "$run"/step*/child*.h5; do
		[ -e "$m" ] || continue
		run -0 nash-show --tsv "$m"
		[ "$(cut -f 11 <<<"${lines[1]}")" -eq 0 ] # not failed
	done
	mount -o remount,size=16m "$mnt"
	run -0 search search RUN="$run"
	assert_line --regexp '^search done: '
	refute_line --partial FAILED
	diff "$BATS_FILE_TMPDIR/a.fingerprint" <(fingerprint "$run")
}

@test "a capped search still explores: children within MAX_PARAMS that differ from their parent" {
	run=$BATS_TEST_TMPDIR/c
	# the default budget is the seed network's parameters times 4, whatever the steps (so that
	# more steps redo none of the earlier ones); an explicit one is taken as given
	run -0 make -C "$TOP" --no-print-directory -n search RUN="$run" STEPS=3
	assert_output --partial "--max-params '4x' $run/step0/init.h5 "
	run -0 make -C "$TOP" --no-print-directory -n search RUN="$run" STEPS=8
	assert_output --partial "--max-params '4x' $run/step0/init.h5 "
	run -0 make -C "$TOP" --no-print-directory -n search RUN="$run" STEPS=8 MAX_PARAMS=123456
	assert_output --partial "--max-params '123456' "
	# the profiles' growth caps: 4 by default (as cifar10-cpu), 8 for the ablation's 3
	# morphisms, none for the paper's
	run -0 make -C "$TOP" --no-print-directory -n search RUN="$run" STEPS=1
	assert_output --partial "--max-growth '4' "
	run -0 make -C "$TOP" --no-print-directory -n search RUN="$run" STEPS=1 PROFILE=ablation
	assert_output --partial "--max-growth '8' "
	run -0 make -C "$TOP" --no-print-directory -n search RUN="$run" STEPS=1 PROFILE=paper
	assert_output --partial "--max-growth '' "
	# a budget the seed network nearly fills: no room for a wider or deeper network, but
	# every child is made, stays within it and is a network other than its parent's
	seed=$(nash-init --dataset "$FMNIST" --widths 4,8 --val 200 --seed 7 -o - | nash-show --tsv - | cut -f 7 | tail -n 1)
	cap=$((seed + 300))
	run -0 search search RUN="$run" STEPS=1 NEIGH=2 EPOCHS_NEIGH=1 EPOCHS_FINAL=1 MAX_PARAMS=$cap ENSEMBLE=raw FINAL_ON=train
	refute_line --partial FAILED
	parent=$(nash-show --tsv "$run/step0/best.h5" | cut -f 14 | tail -n 1)
	for j in 1 2; do
		run -0 nash-show --tsv "$run/step1/child$j.h5"
		row=${lines[1]}
		[ "$(cut -f 7 <<<"$row")" -le "$cap" ]
		[ "$(cut -f 11 <<<"$row")" -eq 0 ] # not failed
		[ "$(cut -f 12 <<<"$row")" -eq 2 ] # two morphisms since the seed
		[ "$(cut -f 14 <<<"$row")" != "$parent" ]
	done
}

@test "MAX_GROWTH: every child costs at most G times its parent per image; keyed in the stamps; bad values refused" {
	run=$BATS_TEST_TMPDIR/g
	run -0 make -C "$TOP" --no-print-directory -n search RUN="$run" STEPS=2 MAX_GROWTH=1.5
	assert_output --partial "--max-growth '1.5' "
	for bad in 0.5 0 1.5x .5 '1 2'; do
		run -2 search -n search RUN="$run" MAX_GROWTH="$bad"
		assert_output --partial "search: MAX_GROWTH must be a factor of 1 or more (1.5: a child costs at most 1.5 times its parent's multiply-adds per image), or empty for no cap, not '$bad'"
	done
	args=(RUN="$run" STEPS=2 NEIGH=2 EPOCHS_NEIGH=1 EPOCHS_FINAL=1 ENSEMBLE=raw FINAL_ON=train)
	run -0 search search "${args[@]}" MAX_GROWTH=1.5
	grep -q "MAX_GROWTH=1.5" "$run/settings/morph"
	grep -q "MAX_GROWTH=1.5" "$run/settings/run"
	# each child within 1.5 times its parent's cost (the step's parent: the step before's best),
	# the cap computed by nash-report max-macs and given to nash-morph
	for k in 1 2; do
		cap=$(nash-report max-macs 1.5 "$run/step$((k - 1))/best.h5")
		for j in 1 2; do
			grep -q -e "^search: .*/nash-morph -n 2 --seed 700${k}00${j} --max-macs $cap -o " "$run/step$k/child$j.log"
			run -0 nash-show --tsv "$run/step$k/child$j.h5"
			[ "$(tsv_col failed <(printf '%s\n' "${lines[@]}") 1)" = 0 ]
			[ "$(tsv_col macs <(printf '%s\n' "${lines[@]}") 1)" -le "$cap" ]
		done
	done
	# another cap: the children are made again, the seed network is not
	run -0 search search "${args[@]}" MAX_GROWTH=3
	assert_line --regexp '^  step1/child1: '
	refute_line --regexp '^  seed: '
	grep -q "MAX_GROWTH=3" "$run/settings/morph"
	run -0 search -q "$run/report.md" "${args[@]}" MAX_GROWTH=3
	# none: the stamp as before MAX_GROWTH existed
	run -0 search search "${args[@]}" MAX_GROWTH=
	run -1 grep -q MAX_GROWTH "$run/settings/morph"
	run -1 grep -q -e --max-macs "$run/step1/child1.log"
}

@test "TOLERANCE: the step's selection takes the cheapest within T of the best; keyed in the stamps; bad values refused" {
	run=$BATS_TEST_TMPDIR/t
	run -0 make -C "$TOP" --no-print-directory -n search RUN="$run" STEPS=1 TOLERANCE=0.002
	assert_output --partial " --tolerance 0.002 --step 1 "
	for bad in 1 0.5x abc -0.1; do
		run -2 search -n search RUN="$run" TOLERANCE="$bad"
		assert_output --partial "search: TOLERANCE must be a validation accuracy from 0 to below 1 (0.002 = 0.2 points), not '$bad'"
	done
	# within 0.9 of the best every model is, and the parent costs least: it stays
	args=(RUN="$run" STEPS=1 NEIGH=2 EPOCHS_NEIGH=1 EPOCHS_FINAL=1 ENSEMBLE=raw FINAL_ON=train)
	run -0 search search "${args[@]}" TOLERANCE=0.9
	assert_line --regexp '^step 1/1: best val [0-9.]+ \(the parent stays\), 2 children trained'
	grep -q "TOLERANCE=0.9" "$run/settings/select"
	grep -q "TOLERANCE=0.9" "$run/settings/run"
	[ "$(tsv_col note "$run/step1/select.tsv" 1)" = "within 0.9 of the best, the fewest multiply-adds" ]
	[ "$(tsv_col model "$run/step1/select.tsv" 1)" = "$run/step0/best.h5" ]
	# none: the selection again, no child trained again
	run -0 search search "${args[@]}" TOLERANCE=
	assert_line --regexp '^step 1/1: best val '
	refute_line --regexp '^  (seed|step1/child[12]): '
	run -1 grep -q TOLERANCE "$run/settings/select"
	[ "$(tsv_col note "$run/step1/select.tsv" 1)" = - ]
}

# RUNS=2: one step of two children, two epochs each (so that a child checkpoints), one final epoch.
R_ARGS=(STEPS=1 NEIGH=2 EPOCHS_NEIGH=2 EPOCHS_FINAL=1)

# The result of a RUNS=N search: every run's bests and final model, and their ensemble.
runs_fingerprint() {
	nash-show --tsv "$1"/run*/step*/best.h5 "$1"/run*/final.h5 "$1/ensemble.h5" |
		awk -F '\t' 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
			{ print $c["val_accuracy"], $c["test_accuracy"], $c["params"], $c["weights_hash"] }'
}

@test "make search RUNS=2: two seeds in run1 and run2, their mean and sd, the ensemble of their final networks" {
	run=$BATS_FILE_TMPDIR/r2
	run -0 reference r2
	# progress lines name the run
	assert_line --regexp '^  run1/seed: val [01]\.[0-9]{4}, '
	assert_line --regexp '^  run2/step1/child2: (val [01]\.[0-9]{4}|FAILED)'
	assert_line --regexp '^run2: step 1/1: best val [01]\.[0-9]{4} '
	assert_line --regexp '^  run2/final: val [01]\.[0-9]{4}, test [01]\.[0-9]{4}, '
	assert_line 'repeated search done: '"$run"' (2 runs, seeds 7 8)'
	assert_line --regexp '^  mean ± sd   final test 0\.[0-9]{4} ± 0\.[0-9]{4}  snapshot ensemble 0\.[0-9]{4} ± 0\.[0-9]{4}  \(sample sd over 2 runs\)$'
	assert_line --regexp '^  ensemble of the 2 final networks: test [01]\.[0-9]{4}  \([+-][0-9.]+ points over the best run\)$'
	# the layout: each run a whole search with its own seed and report; nothing of one search in RUN
	[ ! -e "$run/step0" ] && [ ! -e "$run/final.h5" ]
	for i in 1 2; do
		for f in step0/best.h5 step1/best.h5 final.h5 ensemble.h5 report.md summary.txt result.tsv report/steps.dat; do
			[ -f "$run/run$i/$f" ] || fail "no $run/run$i/$f"
		done
	done
	run -0 cat "$run/run1/settings/init" "$run/run2/settings/init" "$run/settings/runs"
	assert_line --regexp '^DATA=.* SEED=7$'
	assert_line --regexp '^DATA=.* SEED=8$'
	assert_line 'RUNS=2 SEED=7'
	grep -q -e '--seed 8001002' "$run/run2/step1/child2.log"
	# the cross-run ensemble holds both final networks
	run -0 grep -c "^$run/run[12]/final\.h5 " "$run/ensemble.txt"
	[ "$output" -eq 2 ]
	# the report: a row per run, the mean and sample sd of the runs' final test accuracies
	run -0 cat "$run/report.md"
	assert_line --regexp '^\| \[run1\]\(run1/report\.md\) \| 7 \| 0\.[0-9]{4} \| 0\.[0-9]{4} \| 0\.[0-9]{4} \| [0-9]+ \| [0-9]+ s \|$'
	assert_line --regexp '^\| \[run2\]\(run2/report\.md\) \| 8 \| '
	assert_line --partial '## The ensemble across the runs'
	. "$TOP/pipelines/common.sh" # tsv_col
	a=$(tsv_col final_test "$run/run1/result.tsv" 1) b=$(tsv_col final_test "$run/run2/result.tsv" 1)
	want=$(awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; if (d < 0) d = -d; printf "%.4f ± %.4f", (a + b) / 2, d / sqrt(2) }')
	assert_line --regexp "^\| mean ± sd \| \| .* \| $want \| "
	# run 1 is the search RUNS=1 makes with its seed
	run -0 search -j2 search RUN="$BATS_TEST_TMPDIR/one" "${R_ARGS[@]}"
	diff <(nash-show --tsv "$run/run1/final.h5" | cut -f 5-8,14) <(nash-show --tsv "$BATS_TEST_TMPDIR/one/final.h5" | cut -f 5-8,14)
}

@test "a second make search RUNS=2 does nothing; one killed mid-way resumes and ends as an uninterrupted one" {
	run=$BATS_TEST_TMPDIR/r2
	reference_copy r2 "$run"
	run -0 search -q "$run/report.md" RUN="$run" RUNS=2 "${R_ARGS[@]}"
	touch "$BATS_TEST_TMPDIR/marker"
	sleep 1
	run -0 search -j2 search RUN="$run" RUNS=2 "${R_ARGS[@]}" # as the reference was made
	assert_line --regexp '^repeated search done: '
	refute_line --regexp '^(run[12]: step|  run[12]/)'
	run -0 find "$run" -newer "$BATS_TEST_TMPDIR/marker"
	assert_output ""
	# kill -9 everything once run 2's first child has written its first checkpoint
	run=$BATS_TEST_TMPDIR/k
	hook=$(make_hook)
	HOOK_CHILD=run2/step1/child1 HOOK_ACTION=kill search_group -j2 search RUN="$run" RUNS=2 "${R_ARGS[@]}" LAUNCH="$hook"
	[ "$status" -ne 0 ]
	[ ! -f "$run/report.md" ] && [ ! -f "$run/run2/step1/child1.h5" ]
	[ -f "$run/run2/step1/child1.ckpt.h5" ]
	run -0 search -j2 search RUN="$run" RUNS=2 "${R_ARGS[@]}"
	assert_line --regexp '^  run2/step1/child1: val '
	refute_line --regexp '^  run[12]/seed: '
	grep -q "resuming from $run/run2/step1/child1.ckpt.h5" "$run/run2/step1/child1.log"
	diff "$BATS_FILE_TMPDIR/r2.fingerprint" <(runs_fingerprint "$run")
}

@test "make search RUNS: bad values, and a RUN holding the other layout, are refused" {
	run -2 search -n search RUN="$BATS_TEST_TMPDIR/x" RUNS=0
	assert_output --partial "RUNS must be at least 1"
	run -2 search -n search RUN="$BATS_TEST_TMPDIR/x" RUNS=two
	assert_output --partial "RUNS must be non-negative integers"
	run -2 search -n search RUN="$BATS_TEST_TMPDIR/x" RUNS=2 SEED=9999999999999
	assert_output --partial "SEED+RUNS-1 must be below 10^13"
	# the plan: every run's own seeds, then the report over them
	run -0 search -n search RUN="$BATS_TEST_TMPDIR/x" RUNS=3 "${R_ARGS[@]}"
	assert_output --partial "--seed 9001002"
	assert_output --partial "nash-report runs $BATS_TEST_TMPDIR/x run1 run2 run3"
	[ ! -e "$BATS_TEST_TMPDIR/x" ]
	# RUN/step0 is one search, RUN/run1 repeated ones: the other layout is not mixed in
	mkdir -p "$BATS_TEST_TMPDIR/one/step0" "$BATS_TEST_TMPDIR/two/run1"
	run -2 search -n search RUN="$BATS_TEST_TMPDIR/one" RUNS=2
	assert_output --partial "holds a single search (step0, ...): give RUNS=1 or another RUN"
	run -2 search -n search RUN="$BATS_TEST_TMPDIR/two"
	assert_output --partial "holds repeated searches (run1, ...)"
}

@test "the trainings start with nash-train's own thread settings; a user's are kept" {
	# LAUNCH notes what each training's environment holds
	cat >"$BATS_TEST_TMPDIR/launch" <<'EOF'
#!/bin/sh
echo "${OMP_WAIT_POLICY-none} ${OPENBLAS_NUM_THREADS-none} ${GOMP_SPINCOUNT-none}" >>"${0%/*}/env"
exec "$@"
EOF
	chmod +x "$BATS_TEST_TMPDIR/launch"
	l=(LAUNCH="$BATS_TEST_TMPDIR/launch")
	run -0 search "$BATS_TEST_TMPDIR/a/step0/best.h5" RUN="$BATS_TEST_TMPDIR/a" "${l[@]}"
	OMP_WAIT_POLICY=active OPENBLAS_NUM_THREADS=2 run -0 search "$BATS_TEST_TMPDIR/b/step0/best.h5" \
		RUN="$BATS_TEST_TMPDIR/b" "${l[@]}"
	GOMP_SPINCOUNT=1000 run -0 search "$BATS_TEST_TMPDIR/c/step0/best.h5" RUN="$BATS_TEST_TMPDIR/c" "${l[@]}"
	run -0 search "$BATS_TEST_TMPDIR/d/step0/best.h5" RUN="$BATS_TEST_TMPDIR/d" OPENBLAS_NUM_THREADS=3 "${l[@]}"
	run -0 cat "$BATS_TEST_TMPDIR/env"
	assert_output "passive 1 none
active 2 none
none 1 1000
passive 3 none"
}

@test "settings with quotes and spaces are recorded as given" {
	run=$BATS_TEST_TMPDIR/q
	# LAUNCH is recorded in the run stamp; a value with ' and spaces must not break it
	run -0 search "$run/settings/run" RUN="$run" LAUNCH="env X='a b' Y=it's"
	run -0 cat "$run/settings/run"
	assert_output --partial "LAUNCH=env X='a b' Y=it's DEVICE=cpu"
}

@test "nash-show: summary, TSV, Graphviz, bad input" {
	need_reference a
	m=$BATS_FILE_TMPDIR/a/final.h5
	run -0 nash-show --help
	assert_output --partial "Usage: nash-show"
	run -2 nash-show
	run -2 nash-show --tsv --dot "$m"
	run -0 nash-show "$m"
	assert_output --partial "lineage"
	assert_line --regexp '^  graph +[0-9]+ nodes, [0-9]+ parameters, [0-9]+ multiply-adds per image$'
	macs=$(sed -nE 's/^  graph .* ([0-9]+) multiply-adds per image$/\1/p' <<<"$output")
	run -0 nash-show --tsv "$m" "$m"
	[ "${#lines[@]}" -eq 3 ]
	assert_line --index 0 --regexp $'^model\tid\tparent_id'
	[ "$(tsv_col macs <(printf '%s\n' "${lines[@]}") 1)" = "$macs" ] && [ "$macs" -gt 0 ]
	run -0 nash-show --dot "$m"
	assert_output --partial "digraph nash"
	assert_output --regexp "conv 3x3, [0-9]+ \\+ BN \\+ ReLU"
	nash-show --dot "$m" | dot -Tsvg >/dev/null
	nash-show --dot --full "$m" | dot -Tsvg >/dev/null
	run -2 nash-show --dot "$m" "$m"
	echo junk >"$BATS_TEST_TMPDIR/junk.h5"
	run -1 nash-show "$BATS_TEST_TMPDIR/junk.h5"
	assert_output --partial "junk.h5: not an HDF5 file"
}

@test "pipelines/gpu.sh gives concurrent trainings different GPUs" {
	export NASH_GPUS=2 NASH_GPU_LOCKS="$BATS_TEST_TMPDIR/locks"
	mkdir "$BATS_TEST_TMPDIR/got"
	# each holds its GPU until both have started (at most 10 s)
	cmd='echo "$CUDA_VISIBLE_DEVICES" >"$0/$1"; i=0
		while [ "$(ls "$0" | wc -l)" -lt 2 ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done'
	"$TOP/pipelines/gpu.sh" sh -c "$cmd" "$BATS_TEST_TMPDIR/got" a &
	"$TOP/pipelines/gpu.sh" sh -c "$cmd" "$BATS_TEST_TMPDIR/got" b &
	wait
	run -0 sort "$BATS_TEST_TMPDIR/got/a" "$BATS_TEST_TMPDIR/got/b"
	assert_output $'0\n1'
	NASH_GPUS=0 run -1 "$TOP/pipelines/gpu.sh" true
	assert_output --partial "no GPU"
}

@test "BUDGET: the steps that fit the time with the final phase after them; STEPS=N remakes the same search" {
	run=$BATS_TEST_TMPDIR/b
	reference_copy a "$run"
	# the reference made 2 steps; stated times make the prediction exact: seed 10 s, steps 10 s
	# each, the next step 1.5 times the last, the final phase of these tiny networks a second
	# or so
	for k in 0 1 2; do echo 10 >"$run/step$k/wall"; done
	run -0 search search RUN="$run" BUDGET=44s STEPS=
	assert_line --regexp '^search: 2 steps \(the time budget: BUDGET=44s, 30s spent, step 3 would take about 15s and the final phase after it about [0-9]+s\); make search STEPS=2 with the same settings makes the same search$' 
	refute_line --regexp '^  step3/'
	run -0 cat "$run/climb.txt"
	assert_line "steps=2"
	# the same search: the reference's results, nothing trained again (its time is spent)
	diff "$BATS_FILE_TMPDIR/a.fingerprint" <(fingerprint "$run")
	run -0 grep -F "Steps decided as the search went (BUDGET, PATIENCE): 2 (the time budget:" "$run/report.md"
	# a larger budget goes on from there, up to STEPS given on the command line
	run -0 search search RUN="$run" BUDGET=1h STEPS=3
	assert_line --regexp '^step 3: best val '
	assert_line "search: 3 steps (the most steps asked for: STEPS=3); make search STEPS=3 with the same settings makes the same search"
	[ -f "$run/step3/wall" ]
	# which a plain make search of 3 steps from scratch makes bit for bit
	run -0 search search RUN="$BATS_TEST_TMPDIR/p" STEPS=3
	diff <(fingerprint "$BATS_TEST_TMPDIR/p") <(fingerprint "$run")
	# a dry run shows the plan of STEPS and changes nothing (the climb would run makes)
	run -0 search -n search RUN="$BATS_TEST_TMPDIR/dry" BUDGET=1m
	assert_line "search: BUDGET and PATIENCE decide the steps as the search goes; this is the plan of STEPS=2"
	[ ! -e "$BATS_TEST_TMPDIR/dry" ]
	# bad values are refused, naming the setting
	run -2 search -n search RUN="$run" BUDGET=10x
	assert_output --partial "search: BUDGET must be a wall time such as 600s, 10m or 2h, not '10x'"
	run -2 search -n search RUN="$run" PATIENCE=0
	assert_output --partial "search: PATIENCE must be a number of steps (1 or more), not '0'"
	run -2 search -n search RUN="$BATS_TEST_TMPDIR/r" BUDGET=1m RUNS=2
	assert_output --partial "search: BUDGET and PATIENCE are for one search (RUNS=1)"
}

@test "BUDGET: a step whose best could not have its final phase within the budget is set aside" {
	have_h5py || fail "python3-h5py is missing (tests/deps.sh installs it)"
	run=$BATS_TEST_TMPDIR/bd
	set -- RUN="$run" EPOCHS_SEED=1 EPOCHS_NEIGH=1 EPOCHS_FINAL=1 ENSEMBLE=raw
	# step 1 and its best's speed at the final phase's threads (what the climb measures)
	run -0 search "$run/step1/best.h5" "$run/step1/speed.h5" "$@" STEPS=1
	# the fixture trains in less than the tenth of a second the figures keep: step 0's best
	# stated to have trained for 10 s (its final phase predicted at 10 x 1.1 x 1.2 = 13 s),
	# step 1's speed measure for 1000 s (as many images as step 1's best trained: 1320 s, past
	# a 10-minute budget and longer than step 0's best's): step 1 is set aside, the search ends
	# with step 0's best (the files keep their times, so that make keeps them)
	images=$(nash-show --tsv "$run/step1/best.h5" | awk -F '\t' 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next } { print $c["images"] }')
	/usr/bin/python3 -c 'import h5py, sys
with h5py.File(sys.argv[1], "r+") as f:
    u = f["training/runs"][...]
    u["images"][-1] = int(sys.argv[2])
    f["training/runs"][...] = u' "$run/step1/speed.h5" "$images"
	for f in "$run/step0/best.h5:10" "$run/step1/speed.h5:1000"; do
		t=$(stat -c %y "${f%:*}")
		/usr/bin/python3 -c 'import h5py, sys
with h5py.File(sys.argv[1], "r+") as f:
    r = f["training/record"][...]
    r["seconds"][-1] = float(sys.argv[2])
    f["training/record"][...] = r' "${f%:*}" "${f##*:}"
		touch -d "$t" "${f%:*}"
	done
	run -0 search search "$@" BUDGET=600s STEPS=1
	assert_line --regexp "^search: 0 steps \(the time budget: BUDGET=10m00s, [0-9]+s spent, and step 1's best would need about 22m00s of final phase, step 0's less: step 1 is set aside\); make search STEPS=0 "
	run -0 cat "$run/climb.txt"
	assert_line "steps=0"
	# the final phase trained step 0's best (training keeps the id), as STEPS=0 does
	nash-show --tsv "$run/final.h5" "$run/step0/best.h5" >"$BATS_TEST_TMPDIR/ids.tsv"
	[ "$(tsv_col id "$BATS_TEST_TMPDIR/ids.tsv" 1)" = "$(tsv_col id "$BATS_TEST_TMPDIR/ids.tsv" 2)" ]
}

@test "PATIENCE: the search stops after K steps without a validation gain of MIN_GAIN" {
	run=$BATS_TEST_TMPDIR/pt
	run -0 search search RUN="$run" PATIENCE=1 MIN_GAIN=0.5 STEPS=3 EPOCHS_NEIGH=1 ENSEMBLE=raw
	# no step raises the validation accuracy by half of it: one step, then the stop
	v0=$(nash-show --tsv "$run/step0/best.h5" | cut -f 5 | tail -n 1)
	v1=$(nash-show --tsv "$run/step1/best.h5" | cut -f 5 | tail -n 1)
	assert_line "search: 1 step (the validation accuracy saturated: $v0 after step 0, $v1 after step 1, a gain below MIN_GAIN=0.5 in PATIENCE=1 steps); make search STEPS=1 with the same settings makes the same search"
	[ ! -e "$run/step2" ]
	assert_line --regexp '^search done: '
	# with a gain every step can make (none: 0), STEPS is the most
	run -0 search search RUN="$run" PATIENCE=1 MIN_GAIN=0 STEPS=2 EPOCHS_NEIGH=1 ENSEMBLE=raw
	assert_line "search: 2 steps (the most steps asked for: STEPS=2); make search STEPS=2 with the same settings makes the same search"
}

@test "anytime: after every step RUN/best.h5 is the best network so far and RUN/report.md says how far the search got" {
	run=$BATS_TEST_TMPDIR/any
	run -0 search "$run/step1/best.h5" RUN="$run" EPOCHS_NEIGH=1
	[ "$run/best.h5" -ef "$run/step1/best.h5" ]
	run -0 nash-show "$run/best.h5"
	run -0 grep -F '**Not finished: 1 step done, no final training yet.**' "$run/report.md"
	run -0 grep -F '| best of the search (`step1/best.h5`' "$run/report.md"
	[ ! -e "$run/summary.txt" ] && [ ! -e "$run/result.tsv" ]
	run -0 search search RUN="$run" EPOCHS_NEIGH=1
	[ "$run/best.h5" -ef "$run/final.h5" ]
	run -1 grep -F 'Not finished' "$run/report.md"
	run -0 grep -F '| after final training (`final.h5`)' "$run/report.md"
}

@test "Ctrl-C at random moments: RUN/best.h5, when there is one, is a readable network; a rerun ends as an uninterrupted search" {
	need_reference a
	run=$BATS_TEST_TMPDIR/cc
	local delays=() t
	for t in 1 2 3 4; do delays+=("$((RANDOM % 120 + 10))"); done # hundredths of a second
	echo "# Ctrl-C after ${delays[*]} hundredths of a second, each time of the search as far as it got" >&3
	for t in "${delays[@]}"; do
		interrupt_after "$t" search RUN="$run"
		if [ -e "$run/best.h5" ]; then
			run -0 nash-show "$run/best.h5"
			[ "$run/best.h5" -ef "$run/final.h5" ] || [ "$run/best.h5" -ef "$run/step1/best.h5" ] ||
				[ "$run/best.h5" -ef "$run/step2/best.h5" ]
		fi
		[ ! -e "$run/report.md" ] || grep -q '^# ' "$run/report.md"
		if [ -d "$run" ]; then
			run -0 find "$run" -name '*.tmp*' # no temporary left behind
			assert_output ""
		fi
	done
	run -0 search search RUN="$run"
	diff "$BATS_FILE_TMPDIR/a.fingerprint" <(fingerprint "$run")
}

@test "Ctrl-C while make writes a settings stamp leaves no temporary behind" {
	run=$BATS_TEST_TMPDIR/st
	# an mv that takes its time over the stamps: the stamp's writer is caught between writing
	# its temporary and renaming it (where random Ctrl-Cs found it once in some hundred runs)
	mkdir -p "$BATS_TEST_TMPDIR/bin"
	cat >"$BATS_TEST_TMPDIR/bin/mv" <<EOF
#!/bin/sh
case "\$*" in */settings/*) : >"$BATS_TEST_TMPDIR/renaming"; sleep 5 ;; esac
exec /usr/bin/mv "\$@"
EOF
	chmod +x "$BATS_TEST_TMPDIR/bin/mv"
	PATH="$BATS_TEST_TMPDIR/bin:$PATH" start_group "$run/settings/run" RUN="$run"
	await_file "$BATS_TEST_TMPDIR/renaming" "make wrote no stamp"
	kill -INT -- "-$group_pid"
	run -130 wait "$group_pid"
	run -0 find "$run" -name '*.tmp*'
	assert_output ""
}

@test "Ctrl-C while the report's plot is drawn ends the search at once: gnuplot, which can hang on it, is not sent it" {
	need_reference a
	run=$BATS_TEST_TMPDIR/g
	reference_copy a "$run"
	# a gnuplot that a Ctrl-C leaves hanging, as the real one can be (caught in its allocator)
	mkdir -p "$BATS_TEST_TMPDIR/bin"
	cat >"$BATS_TEST_TMPDIR/bin/gnuplot" <<EOF
#!/bin/sh
trap 'sleep 60' INT
[ "\$1" = -e ] && exit 0
: >"$BATS_TEST_TMPDIR/plotting"
sleep 2
cat >/dev/null
exit 1
EOF
	chmod +x "$BATS_TEST_TMPDIR/bin/gnuplot"
	# the report made again, as the search's last target makes it
	rm "$run/report.md"
	PATH="$BATS_TEST_TMPDIR/bin:$PATH" start_group "$run/report.md" RUN="$run"
	await_file "$BATS_TEST_TMPDIR/plotting" "no plot drawn"
	kill -INT -- "-$group_pid"
	# ended once the plot is (2 s), not after the hung gnuplot's minute
	for _ in $(seq 100); do
		kill -0 "$group_pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$group_pid" 2>/dev/null; then
		pkill -9 -f "$BATS_TEST_TMPDIR/bin/gnuplot"
		kill -9 -- "-$group_pid"
		fail "the search still ran 10 s after Ctrl-C, waiting for gnuplot"
	fi
	run -130 wait "$group_pid"
	[ ! -e "$run/report.md" ]
	run -0 find "$run" -name '*.tmp*'
	assert_output ""
}

@test "make -f CLONE/Makefile from another directory says how to run it" {
	cd "$BATS_TEST_TMPDIR"
	run -2 make --no-print-directory -f "$TOP/Makefile" -n search
	assert_output --partial "$TOP/Makefile runs in its own directory: make -C $TOP ... (RUN= then relative to it), or after make install: make -f PREFIX/share/nash/search.mk search from anywhere"
}

@test "DATA=h5:FILE: a repacked dataset file redoes the search" {
	run=$BATS_TEST_TMPDIR/h
	nash-data convert "$FMNIST" -o "$BATS_TEST_TMPDIR/d.h5"
	run -0 search "$run/step0/best.h5" RUN="$run" DATA="h5:$BATS_TEST_TMPDIR/d.h5"
	run -0 grep -E " DATA=h5:$BATS_TEST_TMPDIR/d.h5 DATA_CKSUM=[0-9]+:[0-9]+ " "$run/settings/seed"
	run -0 search "$run/step0/best.h5" RUN="$run" DATA="h5:$BATS_TEST_TMPDIR/d.h5"
	refute_line --regexp '^  seed: '
	# other images in the same file: the stamps change, the seed network is made again
	nash-data convert "$CIFAR10" -o "$BATS_TEST_TMPDIR/d.h5.new" && mv "$BATS_TEST_TMPDIR/d.h5.new" "$BATS_TEST_TMPDIR/d.h5"
	run -0 search "$run/step0/best.h5" RUN="$run" DATA="h5:$BATS_TEST_TMPDIR/d.h5"
	assert_line --regexp '^  seed: val '
	run -0 nash-show "$run/step0/best.h5"
	assert_output --partial "(3x32x32, 10 classes)"
}
