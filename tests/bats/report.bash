# Hand-made searches for the tests of nash-report (nash-report.bats, valgrind.bats): untrained
# models (no seconds, no accuracies of their own) and hand-written tables, so that every figure
# of a report is known.

# hand_made_search R: a search of two steps in R: step 1's child1 won (child2 failed), step 2
# kept its parent (its best has step 1's weights), the final model is step 2's best.
hand_made_search() {
	local r=$1 h
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

# hand_made_runs D: RUNS=3 in D: three runs' result.tsv (run 3 without a seed network's
# test and a snapshot ensemble's), the ensemble of their final networks.
hand_made_runs() {
	local d=$1 i=0 row
	mkdir -p "$d/settings"
	echo "RUNS=3 SEED=7" >"$d/settings/run"
	for row in "0.5000	0.8000	0.8100	1000	100" "0.5500	0.8400	0.8500	1200	200" "-	0.8600	-	1100	300.5"; do
		i=$((i + 1))
		mkdir -p "$d/run$i/settings"
		echo "SEED=$((6 + i)) DATA=x" >"$d/run$i/settings/init"
		printf 'seed_test\tfinal_test\tensemble_test\tparams\ttrain_seconds\n%s\n' "$row" >"$d/run$i/result.tsv"
	done
	printf '%s\n' "member  params  test_accuracy" "$d/run1/final.h5  1000  0.8000" "ensemble of 3    0.8800" \
		"test_accuracy=0.8800" >"$d/ensemble.txt"
}

# hand_made_ablation A: the ablation in A, seeds 7 and 8 (seed1, seed2): the searches' result.tsv,
# (d) and (e) as model files with the test accuracy set, no training seconds anywhere but the
# searches' (111 and 122 each).
hand_made_ablation() {
	local a=$1 s v t h
	mkdir -p "$a/settings"
	echo "ABL_SEEDS=2" >"$a/settings/run"
	echo "ABL_SEEDS=2 SEED=7 ABL_SCRATCH=same" >"$a/settings/ablation"
	printf 'ensemble of 2    0.9000\ntest_accuracy=0.9000\n' >"$a/ensemble.txt"
	for s in 1 2; do
		h=$a/seed$s
		mkdir -p "$h/settings" "$h/step0" "$h/scratch" "$h/seed-only"
		echo "SEED=$((6 + s))" >"$h/settings/init"
		nash-init --dataset "$FMNIST" --widths 4,8 --val 200 --seed "$s" -o "$h/step0/best.h5"
		echo "test_accuracy=0.70$s" >"$h/step0/test.txt"
		for v in search random const-lr; do
			case $v in search) t=0.8$s ;; random) t=0.7$s ;; const-lr) t=0.8$((s + 2)) ;; esac
			mkdir -p "$h/$v"
			printf 'final_test\tparams\tepochs\ttrain_seconds\n%s\t100%s\t9\t1%s%s\n' "$t" "$s" "$s" "$s" >"$h/$v/result.tsv"
		done
		nash-init --dataset "$FMNIST" --widths 4,8 --val 200 --seed "1$s" -o "$h/scratch/final.h5"
		nash-init --dataset "$FMNIST" --widths 4,8 --val 200 --seed "2$s" -o "$h/seed-only/final.h5"
		set_test "$h/scratch/final.h5" "0.7$((s + 5))"
		set_test "$h/seed-only/final.h5" "0.8$((s * 3))"
	done
}

# set_test MODEL ACCURACY: the model's test accuracy, as an evaluation would have set it
set_test() {
	/usr/bin/python3 -c 'import h5py, sys, numpy; h5py.File(sys.argv[1], "r+").attrs["test_accuracy"] = numpy.float32(sys.argv[2])' "$1" "$2"
}

# set_figures MODEL VAL SECONDS [IMAGES]: a trained model's validation accuracy, the seconds of
# its training (its last epoch's; any other epoch none) and its images per epoch, as a training
# would have recorded them
set_figures() {
	/usr/bin/python3 -c 'import h5py, sys, numpy
f = h5py.File(sys.argv[1], "r+")
f.attrs["val_accuracy"] = numpy.float32(sys.argv[2])
r = f["training/record"][...]
r["seconds"] = 0
r["seconds"][-1] = float(sys.argv[3])
f["training/record"][...] = r
if len(sys.argv) > 4:
    u = f["training/runs"][...]
    u["images"][-1] = int(sys.argv[4])
    f["training/runs"][...] = u' "$@"
}

# climbing R: the hand-made search in R, its steps' bests trained (one epoch) with stated
# figures: validation accuracies 0.5000, 0.6000, 0.6050, training seconds 10, 4 and 2
climbing() {
	local k val secs
	cp -a "$BATS_FILE_TMPDIR/r" "$1"
	while read -r k val secs; do
		cp "$BATS_FILE_TMPDIR/trained.h5" "$1/step$k/best.h5"
		set_figures "$1/step$k/best.h5" "$val" "$secs"
	done <<-EOF
		0 0.5 10
		1 0.6 4
		2 0.605 2
	EOF
}
