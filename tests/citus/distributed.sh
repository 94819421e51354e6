#!/usr/bin/env bash
# custprofile on a real Citus cluster (tests/citus/cluster.sh: a coordinator and two workers):
# the demo shop's reviews and orders distributed by customer; sentiment, embed_text and
# profile_agg ... GROUP BY customer run on the workers (the worker queries in EXPLAIN, the
# function call counters on the workers) and equal the same queries on the local tables to
# 1e-5; profile_agg grouped by another column is gathered and equal too; stored profiles built
# from distributed sources equal those built from local ones; a worker without custprofile gives
# an ERROR the coordinator shows; custprofile.profiles distributed anyway is ERROR 0A000 for its
# readers and the refresh. Citus is built from ../shared/vendor (scripts/vendor.sh);
# without the snapshot the test says it is skipped.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
cd "$REPO_ROOT"

bash scripts/vendor.sh citus
if [[ ! -f "$("$(pg_config_path)" --sharedir)/extension/citus.control" ]]; then
  log "SKIPPED tests/citus/distributed.sh: no citus-12.1.12.tar.gz in ../shared/vendor"
  exit 0
fi
bash tests/citus/cluster.sh start
trap 'bash tests/citus/cluster.sh stop' EXIT
PG_BIN="$("$(pg_config_path)" --bindir)"
coordinator() { "$PG_BIN/psql" -X -h 127.0.0.1 -p 28840 -U postgres -d custprofile_citus -v ON_ERROR_STOP=1 -q "$@"; }
# SQL whose checks print "...: ok" or "FAIL: ..."; any FAIL fails the test
check() {
  local out
  out="$(coordinator -tA -f tests/citus/compare.sql -f - "$@" 2>&1)" || { echo "$out"; die "tests/citus/distributed.sh: SQL failed"; }
  grep -v '^$' <<<"$out" >&2 || true
  ! grep -q FAIL <<<"$out" || die "tests/citus/distributed.sh failed"
}

coordinator -c "SET client_min_messages = warning" -c "DROP SCHEMA IF EXISTS shop, dist CASCADE" \
  -c "SELECT custprofile.unregister_source(kind, relation) FROM custprofile.sources" -f demo/shop.sql >/dev/null
check <<'SQL'
SET client_min_messages = warning;
-- the same rows, distributed by customer (32 shards over the two workers)
CREATE SCHEMA dist;
CREATE TABLE dist.customers (LIKE shop.customers);
CREATE TABLE dist.orders (LIKE shop.orders);
CREATE TABLE dist.reviews (LIKE shop.reviews);
SELECT create_distributed_table('dist.customers', 'customer_id') \g /dev/null
SELECT create_distributed_table('dist.orders', 'customer_id', colocate_with => 'dist.customers') \g /dev/null
SELECT create_distributed_table('dist.reviews', 'customer_id', colocate_with => 'dist.customers') \g /dev/null
INSERT INTO dist.customers SELECT * FROM shop.customers;
INSERT INTO dist.orders SELECT * FROM shop.orders;
INSERT INTO dist.reviews SELECT * FROM shop.reviews;
SELECT CASE WHEN count(DISTINCT nodeport) = 2 THEN 'reviews on both workers: ok' ELSE 'FAIL: reviews on ' || count(DISTINCT nodeport) || ' nodes' END
  FROM citus_shards WHERE table_name = 'dist.reviews'::regclass AND shard_size > 8192;

SET client_min_messages = error;
-- whether EXPLAIN's worker query (the SQL a worker runs) contains the text
CREATE FUNCTION pg_temp.worker_query_has(query text, pattern text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    line text;
    seen boolean := false;
BEGIN
    FOR line IN EXECUTE 'EXPLAIN (VERBOSE, COSTS OFF) ' || query LOOP
        seen := seen OR (line LIKE '%Task Count: 32%');
        IF seen AND line ~ '^\s*Query: ' AND position(pattern IN line) > 0 THEN
            RETURN true;
        END IF;
    END LOOP;
    RETURN false;
END $$;
CREATE FUNCTION pg_temp.worker_calls(function_name text) RETURNS bigint LANGUAGE sql AS $$
    SELECT sum(r.result::bigint) FROM run_command_on_workers(format(
        'SELECT COALESCE(sum(calls), 0) FROM pg_stat_user_functions WHERE schemaname = %L AND funcname = %L',
        'custprofile', function_name)) r
$$;
SET client_min_messages = warning;
SELECT run_command_on_workers('SELECT pg_stat_reset()') \g /dev/null
ALTER SYSTEM SET track_functions = 'all';
SELECT run_command_on_workers($$ALTER SYSTEM SET track_functions = 'all'$$) \g /dev/null
SELECT pg_reload_conf(), run_command_on_workers('SELECT pg_reload_conf()') \g /dev/null
SELECT pg_sleep(0.5);

-- sentiment and embed_text run on the workers, with the local answers
SELECT CASE WHEN pg_temp.worker_query_has('SELECT review_id, custprofile.sentiment(body) FROM dist.reviews', 'custprofile.sentiment(')
            THEN 'sentiment in the worker query: ok' ELSE 'FAIL: sentiment not pushed down' END;
CREATE TEMP TABLE scores AS SELECT review_id, custprofile.sentiment(body) AS s, custprofile.embed_text(body) AS e FROM dist.reviews;
SELECT pg_sleep(1);
-- (a worker's backend reports its counters within a second or ten: more than none is the check)
SELECT CASE WHEN pg_temp.worker_calls('sentiment') > 0
            THEN 'sentiment called on the workers: ok' ELSE 'FAIL: no calls of sentiment on the workers' END;
SELECT CASE WHEN count(*) = (SELECT count(*) FROM shop.reviews) AND max(abs(d.s - custprofile.sentiment(l.body))) < 1e-5
            THEN 'sentiment equals the local one: ok' ELSE 'FAIL: sentiment differs' END
  FROM scores d JOIN shop.reviews l USING (review_id);
SELECT CASE WHEN max(abs(x.a - x.b)) < 1e-5 THEN 'embed_text equals the local one: ok' ELSE 'FAIL: embed_text differs by ' || max(abs(x.a - x.b)) END
  FROM scores d JOIN shop.reviews l USING (review_id),
       LATERAL unnest(d.e, custprofile.embed_text(l.body)) x(a, b);

-- profile_agg grouped by the distribution column: whole on the workers
SELECT CASE WHEN pg_temp.worker_query_has('SELECT customer_id, custprofile.profile_agg(body, stars::real, written_at) FROM dist.reviews GROUP BY customer_id',
                                          'custprofile.profile_agg(')
            THEN 'profile_agg ... GROUP BY customer in the worker query: ok' ELSE 'FAIL: profile_agg not pushed down' END;
CREATE TEMP TABLE local_by_customer AS
    SELECT customer_id, custprofile.profile_agg(body, stars::real, written_at) AS p FROM shop.reviews GROUP BY customer_id;
CREATE TEMP TABLE dist_by_customer AS
    SELECT customer_id, custprofile.profile_agg(body, stars::real, written_at) AS p FROM dist.reviews GROUP BY customer_id;
SELECT CASE WHEN count(*) = (SELECT count(*) FROM local_by_customer) AND max(pg_temp.max_difference(d.p, l.p)) < 1e-5
            THEN 'profile_agg by customer equals the local one: ok' ELSE 'FAIL: profile_agg by customer differs by ' || max(pg_temp.max_difference(d.p, l.p)) END
  FROM dist_by_customer d JOIN local_by_customer l USING (customer_id);
-- grouped by something else: Citus gathers the rows and the coordinator aggregates them (it
-- combines partial states only of aggregates whose state is not `internal`)
SELECT CASE WHEN NOT pg_temp.worker_query_has('SELECT stars, custprofile.profile_agg(body) FROM dist.reviews GROUP BY stars', 'custprofile.profile_agg(')
            THEN 'profile_agg ... GROUP BY stars aggregated on the coordinator: ok' ELSE 'FAIL: unexpected plan' END;
CREATE TEMP TABLE dist_by_stars AS
    SELECT stars, custprofile.profile_agg(body, stars::real, written_at) AS p FROM dist.reviews GROUP BY stars;
SELECT CASE WHEN count(*) = (SELECT count(DISTINCT stars) FROM shop.reviews) AND max(pg_temp.max_difference(d.p, l.p)) < 1e-5
            THEN 'profile_agg by stars equals the local one: ok' ELSE 'FAIL: profile_agg by stars differs' END
  FROM dist_by_stars d
  JOIN (SELECT stars, custprofile.profile_agg(body, stars::real, written_at) AS p FROM shop.reviews GROUP BY stars) l
    ON l.stars IS NOT DISTINCT FROM d.stars;

-- the same in two steps: partial states by customer and stars on the workers (grouped by the
-- distribution column, so pushed down), serialised, shipped, merged by stars on the coordinator
SELECT CASE WHEN pg_temp.worker_query_has('SELECT stars, custprofile.profile_agg_merge(s) FROM (SELECT customer_id, stars, custprofile.profile_agg_partial(body, stars::real, written_at) AS s FROM dist.reviews GROUP BY customer_id, stars) p GROUP BY stars',
                                          'custprofile.profile_agg_partial(')
            THEN 'profile_agg_partial by customer and stars in the worker query: ok' ELSE 'FAIL: profile_agg_partial not pushed down' END;
CREATE TEMP TABLE merged_by_stars AS
    SELECT stars, custprofile.profile_agg_merge(s) AS p
      FROM (SELECT customer_id, stars, custprofile.profile_agg_partial(body, stars::real, written_at) AS s
              FROM dist.reviews GROUP BY customer_id, stars) partials
     GROUP BY stars;
SELECT CASE WHEN count(*) = (SELECT count(DISTINCT stars) FROM shop.reviews) AND max(pg_temp.max_difference(d.p, l.p)) < 1e-5
            THEN 'profile_agg_merge of the workers'' partial states equals the local profile_agg: ok'
            ELSE 'FAIL: merged partial states differ by ' || max(pg_temp.max_difference(d.p, l.p)) END
  FROM merged_by_stars d
  JOIN (SELECT stars, custprofile.profile_agg(body, stars::real, written_at) AS p FROM shop.reviews GROUP BY stars) l
    ON l.stars IS NOT DISTINCT FROM d.stars;

-- a function that writes the extension's tables, in a query Citus pushes down: refused on the workers
DO $$ BEGIN
    PERFORM custprofile.unregister_source('texts', 'dist.reviews') FROM dist.reviews;
    RAISE EXCEPTION 'FAIL: unregister_source ran on the workers';
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'refused on a worker: %', SQLERRM;
END $$;
SELECT 'a writing function refused on the workers: ok';

-- stored profiles from distributed sources equal those from the local tables (but for the
-- moment each was generated)
SELECT custprofile.register_source('customers', 'shop.customers', '{"key": "customer_id"}') \g /dev/null
SELECT custprofile.register_source('orders', 'shop.orders',
         '{"customer": "customer_id", "time": "ordered_at", "amount": "total", "item": "product", "category": "category"}') \g /dev/null
SELECT custprofile.register_source('texts', 'shop.reviews',
         '{"customer": "customer_id", "text": "body", "time": "written_at", "rating": "stars", "item": "product"}') \g /dev/null
SQL
coordinator -c "SET client_min_messages = warning" -c "CALL custprofile.refresh_profiles()"
check <<'SQL'
SET client_min_messages = warning;
CREATE TABLE shop.local_profiles AS SELECT customer_key, profile FROM custprofile.profiles;
SELECT custprofile.unregister_source(kind, relation) FROM custprofile.sources \g /dev/null
SELECT custprofile.register_source('customers', 'dist.customers', '{"key": "customer_id"}') \g /dev/null
SELECT custprofile.register_source('orders', 'dist.orders',
         '{"customer": "customer_id", "time": "ordered_at", "amount": "total", "item": "product", "category": "category"}') \g /dev/null
SELECT custprofile.register_source('texts', 'dist.reviews',
         '{"customer": "customer_id", "text": "body", "time": "written_at", "rating": "stars", "item": "product"}') \g /dev/null
SELECT CASE WHEN count(*) = 3 THEN 'register_source accepts distributed tables: ok' ELSE 'FAIL' END FROM custprofile.sources WHERE relation LIKE 'dist.%';
SQL
coordinator -c "SET client_min_messages = warning" -c "CALL custprofile.refresh_profiles(full_rebuild => true)"
check <<'SQL'
SET client_min_messages = warning;
SELECT CASE WHEN count(*) = (SELECT count(*) FROM shop.local_profiles) AND count(*) > 30
                 AND max(pg_temp.max_difference(p.profile - 'generated_at', l.profile - 'generated_at')) < 1e-5
            THEN 'profiles from distributed sources equal the local ones: ok'
            ELSE 'FAIL: ' || count(*) || ' profiles, differing by ' || max(pg_temp.max_difference(p.profile - 'generated_at', l.profile - 'generated_at')) END
  FROM custprofile.profiles p JOIN shop.local_profiles l USING (customer_key);
SELECT CASE WHEN pg_temp.max_difference(custprofile.build_profile(1007) - 'generated_at', (SELECT profile - 'generated_at' FROM shop.local_profiles WHERE customer_key = '1007')) < 1e-5
            THEN 'build_profile over distributed sources: ok' ELSE 'FAIL: build_profile differs' END;

-- a worker without custprofile: its ERROR reaches the coordinator
SELECT run_command_on_workers($$SET citus.enable_ddl_propagation = off; DROP EXTENSION custprofile CASCADE$$) \g /dev/null
DO $$ BEGIN
    PERFORM custprofile.sentiment(body) FROM dist.reviews;
    RAISE EXCEPTION 'FAIL: no error from workers without custprofile';
EXCEPTION WHEN undefined_function THEN
    RAISE NOTICE 'worker without custprofile: %', SQLERRM;
END $$;
SELECT run_command_on_workers($$SET citus.enable_ddl_propagation = off; CREATE EXTENSION custprofile$$) \g /dev/null
SELECT CASE WHEN count(*) > 0 THEN 'custprofile back on the workers: ok' ELSE 'FAIL' END FROM (SELECT custprofile.sentiment(body) FROM dist.reviews) s;

-- the stored profiles stay local: Citus distributes custprofile.profiles if asked (and cannot
-- undistribute it, so this comes last), after which the readers and the refresh say what is wrong
-- instead of failing inside Citus
SELECT create_distributed_table('custprofile.profiles', 'customer_key') \g /dev/null
DO $$ BEGIN
    PERFORM * FROM custprofile.similar_customers(1007, 3);
    RAISE EXCEPTION 'FAIL: similar_customers read distributed profiles';
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'distributed profiles: %', SQLERRM;
END $$;
DO $$ BEGIN
    PERFORM custprofile.refresh_profiles_in_transaction();
    RAISE EXCEPTION 'FAIL: refresh_profiles wrote distributed profiles';
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'distributed profiles: %', SQLERRM;
END $$;
SELECT 'distributed custprofile.profiles refused with 0A000: ok';
SQL
log "tests/citus/distributed.sh: passed"
