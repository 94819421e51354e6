#!/usr/bin/env bash
# A hot standby of the private cluster (pg_basebackup, streaming, its own port and data under
# the build folder): predict and predict_scores answer there, as a read-only reader of the
# classifiers table must, and train_classifier says 25006 (read-only) before any work, not
# XX000 from a transaction id it cannot take.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
cd "$REPO_ROOT"
PG_BIN="$("$(pg_config_path)" --bindir)"
STANDBY_PORT=28831
DB=custprofile_standby

bash scripts/cluster.sh start >/dev/null 2>&1
eval "$(bash scripts/cluster.sh env)"
primary() { CUSTPROFILE_DB="$1" bash scripts/cluster.sh psql -q "${@:2}"; }
primary postgres -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
primary "$DB" <<'SQL' >/dev/null
SET client_min_messages = warning;
CREATE EXTENSION custprofile;
CREATE TABLE train (body text, label text);
INSERT INTO train VALUES ('I love it', 'pos'), ('Works great', 'pos'), ('It broke', 'neg'), ('Awful', 'neg');
SELECT custprofile.train_classifier('standby_head', 'SELECT body, label FROM train', '{"validation_share": 0}');
SQL

dir="$(server_dir custprofile-standby)"
stop_standby() { as_server_user "$PG_BIN/pg_ctl" -D "$dir/data" -m fast stop >/dev/null 2>&1 || true; }
stop_standby
as_server_user rm -rf "$dir/data"
as_server_user "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$PGPORT" -U postgres -D "$dir/data" -R -X stream -c fast >/dev/null
as_server_user sh -c "cat >> '$dir/data/postgresql.conf'" <<CONF
port = $STANDBY_PORT
unix_socket_directories = '$dir'
shared_preload_libraries = ''
hot_standby = on
CONF
as_server_user "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
trap stop_standby EXIT
# wait until the standby has replayed the classifier
for _ in $(seq 1 30); do
  n="$("$PG_BIN/psql" -X -h 127.0.0.1 -p "$STANDBY_PORT" -U postgres -d "$DB" -tAc "SELECT count(*) FROM custprofile.classifiers" 2>/dev/null || true)"
  [[ "$n" == 1 ]] && break
  sleep 1
done
result="$("$PG_BIN/psql" -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$STANDBY_PORT" -U postgres -d "$DB" -qtA 2>&1 <<'SQL'
SELECT pg_is_in_recovery();
SELECT custprofile.predict('standby_head', 'I love this kettle');
SELECT (custprofile.predict_scores('standby_head', 'It broke after a day') ->> 'neg')::float8 > 0.5;
DO $$
BEGIN
  PERFORM custprofile.train_classifier('standby_other', 'SELECT body, label FROM train');
  RAISE NOTICE 'trained on a standby';
EXCEPTION WHEN OTHERS THEN
  RAISE NOTICE 'train_classifier: %', SQLSTATE;
END $$;
SQL
)"
stop_standby
trap - EXIT
primary postgres -c "DROP DATABASE $DB"
expected=$'t\npos\nt\nNOTICE:  train_classifier: 25006'
if [[ "$result" != "$expected" ]]; then
  printf 'expected:\n%s\ngot:\n%s\n' "$expected" "$result" >&2
  die "predict or train_classifier misbehaved on a hot standby"
fi
log "on a hot standby: predict and predict_scores answer, train_classifier is 25006"
