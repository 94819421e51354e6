-- Exact search against pgvector's HNSW index over N synthetic stored profiles, in one run:
-- recall@10 of the index against exact search, and the latency of both, for the vector search
-- alone and for similar_customers. Run by bench/vector_search.sh in a scratch database:
--   bash bench/vector_search.sh 100000
-- The vectors (setseed(0.42): the same every run), :vectors as given (bench/vector_search.sh):
--   uniform       1,000 random centres (each component uniform in [-1, 1]), every profile its
--                 centre (customer_key mod 1000) plus uniform noise of 0.7 x that width in each of
--                 the 384 components: the neighbours are the cluster's members, nearly equally
--                 far (the noise fills all 384 dimensions), the hardest case for an index;
--   hierarchical  topics within topics, as embeddings group: a profile is the sum of a centre
--                 of 100 (key mod 100), half of one of 10,000 (key mod 10,000), a quarter of one
--                 of 100,000 (key mod 100,000), and uniform noise of 0.05 x the width: its
--                 nearest are the profiles that share its deepest centre, then the next one.
\set ON_ERROR_STOP on
SET client_min_messages = warning;
TRUNCATE custprofile.profiles, custprofile.refresh_queue;
SELECT setseed(0.42);
CREATE TEMP TABLE centres (level int, c int, v real[], PRIMARY KEY (level, c));
INSERT INTO centres
SELECT l, c, array(SELECT (2 * random() - 1)::real FROM generate_series(1, 384) WHERE c >= 0)
  FROM (VALUES (1, 1000)) x(l, size), generate_series(0, x.size - 1) c WHERE :'vectors' = 'uniform'
UNION ALL
SELECT l, c, array(SELECT (2 * random() - 1)::real FROM generate_series(1, 384) WHERE c >= 0)
  FROM (VALUES (1, 100), (2, 10000), (3, 100000)) x(l, size), generate_series(0, x.size - 1) c
 WHERE :'vectors' = 'hierarchical';
\timing on
INSERT INTO custprofile.profiles (customer_key, profile, interest_vector, source_hash, vector_space)
SELECT n::text, '{}', array(SELECT (x.v[i] + 0.7 * (2 * random() - 1))::real FROM generate_series(1, 384) i WHERE n > 0),
       'synthetic', custprofile.vector_space()
  FROM generate_series(1, :n) n JOIN centres x ON x.level = 1 AND x.c = n % 1000
 WHERE :'vectors' = 'uniform';
INSERT INTO custprofile.profiles (customer_key, profile, interest_vector, source_hash, vector_space)
SELECT n::text, '{}',
       array(SELECT (a.v[i] + 0.5 * b.v[i] + 0.25 * c.v[i] + 0.05 * (2 * random() - 1))::real FROM generate_series(1, 384) i WHERE n > 0),
       'synthetic', custprofile.vector_space()
  FROM generate_series(1, :n) n
  JOIN centres a ON a.level = 1 AND a.c = n % 100
  JOIN centres b ON b.level = 2 AND b.c = n % 10000
  JOIN centres c ON c.level = 3 AND c.c = n % 100000
 WHERE :'vectors' = 'hierarchical';
ANALYZE custprofile.profiles;
\timing off
-- :queries query customers (100 unless given) spread over the clusters; the exact and
-- approximate top 10 of each
\if :{?queries}
\else
\set queries 100
\endif
CREATE TEMP TABLE queries AS
SELECT (1 + (q * 7919) % :n)::text AS customer_key FROM generate_series(1, :queries) q;
CREATE TEMP TABLE timings (method text, query text, ms float8, found text[]);
CREATE FUNCTION pg_temp.search(method text, sql text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    q record;
    t0 timestamptz;
    found text[];
BEGIN
    FOR q IN SELECT * FROM queries LOOP
        t0 := clock_timestamp();
        EXECUTE sql INTO found USING q.customer_key;
        INSERT INTO timings VALUES (method, q.customer_key, extract(epoch FROM clock_timestamp() - t0) * 1000, found);
    END LOOP;
END $$;
-- exact similar_customers first, before the index exists
SELECT pg_temp.search('exact: similar_customers', 'SELECT array_agg(s.customer_id) FROM custprofile.similar_customers($1, 10) s');
\timing on
SET maintenance_work_mem = '4GB';
-- the index, as refresh_profiles builds it (with the default graph unless :m and
-- :ef_construction are given: bench/vector_search.sh passes M and EF_CONSTRUCTION)
\if :{?m}
\else
\set m NULL
\endif
\if :{?ef_construction}
\else
\set ef_construction NULL
\endif
SELECT * FROM custprofile.create_vector_indexes(:m, :ef_construction);
\timing off
SELECT pg_size_pretty(pg_relation_size('custprofile.profiles')) AS table_size,
       pg_size_pretty(pg_relation_size('custprofile.profiles_interest_ann')) AS index_size;

-- the vector search alone: the 10 nearest by cosine distance, the customer itself left out
SELECT format('SELECT array_agg(p.customer_key) FROM (SELECT n.customer_key FROM custprofile.profiles n'
              ' WHERE vector_space = %L AND n.customer_key <> $1 ORDER BY n.interest_vector::public.vector(384)'
              ' OPERATOR(public.<=>) (SELECT m.interest_vector FROM custprofile.profiles m WHERE m.customer_key = $1)::public.vector(384)'
              ' LIMIT 10) p', custprofile.vector_space()) AS nearest \gset
-- the index's search at several sizes of its candidate list (hnsw.ef_search), then
-- similar_customers at the setting it uses itself (sql/recommendations.sql)
SET hnsw.iterative_scan = relaxed_order;
SET hnsw.ef_search = 100;
SELECT pg_temp.search('index, ef_search 100: 10 nearest', :'nearest');
SET hnsw.ef_search = 200;
SELECT pg_temp.search('index, ef_search 200: 10 nearest', :'nearest');
SET hnsw.ef_search = 400;
SELECT pg_temp.search('index, ef_search 400: 10 nearest', :'nearest');
SET hnsw.ef_search = 800;
SELECT pg_temp.search('index, ef_search 800: 10 nearest', :'nearest');
RESET hnsw.ef_search;
SELECT pg_temp.search('index: similar_customers', 'SELECT array_agg(s.customer_id) FROM custprofile.similar_customers($1, 10) s');
SET enable_indexscan = off;
SELECT pg_temp.search('exact: 10 nearest', :'nearest');
RESET enable_indexscan;
SELECT :n AS profiles, :'vectors' AS vectors,
       (SELECT obj_description('custprofile.profiles_interest_ann'::regclass, 'pg_class')::jsonb - 'vector_space' - 'dimensions') AS graph,
       t.method,
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY t.ms)::numeric, 1) AS median_ms,
       round(percentile_cont(0.95) WITHIN GROUP (ORDER BY t.ms)::numeric, 1) AS p95_ms,
       round(avg(cardinality(ARRAY(SELECT unnest(t.found) INTERSECT SELECT unnest(e.found))) / 10.0)::numeric, 3)
           AS recall_at_10
  FROM timings t
  JOIN timings e ON e.query = t.query AND e.method = 'exact: ' || split_part(t.method, ': ', 2)
 GROUP BY t.method ORDER BY t.method;
