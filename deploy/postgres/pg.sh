#!/bin/sh
# A throwaway PostgreSQL (Debian's postgresql 15) for tests and by-hand focus setups.
#
#   deploy/postgres/pg.sh start DIR [PORT]   initdb + start on 127.0.0.1:PORT (default: a free
#                                            port), create database `pairux`, print its URL
#   deploy/postgres/pg.sh stop DIR           stop it and remove DIR
#
# Postgres refuses to run as root: as root, every step runs as Debian's `postgres` user
# (runuser) on DIR, which is chowned to it. fsync is off: the data is disposable.
set -eu

BIN=${PAIRUX_PG_BIN:-/usr/lib/postgresql/15/bin}
usage() { echo "usage: $0 start DIR [PORT] | stop DIR" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1
dir=$2

as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

case $cmd in
start)
    [ -x "$BIN/initdb" ] || { echo "$BIN/initdb not found: apt-get install postgresql (cargo xtask setup)" >&2; exit 1; }
    port=${3:-}
    if [ -z "$port" ]; then
        port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])' 2>/dev/null || echo $((20000 + $$ % 20000)))
    fi
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$dir"; chmod 700 "$dir"; fi
    as_pg "$BIN/initdb" -D "$dir/data" -A trust -U postgres --no-sync >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; exit 1; }
    as_pg "$BIN/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 30 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >/dev/null || { cat "$dir/postgres.log" >&2; exit 1; }
    as_pg "$BIN/createdb" -h 127.0.0.1 -p "$port" -U postgres pairux
    echo "postgresql://postgres@127.0.0.1:$port/pairux"
    ;;
stop)
    if [ -d "$dir/data" ]; then
        as_pg "$BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
*) usage ;;
esac
