#!/usr/bin/env bash
# Start a throw-away PostgreSQL cluster on 127.0.0.1 for the store tests; print its URL.
# Usage: .ci/services/postgres.sh [DIR] [PORT]   (Debian's postgresql; installed where missing)
set -euo pipefail
DIR=${1:-/tmp/lmbench-pg}
PORT=${2:-55432}
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$BIN" ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
fi
id postgres >/dev/null 2>&1 || useradd -r -m postgres
if ! su postgres -c "$BIN/pg_isready -h 127.0.0.1 -p $PORT" >/dev/null 2>&1; then
  rm -rf "$DIR" && mkdir -p "$DIR" && chown postgres "$DIR"
  su postgres -c "$BIN/initdb -D $DIR/data -A trust -U postgres" >/dev/null
  su postgres -c "$BIN/pg_ctl -D $DIR/data -o '-c listen_addresses=127.0.0.1 -p $PORT -c unix_socket_directories=$DIR -c max_connections=200' -l $DIR/log -w start" >/dev/null
fi
su postgres -c "$BIN/psql -h 127.0.0.1 -p $PORT -U postgres -tAc \"SELECT 1 FROM pg_database WHERE datname='lmbench'\"" | grep -q 1 \
  || su postgres -c "$BIN/createdb -h 127.0.0.1 -p $PORT -U postgres lmbench"
echo "postgresql+psycopg://postgres@127.0.0.1:$PORT/lmbench"
