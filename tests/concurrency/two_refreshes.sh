#!/usr/bin/env bash
# Two refresh_profiles sessions started at once share the queue: each builds a part, no
# customer is built twice, and together they build every one. Before the queue step stopped
# rewriting every entry (ON CONFLICT DO UPDATE locked them all until it committed), the first
# session's claims skipped the locked entries, found nothing and ended early, and the second
# built everything alone: two sessions took as long as one.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
cd "$REPO_ROOT"
DB=custprofile_two_refreshes
CUSTOMERS=240

bash scripts/cluster.sh start >/dev/null 2>&1
eval "$(bash scripts/cluster.sh env)"
db_psql() { CUSTPROFILE_DB="$DB" bash scripts/cluster.sh psql -q "$@"; }
CUSTPROFILE_DB=postgres bash scripts/cluster.sh psql -q -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
out="$(mktemp -d)"
release_queue() {
  db_psql -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%holding the queue%' AND pid <> pg_backend_pid()" >/dev/null 2>&1 || true
}
trap 'release_queue; rm -rf "$out"' EXIT
# one text per customer, so that every batch runs the model and takes a while
db_psql -v ON_ERROR_STOP=1 <<SQL >/dev/null
SET client_min_messages = warning;
CREATE EXTENSION custprofile;
CREATE TABLE customers AS SELECT n AS id FROM generate_series(1, $CUSTOMERS) n;
CREATE TABLE reviews AS
  SELECT n AS customer_id,
         format('Order %s: the %s arrived %s days late, and support answered after %s hours.',
                n, (ARRAY['kettle', 'lamp', 'jacket', 'phone case'])[n % 4 + 1], n % 9 + 1, n % 23 + 2) AS body
    FROM generate_series(1, $CUSTOMERS) n;
SELECT custprofile.register_source('customers', 'customers', '{"key": "id"}');
SELECT custprofile.register_source('texts', 'reviews', '{"customer": "customer_id", "text": "body"}');
SQL

# The queue step leaves entries that are already queued unchanged, so it never waits for the
# session that is building them. A third session holds every entry as a refresh's claim would;
# a refresh must then get through with a short lock_timeout (and find nothing left to claim).
log "a refresh while every queued entry is claimed by another session"
db_psql -v ON_ERROR_STOP=1 -c "INSERT INTO custprofile.refresh_queue (customer_key, source_hash)
                                 SELECT customer_key, source_hash FROM custprofile_internal.source_fingerprints()" >/dev/null
db_psql -v ON_ERROR_STOP=1 -c "BEGIN" -c "SELECT customer_key FROM custprofile.refresh_queue FOR UPDATE" \
  -c "SELECT pg_sleep(30) /* holding the queue */" -c "ROLLBACK" >/dev/null 2>&1 &
holder=$!
holding() { [[ "$(db_psql -At -c "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%holding the queue%' AND pid <> pg_backend_pid()")" == 1 ]]; }
for _ in $(seq 100); do holding && break; sleep 0.1; done
holding || die "the session holding the queue did not start"
if ! db_psql -v ON_ERROR_STOP=1 -c "SET lock_timeout = '3s'" -c "CALL custprofile.refresh_profiles(batch_size => 5)" \
     >/dev/null 2>"$out/held.err"; then
  cat "$out/held.err" >&2
  die "refresh_profiles waited for entries another session had claimed"
fi
grep -q "refresh_profiles: 0 profiles rebuilt" "$out/held.err" || { cat "$out/held.err" >&2; die "refresh_profiles built claimed entries"; }
release_queue
wait "$holder" || true

log "two refresh_profiles sessions at once over $CUSTOMERS customers"
db_psql -c "DELETE FROM custprofile.refresh_queue" -c "DELETE FROM custprofile.profiles" >/dev/null
for s in 1 2; do
  db_psql -v ON_ERROR_STOP=1 -c "SET statement_timeout = '10min'" \
    -c "CALL custprofile.refresh_profiles(batch_size => 5)" >/dev/null 2>"$out/$s.err" &
done
failed=0
wait %1 || failed=1
wait %2 || failed=1
((failed == 0)) || { cat "$out"/*.err >&2; die "a refresh_profiles session failed"; }

# each session's last NOTICE: 'refresh_profiles: N profiles rebuilt, M removed'
built() { sed -n 's/.*refresh_profiles: \([0-9]*\) profiles rebuilt.*/\1/p' "$out/$1.err" | tail -1; }
one="$(built 1)" two="$(built 2)"
[[ -n "$one" && -n "$two" ]] || { cat "$out"/*.err >&2; die "a session did not report what it built"; }
stored="$(db_psql -At -c "SELECT count(*) FROM custprofile.profiles")"
queued="$(db_psql -At -c "SELECT count(*) FROM custprofile.refresh_queue")"
log "session 1 built $one profiles, session 2 built $two; $stored stored, $queued left in the queue"
((stored == CUSTOMERS && queued == 0)) || die "the two sessions left $stored of $CUSTOMERS profiles, $queued queued"
((one + two == CUSTOMERS)) || die "the two sessions built $((one + two)) profiles for $CUSTOMERS customers: some twice"
((one > 0 && two > 0)) || die "one session built everything: the other ended without sharing the work"
CUSTPROFILE_DB=postgres bash scripts/cluster.sh psql -q -c "DROP DATABASE $DB"
log "two refresh_profiles sessions shared the work"
