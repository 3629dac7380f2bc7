#!/usr/bin/env bash
# Runs every Go fuzz target of the module briefly, each by itself (go test
# -fuzz takes one target at a time), and fails on the first crash.
#
#   scripts/fuzz-short.sh [PACKAGES...]   default ./...; FUZZTIME (default 5s)
#
# A failing input is written under the package's testdata/fuzz/ by go test;
# commit it with the fix so that plain `go test` replays it from then on.
set -euo pipefail

fuzztime=${FUZZTIME:-5s}
(($#)) || set -- ./...

# `go test -list` prints the matching names of a package, then a line
# "ok <import path> <time>" naming it.
listing=$(go test -list '^Fuzz' "$@")
targets=()
names=()
while read -r first second _; do
	case $first in
	Fuzz*) names+=("$first") ;;
	\?) names=() ;; # no test files
	ok) # the names above belong to this package
		for n in "${names[@]}"; do targets+=("$second $n"); done
		names=()
		;;
	esac
done <<<"$listing"

if ((${#targets[@]} == 0)); then
	echo "fuzz-short: no fuzz targets found"
	exit 0
fi

# fuzz_one fuzzes one target. A short run must fuzz, not spend its time
# minimising new inputs (up to 60 s each by default). Go's fuzzer sometimes
# ends a run with a bare "context deadline exceeded" when -fuzztime runs out
# while a worker is busy on a large input (FuzzDecodeCompact's 36 KB seeds
# hit it often); that is the harness, not a finding (a finding always writes
# its input to testdata/fuzz), so such a run is tried again, three times in all.
fuzz_one() {
	local out try
	out=$(mktemp)
	for try in 1 2 3; do
		if go test -run '^$' -fuzz "^$2\$" -fuzztime "$fuzztime" -fuzzminimizetime 100x "$1" 2>&1 | tee "$out"; [[ ${PIPESTATUS[0]} -eq 0 ]]; then
			rm -f "$out"
			return 0
		fi
		if ! grep -q 'context deadline exceeded' "$out" || grep -q 'Failing input written' "$out"; then
			break
		fi
		echo "fuzz-short: $2 ended on the fuzzer's deadline, not on an input (try $try of 3)"
	done
	rm -f "$out"
	return 1
}

echo "fuzz-short: ${#targets[@]} targets, $fuzztime each"
failed=0
for t in "${targets[@]}"; do
	pkg=${t% *}
	name=${t#* }
	echo "--- fuzz $pkg $name"
	if ! fuzz_one "$pkg" "$name"; then
		echo "fuzz-short: FAIL $pkg $name" >&2
		failed=$((failed + 1))
	fi
done
passed=$((${#targets[@]} - failed))
echo "fuzz: $passed passed, $failed failed"
((failed == 0))
