#!/usr/bin/env bash
# `make bench`: every benchmark scenario against the servers of
# scripts/with-servers.sh (Postgres with fsync on, a private RabbitMQ node),
# each result merged into bench/results.json, then BENCHMARKS.md written
# from it (bench/NOTES.md appended).
#
#   scripts/bench.sh [full|tiny]
#
# tiny runs every scenario at sizes of seconds on the small test group, to
# check the whole run works; it writes into $TMPDIR, not the repository.
# Extra flags per scenario: QUEUEFLAGS, RABBITFLAGS, TALLYFLAGS, SCALEFLAGS,
# APIFLAGS, MEMORYFLAGS, PIPELINEFLAGS, PIPELINERABBITFLAGS, CREATEFLAGS.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$root"
size=${1:-full}
: "${TALLYQ_TEST_DATABASE_URL:?run under scripts/with-servers.sh (TALLYQ_TEST_RABBITMQ=1, TALLYQ_TEST_PG_FSYNC=on)}"
: "${TALLYQ_TEST_RABBITMQ_URL:?run under scripts/with-servers.sh with TALLYQ_TEST_RABBITMQ=1}"
# The URLs go by environment, so that the commands echoed below show no password.
export TALLYQ_DATABASE_URL=$TALLYQ_TEST_DATABASE_URL TALLYQ_AMQP_URL=$TALLYQ_TEST_RABBITMQ_URL TALLYQ_LOG_LEVEL=warn
tallyq=bin/tallyq
# The commit measured, read before the run (others may commit meanwhile).
commit="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD -- 2>/dev/null || echo '+changes')"

case $size in
full)
	json=bench/results.json out=BENCHMARKS.md
	queue=(--chunks 20000 --workers 200 --rounds 5 --create-chunks 0)
	rabbit=(--chunks 10000 --workers 200 --rounds 5)
	tally=(--ballots 10000 --chunk-size 500 --rounds 5 --verified-rounds 1 --verified-ballots 300 --verified-chunk-size 20)
	scale=(--ballots 300 --chunk-size 10 --processes 2 --rounds 1)
	api=(--ballots 300 --chunk-size 10 --pollers 200 --poll-interval 2s --idle 10s)
	memory=(--sizes 1000,10000,100000 --chunk-sizes 50,500,5000 --spoiled 100)
	pipeline=(--ballots 100000 --spoiled 100 --missing 2 --reuse)
	pipelinerabbit=(--ballots 10000 --spoiled 100 --missing 2)
	create=(--chunks 1000000)
	pool=()
	;;
tiny)
	dir=$(mktemp -d "${TMPDIR:-/tmp}/tallyq-bench.XXXXXX")
	json=$dir/results.json out=$dir/BENCHMARKS.md
	queue=(--chunks 200 --workers 4 --rounds 1 --create-chunks 0)
	rabbit=(--chunks 200 --workers 4 --rounds 1)
	tally=(--ballots 20 --chunk-size 5 --rounds 1 --verified-rounds 1 --verified-ballots 10 --verified-chunk-size 2)
	scale=(--ballots 12 --chunk-size 2 --processes 2 --rounds 1)
	api=(--ballots 30 --chunk-size 3 --workers 1 --pollers 5 --poll-interval 5ms --idle 200ms)
	memory=(--sizes 20,30 --chunk-sizes 3,50 --concurrency 2 --spoiled 2)
	pipeline=(--ballots 30 --spoiled 2 --missing 2 --chunk-size 5 --reuse)
	pipelinerabbit=(--ballots 12 --spoiled 2 --missing 2 --chunk-size 5)
	create=(--chunks 2000)
	pool=(--group test --pool-size 5 --pool-spoiled 1 --cache-dir "$dir/pools")
	;;
*)
	echo "usage: $0 [full|tiny]" >&2
	exit 2
	;;
esac

start=$(date +%s)
failed=()
# step runs one scenario; a failure is reported at the end, and the other
# scenarios still run (their results are worth having).
step() {
	echo "== tallyq bench $* ($(($(date +%s) - start)) s in)" >&2
	if ! "$tallyq" bench "$@" --json "$json"; then
		failed+=("$1")
	fi
}

rm -f "$json"
"$tallyq" migrate up >/dev/null
# shellcheck disable=SC2086 # the *FLAGS are word lists
{
	step queue "${queue[@]}" ${QUEUEFLAGS:-}
	step queue --broker rabbitmq "${rabbit[@]}" ${RABBITFLAGS:-}
	step tally "${pool[@]}" "${tally[@]}" ${TALLYFLAGS:-}
	step scale --tallyq "$tallyq" "${pool[@]}" "${scale[@]}" ${SCALEFLAGS:-}
	step api --tallyq "$tallyq" "${pool[@]}" "${api[@]}" ${APIFLAGS:-}
	step create "${create[@]}" ${CREATEFLAGS:-}
	# The pipeline on River takes the memory scenario's largest election.
	step memory --tallyq "$tallyq" "${pool[@]}" "${memory[@]}" ${MEMORYFLAGS:-}
	step pipeline "${pool[@]}" "${pipeline[@]}" ${PIPELINEFLAGS:-}
	step pipeline --broker rabbitmq "${pool[@]}" "${pipelinerabbit[@]}" ${PIPELINERABBITFLAGS:-}
}
elapsed=$(($(date +%s) - start))
"$tallyq" bench report --json "$json" --out "$out" \
	--commit "$commit" \
	--command "\`make bench\` ($size sizes, $((elapsed / 60)) min $((elapsed % 60)) s)"
echo "wrote $out and $json in $((elapsed / 60)) min $((elapsed % 60)) s" >&2
if ((${#failed[@]} > 0)); then
	echo "failed: ${failed[*]}" >&2
	exit 1
fi
