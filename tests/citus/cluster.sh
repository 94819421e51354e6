#!/usr/bin/env bash
# A real Citus cluster on this machine for the tests and the benchmark: a coordinator and two
# workers, each its own PostgreSQL 15 on a local port (28840, 28841, 28842), run as the server
# user with data under the build folder, Citus and custprofile preloaded on every node.
#   tests/citus/cluster.sh start|stop|env
# `start` also creates the database custprofile_citus anew, with both extensions on every node and
# the workers registered with the coordinator. Citus is built from ../shared/vendor (scripts/vendor.sh);
# it is a test-time dependency only (AGPL-3.0), never linked into or shipped with custprofile.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"

PG_BIN="$("$(pg_config_path)" --bindir)"
NODES=(coordinator:28840 worker1:28841 worker2:28842)
DB=custprofile_citus
ROOT="$(server_dir citus)"

node_psql() { "$PG_BIN/psql" -X -h 127.0.0.1 -p "$1" -U postgres -v ON_ERROR_STOP=1 -q "${@:2}"; }

start() {
  local entry name port data
  for entry in "${NODES[@]}"; do
    name="${entry%%:*}" port="${entry##*:}" data="$ROOT/$name"
    if [[ ! -f "$data/PG_VERSION" ]]; then
      as_server_user mkdir -p "$data"
      as_server_user "$PG_BIN/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
      as_server_user sh -c "cat >> '$data/postgresql.conf'" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$ROOT'
# Citus first, as it requires; custprofile loads the encoder once per node
shared_preload_libraries = 'citus,custprofile'
max_connections = 60
max_worker_processes = 16
log_min_error_statement = panic
# the statistics of the statements Citus runs on this node (what ran where)
citus.stat_statements_track = 'all'
CONF
    fi
    if ! as_server_user "$PG_BIN/pg_ctl" -D "$data" status >/dev/null 2>&1; then
      as_server_user env -u RUST_BACKTRACE -u RUST_LIB_BACKTRACE \
        "$PG_BIN/pg_ctl" -D "$data" -l "$ROOT/$name.log" -w start >/dev/null
    fi
  done
  # a new database on every node (so that it has the custprofile just installed): Citus needs its
  # extension in the database on each node before the coordinator adds it; custprofile is
  # created on the coordinator and Citus propagates it to the workers
  for entry in "${NODES[@]}"; do
    port="${entry##*:}"
    node_psql "$port" -d postgres -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" \
      -c "CREATE DATABASE $DB"
    node_psql "$port" -d "$DB" -c "SET client_min_messages = warning" -c "CREATE EXTENSION citus"
  done
  node_psql 28840 -d "$DB" >/dev/null <<'SQL'
SET client_min_messages = warning;
SELECT citus_set_coordinator_host('127.0.0.1', 28840);
SELECT citus_add_node('127.0.0.1', 28841);
SELECT citus_add_node('127.0.0.1', 28842);
CREATE EXTENSION custprofile;
SQL
  log "Citus cluster up: coordinator 127.0.0.1:28840, workers 28841 and 28842 (data $ROOT, database $DB)"
}

stop() {
  local entry name
  for entry in "${NODES[@]}"; do
    name="${entry%%:*}"
    [[ -f "$ROOT/$name/PG_VERSION" ]] && as_server_user "$PG_BIN/pg_ctl" -D "$ROOT/$name" -m fast stop >/dev/null 2>&1 || true
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env) echo "PGHOST=127.0.0.1 PGPORT=28840 PGUSER=postgres PGDATABASE=$DB" ;;
  *) die "usage: tests/citus/cluster.sh start|stop|env" ;;
esac
