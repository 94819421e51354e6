#!/usr/bin/env bash
# No text, and nothing else, leaves the server: a backend that loads the encoder and scores texts
# opens no network socket and writes nothing under the server user's home (ONNX Runtime 1.29+
# keeps a telemetry queue in ~/.cache/Microsoft/DeveloperTools/.onnxruntime and sends it to a
# Microsoft collector unless it is switched off; see src/runtime/mod.rs).
#
# Runs twice: with the encoder loaded by each backend (CUSTPROFILE_PRELOAD=off), under the trace,
# and preloaded by the postmaster (loaded before the trace starts: the home folder is emptied
# before that start and checked after the backends ran).
# Runs against the private cluster of scripts/cluster.sh, which it restarts with CI,
# ORT_DISABLE_TELEMETRY and ORT_RUNNING_UNIT_TESTS removed from the server's environment: each of
# them would hide the telemetry, and CI sets CI=true. Every process the postmaster forks is
# traced with strace for socket(), connect(), sendto() and sendmsg() on IPv4, IPv6 or netlink.
# Needs root (strace attaches to the server user's processes).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
cd "$REPO_ROOT"

[[ $EUID -eq 0 ]] || die "tests/telemetry/no_telemetry.sh traces the server's processes: run it as root"
command -v strace >/dev/null || die "strace is missing (scripts/setup.sh installs it)"

home="$(getent passwd "$(server_user)" | cut -d: -f6)"
queue="$home/.cache/Microsoft"

check() {
local preload="$1" logged=0
bash scripts/cluster.sh stop
eval "$(bash scripts/cluster.sh env)"
[[ -f "$CLUSTER_DIR/server.log" ]] && logged=$(wc -l <"$CLUSTER_DIR/server.log")
rm -rf "$queue"
env -u CI -u ORT_DISABLE_TELEMETRY -u ORT_RUNNING_UNIT_TESTS CUSTPROFILE_PRELOAD="$preload" bash scripts/cluster.sh start
eval "$(bash scripts/cluster.sh env)"
postmaster="$(head -1 "$CLUSTER_DIR/data/postmaster.pid")"
if tr '\0' '\n' <"/proc/$postmaster/environ" | grep -qE '^(CI|ORT_DISABLE_TELEMETRY|ORT_RUNNING_UNIT_TESTS)='; then
  die "the server's environment still has CI or ORT_* set: this check would prove nothing"
fi

DB=custprofile_telemetry
CUSTPROFILE_DB=postgres bash scripts/cluster.sh psql -q -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
CUSTPROFILE_DB="$DB" bash scripts/cluster.sh psql -q -c "SET client_min_messages = warning" -c "CREATE EXTENSION custprofile"

trace="$(mktemp -d)/strace"
strace -f -qq -e trace=socket,connect,sendto,sendmsg,openat -o "$trace" -p "$postmaster" &
tracer=$!
sleep 1

# a new backend (forked, hence traced): load the encoder, score, embed, train and predict, then
# stay a while so that any background sender of ONNX Runtime has time to show itself
CUSTPROFILE_DB="$DB" bash scripts/cluster.sh psql -q -v ON_ERROR_STOP=1 <<'SQL' >/dev/null
SET client_min_messages = warning;
SELECT custprofile.sentiment('The delivery was late and the box was crushed.');
SELECT custprofile.embed_text('Great kettle, boils fast.');
SELECT custprofile.aspect_sentiment('Fast delivery, but the price is too high.', '{delivery,price}');
SELECT pg_sleep(5);
SQL

kill "$tracer"
wait "$tracer" 2>/dev/null || true

failed=0
if grep -E '(socket|connect|sendto|sendmsg)\(.*(AF_INET|AF_INET6|AF_NETLINK)' "$trace" | head -20 | grep .; then
  log "FAIL: a server process used the network (above, from strace)"
  failed=1
fi
if [[ -e "$queue" ]]; then
  log "FAIL: ONNX Runtime wrote under the server user's home:"
  find "$queue" | head -20 >&2
  failed=1
fi
# the trace has to have seen the backend load the encoder, or the postmaster must have loaded
# it for the backends: else it proves nothing
if [[ "$preload" == off ]] && ! grep -q 'model.int8.onnx' "$trace"; then
  log "FAIL: strace did not see a backend open the encoder"
  failed=1
fi
if [[ "$preload" == on ]] && ! tail -n +$((logged + 1)) "$CLUSTER_DIR/server.log" | grep -q 'loaded in the postmaster'; then
  log "FAIL: the postmaster did not preload the encoder"
  failed=1
fi
lines=$(wc -l <"$trace")
rm -rf "$(dirname "$trace")"
CUSTPROFILE_DB=postgres bash scripts/cluster.sh psql -q -c "DROP DATABASE $DB"
((failed == 0)) || die "ONNX Runtime telemetry is not switched off (preload $preload)"
log "no network use and nothing under $home from a backend that ran the encoder, preload $preload (strace: $lines calls traced)"
}

check off
check on
