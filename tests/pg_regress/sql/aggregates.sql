-- embedding_avg: the normalised mean of embeddings, the same with and without parallel workers
-- and across partitions
CREATE TABLE emb (id int, grp int, v real[]);
INSERT INTO emb SELECT g, g % 3, ARRAY(SELECT sin(g * k + grp)::real FROM generate_series(1, 8) k, (SELECT g % 3 AS grp) s)
  FROM generate_series(1, 6000) g;
INSERT INTO emb VALUES (6001, 0, NULL);
ANALYZE emb;

-- against the definition computed in SQL
CREATE TEMP TABLE expected AS
WITH means AS (SELECT grp, k, avg(v[k]::float8) AS m FROM emb, generate_series(1, 8) k
                WHERE v IS NOT NULL GROUP BY grp, k),
     norms AS (SELECT grp, sqrt(sum(m * m)) AS n FROM means GROUP BY grp)
SELECT grp, array_agg((m / n)::real ORDER BY k) AS v FROM means JOIN norms USING (grp) GROUP BY grp;

SET max_parallel_workers_per_gather = 0;
CREATE TABLE emb_serial AS SELECT grp, custprofile.embedding_avg(v) AS v FROM emb GROUP BY grp;
SELECT s.grp, (SELECT max(abs(a - b)) FROM unnest(s.v, x.v) AS u(a, b)) <= 1e-6 AS matches_definition
  FROM emb_serial s JOIN expected x USING (grp) ORDER BY grp;

SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET parallel_leader_participation = off;
-- the plan runs two workers, each with a partial aggregate that the leader combines
SELECT * FROM public.plan_lines('CREATE TABLE emb_parallel AS SELECT grp, custprofile.embedding_avg(v) AS v FROM emb GROUP BY grp');
SELECT p.grp, (SELECT max(abs(a - b)) FROM unnest(p.v, s.v) AS u(a, b)) <= 1e-5 AS same_as_serial
  FROM emb_parallel p JOIN emb_serial s USING (grp) ORDER BY grp;
RESET ALL;

-- a partitioned table, aggregated partition by partition
CREATE TABLE emb_part (id int, grp int, v real[]) PARTITION BY RANGE (id);
CREATE TABLE emb_part_1 PARTITION OF emb_part FOR VALUES FROM (0) TO (3000);
CREATE TABLE emb_part_2 PARTITION OF emb_part FOR VALUES FROM (3000) TO (10000);
INSERT INTO emb_part SELECT * FROM emb;
SET enable_partitionwise_aggregate = on;
SELECT p.grp, (SELECT max(abs(a - b)) FROM unnest(p.v, s.v) AS u(a, b)) <= 1e-5 AS same_as_serial
  FROM (SELECT grp, custprofile.embedding_avg(v) AS v FROM emb_part GROUP BY grp) p JOIN emb_serial s USING (grp) ORDER BY grp;
RESET enable_partitionwise_aggregate;

-- one real embedding averages to itself; NULLs are skipped; no rows give NULL
SELECT custprofile.cosine_similarity(custprofile.embedding_avg(e), custprofile.embed_text('a quiet kettle')) > 0.9999 AS itself
  FROM (VALUES (custprofile.embed_text('a quiet kettle')), (NULL)) AS t(e);
SELECT custprofile.embedding_avg(v) IS NULL AS no_rows FROM emb WHERE false;
SELECT try($$SELECT custprofile.embedding_avg(v) FROM (VALUES ('{1,2}'::real[]), ('{1,2,3}')) t(v)$$);
SELECT try($$SELECT custprofile.embedding_avg(v) FROM (VALUES ('{1,NULL}'::real[])) t(v)$$);
DROP TABLE emb, emb_part, emb_serial, emb_parallel;
