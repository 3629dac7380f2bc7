#!/usr/bin/env bash
# `make run`: tallyq serve (API + in-process workers) for development.
#
# Without TALLYQ_DATABASE_URL it starts (or reuses) a private Postgres whose
# state is kept in ./.tallyq/ (see scripts/postgres.sh). TALLYQ_ADMIN_TOKEN and
# TALLYQ_SECRET_KEY, when unset, are generated once and kept in
# ./.tallyq/admin-token and ./.tallyq/secret-key (mode 600).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd -P)
cd "$root"
state=.tallyq
mkdir -p "$state"

# secret_file prints FILE's content, creating it with 32 random bytes in hex.
secret_file() {
	local file=$1
	if [[ ! -s $file ]]; then
		(umask 077 && od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$file")
	fi
	cat "$file"
}

if [[ -z ${TALLYQ_DATABASE_URL:-} ]]; then
	TALLYQ_DATABASE_URL=$(scripts/postgres.sh start "$state" | tail -n 1)
fi
: "${TALLYQ_ADMIN_TOKEN:=$(secret_file "$state/admin-token")}"
: "${TALLYQ_SECRET_KEY:=$(secret_file "$state/secret-key")}"
: "${TALLYQ_HTTP_ADDR:=:8080}"
export TALLYQ_DATABASE_URL TALLYQ_ADMIN_TOKEN TALLYQ_SECRET_KEY TALLYQ_HTTP_ADDR

mkdir -p bin
go build -o bin/tallyq ./cmd/tallyq
bin/tallyq migrate up

# A newcomer gets an election to tally: the first run loads a small demo
# election (a few seconds of 4096-bit encryption); its guardians' private
# records go to $state/demo-guardians, to decrypt it once tallied.
bin/tallyq demo --ballots 100 --group standard --stop-after ingest --skip-if-elections \
	--save-guardians "$state/demo-guardians" ||
	echo "run.sh: loading the demo election failed (above); serving without it" >&2

host=${TALLYQ_HTTP_ADDR%:*}
port=${TALLYQ_HTTP_ADDR##*:}
[[ -n $host && $host != 0.0.0.0 && $host != "[::]" ]] || host=localhost
base=http://$host:$port
cat <<EOF

  tallyq is starting on $TALLYQ_HTTP_ADDR
    web page:    $base/   (sign in with the admin token)
    API:         $base/api/jobs   (Authorization: Bearer <admin token>; spec: $base/api/openapi.yaml)
    health:      $base/healthz   readiness: $base/readyz   metrics: $base/metrics   River UI: $base/riverui/
    admin token: $TALLYQ_ADMIN_TOKEN
    try:         curl -H "Authorization: Bearer $TALLYQ_ADMIN_TOKEN" $base/api/jobs/active
  Postgres keeps running after you stop tallyq; \`make stop\` stops it.

EOF
exec bin/tallyq serve
