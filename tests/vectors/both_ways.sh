#!/usr/bin/env bash
# similar_customers, recommend and suggest_replies with and without pgvector, in one database of
# the private cluster: the demo shop's answers without the vector extension, then with it (the
# indexes built by refresh_profiles, used by the functions: their scan counters move), equal to
# the exact answers; embed_text casts to vector; an analyst who does not own the tables is told
# what to run; DROP EXTENSION vector CASCADE goes back to exact search, with the same answers.
# pgvector is built from ../shared/vendor (scripts/vendor.sh); without the snapshot the test
# says it is skipped.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
cd "$REPO_ROOT"
DB=custprofile_vectors

bash scripts/vendor.sh pgvector
if [[ ! -f "$("$(pg_config_path)" --sharedir)/extension/vector.control" ]]; then
  log "SKIPPED tests/vectors/both_ways.sh: no pgvector-0.8.6.tar.gz in ../shared/vendor"
  exit 0
fi
bash scripts/cluster.sh start >/dev/null 2>&1
db() { CUSTPROFILE_DB="$1" bash scripts/cluster.sh psql -X -v ON_ERROR_STOP=1 -q "${@:2}"; }
# runs SQL whose checks print "...: ok" or "FAIL: ..."; any FAIL fails the test
check() {
  local out
  out="$(db "$DB" -tA "$@" 2>&1)" || { echo "$out"; die "tests/vectors/both_ways.sh: SQL failed"; }
  grep -v '^$' <<<"$out" | grep -v '^NOTICE:  without pgvector' >&2 || true
  ! grep -q FAIL <<<"$out" || die "tests/vectors/both_ways.sh failed"
}
db postgres -c "DROP DATABASE IF EXISTS $DB" -c "DROP ROLE IF EXISTS vectors_reader" -c "CREATE DATABASE $DB"
db "$DB" -c "SET client_min_messages = warning" -c "CREATE EXTENSION custprofile" -f demo/shop.sql -f demo/shop_zh.sql
check <<'SQL'
SET client_min_messages = warning;
SELECT custprofile.register_source('customers', 'shop.customers', '{"key": "customer_id"}') \g /dev/null
SELECT custprofile.register_source('orders', 'shop.orders',
         '{"customer": "customer_id", "time": "ordered_at", "amount": "total", "item": "product", "category": "category"}') \g /dev/null
SELECT custprofile.register_source('texts', 'shop.reviews',
         '{"customer": "customer_id", "text": "body", "time": "written_at", "rating": "stars", "item": "product"}') \g /dev/null
SELECT custprofile.register_source('items', 'shop.items',
         '{"key": "item_id", "title": "title", "description": "description", "category": "category", "price": "price"}') \g /dev/null
-- with the alternate questions: the index holds the articles' centroids
SELECT custprofile.register_source('answers', 'shop.help_articles',
         '{"key": "article_id", "question": "question", "answer": "answer", "alternate_questions": "alternate_questions"}') \g /dev/null
CALL custprofile.refresh_profiles();
CREATE TABLE shop.messages (message text);
INSERT INTO shop.messages VALUES ('Where is my parcel? It has not arrived.'), ('How do I return a jacket?'),
    ('The package arrived damaged'), ('我的快递怎么还没到？'), ('Can I pay with PayPal?');
-- every customer's answers, as a table named by the run
CREATE FUNCTION shop.answers(run text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('CREATE TABLE shop.%I AS
        SELECT ''similar'' AS call, c.customer_key AS input, s.customer_id AS answer, s.similarity AS score
          FROM custprofile.profiles c, custprofile.similar_customers(c.customer_key, 5) s
        UNION ALL
        SELECT ''recommend'', c.customer_key, r.item_id, r.score
          FROM custprofile.profiles c, custprofile.recommend(c.customer_key, 5) r
        UNION ALL
        SELECT ''replies'', m.message, r.answer_id, r.score
          FROM shop.messages m, custprofile.suggest_replies(m.message, 3, 0.3) r', run);
END $$;
SELECT shop.answers('exact');
SELECT CASE WHEN count(*) > 200 THEN 'exact answers: ok' ELSE 'FAIL: too few exact answers' END FROM shop.exact;

-- without pgvector: no index, and creating one says what to do
DO $$ BEGIN
    PERFORM custprofile.create_vector_indexes();
    RAISE EXCEPTION 'FAIL: create_vector_indexes without pgvector';
EXCEPTION WHEN feature_not_supported THEN
    RAISE NOTICE 'without pgvector: %', SQLERRM;
END $$;

-- with it: the next refresh builds the indexes
CREATE EXTENSION vector;
CALL custprofile.refresh_profiles();
SELECT CASE WHEN count(*) = 3 THEN 'three indexes built by refresh_profiles: ok' ELSE 'FAIL: indexes ' || string_agg(relname, ',') END
  FROM pg_class WHERE relnamespace = 'custprofile'::regnamespace AND relname LIKE '%\_ann';
SELECT pg_stat_clear_snapshot();
CREATE TABLE shop.scans_before AS SELECT indexrelname, idx_scan FROM pg_stat_user_indexes WHERE indexrelname LIKE '%\_ann';
SELECT shop.answers('approximate');
SELECT pg_sleep(1);   -- the statistics collector catches up
SELECT pg_stat_clear_snapshot();
SELECT CASE WHEN bool_and(i.idx_scan > b.idx_scan) AND count(*) = 3 THEN 'every index used by the searches: ok'
            ELSE 'FAIL: index scans ' || string_agg(i.indexrelname || ' ' || b.idx_scan || '->' || i.idx_scan, ', ') END
  FROM pg_stat_user_indexes i JOIN shop.scans_before b USING (indexrelname);
SELECT CASE WHEN d = 0 THEN 'approximate answers equal the exact ones: ok' ELSE 'FAIL: ' || d || ' answers differ' END
  FROM (SELECT count(*) AS d FROM ((TABLE shop.exact EXCEPT ALL TABLE shop.approximate)
                                   UNION ALL (TABLE shop.approximate EXCEPT ALL TABLE shop.exact)) x) y;

-- the functions that return real[] cast to vector
SELECT CASE WHEN (custprofile.embed_text('parcel late')::vector(384) <=> custprofile.embed_text('delivery delayed')::vector(384))
                 < (custprofile.embed_text('parcel late')::vector(384) <=> custprofile.embed_text('lovely colour')::vector(384))
            THEN 'embed_text casts to vector: ok' ELSE 'FAIL: cosine distances' END;
SELECT CASE WHEN vector_dims(custprofile.embedding_avg(e)::vector) = 384 THEN 'embedding_avg casts to vector: ok' ELSE 'FAIL' END
  FROM (SELECT custprofile.embed_text(body) AS e FROM shop.reviews WHERE body IS NOT NULL LIMIT 3) t;

-- a profile rebuilt under the index keeps it in use (the index follows inserts)
UPDATE shop.reviews SET body = body || ' Really.' WHERE review_id = (SELECT min(review_id) FROM shop.reviews WHERE body IS NOT NULL);
CALL custprofile.refresh_profiles();
SELECT CASE WHEN custprofile_internal.nearest_sql('profiles', '$1', 384, 100) IS NOT NULL THEN 'index still serves after a refresh: ok' ELSE 'FAIL' END;

-- another graph: rebuilt with it, kept by later calls and refreshes; bad parameters are 22023
-- and leave the index as it was
SELECT CASE WHEN bool_and(line LIKE '%built%m = 24, ef_construction = 96%') AND count(*) = 3
            THEN 'create_vector_indexes(24, 96) rebuilds every index with that graph: ok' ELSE 'FAIL: ' || string_agg(line, '; ') END
  FROM custprofile.create_vector_indexes(24, 96) line;
SELECT CASE WHEN bool_and(line LIKE '%up to date') THEN 'the graph is kept by a call without parameters: ok' ELSE 'FAIL: ' || string_agg(line, '; ') END
  FROM custprofile.create_vector_indexes() line;
CALL custprofile.refresh_profiles();
SELECT CASE WHEN (custprofile_internal.vector_index_state('profiles') ->> 'm')::int = 24 THEN 'and by refresh_profiles: ok' ELSE 'FAIL: state ' || custprofile_internal.vector_index_state('profiles')::text END;
DO $$
DECLARE
    bad text;
BEGIN
    FOREACH bad IN ARRAY ARRAY['1, NULL', 'NULL, 2000', '40, 64'] LOOP
        BEGIN
            EXECUTE format('SELECT count(*) FROM custprofile.create_vector_indexes(%s)', bad);
            RAISE EXCEPTION 'FAIL: create_vector_indexes(%) accepted', bad USING ERRCODE = 'raise_exception';
        EXCEPTION WHEN invalid_parameter_value THEN
            NULL;
        END;
    END LOOP;
END $$;
SELECT CASE WHEN (custprofile_internal.vector_index_state('profiles') ->> 'm')::int = 24
            THEN 'bad graph parameters are 22023 and leave the index as it was: ok' ELSE 'FAIL: the index changed' END;

-- a role that does not own the tables (refresh_profiles calls maintain_vector_indexes as its
-- caller): told what to run when an index is missing, and nothing fails
CREATE ROLE vectors_reader;
SELECT custprofile.grant_usage('vectors_reader', 'reader') \g /dev/null
DROP INDEX custprofile.profiles_interest_ann;
SQL
notice="$(db "$DB" -c "SET ROLE vectors_reader" -c "SELECT custprofile_internal.maintain_vector_indexes()" 2>&1)"
grep -q "searches are exact until they are built" <<<"$notice" || die "no notice to a role that does not own the tables: $notice"
log "a role that does not own the tables is told to build the indexes: ok"
check <<'SQL'
SET client_min_messages = warning;
SELECT CASE WHEN custprofile_internal.nearest_sql('profiles', '$1', 384, 100) IS NULL THEN 'a missing index means exact search: ok' ELSE 'FAIL' END;
SELECT count(*) FROM custprofile.create_vector_indexes() \g /dev/null
-- the answers with the index, after the change of one review above, to compare with exact search
DROP TABLE shop.approximate;
SELECT shop.answers('approximate') \g /dev/null
DROP EXTENSION vector CASCADE;
SELECT shop.answers('after_drop') \g /dev/null
SELECT CASE WHEN count(*) > 200 AND d = 0 THEN 'exact search again after DROP EXTENSION vector, equal to the index''s answers: ok'
            ELSE 'FAIL: ' || d || ' answers differ after DROP EXTENSION vector' END
  FROM shop.after_drop,
       (SELECT count(*) AS d FROM ((TABLE shop.after_drop EXCEPT ALL TABLE shop.approximate)
                                   UNION ALL (TABLE shop.approximate EXCEPT ALL TABLE shop.after_drop)) x) y
 GROUP BY d;
SQL
log "tests/vectors/both_ways.sh: passed"
