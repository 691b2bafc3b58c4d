# Helpers for the tests of the make pipelines (search.bats, ablation.bats): a LAUNCH hook that
# interrupts or breaks one training, and make run in a process group of its own. The caller
# defines S_ARGS (the settings every make gets) and TOP (the repository).

# A LAUNCH prefix for the tests: for the training whose output ends in /$HOOK_CHILD.h5 it
# crashes (crash: SIGSEGV), is killed as by the kernel's OOM killer (oomkill: SIGKILL), fails
# as nash-train does when its network is too big for memory (oom: exit 3), makes the learning
# rate absurd (diverge), or, once the training's first checkpoint exists, stops it and kill
# -9's its process group, make's (kill), or sends the group SIGINT, as Ctrl-C does (int); or it
# lets the training end and then sends the group SIGTERM, this launcher included, as a Ctrl-C,
# scancel or requeue a moment late finds a training just ended and srun (term-after); or, once
# the training's first checkpoint exists, stops it and sends the group SIGTERM, and ends only a
# second after its training did, as srun may, marking its end in OUT's directory as
# launcher-ended (term-slow). Everything else runs unchanged.
make_hook() {
	[ -f "$NASH_BUILD/tests/stop_on_rename.so" ] || fail "no $NASH_BUILD/tests/stop_on_rename.so (make fixtures builds it)"
	cat >"$BATS_TEST_TMPDIR/hook.sh" <<-'EOF'
		#!/bin/bash
		out= ckpt= prev=
		for a in "$@"; do
			case $prev in -o) out=$a ;; --checkpoint) ckpt=$a ;; esac
			prev=$a
		done
		case $out in */"$HOOK_CHILD".h5) ;; *) exec "$@" ;; esac
		case $HOOK_ACTION in
		crash) kill -SEGV $$ ;;
		oomkill) kill -KILL $$ ;;
		oom)
			echo "nash-train: out of memory" >&2
			exit 3
			;;
		diverge)
			args=()
			for a in "$@"; do
				[ "$prev" = --lr ] && a=1000
				args+=("$a")
				prev=$a
			done
			exec "${args[@]}"
			;;
		term-after)
			"$@"
			kill -TERM 0
			;;
		term-slow)
			# (stopping itself at its first checkpoint, as for kill and int below)
			LD_PRELOAD=$NASH_BUILD/tests/stop_on_rename.so NASH_STOP_ON_RENAME=$ckpt "$@" &
			t=$!
			while [ ! -f "$ckpt" ]; do sleep 0.005; done
			trap 'kill -CONT $t; wait $t; sleep 1; : >"${out%/*}/launcher-ended"; exit 143' TERM
			kill -STOP $t
			kill -TERM 0
			wait
			;;
		kill | int)
			# The training stops itself once its first checkpoint is in place
			# (stop_on_rename.so), so it cannot finish before the signal comes.
			(
				while [ ! -f "$ckpt" ]; do sleep 0.005; done
				if [ "$HOOK_ACTION" = kill ]; then
					kill -STOP $$
					kill -9 0
				else
					kill -INT 0 # pending in the stopped training until it goes on
					kill -CONT $$
				fi
			) &
			LD_PRELOAD=$NASH_BUILD/tests/stop_on_rename.so NASH_STOP_ON_RENAME=$ckpt exec "$@"
			;;
		esac
	EOF
	chmod +x "$BATS_TEST_TMPDIR/hook.sh"
	echo "$BATS_TEST_TMPDIR/hook.sh"
}

# Starts `make search ARGS...` in the background, in its own process group (so that the hook
# can signal all of it), output to $BATS_TEST_TMPDIR/make.out; its pid (setsid made it the
# group's leader) in group_pid. SIGINT is reset to its default: a background command inherits
# it ignored, and Ctrl-C reaches a foreground make with its default.
start_group() {
	perl -e '$SIG{INT} = "DEFAULT"; exec @ARGV or die "exec: $!"' setsid -w make -C "$TOP" --no-print-directory BUILD="$NASH_BUILD" "${S_ARGS[@]}" "$@" \
		>"$BATS_TEST_TMPDIR/make.out" 2>&1 &
	group_pid=$!
}

# Waits up to 10 s for FILE, which the group start_group started makes when it reaches the
# moment a test signals it at; fails saying WHAT did not happen, with make's output.
await_file() { # FILE WHAT
	for _ in $(seq 200); do
		[ ! -e "$1" ] || return 0
		sleep 0.05
	done
	fail "$2 in 10 s: $(cat "$BATS_TEST_TMPDIR/make.out")"
}

# Runs `make search ARGS...` in its own process group and waits for it; $status is make's exit
# status; its output is printed.
search_group() {
	status=0
	start_group "$@"
	wait "$group_pid" || status=$?
	cat "$BATS_TEST_TMPDIR/make.out"
}

# search_group ARGS..., sent SIGINT (as Ctrl-C sends it to the terminal's process group) after
# $1 hundredths of a second, wherever it is then; $status is make's exit status.
interrupt_after() {
	local t=$1
	shift
	status=0
	start_group "$@"
	sleep "$((t / 100)).$((t / 10 % 10))$((t % 10))"
	kill -INT -- "-$group_pid" 2>/dev/null || true # (it may have ended already)
	wait "$group_pid" || status=$?
}
