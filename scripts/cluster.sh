#!/usr/bin/env bash
# A private PostgreSQL 15 cluster for the demo and the benchmarks: data under the build folder,
# a local port, run as a non-root user (postgres when we are root).
#   scripts/cluster.sh start|stop|status|psql [psql args]|env
# custprofile is in shared_preload_libraries: the postmaster loads the encoder once and every
# backend shares it (src/preload.rs). CUSTPROFILE_PRELOAD=off starts the server without that
# preload, as an installation that does not preload runs (each backend loads on first use).
# CUSTPROFILE_SERVER_OPTIONS adds server options ("-c name=value ...") to that start.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PG_BIN="$("$(pg_config_path)" --bindir)"
PORT="${CUSTPROFILE_PORT:-28830}"
DB="${CUSTPROFILE_DB:-custprofile}"

DIR="${CUSTPROFILE_CLUSTER_DIR:-$(server_dir custprofile-cluster)}"
DATA="$DIR/data"

start() {
  if [[ ! -f "$DATA/PG_VERSION" ]]; then
    log "initdb $DATA (superuser postgres, trust on the local socket and 127.0.0.1 only)"
    as_server_user "$PG_BIN/initdb" -D "$DATA" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
    cat >>"$DATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$DIR'
max_worker_processes = 16
shared_preload_libraries = 'pg_cron,custprofile'
# failing statements may quote customer text in literals: keep them out of the log
log_min_error_statement = panic
cron.database_name = '$DB'
# pg_cron reaches the server over the local socket, like every other client here
cron.host = '$DIR'
CONF
  fi
  if ! as_server_user "$PG_BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
    # given at every start, so that a cluster made before custprofile was preloaded gets it too
    local preload=pg_cron,custprofile
    case "${CUSTPROFILE_PRELOAD:-on}" in
      on) ;;
      off) preload=pg_cron ;;
      *) die "CUSTPROFILE_PRELOAD is on or off, not ${CUSTPROFILE_PRELOAD}" ;;
    esac
    # a Rust backtrace setting in the caller's environment would put backtraces into ERROR details.
    # glibc.malloc.hugetlb=1: malloc asks for transparent huge pages, so the preloaded encoder's
    # ~400 MB sit in 2 MB pages and forking a backend copies a few hundred page-table entries
    # instead of ~100,000 (a connection 69 -> 39 ms, 38 without the preload; bench --memory-only);
    # copy-on-write still copies 4 kB pages. Appended to the caller's own tunables.
    as_server_user env -u RUST_BACKTRACE -u RUST_LIB_BACKTRACE \
      GLIBC_TUNABLES="${GLIBC_TUNABLES:+$GLIBC_TUNABLES:}glibc.malloc.hugetlb=1" \
      "$PG_BIN/pg_ctl" -D "$DATA" -l "$DIR/server.log" \
      -o "-c shared_preload_libraries=$preload ${CUSTPROFILE_SERVER_OPTIONS:-}" -w start >/dev/null
  fi
  psql_cmd -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1 \
    || psql_cmd -d postgres -qc "CREATE DATABASE $DB"
  log "PostgreSQL is running on 127.0.0.1:$PORT (data $DATA, log $DIR/server.log)"
}

stop() {
  if [[ -f "$DATA/PG_VERSION" ]]; then
    as_server_user "$PG_BIN/pg_ctl" -D "$DATA" -m fast stop >/dev/null 2>&1 || true
  fi
  log "stopped"
}

psql_cmd() { "$PG_BIN/psql" -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres "$@"; }

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) as_server_user "$PG_BIN/pg_ctl" -D "$DATA" status ;;
  psql) shift; psql_cmd -d "$DB" "$@" ;;
  env) echo "PGHOST=127.0.0.1 PGPORT=$PORT PGUSER=postgres PGDATABASE=$DB CLUSTER_DIR=$DIR" ;;
  *) echo "usage: $0 start|stop|status|psql [args]|env" >&2; exit 2 ;;
esac
