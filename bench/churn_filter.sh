#!/usr/bin/env bash
# The BI filter on churn risk, `customer_profiles WHERE churn_risk >= x`, over N stored profiles
# (default 100,000: the demo's profiles copied, each copy's last order and text moved back by
# 0-299 days so that the risks spread; x is the 99th percentile), two ways side by side in
# alternating rounds (median of ROUNDS):
#   stored     the default moment, after the refresh judged the churn columns: the index on
#              profiles.churn_risk (sql/profiles.sql, stored_churn_holds)
#   on read    the same query as of a moment the columns do not hold for (an hour later), so
#              the view judges every row's churn on read, as it did before the columns existed
#   bash bench/churn_filter.sh [N] [ROUNDS]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$REPO_ROOT"
n="${1:-100000}"
rounds="${2:-3}"
db=custprofile_churn_bench
ready_cluster
cluster_psql -d postgres -q -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
bench_psql() { cluster_psql -d "$db" -v ON_ERROR_STOP=1 "$@"; }
bench_psql -q <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION custprofile;
\i demo/shop.sql
SELECT custprofile.register_source('customers', 'shop.customers', '{"key": "customer_id"}') \g /dev/null
SELECT custprofile.register_source('orders', 'shop.orders',
         '{"customer": "customer_id", "time": "ordered_at", "amount": "total", "item": "product", "category": "category"}') \g /dev/null
SELECT custprofile.register_source('texts', 'shop.reviews',
         '{"customer": "customer_id", "text": "body", "time": "written_at", "rating": "stars", "item": "product"}') \g /dev/null
CALL custprofile.refresh_profiles();
SQL
log "copying the demo's profiles to $n stored profiles"
bench_psql -q -v n="$n" <<'SQL'
SET client_min_messages = warning;
CREATE FUNCTION pg_temp.moved(doc jsonb, path text[], days int) RETURNS jsonb LANGUAGE sql AS $$
    SELECT CASE WHEN doc #>> path IS NULL THEN doc
                ELSE jsonb_set(doc, path, to_jsonb((doc #>> path)::timestamptz - days * interval '1 day')) END $$;
CREATE TEMP TABLE demo_profiles AS SELECT * FROM custprofile.profiles;
INSERT INTO custprofile.profiles (customer_key, profile, source_hash, last_activity)
SELECT d.customer_key || '-' || c, m.doc, 'synthetic',
       greatest((custprofile.profile_row(m.doc)).last_order_at, (custprofile.profile_row(m.doc)).last_text_at)
  FROM generate_series(1, ceil(:n::float8 / (SELECT count(*) FROM demo_profiles))::int) c
 CROSS JOIN demo_profiles d
 CROSS JOIN LATERAL (SELECT pg_temp.moved(pg_temp.moved(d.profile, '{purchases,last_order}', c % 300),
                                          '{texts,last_seen}', c % 300) AS doc) m
 LIMIT :n - (SELECT count(*) FROM demo_profiles);
VACUUM ANALYZE custprofile.profiles;
SQL
log "judging the churn columns of every profile (judge_stored_churn(true), as after new weights)"
bench_psql -q -c '\timing on' -c "SELECT custprofile_internal.judge_stored_churn(true) AS judged"
bench_psql -q -c "VACUUM ANALYZE custprofile.profiles"
bench_psql -v rounds="$rounds" <<'SQL'
\pset footer off
SET client_min_messages = warning;
SELECT count(*) AS profiles, custprofile_internal.stored_churn_holds() AS stored_holds, custprofile.as_of() AS as_of,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY churn_risk) AS threshold
  FROM custprofile.profiles \gset
SELECT :profiles AS profiles, :'stored_holds' AS stored_holds, round(:threshold::numeric, 4) AS threshold;
CREATE TEMP TABLE params AS SELECT :threshold::float8 AS threshold, :rounds::int AS rounds;
CREATE TEMP TABLE timings (round int, way text, seconds float8, matched bigint);
DO $$
DECLARE
    t timestamptz;
    matched bigint;
    q text := format('SELECT count(*) FROM (SELECT customer_key, churn_risk FROM custprofile.customer_profiles '
                     'WHERE churn_risk >= %s) x', (SELECT threshold FROM params));
BEGIN
    FOR r IN 1..(SELECT rounds FROM params) LOOP
        t := clock_timestamp();
        EXECUTE q INTO matched;
        INSERT INTO timings VALUES (r, 'stored', extract(epoch FROM clock_timestamp() - t), matched);
        PERFORM set_config('custprofile.as_of', (custprofile.as_of() + interval '1 hour')::text, true);
        t := clock_timestamp();
        EXECUTE q INTO matched;
        INSERT INTO timings VALUES (r, 'on read', extract(epoch FROM clock_timestamp() - t), matched);
        PERFORM set_config('custprofile.as_of', 'latest_activity', true);
    END LOOP;
END $$;
SELECT way, count(*) AS rounds, round((percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds))::numeric, 4) AS median_s,
       min(matched) AS customers, max(matched) AS same_in_every_round
  FROM timings GROUP BY way ORDER BY way DESC;
SELECT round(((SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) FROM timings WHERE way = 'on read')
            / (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) FROM timings WHERE way = 'stored'))::numeric, 1)
         AS on_read_over_stored;
SQL
[ "${KEEP:-0}" = 1 ] || cluster_psql -d postgres -q -c "DROP DATABASE $db"
