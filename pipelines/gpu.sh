#!/bin/sh
# A LAUNCH prefix that gives each training its own GPU, so that `make -jN search` spreads the
# children over N GPUs of one machine:
#
#   make -j4 search PROFILE=paper LAUNCH=pipelines/gpu.sh
#
# Runs CMD with CUDA_VISIBLE_DEVICES set to the first GPU that no other gpu.sh holds, waiting
# while all are taken. The hold is a flock(1) on a lock file per GPU, kept by the command
# itself (exec), so it ends when the command does, however it ends.
# NASH_GPUS: how many GPUs (default: as many as nvidia-smi lists); NASH_GPU_LOCKS: the lock
# directory (default: /tmp/nash-gpu-locks.UID).
set -u
[ $# -gt 0 ] || { echo "usage: gpu.sh CMD [ARG]..." >&2; exit 2; }
n=${NASH_GPUS:-$(nvidia-smi -L 2>/dev/null | grep -c '^GPU')}
[ "$n" -gt 0 ] 2>/dev/null || { echo "gpu.sh: no GPU found (set NASH_GPUS)" >&2; exit 1; }
locks=${NASH_GPU_LOCKS:-${TMPDIR:-/tmp}/nash-gpu-locks.$(id -u)}
mkdir -p "$locks" || exit 1
while :; do
	i=0
	while [ "$i" -lt "$n" ]; do
		exec 9>>"$locks/gpu$i" || exit 1
		if flock -n 9; then
			CUDA_VISIBLE_DEVICES=$i
			export CUDA_VISIBLE_DEVICES
			exec "$@"
		fi
		exec 9>&-
		i=$((i + 1))
	done
	sleep 1
done
