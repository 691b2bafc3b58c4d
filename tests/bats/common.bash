# Shared setup for the Bats tests: bats-assert, the built tools on PATH, fixture data.
bats_require_minimum_version 1.5.0
load '/usr/lib/bats/bats-support/load'
load '/usr/lib/bats/bats-assert/load'

: "${NASH_BUILD:=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)/build}"
PATH="$NASH_BUILD/bin:$PATH"
FIX="$NASH_BUILD/fixtures"
# The fixtures are smaller than the real datasets, so their specs declare their sizes
# (tests/fixtures/README.md); the loader refuses any other count.
FMNIST="fashion-mnist@1200,200:$FIX/fmnist"
CIFAR10="cifar10@600,100:$FIX/cifar10"
CIFAR100="cifar100@600,100:$FIX/cifar100"
export NASH_BUILD PATH FIX FMNIST CIFAR10 CIFAR100

# True when python3-h5py (which the tests that craft files use) is installed: tests/run.sh
# probes once for the whole run (NASH_TEST_H5PY=yes or no; an import costs 0.2 s of CPU, and
# hostile.bats alone asked 17 times), a file run on its own probes here.
have_h5py() {
	case ${NASH_TEST_H5PY:-} in
	yes) return 0 ;;
	no) return 1 ;;
	esac
	/usr/bin/python3 -c 'import h5py' 2>/dev/null
}

# True when python3 has every module named (found, not imported: importing torch costs 1.5 s
# of CPU, and the tests that need it import it once in their own script).
have_python_modules() {
	/usr/bin/python3 -c 'import importlib.util as u, sys
sys.exit(any(u.find_spec(m) is None for m in sys.argv[1:]))' "$@" 2>/dev/null
}

# A small seed network on the fixture data, written once per test file.
seed_model() {
	if [ ! -f "$BATS_FILE_TMPDIR/seed.h5" ]; then
		nash-init --dataset "$FMNIST" --widths 4,8 --val 200 -o "$BATS_FILE_TMPDIR/seed.h5"
	fi
	echo "$BATS_FILE_TMPDIR/seed.h5"
}

# The graph and weights of a model file as text, without the file name line: two files with
# equal output hold the same network (the training record's timings may differ).
graph_dump() {
	h5dump -g /graph "$1" | sed 1d
}

# Field NAME of row ROW (0-based) of the table TABLE (/lineage, /training/runs) in FILE, from
# h5dump's listing: the member names in order, then one value per line for each row.
table_field() {
	h5dump -d "$2" -m %.6g "$1" | awk -v want="$3" -v row="$4" '
		/DATA \{/ { data = 1; next }
		!data && /"[a-z_]+";$/ { n++; name[n] = $NF; gsub(/[";]/, "", name[n]) }
		data && /\([0-9]+\): \{/ { r++; f = 0; next }
		data && r == row + 1 && /^ *[^ }]/ { f++; v = $1; gsub(/[",]/, "", v); if (name[f] == want) print v }'
}

# A model file (or ensemble file) as exact text: h5dump with every float in hexadecimal (%a:
# all its bits), less what two equal trainings may record differently: each epoch's seconds,
# where each run ran (host, device_name, job) and, in an ensemble, the directory of its
# sources ($2, optional). Equal text: the same models, bit for bit. (The ensemble's source
# paths are strings of their own length: the runs compared have names of one length.)
model_text() {
	h5dump -m %a "$1" | sed -e 1d ${2:+-e "s|$2/|RUN/|g"} | awk '
		/^ *DATASET "(record|runs)" \{$/ { tab = 1; n = 0; split("", skip); print; next }
		tab == 1 && /"[a-z_]+";$/ {
			n++
			name = $0; sub(/";$/, "", name); sub(/.*"/, "", name)
			if (name ~ /^(seconds|host|device_name|job)$/) skip[n] = 1
			print; next
		}
		tab == 1 && /^ *DATA \{$/ { tab = 2; row = 0; print; next }
		tab == 2 && /^ *\([0-9]+\): \{$/ { row = 1; k = 0; print; next }
		tab == 2 && row && /^ *\},?$/ { row = 0; print; next }
		tab == 2 && row { k++; print (k in skip) ? "(differs between equal runs)" : $0; next }
		tab == 2 && /^ *\}$/ { tab = 0 }
		{ print }'
}
