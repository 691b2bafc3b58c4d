#!/bin/sh
# The library's layering rules (docs/DESIGN.md), checked on the source; `make check-layers` and
# `make test` run it. Prints each violation as FILE:LINE: what is wrong, and exits 1 if any.
#
# 1. Includes point down: a file in lib/LAYER may include only headers of the layers below it
#    (and its own). kernels/ (the CUDA engine) sees base and the backend interface only; tests,
#    tools and bench may include anything.
# 2. The library never exits, aborts, prints or reads the environment: lib/ and kernels/ call none
#    of exit, _exit, abort, assert, getenv, setenv, putenv, printf, fprintf, puts, perror, and do
#    not touch stderr or environ. Tools alone do (tools/cli.c). stdout is data, not talk: only
#    lib/base/atomic.c, which writes a model to the path "-", may use it.
#    One exception, to _exit alone: lib/base/isolate.c, whose forked child parses an untrusted
#    file so that a crash inside HDF5 cannot take the program down, and must end with _exit
#    (exit would run the parent's atexit handlers and flush its stdio buffers a second time).
#    The library process itself still never exits.
cd "$(dirname "$0")/.." || exit 1

allowed() { # the layers a folder may include
	case $1 in
	lib/base) echo "base" ;;
	lib/model) echo "base model" ;;
	lib/data) echo "base data" ;;
	lib/backend/ref) echo "base backend" ;;
	lib/backend/blas) echo "base backend" ;;
	lib/backend/onednn) echo "base backend" ;;
	lib/backend) echo "base backend" ;;
	lib/engine) echo "base model data backend engine" ;;
	lib/search) echo "base model data backend engine search" ;;
	lib/export) echo "base model export" ;;
	kernels) echo "base backend" ;;
	*) echo "?" ;;
	esac
}

bad=0
say() {
	echo "$1"
	bad=1
}

for f in $(find lib kernels -type f \( -name '*.c' -o -name '*.h' -o -name '*.inc' -o -name '*.cu' \) | sort); do
	dir=$(dirname "$f")
	ok=$(allowed "$dir")
	[ "$ok" = "?" ] && say "$f: folder $dir has no layer in tests/check_layers.sh"
	# Quoted includes: a layer path (base/err.h) or a file next to this one.
	grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" | while IFS= read -r line; do
		n=${line%%:*}
		inc=$(printf '%s\n' "$line" | sed 's/.*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/')
		case $inc in
		*/*) ;;
		*)
			[ -e "$dir/$inc" ] || echo "$f:$n: includes \"$inc\", which is not next to it"
			continue
			;;
		esac
		case $inc in
		../*) echo "$f:$n: includes \"$inc\" by a relative path (name its layer: base/err.h)"; continue ;;
		esac
		layer=${inc%%/*}
		[ -e "lib/$inc" ] || { echo "$f:$n: includes \"$inc\", which is not under lib/"; continue; }
		case " $ok " in
		*" $layer "*) ;;
		*) echo "$f:$n: includes \"$inc\": $dir may include only: $ok" ;;
		esac
	done
done >"${TMPDIR:-/tmp}/nash-layers.$$"

# Calls the library must never make. Comments are stripped first (a comment may say "exit 1").
for f in $(find lib kernels -type f \( -name '*.c' -o -name '*.h' -o -name '*.inc' -o -name '*.cu' \) | sort); do
	sed -e 's/"\([^"\\]\|\\.\)*"/""/g' -e 's://.*$::' -e 's:/\*.*\*/::g' "$f" |
		awk -v f="$f" -v may_stdout="$([ "$f" = lib/base/atomic.c ] && echo 1)" \
			-v may_child_exit="$([ "$f" = lib/base/isolate.c ] && echo 1)" '
			/\/\*/ { inc = 1 }
			!inc && /(^|[^a-zA-Z0-9_.>])(exit|_exit|_Exit|abort|assert|getenv|secure_getenv|setenv|putenv|unsetenv|printf|fprintf|vfprintf|puts|fputs|perror)[[:space:]]*\(/ &&
			!(may_child_exit && /(^|[^a-zA-Z0-9_.>])_exit[[:space:]]*\(/ && !/(^|[^a-zA-Z0-9_.>])(exit|_Exit|abort|assert|getenv|secure_getenv|setenv|putenv|unsetenv|printf|fprintf|vfprintf|puts|fputs|perror)[[:space:]]*\(/) {
				print f ":" NR ": calls " $0 " (the library returns errors, never exits, prints or reads the environment)"
			}
			!inc && /(^|[^a-zA-Z0-9_])(stderr|environ)([^a-zA-Z0-9_]|$)/ {
				print f ":" NR ": uses stderr or environ: " $0
			}
			!inc && !may_stdout && /(^|[^a-zA-Z0-9_])stdout([^a-zA-Z0-9_]|$)/ {
				print f ":" NR ": uses stdout (only lib/base/atomic.c writes the path \"-\"): " $0
			}
			/\*\// { inc = 0 }
		'
done >>"${TMPDIR:-/tmp}/nash-layers.$$"

if [ -s "${TMPDIR:-/tmp}/nash-layers.$$" ]; then
	cat "${TMPDIR:-/tmp}/nash-layers.$$"
	rm -f "${TMPDIR:-/tmp}/nash-layers.$$"
	exit 1
fi
rm -f "${TMPDIR:-/tmp}/nash-layers.$$"
echo "layers: every include points down; the library never exits, prints or reads the environment"
