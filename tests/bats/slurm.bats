#!/usr/bin/env bats
# `make search` with every training a Slurm job (LAUNCH='srun ...'), against a real Slurm: a
# single-machine one started for this file from Debian's packages (tests/bats/slurm.bash). The
# search must give the same models, bit for bit, as without Slurm, record each training's job,
# survive a cancelled job by resuming it, and every daemon must stop.
load common
load slurm

TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
# search.bats's tiny search (2 steps of 2 children, 3 epochs per child so that children
# checkpoint), one thread per training, two at a time: the machine's CPUs as two Slurm slots.
S_ARGS=(DATA="$FMNIST" VAL=200 LIMIT=256 BATCH=32 WIDTHS=4,8 STEPS=2 NEIGH=2 MORPHS=2
	EPOCHS_SEED=1 EPOCHS_NEIGH=3 EPOCHS_FINAL=2 MAX_PARAMS= DEVICE=cpu THREADS=1 SEED=7)
# One task of one CPU per job; --quiet: no "job N queued" lines among make's.
SRUN="srun --quiet -n1 -c1"

# The outer `make test` exports its flags (a jobserver among them): not for this make.
unset MAKEFLAGS MFLAGS MAKELEVEL
# One test at a time (bats --jobs runs other files beside this one): they count this Slurm's
# jobs, and the last stops its daemons.
BATS_NO_PARALLELIZE_WITHIN_FILE=true

search() {
	make -C "$TOP" --no-print-directory BUILD="$NASH_BUILD" "${S_ARGS[@]}" "$@"
}

setup_file() {
	export SLURM_DIR=$BATS_FILE_TMPDIR/slurm
	SLURM_SKIP=$(slurm_unavailable)
	export SLURM_SKIP
	[ -n "$SLURM_SKIP" ] && return 0
	date +%s >"$BATS_FILE_TMPDIR/t0"
	# the reference, the search without Slurm, while the daemons start (its test checks it)
	{
		search -j2 search RUN="$BATS_FILE_TMPDIR/run-local" >"$BATS_FILE_TMPDIR/run-local.out" 2>&1 &&
			echo 0 >"$BATS_FILE_TMPDIR/run-local.status" || echo $? >"$BATS_FILE_TMPDIR/run-local.status"
		echo $(($(date +%s) - $(cat "$BATS_FILE_TMPDIR/t0"))) >"$BATS_FILE_TMPDIR/run-local.seconds"
	} &
	local ref=$!
	slurm_start "$SLURM_DIR" || {
		wait $ref
		slurm_stop "$SLURM_DIR"
		return 1
	}
	wait $ref
}

# The output and exit status of the reference search of setup_file.
reference() {
	cat "$BATS_FILE_TMPDIR/run-local.out"
	return "$(cat "$BATS_FILE_TMPDIR/run-local.status")"
}

# Fails unless the reference search of setup_file completed.
need_reference() {
	[ "$(cat "$BATS_FILE_TMPDIR/run-local.status")" -eq 0 ] ||
		fail "the reference search (setup_file) failed: $(tail -n 5 "$BATS_FILE_TMPDIR/run-local.out")"
}

teardown_file() {
	[ -n "${SLURM_SKIP:-}" ] || slurm_stop "$SLURM_DIR"
}

setup() {
	[ -z "$SLURM_SKIP" ] || skip "$SLURM_SKIP"
}

# Every model file of two runs, compared as model_text; prints the differences, 1 if any.
same_models() {
	local a=$1 b=$2 f bad=0
	diff <(cd "$a" && find . -name '*.h5' | sort) <(cd "$b" && find . -name '*.h5' | sort) || return 1
	for f in $(cd "$a" && find . -name '*.h5' | sort); do
		diff <(model_text "$a/$f" "$a") <(model_text "$b/$f" "$b") >"$BATS_TEST_TMPDIR/diff" && continue
		echo "# $f differs:"
		head -n 20 "$BATS_TEST_TMPDIR/diff"
		bad=1
	done
	return $bad
}

# The Slurm job recorded by each training of a run (nash-show --tsv column 19, of the model's
# last run): the seed's pretraining, every child, the final training. "MODEL JOB.STEP" lines.
recorded_jobs() {
	local m
	for m in "$1"/step0/best.h5 "$1"/step*/child*[0-9].h5 "$1/final.h5"; do
		nash-show --tsv "$m" | awk -F '\t' -v m="${m#"$1"/}" 'NR == 2 { print m, $19 }'
	done
}

# A LAUNCH hook (srun ... hold.sh nash-train ...) for the tests that end a job mid-training: the
# training that writes $HOLD_OUT stops at its first checkpoint (its nash-train killed) and the
# task waits there for the scheduler to end it, as a scancel or a preemption finds a training of
# hours mid-way. (This one's epochs last a fraction of a second: a nash-train merely stopped with
# SIGSTOP goes on at Slurm's SIGCONT and may finish before its SIGTERM comes.) Once per run:
# HOLD_OUT.held marks it done.
make_hold() {
	cat >"$BATS_FILE_TMPDIR/hold.sh" <<-'EOF'
		#!/bin/bash
		out= prev=
		for a in "$@"; do
			[ "$prev" = -o ] && out=$a
			prev=$a
		done
		[ -n "${HOLD_OUT:-}" ] && [ "$out" = "$HOLD_OUT" ] && [ ! -e "$HOLD_OUT.held" ] || exec "$@"
		: >"$HOLD_OUT.held"
		# it stops itself once its first checkpoint is in place (stop_on_rename.so)
		LD_PRELOAD=$NASH_BUILD/tests/stop_on_rename.so NASH_STOP_ON_RENAME=${out%.h5}.ckpt.h5 "$@" &
		while [ ! -f "${out%.h5}.ckpt.h5" ] && kill -0 $! 2>/dev/null; do sleep 0.01; done
		[ -f "${out%.h5}.ckpt.h5" ] || { wait $!; exit; } # it ended first
		kill -KILL $!
		sleep 600 &
		trap 'kill $!; exit 143' TERM
		wait $!
	EOF
	chmod +x "$BATS_FILE_TMPDIR/hold.sh"
	echo "$BATS_FILE_TMPDIR/hold.sh"
}

# The waits for an event below are only bounds against a hang: so long that no load makes them
# run out, so that no test depends on how fast this machine is.
WAIT=900

# Job ids scontrol knows, one per line, ascending.
slurm_jobs() {
	scontrol show job -o | sed -n 's/^JobId=\([0-9]*\) .*/\1/p' | sort -n
}

@test "a training as a Slurm job (srun) writes the model file it writes outside Slurm, bit for bit" {
	d=$BATS_TEST_TMPDIR
	# a child with every op (deeper, wider, skip-add, skip-concat)
	nash-init --dataset "$FMNIST" --widths 4,8 --val 50 -o "$d/seed.h5"
	nash-morph -n 5 --seed 30 -o "$d/child.h5" "$d/seed.h5" 2>/dev/null
	for dev in cpu-blas cpu; do
		for t in 1 2; do
			args=(--data "$FMNIST" --device "$dev" --threads "$t" --limit 128 --batch 16 --epochs 2)
			o=$d/$dev-$t
			nash-train "${args[@]}" -o "$o.h5" "$d/child.h5" 2>/dev/null
			# the job's task: another environment (Slurm's variables added; with env -i, little
			# else), another parent, working directory and address layout
			srun --quiet -n1 -c"$t" nash-train "${args[@]}" -o "$o-srun.h5" "$d/child.h5" 2>/dev/null
			(cd / && env -i PATH="$PATH" SLURM_CONF="$SLURM_CONF" srun --quiet -n1 -c"$t" nash-train "${args[@]}" \
				-o "$o-srun-envi.h5" "$d/child.h5" 2>/dev/null)
			run -0 nash-show --tsv "$o-srun.h5"
			[[ $(awk -F '\t' 'NR == 2 { print $19 }' <<<"$output") =~ ^[0-9]+\.0$ ]] # it ran as a job
			for v in srun srun-envi; do
				diff <(model_text "$o.h5") <(model_text "$o-$v.h5") || { echo "# $dev, $t threads: $v differs"; false; }
			done
		done
	done
}

@test "the reference: the search without Slurm" {
	run -0 reference
	echo "# search without Slurm: $(cat "$BATS_FILE_TMPDIR/run-local.seconds") s" >&3
	assert_line --regexp '^search done: '
	run -0 recorded_jobs "$BATS_FILE_TMPDIR/run-local"
	assert_line "final.h5 -"
	refute_output --regexp ' [0-9]+\.[0-9]+$'
}

@test "make -j2 search LAUNCH='srun ...': every training its own Slurm job, the same models" {
	need_reference
	run=$BATS_FILE_TMPDIR/run-slurm
	before=$(slurm_jobs | tail -n 1)
	t0=$(date +%s)
	run -0 search -j2 search RUN="$run" LAUNCH="$SRUN"
	echo "# Slurm search: $(($(date +%s) - t0)) s" >&3
	assert_line --regexp '^search done: '
	# each of the 6 trainings ran as its own job (step 0 of it), recorded in its model
	run -0 recorded_jobs "$run"
	[ "${#lines[@]}" -eq 6 ]
	for l in "${lines[@]}"; do [[ $l =~ \ ([0-9]+)\.0$ ]] || { echo "no job: $l"; false; }; done
	jobs=$(printf '%s\n' "${lines[@]}" | awk '{ sub(/\..*/, "", $2); print $2 }' | sort -n)
	[ "$(uniq <<<"$jobs" | wc -l)" -eq 6 ]
	# Slurm knows each as a completed job of nash-train; with the seed's test evaluation and
	# the ensemble, the search ran 8 jobs
	for j in $jobs; do
		run -0 scontrol show job -o "$j"
		assert_output --regexp 'JobState=COMPLETED '
		assert_output --partial 'ExitCode=0:0'
		assert_output --partial 'JobName=nash-train'
	done
	new=$(slurm_jobs | awk -v b="${before:-0}" '$1 > b')
	echo "# Slurm search: $(wc -l <<<"$new") jobs" >&3
	[ "$(wc -l <<<"$new")" -eq 8 ]
	# the report says where they ran
	run -0 grep -A 3 '^## Where the trainings ran' "$run/report.md"
	assert_line "6 trainings on 1 host, 6 of them as 6 distinct scheduler jobs."
	# and the models are those of the search without Slurm, bit for bit
	same_models "$BATS_FILE_TMPDIR/run-local" "$run"
	echo "# Slurm search: $(cd "$run" && find . -name '*.h5' | wc -l) model files equal to the reference" >&3
}

@test "scancel of a child's job fails its target clearly; the next make search resumes it and ends the same" {
	need_reference
	run=$BATS_FILE_TMPDIR/run-fault
	ckpt=$run/step1/child2.ckpt.h5
	hold=$(make_hold)
	HOLD_OUT=$run/step1/child2.h5 search -j2 search RUN="$run" LAUNCH="$SRUN $hold" >"$BATS_TEST_TMPDIR/make.out" 2>&1 &
	pid=$!
	# once step 1's child 2 has checkpointed, cancel its job, which the checkpoint records
	slurm_wait $WAIT test -e "$run/step1/child2.h5.held"
	slurm_wait $WAIT test -f "$ckpt"
	job=$(nash-show --tsv "$ckpt" | awk -F '\t' 'NR == 2 { print $19 }')
	[[ $job =~ ^[0-9]+\.0$ ]]
	scancel "${job%.0}"
	status=0
	wait $pid || status=$?
	cat "$BATS_TEST_TMPDIR/make.out"
	[ "$status" -ne 0 ]
	run -0 scontrol show job -o "${job%.0}"
	assert_output --regexp 'JobState=CANCELLED '
	run -0 cat "$BATS_TEST_TMPDIR/make.out"
	assert_line --regexp "^  step1/child2: stopped \\(nash-train: killed by signal 15 \\(TERM\\); slurm: STEP ${job} ON .* CANCELLED AT .*\\), a rerun resumes from $ckpt$"
	assert_line --regexp 'step1/child2.h5.* Error 130'
	refute_line --regexp '^  step1/child2: (val|FAILED)'
	[ -f "$ckpt" ]
	[ ! -f "$run/final.h5" ]
	# the next make search resumes the child from its checkpoint in a new job
	run -0 search -j2 search RUN="$run" LAUNCH="$SRUN $hold"
	assert_line --regexp '^  step1/child2: val '
	refute_line --regexp '^  (seed|step1/child1): '
	grep -q "resuming from $ckpt" "$run/step1/child2.log"
	run -0 nash-show --tsv "$run/step1/child2.h5"
	again=$(awk -F '\t' 'NR == 2 { print $19 }' <<<"$output")
	[[ $again =~ ^[0-9]+\.0$ ]] && [ "$again" != "$job" ]
	# and ends where the uninterrupted search did
	same_models "$BATS_FILE_TMPDIR/run-local" "$run"
}

# The state of job $1 as scontrol tells it: "STATE RESTARTS".
job_state() {
	scontrol show job -o "$1" | awk '{
		for (i = 1; i <= NF; i++) if ($i ~ /^(JobState|Restarts)=/) { sub(/^[A-Za-z]+=/, "", $i); printf "%s ", $i }
	}' | sed 's/ $//'
}

# True once job $1 has ended, however (not pending, running, requeued or completing).
job_ended() {
	scontrol show job -o "$1" | grep -Eq 'JobState=(COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|PREEMPTED|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE) '
}

@test "examples/slurm-search.sbatch: one batch job, every training a step; requeued mid-way it resumes and ends the same" {
	need_reference
	run=$BATS_FILE_TMPDIR/run-batch
	ckpt=$run/step1/child2.ckpt.h5
	# the script's GPU job on this machine's CPUs: 2 trainings of 1 CPU at a time, no GPU; its
	# trainings through the hook (srun ... hold.sh nash-train ...)
	hold=$(make_hold)
	job=$(cd "$TOP" && HOLD_OUT=$run/step1/child2.h5 NASH_GRES= NASH_WRAP=$hold sbatch --parsable --ntasks=2 --cpus-per-task=1 \
		--gres=none --mem-per-cpu=100 --output="$BATS_TEST_TMPDIR/batch.out" examples/slurm-search.sbatch \
		"${S_ARGS[@]}" BIN="$NASH_BUILD/bin" RUN="$run")
	[[ $job =~ ^[0-9]+$ ]]
	slurm_wait $WAIT test -e "$run/step1/child2.h5.held"
	slurm_wait $WAIT test -f "$ckpt"
	sleep 0.2
	# as a preemption with PreemptMode=REQUEUE does: the job's processes get SIGTERM, the job
	# goes back to the queue (with a begin time some two minutes on: brought forward here)
	scontrol requeue "$job"
	slurm_wait $WAIT sh -c "scontrol show job -o $job | grep -q 'JobState=PENDING .*Restarts=1 '"
	# ... but not into the second in which its first start was ended: slurmd refuses to start a
	# job whose credential is no newer, to the second, than its revocation ("Job N already
	# killed, do not launch batch job"), and the job fails. (That second is past once the job
	# is pending again.)
	pending=$(date +%s)
	slurm_wait $WAIT sh -c "[ \$(date +%s) -gt $pending ]"
	scontrol update JobId="$job" StartTime=now
	# until the second start has ended, then how
	slurm_wait $WAIT job_ended "$job" || true
	run -0 job_state "$job"
	[ "$output" = "COMPLETED 1" ] || {
		echo "job $job: $output"
		cat "$BATS_TEST_TMPDIR/batch.out"
		false
	}
	run -0 cat "$BATS_TEST_TMPDIR/batch.out"
	assert_line --regexp "^  step1/child2: stopped \(nash-train: killed by signal 15 \(TERM\); slurm: STEP $job\.[0-9]+ ON .* CANCELLED AT .* DUE TO JOB REQUEUE\), a rerun resumes from $ckpt$"
	assert_line --regexp '^search done: '
	[ "$(grep -c '^nash-search: job ' <<<"$output")" -eq 2 ] # the script ran twice
	grep -q "resuming from $ckpt" "$run/step1/child2.log"
	# every training a step of this one job, each step its own (the restart tells apart the
	# steps of the second start, numbered from 0 again)
	run -0 recorded_jobs "$run"
	[ "${#lines[@]}" -eq 6 ]
	for l in "${lines[@]}"; do
		[[ $l =~ \ $job\.[0-9]+(\ \(restart\ 1\))?$ ]] || { echo "not a step of $job: $l"; false; }
	done
	assert_line --regexp "^step0/best.h5 $job\.[0-9]+$"
	assert_line --regexp "^final.h5 $job\.[0-9]+ \(restart 1\)$"
	[ "$(printf '%s\n' "${lines[@]}" | cut -d ' ' -f 2- | sort -u | wc -l)" -eq 6 ]
	same_models "$BATS_FILE_TMPDIR/run-local" "$run"
}

@test "every daemon stops, and nothing of this Slurm is left running" {
	pids=$(cat "$SLURM_DIR"/slurmctld.pid "$SLURM_DIR"/slurmd.pid "$SLURM_DIR"/munged.pid)
	[ "$(wc -w <<<"$pids")" -eq 3 ]
	run -0 slurm_stop "$SLURM_DIR"
	for p in $pids; do ! kill -0 "$p" 2>/dev/null; done
	run -0 slurm_leftovers "$SLURM_DIR"
	assert_output ""
	echo "# Slurm test file: $(($(date +%s) - $(cat "$BATS_FILE_TMPDIR/t0"))) s from the daemons' start" >&3
}
