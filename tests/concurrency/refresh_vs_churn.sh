#!/usr/bin/env bash
# Two writers of the stored profiles run against each other for a while: a full refresh
# (refresh_profiles rewrites every row, batch by batch) and churn training (train_churn_model
# rescores every row). Before rescore_churn locked the table first, the two took the same rows
# in different orders and deadlocked (40P01) several times a minute. Fails on any deadlock or
# other error. Orders only, no texts: no model runs, so that many rounds fit in little time.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
cd "$REPO_ROOT"
SECONDS_EACH="${CONCURRENCY_SECONDS:-20}"
DB=custprofile_concurrency

bash scripts/cluster.sh start >/dev/null 2>&1
eval "$(bash scripts/cluster.sh env)"
db_psql() { CUSTPROFILE_DB="$DB" bash scripts/cluster.sh psql -q "$@"; }
CUSTPROFILE_DB=postgres bash scripts/cluster.sh psql -q -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
db_psql <<'SQL' >/dev/null
SET client_min_messages = warning;
CREATE EXTENSION custprofile;
CREATE SCHEMA cc;
CREATE TABLE cc.customers AS SELECT n AS customer_id, 'city ' || (n % 7) AS city FROM generate_series(1, 400) n;
CREATE TABLE cc.orders AS
  SELECT (n % 400) + 1 AS customer_id, timestamptz '2026-01-01' + (n * 7 % 300) * interval '1 day' AS ordered_at,
         (n % 90 + 10)::numeric AS total, 'c' || (n % 5) AS category
    FROM generate_series(1, 2000) n;
SELECT custprofile.register_source('customers', 'cc.customers', '{"key": "customer_id", "attributes": ["city"]}');
SELECT custprofile.register_source('orders', 'cc.orders', '{"customer": "customer_id", "time": "ordered_at", "amount": "total", "category": "category"}');
CALL custprofile.refresh_profiles();
SQL

out="$(mktemp -d)"
loop() {  # name, statement
  local end=$((SECONDS + SECONDS_EACH)) n=0
  while ((SECONDS < end)); do
    db_psql -v ON_ERROR_STOP=1 -v VERBOSITY=verbose -c "SET client_min_messages = warning" -c "$2" >/dev/null 2>>"$out/$1.err" || true
    n=$((n + 1))
  done
  echo "$n" >"$out/$1.rounds"
}
log "refresh_profiles(full_rebuild) against train_churn_model for ${SECONDS_EACH} s"
loop refresh "CALL custprofile.refresh_profiles(batch_size => 50, full_rebuild => true)" &
loop churn "SELECT custprofile.train_churn_model('SELECT customer_id, customer_id % 3 = 0 FROM cc.customers') IS NOT NULL" &
wait
failed=0
for w in refresh churn; do
  if [[ -s "$out/$w.err" ]]; then
    log "FAIL: $w had errors:"
    sort "$out/$w.err" | uniq -c | head -10 >&2
    failed=1
  fi
done
log "rounds: refresh $(cat "$out/refresh.rounds"), churn training $(cat "$out/churn.rounds")"
rm -rf "$out"
CUSTPROFILE_DB=postgres bash scripts/cluster.sh psql -q -c "DROP DATABASE $DB"
((failed == 0)) || die "the writers of custprofile.profiles got in each other's way"
log "no deadlock between refresh_profiles and train_churn_model"
