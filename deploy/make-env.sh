#!/bin/sh
# Writes the .env that docker-compose.yml reads: a copy of .env.example in
# which every empty value (the secrets) gets a fresh random one, 32 bytes as
# 64 hex digits, which is what `openssl rand -hex 32` prints.
#
#   deploy/make-env.sh [FILE]    FILE defaults to .env at the repository root
#
# It never overwrites a file: the database, RabbitMQ and the sealed guardian
# secrets are set up with the secrets it holds.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/.env}
if [ -e "$out" ]; then
	echo "make-env: $out exists; it keeps its secrets (delete it first only if no data depends on them)" >&2
	exit 1
fi

secret() { od -An -tx1 -N32 /dev/urandom | tr -d ' \n'; }

umask 077
tmp=$(mktemp "$out.XXXXXX")
trap 'rm -f "$tmp"' EXIT
while IFS= read -r line || [ -n "$line" ]; do
	case $line in
	[A-Za-z_]*=) printf '%s%s\n' "$line" "$(secret)" ;;
	*) printf '%s\n' "$line" ;;
	esac
done <"$root/.env.example" >"$tmp"
mv "$tmp" "$out"
trap - EXIT
echo "make-env: wrote $out; keep it out of version control" >&2
