#!/usr/bin/env bats
load common

@test "nash-init --help prints usage on stdout and exits 0" {
	run -0 nash-init --help
	assert_output --partial "Usage: nash-init"
}

@test "nash-init --version" {
	run -0 nash-init --version
	assert_output --regexp '^nash-init \(nash\) [0-9]+\.[0-9]+'
}

@test "nash-init rejects unknown options with exit 2" {
	run -2 nash-init --bogus
	assert_output --partial "Usage:"
}

@test "nash-init rejects bad widths with exit 2" {
	run -2 nash-init --widths 32,x -o "$BATS_TEST_TMPDIR/m.h5"
	assert_output --partial "--widths: 'x' is not an integer"
	[ ! -e "$BATS_TEST_TMPDIR/m.h5" ]
}

@test "nash-init rejects a malformed dataset spec with exit 2" {
	run -2 nash-init --dataset mnist -o "$BATS_TEST_TMPDIR/m.h5"
	assert_output --partial "nash-init: "
	[ ! -e "$BATS_TEST_TMPDIR/m.h5" ]
}

@test "--data, --dataset and h5: given a folder or a dataset file without h5: say what to run or give instead" {
	local d=$BATS_TEST_TMPDIR p=$BATS_TEST_TMPDIR/png m
	m=$(seed_model)
	/usr/bin/python3 -c 'import os, sys; from PIL import Image
for c in ("cat", "dog"):
    os.makedirs(sys.argv[1] + "/train/" + c)
    for i in range(3): Image.new("RGB", (8, 8), (i, i, i)).save("%s/train/%s/%d.png" % (sys.argv[1], c, i))' "$p"
	nash-data pack "$p/train" -o "$d/pets.h5" 2>/dev/null
	run -2 nash-init --dataset "$p/train" --val 1 -o "$d/x.h5"
	assert_output "nash-init: $p/train is a folder of images: pack it first: nash-data pack $p/train -o FILE.h5, then give the data as h5:FILE.h5"
	run -2 nash-train --data "$p/train" --epochs 1 "$m" -o "$d/x.h5"
	assert_output "nash-train: $p/train is a folder of images: pack it first: nash-data pack $p/train -o FILE.h5, then give the data as h5:FILE.h5"
	run -2 nash-ensemble --data "$p/train" "$m"
	assert_output --partial "nash-ensemble: $p/train is a folder of images: pack it first"
	run -2 nash-data convert "$p/train" -o "$d/x.h5"
	assert_output --partial "nash-data: $p/train is a folder of images: pack it first"
	run -1 nash-init --dataset "h5:$p/train" --val 1 -o "$d/x.h5"
	assert_output "nash-init: $p/train is a folder, not a dataset file: a folder of images is packed first: nash-data pack $p/train -o FILE.h5, then given as h5:FILE.h5"
	run -1 nash-data info "$p/train"
	assert_output --partial "nash-data: $p/train is a folder, not a dataset file"
	# a dataset file without h5:
	run -2 nash-init --dataset "$d/pets.h5" --val 1 -o "$d/x.h5"
	assert_output "nash-init: $d/pets.h5 is an HDF5 file: a dataset file is given as h5:$d/pets.h5"
	run -2 nash-train --data "$d/pets.h5" --epochs 1 "$m" -o "$d/x.h5"
	assert_output "nash-train: $d/pets.h5 is an HDF5 file: a dataset file is given as h5:$d/pets.h5"
	# a folder of a built-in dataset's files: its spec
	run -2 nash-init --dataset "$FIX/cifar10" --val 1 -o "$d/x.h5"
	assert_output "nash-init: $FIX/cifar10 is a folder of cifar10 files: give it as cifar10:$FIX/cifar10"
	run -1 nash-init --dataset "h5:$FIX/fmnist" --val 1 -o "$d/x.h5"
	assert_output "nash-init: $FIX/fmnist is a folder of fashion-mnist files, not a dataset file: give it as fashion-mnist:$FIX/fmnist"
	# anything else is the spec's usage error, as before
	printf 'text' >"$d/notes.txt"
	run -2 nash-init --dataset "$d/notes.txt" --val 1 -o "$d/x.h5"
	assert_output --partial "nash-init: bad dataset '$d/notes.txt': expected fashion-mnist, fashion-mnist:DIR"
	run -2 nash-init --dataset "$d/none" --val 1 -o "$d/x.h5"
	assert_output --partial "nash-init: bad dataset '$d/none': expected"
	[ ! -e "$d/x.h5" ]
}

@test "nash-init on a missing data directory fails with exit 1 and no output" {
	run -1 nash-init --dataset "cifar10:$BATS_TEST_TMPDIR/nowhere" -o "$BATS_TEST_TMPDIR/m.h5"
	assert_output --partial "nowhere"
	[ ! -e "$BATS_TEST_TMPDIR/m.h5" ]
}

@test "nash-init on broken data fails with a clear error" {
	run -1 nash-init --dataset "fashion-mnist@64,32:$FIX/bad-truncated" -o "$BATS_TEST_TMPDIR/m.h5"
	assert_output --partial "truncated"
	[ ! -e "$BATS_TEST_TMPDIR/m.h5" ]
}

@test "nash-init writes the seed network readable by h5dump" {
	run -0 nash-init --dataset "$FMNIST" --val 200 -o "$BATS_TEST_TMPDIR/m.h5"
	run -0 h5ls -r "$BATS_TEST_TMPDIR/m.h5"
	assert_output --partial "/graph/001_conv"
	assert_output --partial "/graph/004_maxpool"
	assert_output --partial "/graph/013_dense"
	run -0 h5dump -a format "$BATS_TEST_TMPDIR/m.h5"
	assert_output --partial '"nash-model"'
	run -0 h5dump -d /graph/001_conv/weight -H "$BATS_TEST_TMPDIR/m.h5"
	assert_output --partial "( 32, 1, 3, 3 )"
}

@test "nash-init --val: a count, a percentage, or derived from the data" {
	val() { nash-show "$1" | sed -n 's/.*classes), \([0-9]*\) validation images held out/\1/p'; }
	# the fixture has 1200 training images: a tenth, 120 (below the default 5000)
	run -0 nash-init --dataset "$FMNIST" --widths 4,8 -o "$BATS_TEST_TMPDIR/d.h5"
	[ "$(val "$BATS_TEST_TMPDIR/d.h5")" = 120 ]
	run -0 nash-init --dataset "$FMNIST" --widths 4,8 --val 25% -o "$BATS_TEST_TMPDIR/p.h5"
	[ "$(val "$BATS_TEST_TMPDIR/p.h5")" = 300 ]
	run -0 nash-init --dataset "$FMNIST" --widths 4,8 --val 333 -o "$BATS_TEST_TMPDIR/n.h5"
	[ "$(val "$BATS_TEST_TMPDIR/n.h5")" = 333 ]
	# 100 classes, 600 images: at least one image per class, for the default and a percentage
	run -0 nash-init --dataset "$CIFAR100" --widths 4,8 -o "$BATS_TEST_TMPDIR/c.h5"
	[ "$(val "$BATS_TEST_TMPDIR/c.h5")" = 100 ]
	run -0 nash-init --dataset "$CIFAR100" --widths 4,8 --val 1% -o "$BATS_TEST_TMPDIR/c1.h5"
	[ "$(val "$BATS_TEST_TMPDIR/c1.h5")" = 100 ]
	run -2 nash-init --dataset "$FMNIST" --val 100% -o "$BATS_TEST_TMPDIR/x.h5"
	run -2 nash-init --dataset "$FMNIST" --val 1200 -o "$BATS_TEST_TMPDIR/x.h5"
	assert_output --partial "validation size 1200 out of range"
	run -2 nash-init --dataset "$CIFAR100" --val 99.99% -o "$BATS_TEST_TMPDIR/x.h5"
	assert_output --partial "a validation split of 99.99% leaves no training image: cifar100 has 600 training images of 100 classes"
	[ ! -e "$BATS_TEST_TMPDIR/x.h5" ]
}

@test "nash-init writes to stdout in a pipe, identical to -o" {
	nash-init --dataset "$FMNIST" --widths 4,8 --val 200 --seed 3 > "$BATS_TEST_TMPDIR/a.h5"
	nash-init --dataset "$FMNIST" --widths 4,8 --val 200 --seed 3 -o "$BATS_TEST_TMPDIR/b.h5"
	cmp "$BATS_TEST_TMPDIR/a.h5" "$BATS_TEST_TMPDIR/b.h5"
}

@test "nash-init seeds differ" {
	nash-init --dataset "$FMNIST" --widths 4,8 --val 200 --seed 3 -o "$BATS_TEST_TMPDIR/a.h5"
	nash-init --dataset "$FMNIST" --widths 4,8 --val 200 --seed 4 -o "$BATS_TEST_TMPDIR/b.h5"
	run ! cmp -s "$BATS_TEST_TMPDIR/a.h5" "$BATS_TEST_TMPDIR/b.h5"
}

@test "nash-init handles CIFAR-10 and CIFAR-100 shapes" {
	run -0 nash-init --dataset "$CIFAR10" --val 100 -o "$BATS_TEST_TMPDIR/c10.h5"
	run -0 h5dump -a input_shape "$BATS_TEST_TMPDIR/c10.h5"
	assert_output --partial "3, 32, 32"
	run -0 nash-init --dataset "$CIFAR100" --val 100 -o "$BATS_TEST_TMPDIR/c100.h5"
	run -0 h5dump -a num_classes "$BATS_TEST_TMPDIR/c100.h5"
	assert_output --partial "100"
}

@test "nash-init fails when the output directory does not exist" {
	run -1 nash-init --dataset "$FMNIST" --val 200 -o "$BATS_TEST_TMPDIR/no/such/dir/m.h5"
	assert_output --partial "nash-init: "
}

@test "nash-init reports a closed stdout" {
	run -1 bash -c 'nash-init --dataset "$FMNIST" --widths 4,8 --val 200 >&-'
	assert_output --partial "nash-init: "
}

# ---- --arch NAME: the seed networks ----

@test "nash-init --arch: each seed network is a model that nash-show lists, morphs and trains" {
	local d=$BATS_TEST_TMPDIR
	nash-init --dataset "$FMNIST" --widths 4,8 --val 200 --arch paper -o "$d/paper.h5"
	nash-init --dataset "$FMNIST" --widths 4,8 --val 200 --arch groups -o "$d/groups.h5"
	run -0 nash-show "$d/paper.h5"
	assert_output --partial "conv4k3-bn-relu-pool-conv8k3-bn-relu-flatten-dense10"
	run -0 nash-show "$d/groups.h5"
	assert_output --partial "conv4k3-pool-bn-relu-conv4k3-bn-relu-conv8k3-pool-bn-relu-conv8k3-bn-relu-flatten-dense10"
	assert_output --partial "5022 parameters"
	# the defaults: 32,64,128, and 16,32,64 for groups (sized for a 2-core CPU)
	nash-init --dataset "$FMNIST" --val 200 --arch groups -o "$d/groups-default.h5"
	run -0 nash-show "$d/groups-default.h5"
	assert_output --partial "conv16k3-pool-bn-relu-conv16k3-bn-relu-conv32k3-pool-bn-relu-conv32k3-bn-relu-conv64k3-pool"
	assert_output --partial "77786 parameters"
	nash-init --dataset "$CIFAR10" --widths 4,8,8 --val 100 --arch groups -o "$d/c10.h5"
	run -0 nash-show "$d/c10.h5"
	assert_output --partial "conv8k3-pool-bn-relu-conv8k3-bn-relu-flatten-dense10"
	for a in paper groups; do
		nash-morph -n 4 --seed 2 "$d/$a.h5" -o "$d/$a-child.h5" 2>/dev/null
		run -0 nash-train --data "$FMNIST" --limit 200 --batch 50 --epochs 1 -o "$d/$a-trained.h5" "$d/$a-child.h5"
		assert_output --regexp 'val_accuracy=[0-9.]+$'
	done
}

@test "nash-init --arch paper is the default seed network, file for file; another arch has another id" {
	local d=$BATS_TEST_TMPDIR
	nash-init --dataset "$FMNIST" --widths 4,8 --val 200 --seed 3 -o "$d/default.h5"
	nash-init --dataset "$FMNIST" --arch paper --widths 4,8 --val 200 --seed 3 -o "$d/paper.h5"
	cmp "$d/default.h5" "$d/paper.h5"
	nash-init --dataset "$FMNIST" --arch groups --widths 4,8 --val 200 --seed 3 -o "$d/groups.h5"
	[ "$(tsv_field "$d/groups.h5" id)" != "$(tsv_field "$d/paper.h5" id)" ]
}

@test "nash-init --arch: an unknown name is a usage error that names the seed networks" {
	run -2 nash-init --dataset "$FMNIST" --arch resnet -o "$BATS_TEST_TMPDIR/m.h5"
	assert_line "nash-init: unknown --arch 'resnet' (it is one of: paper, groups)"
	run -2 nash-init --dataset "$FMNIST" --arch= -o "$BATS_TEST_TMPDIR/m.h5"
	assert_output --partial "unknown --arch ''"
	# too many pools for the images: each of groups' widths pools once (28 -> 14 -> ... -> 0)
	run -2 nash-init --dataset "$FMNIST" --arch groups --widths 4,4,4,4,4 --val 200 -o "$BATS_TEST_TMPDIR/m.h5"
	assert_output "nash-init: 5 blocks do not fit 28x28 images (5 pools, each halves them)"
	[ ! -e "$BATS_TEST_TMPDIR/m.h5" ]
}

# ---- --like MODEL: the architecture again, with fresh weights ----

# A grown network (a deeper block, a skip-concat and a skip-add on the seed network) trained
# for one epoch on 300 fixture images, made once per test file.
grown_model() {
	local d=$BATS_FILE_TMPDIR
	if [ ! -f "$d/grown.h5" ]; then
		nash-morph -n 1 --op deeper "$(seed_model)" 2>/dev/null | nash-morph -n 1 --op skip-concat 2>/dev/null |
			nash-morph -n 1 --op skip-add -o "$d/grown-untrained.h5" 2>/dev/null
		nash-train --data "$FMNIST" --limit 300 --batch 64 --epochs 1 -o "$d/grown.h5" "$d/grown-untrained.h5" \
			>/dev/null 2>&1
	fi
	echo "$d/grown.h5"
}

# The architecture of a model file: every node's attributes and its weights' shapes, no values.
arch_dump() {
	h5dump -A -g /graph "$1" | sed 1d
}

# Column NAME of nash-show --tsv for FILE.
tsv_field() {
	nash-show --tsv "$1" | awk -F '\t' -v want="$2" 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
		{ print $col[want] }'
}

# The values of dataset DSET in FILE, one per line.
values() {
	local out
	out=$(mktemp -p "$BATS_TEST_TMPDIR")
	h5dump -y -w 0 -m %.9g -o "$out" -d "$2" "$1" >/dev/null && tr ', ' '\n\n' <"$out" | grep .
}

# The batch-norm, merge (lambda) and bias tensors of FILE that differ from a fresh
# network's (gamma, running_var, lambda 1; beta, running_mean, bias 0), one per line.
not_fresh() {
	local ds want
	for ds in $(h5ls -r "$1" | awk '$2 == "Dataset" { print $1 }' | grep -E '/(gamma|running_var|lambda|beta|running_mean|bias)$'); do
		case $ds in */gamma | */running_var | */lambda) want=1 ;; *) want=0 ;; esac
		values "$1" "$ds" | awk -v w="$want" '$1 != w { bad = 1 } END { exit !bad }' && echo "$ds"
	done
	return 0
}

@test "nash-init --like: a grown trained network's graph with fresh weights, untrained" {
	g=$(grown_model)
	r=$BATS_TEST_TMPDIR/r.h5
	run -0 nash-init --like "$g" --seed 7 -o "$r"
	# the same architecture (skip-add and skip-concat included), node for node
	run -0 h5ls -r "$r"
	assert_output --partial "_add/lambda"
	assert_output --partial "_concat"
	diff <(arch_dump "$g") <(arch_dump "$r")
	[ "$(tsv_field "$r" params)" = "$(tsv_field "$g" params)" ]
	[ "$(tsv_field "$r" summary)" = "$(tsv_field "$g" summary)" ]
	# other weights: batch norm back to identity, lambda 1, biases 0 (trained, they were not)
	[ "$(tsv_field "$r" weights_hash)" != "$(tsv_field "$g" weights_hash)" ]
	run -0 not_fresh "$g"
	assert_output --partial "_add/lambda"
	assert_output --partial "_bn/running_var"
	run -0 not_fresh "$r"
	assert_output ""
	# MODEL's data settings
	for a in dataset norm_mean norm_std val_size input_shape num_classes; do
		diff <(h5dump -a "$a" "$g" | sed 1d) <(h5dump -a "$a" "$r" | sed 1d)
	done
	# untrained: no run, no record, no accuracy; a new id, MODEL as its parent
	run -0 nash-show "$r"
	assert_output --partial "training    0 runs, 0 epochs"
	assert_output --partial "accuracy    val -, test -"
	run -1 h5dump -a val_accuracy "$r"
	[ "$(tsv_field "$r" parent_id)" = "$(tsv_field "$g" id)" ]
	[ "$(tsv_field "$r" id)" != "$(tsv_field "$g" id)" ]
	# the lineage: MODEL's morphisms, then the reinit with its seed
	[ "$(tsv_field "$r" lineage)" = "deeper,skip-concat,skip-add,reinit" ]
	[ "$(table_field "$r" /lineage op 3)" = reinit ]
	[ "$(table_field "$r" /lineage seed 3)" = 7 ]
	[ "$(table_field "$r" /lineage node 3)" = -1 ]
	run -0 nash-show "$r"
	assert_output --partial "lineage     3 morphisms since the seed network, then reinitialised once"
	assert_output --partial "reinit       every weight initialised afresh, seed 7"
}

@test "nash-init --like: the seed network's initialiser; seeds give other weights, a seed the same file" {
	s=$BATS_TEST_TMPDIR/s.h5 d=$BATS_TEST_TMPDIR
	nash-init --dataset "$FMNIST" --widths 4,8 --val 200 --seed 3 -o "$s"
	# a seed network reinitialised with its own seed: the same weights, bit for bit
	nash-init --like "$s" --seed 3 -o "$d/a.h5"
	diff <(graph_dump "$s") <(graph_dump "$d/a.h5")
	run ! cmp -s "$s" "$d/a.h5" # but another id and lineage
	nash-init --like "$s" --seed 3 -o "$d/b.h5"
	cmp "$d/a.h5" "$d/b.h5"
	nash-init --like "$s" --seed 4 -o "$d/c.h5"
	diff <(arch_dump "$s") <(arch_dump "$d/c.h5")
	run ! diff -q <(graph_dump "$s") <(graph_dump "$d/c.h5")
	[ "$(tsv_field "$d/c.h5" weights_hash)" != "$(tsv_field "$d/a.h5" weights_hash)" ]
	[ "$(tsv_field "$d/c.h5" id)" != "$(tsv_field "$d/a.h5" id)" ]
	# the default seed is 1; standard input and output work as files do
	nash-init --like "$s" -o "$d/one.h5"
	nash-init --like "$s" --seed 1 -o "$d/one-again.h5"
	cmp "$d/one.h5" "$d/one-again.h5"
	nash-init --like - --seed 1 <"$s" >"$d/piped.h5"
	cmp "$d/one.h5" "$d/piped.h5"
}

@test "nash-init --like: trained afterwards as a fresh model (auto warmup), MODEL as a trained one is not" {
	g=$(grown_model)
	d=$BATS_TEST_TMPDIR
	nash-init --like "$g" --seed 2 -o "$d/r.h5"
	run -0 --separate-stderr nash-train --data "$FMNIST" --limit 256 --batch 64 --epochs 1 -o "$d/t.h5" "$d/r.h5"
	assert_output --regexp '^val_accuracy=0\.[0-9]+$'
	# 4 steps, a warmup of half the run: the epoch starts at 0.05 / 2, climbs to 0.05 and falls
	[[ "$stderr" == *"epoch 1/1  lr 0.0250-0.0500-0.0250  train"* ]]
	[ "$(table_field "$d/t.h5" /training/runs warmup 0)" = 0.5 ]
	run -0 nash-show "$d/t.h5"
	assert_output --partial "training    1 run, 1 epoch"
	run -0 --separate-stderr nash-train --data "$FMNIST" --limit 256 --batch 64 --epochs 1 -o "$d/u.h5" "$g"
	[[ "$stderr" == *"epoch 1/1  lr 0.0500-0.0073  train"* ]]
	[ "$(table_field "$d/u.h5" /training/runs warmup 1)" = 0 ]
}

@test "nash-init --like a checkpoint: its architecture, without its optimizer state or unfinished run" {
	d=$BATS_TEST_TMPDIR
	nash-train --data "$FMNIST" --limit 256 --batch 64 --epochs 2 --checkpoint "$d/ck.h5" -o "$d/t.h5" \
		"$(seed_model)" 2>/dev/null
	run -0 nash-show "$d/ck.h5" # written after epoch 1 of 2
	assert_output --partial "checkpoint  after epoch 1 of the last run"
	run -0 nash-init --like "$d/ck.h5" --seed 5 -o "$d/r.h5"
	diff <(arch_dump "$d/t.h5") <(arch_dump "$d/r.h5")
	run -0 h5ls -r "$d/r.h5"
	refute_output --partial "momentum_"
	run -1 h5dump -a checkpoint_epochs_done "$d/r.h5"
	run -0 nash-show "$d/r.h5"
	assert_output --partial "training    0 runs, 0 epochs"
	refute_output --partial "checkpoint"
}

@test "nash-init --like a model marked failed: allowed, the new model is not" {
	d=$BATS_TEST_TMPDIR
	run -4 nash-train --data "$FMNIST" --limit 256 --epochs 1 --lr 1e5 -o "$d/f.h5" "$(seed_model)"
	run -0 h5dump -a failed "$d/f.h5"
	run -0 nash-init --like "$d/f.h5" -o "$d/r.h5"
	run -1 h5dump -a failed "$d/r.h5"
	run -1 h5dump -a failure "$d/r.h5"
	run -0 nash-show "$d/r.h5"
	refute_output --partial "failed"
	run -0 nash-train --data "$FMNIST" --limit 256 --epochs 1 -o "$d/t.h5" "$d/r.h5"
}

@test "nash-init --like: usage errors and unreadable models leave no output" {
	m=$(seed_model)
	o=$BATS_TEST_TMPDIR/r.h5
	run -2 nash-init --like "$m" --widths 4,8 -o "$o"
	assert_output --partial "nash-init: --like and --widths exclude each other"
	run -2 nash-init --dataset "$FMNIST" --like "$m" -o "$o"
	assert_output --partial "nash-init: --like and --dataset exclude each other"
	run -2 nash-init --like "$m" --val 100 -o "$o"
	assert_output --partial "nash-init: --like and --val exclude each other"
	run -2 nash-init --like "$m" --arch groups -o "$o"
	assert_output --partial "nash-init: --like and --arch exclude each other"
	run -2 nash-init --arch groups --like "$m" -o "$o"
	assert_output --partial "nash-init: --like and --arch exclude each other"
	run -2 nash-init --like "$m" extra -o "$o"
	assert_output --partial "unexpected argument 'extra'"
	run -2 nash-init --like
	assert_output --partial "Usage:"
	[ ! -e "$o" ]
	run -1 nash-init --like "$BATS_TEST_TMPDIR/nowhere.h5" -o "$o"
	assert_output --partial "nash-init: $BATS_TEST_TMPDIR/nowhere.h5: "
	echo "not a model" >"$BATS_TEST_TMPDIR/text.h5"
	run -1 nash-init --like "$BATS_TEST_TMPDIR/text.h5" -o "$o"
	assert_output "nash-init: $BATS_TEST_TMPDIR/text.h5: not an HDF5 file"
	nash-ensemble --data "$FMNIST" -o "$BATS_TEST_TMPDIR/e.h5" "$m" "$m" 2>/dev/null
	run -1 nash-init --like "$BATS_TEST_TMPDIR/e.h5" -o "$o"
	assert_output --partial "format is 'nash-ensemble', not 'nash-model'"
	[ ! -e "$o" ]
}
