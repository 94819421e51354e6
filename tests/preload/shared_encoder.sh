#!/usr/bin/env bash
# The encoder preloaded by the postmaster (custprofile in shared_preload_libraries, src/preload.rs):
# - the postmaster loads it once, logs so, and stays single-threaded;
# - a new connection has it loaded before its first call, and gives the same vectors and
#   sentiment as a server without the preload, where each backend loads its own;
# - 20 connections that embed at once each keep their own (private) pages under 100 MB: the
#   encoder's pages stay shared (a backend that loads its own copy holds over 400 MB privately);
# - a database that chooses another encoder loads that one itself and answers with it, and one
#   with another custprofile.intra_threads loads its own copy and answers the same;
# - a postmaster whose model folder is missing still starts (a WARNING), and its backends get
#   the usual ERROR with the set-up hint.
# Runs on the private cluster of scripts/cluster.sh, which it restarts; leaves it preloaded.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
cd "$REPO_ROOT"
DB=custprofile_preload
failed=0
fail() { log "FAIL: $*"; failed=1; }

eval "$(bash scripts/cluster.sh env)"
sql() { CUSTPROFILE_DB="$DB" bash scripts/cluster.sh psql -qAt "$@"; }
restart() {
  bash scripts/cluster.sh stop >/dev/null
  logged=0
  [[ -f "$CLUSTER_DIR/server.log" ]] && logged=$(wc -l <"$CLUSTER_DIR/server.log")
  CUSTPROFILE_PRELOAD="$1" CUSTPROFILE_SERVER_OPTIONS="${2:-}" bash scripts/cluster.sh start >/dev/null
}
# whatever happens, leave the private cluster as the other tests expect it: preloaded, defaults
trap 'bash scripts/cluster.sh stop >/dev/null; bash scripts/cluster.sh start >/dev/null' EXIT
new_log() { tail -n +$((logged + 1)) "$CLUSTER_DIR/server.log"; }
postmaster() { head -1 "$CLUSTER_DIR/data/postmaster.pid"; }

PROBE="SELECT custprofile.embed_text('物流很快，质量也不错。The delivery was fast.')::text, (custprofile.sentiment('客服态度太差了，退款一个星期都没有处理。'))::text"
LOADED="SELECT loaded FROM custprofile.models WHERE task = 'embedding' AND active"

restart off
CUSTPROFILE_DB=postgres bash scripts/cluster.sh psql -q -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
sql -c "SET client_min_messages = warning" -c "CREATE EXTENSION custprofile"
[[ "$(sql -c "$LOADED")" == f ]] || fail "without the preload a new connection already has the encoder loaded"
own="$(sql -c "$PROBE")"

restart on
{ new_log | grep -q "custprofile: encoder multilingual-e5-small loaded in the postmaster"; } ||
  fail "the postmaster did not log the preload"
threads=$(ls "/proc/$(postmaster)/task" | wc -l)
((threads == 1)) || fail "the postmaster has $threads threads after the preload"
[[ "$(sql -c "$LOADED")" == t ]] || fail "a new connection does not have the preloaded encoder"
shared="$(sql -c "$PROBE")"
[[ "$shared" == "$own" ]] || fail "the preloaded encoder answers differently from a backend's own"

# 20 connections embedding at once; each reports its private pages when all have embedded
sql -c "DROP TABLE IF EXISTS ready" -c "CREATE UNLOGGED TABLE ready (pid int)"
pids=()
for i in $(seq 1 20); do
  sql >"$CLUSTER_DIR/preload.$i" <<SQL &
SELECT count(custprofile.embed_text('review number $i: ' || g || ' 配送がとても早くて良かったです')) FROM generate_series(1, 20) g \g /dev/null
INSERT INTO ready VALUES (pg_backend_pid());
SET statement_timeout = '120s';
DO \$\$ BEGIN WHILE (SELECT count(*) FROM ready) < 20 LOOP PERFORM pg_sleep(0.1); END LOOP; END \$\$;
SELECT sum(substring(l FROM '\d+')::bigint) FROM regexp_split_to_table(pg_read_file('/proc/self/smaps_rollup'), E'\n') l
 WHERE l ~ '^Private_(Clean|Dirty):';
SELECT pg_sleep(0.5);
SQL
  pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || fail "a concurrent connection failed"; done
max_private=$(cat "$CLUSTER_DIR"/preload.* | { grep -E '^[0-9]+$' || true; } | sort -n | tail -1)
rm -f "$CLUSTER_DIR"/preload.*
[[ -n "$max_private" ]] && ((max_private < 100 * 1024)) ||
  fail "a connection using the preloaded encoder holds ${max_private:-?} kB of private memory (limit 100 MB)"

# another encoder for one database: its backends load it themselves
CUSTPROFILE_DB=postgres bash scripts/cluster.sh psql -q -c "ALTER DATABASE $DB SET custprofile.encoder = 'all-MiniLM-L6-v2'"
[[ "$(sql -c "$LOADED")" == f ]] || fail "a database on another encoder reports it loaded before use"
minilm="$(sql -c "$PROBE")"
[[ -n "$minilm" && "$minilm" != "$shared" ]] || fail "the database on all-MiniLM-L6-v2 did not answer with it"
CUSTPROFILE_DB=postgres bash scripts/cluster.sh psql -q -c "ALTER DATABASE $DB RESET custprofile.encoder"

# another thread count: a session of its own (the preloaded one runs one thread), the same answers
CUSTPROFILE_DB=postgres bash scripts/cluster.sh psql -q -c "ALTER DATABASE $DB SET custprofile.intra_threads = 2"
[[ "$(sql -c "$PROBE")" == "$own" ]] || fail "the encoder with two threads answers differently"
CUSTPROFILE_DB=postgres bash scripts/cluster.sh psql -q -c "ALTER DATABASE $DB RESET custprofile.intra_threads"

# a postmaster that cannot preload still starts; its backends report the missing files
restart on "-c custprofile.model_dir=$CLUSTER_DIR/no-models"
{ new_log | grep -q "WARNING:  custprofile: encoder multilingual-e5-small was not preloaded"; } ||
  fail "no WARNING about the failed preload"
state="$(sql -v ON_ERROR_STOP=0 -c "\\set VERBOSITY sqlstate" -c "SELECT custprofile.embed_text('x') IS NULL" 2>&1 || true)"
[[ "$state" == *58P01* ]] || fail "a backend without model files did not get ERROR 58P01 (got: $state)"

restart on
trap - EXIT
CUSTPROFILE_DB=postgres bash scripts/cluster.sh psql -q -c "DROP DATABASE $DB"
((failed == 0)) || die "the preloaded encoder misbehaves"
log "preloaded encoder: shared by every backend (private pages at most $((max_private / 1024)) MB of 20 connections), same answers, fallbacks work"
