-- profile_agg: the text part of a profile, the same (to 1e-5) serially, with parallel workers
-- and partition by partition
CREATE TABLE texts (id int, customer int, body text, rating real, written_at timestamptz);
INSERT INTO texts
SELECT g, g % 4,
       format('%s %s %s.', (ARRAY['The kettle', 'My order', 'The courier', 'Support', 'This lamp', 'The refund'])[1 + g % 6],
              (ARRAY['was wonderful and', 'arrived broken and', 'worked fine and', 'was late and', 'is lovely and'])[1 + g % 5],
              (ARRAY['I would buy again', 'I want my money back', 'nothing else to say', 'the price was fair'])[1 + g % 4]),
       1 + g % 5,
       timestamptz '2026-01-01 00:00+00' + make_interval(days => g)
  FROM generate_series(1, 240) g;
INSERT INTO texts VALUES (241, 0, NULL, 5, NULL), (242, 0, '   ', NULL, NULL);
ANALYZE texts;

-- the fields one customer's document has
SELECT jsonb_object_keys(custprofile.profile_agg(body, rating, written_at)) AS key FROM texts WHERE customer = 0 ORDER BY 1;
SELECT p -> 'texts' AS texts, p -> 'skipped' AS skipped, jsonb_array_length(p -> 'interest_vector') AS dims,
       p -> 'first_seen' AS first_seen, p -> 'model' AS model
  FROM (SELECT custprofile.profile_agg(body, rating, written_at) AS p FROM texts WHERE customer = 0) s;

-- the statistics are those of sentiment() over the same texts
WITH per_text AS (SELECT customer, custprofile.sentiment(body) AS s FROM texts WHERE body ~ '\S'),
stats AS (SELECT customer, avg(s) AS mean, min(s) AS lo, max(s) AS hi FROM per_text GROUP BY customer),
agg AS (SELECT customer, custprofile.profile_agg(body, rating, written_at) AS p FROM texts GROUP BY customer)
SELECT customer,
       abs((p #>> '{sentiment,mean}')::float8 - mean) < 1e-5 AS mean_ok,
       abs((p #>> '{sentiment,min}')::float8 - lo) < 1e-5 AS min_ok,
       abs((p #>> '{sentiment,max}')::float8 - hi) < 1e-5 AS max_ok
  FROM stats JOIN agg USING (customer) ORDER BY customer;

-- the interest vector is the normalised mean of embed_text
SELECT custprofile.cosine_similarity(
         (SELECT array_agg(v::real) FROM jsonb_array_elements_text(
            (SELECT custprofile.profile_agg(body) FROM texts WHERE customer = 1) -> 'interest_vector') v),
         (SELECT custprofile.embedding_avg(custprofile.embed_text(body)) FROM texts WHERE customer = 1)) > 0.99999 AS vector_ok;

-- one, two and three arguments; no rows gives NULL
SELECT (custprofile.profile_agg(body) -> 'rating') IS NULL AS no_rating,
       (custprofile.profile_agg(body, rating) #>> '{rating,count}')::int AS rated
  FROM texts WHERE customer = 2;
SELECT custprofile.profile_agg(body) IS NULL AS no_rows FROM texts WHERE false;
-- a trend over time: a customer whose texts turn sour. Four texts are thin evidence: the slope
-- the churn factor reads is shrunk toward 0, the least-squares one is kept beside it
SELECT p #>> '{sentiment,trend,direction}' AS direction,
       (p #>> '{sentiment,trend,raw_slope_per_month}')::float8 < -0.5 AS raw_falls_fast,
       (p #>> '{sentiment,trend,slope_per_month}')::float8 BETWEEN (p #>> '{sentiment,trend,raw_slope_per_month}')::float8 AND -0.02 AS shrunk,
       (p #>> '{sentiment,trend,standard_error}')::float8 > 0 AS has_error,
       round((p #>> '{sentiment,trend,span_days}')::numeric) AS span_days
  FROM (SELECT custprofile.profile_agg(body, NULL, t) AS p
          FROM (VALUES ('Wonderful service, I love this shop.', timestamptz '2026-01-01'),
                       ('Good as always.', '2026-02-01'),
                       ('Late again and nobody answers my emails.', '2026-03-01'),
                       ('Terrible. The worst shop I have ever used.', '2026-04-01')) v(body, t)) s;
-- the same texts written over three days tell no trend (they would make a slope of +-20 a month)
SELECT p #> '{sentiment,trend}' AS trend
  FROM (SELECT custprofile.profile_agg(body, NULL, t) AS p
          FROM (VALUES ('Wonderful service, I love this shop.', timestamptz '2026-01-01'),
                       ('Good as always.', '2026-01-02'),
                       ('Late again and nobody answers my emails.', '2026-01-03'),
                       ('Terrible. The worst shop I have ever used.', '2026-01-04')) v(body, t)) s;
SELECT try($$SELECT custprofile.profile_agg(body, 'NaN'::real) FROM texts$$);

-- serial, parallel and partitioned plans give the same documents
CREATE FUNCTION pg_temp.same(a jsonb, b jsonb) RETURNS boolean LANGUAGE sql AS $$
  SELECT (a - 'interest_vector' - 'sentiment' - 'rating') = (b - 'interest_vector' - 'sentiment' - 'rating')
     AND (SELECT bool_and(abs(x::float8 - y::float8) <= 1e-5)
            FROM jsonb_each_text(jsonb_strip_nulls(a -> 'sentiment') - 'distribution' - 'trend') ea(k, x)
            JOIN jsonb_each_text(jsonb_strip_nulls(b -> 'sentiment') - 'distribution' - 'trend') eb(k, y) USING (k))
     AND a #> '{sentiment,distribution}' = b #> '{sentiment,distribution}'
     AND abs((a #>> '{sentiment,trend,slope_per_month}')::float8 - (b #>> '{sentiment,trend,slope_per_month}')::float8) <= 1e-5
     AND abs((a #>> '{rating,disagreement}')::float8 - (b #>> '{rating,disagreement}')::float8) <= 1e-5
     AND (SELECT max(abs(x::float8 - y::float8)) FROM jsonb_array_elements_text(a -> 'interest_vector') WITH ORDINALITY ea(x, i)
            JOIN jsonb_array_elements_text(b -> 'interest_vector') WITH ORDINALITY eb(y, i) USING (i)) <= 1e-5
$$;
SET max_parallel_workers_per_gather = 0;
CREATE TABLE serial AS SELECT customer, custprofile.profile_agg(body, rating, written_at) AS p FROM texts GROUP BY customer;

SET max_parallel_workers_per_gather = 2;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET parallel_leader_participation = off;
SELECT * FROM public.plan_lines('CREATE TABLE parallel AS SELECT customer, custprofile.profile_agg(body, rating, written_at) AS p FROM texts GROUP BY customer');
SELECT customer, pg_temp.same(s.p, x.p) AS same_as_serial FROM serial s JOIN parallel x USING (customer) ORDER BY customer;
-- and with hashed partial aggregation, where workers score the texts while they read them
SET enable_sort = off;
SELECT * FROM public.plan_lines('CREATE TABLE parallel_hash AS SELECT customer, custprofile.profile_agg(body, rating, written_at) AS p FROM texts GROUP BY customer');
SELECT customer, pg_temp.same(s.p, x.p) AS same_as_serial FROM serial s JOIN parallel_hash x USING (customer) ORDER BY customer;
RESET ALL;

CREATE TABLE texts_part (LIKE texts) PARTITION BY RANGE (id);
CREATE TABLE texts_part_1 PARTITION OF texts_part FOR VALUES FROM (0) TO (100);
CREATE TABLE texts_part_2 PARTITION OF texts_part FOR VALUES FROM (100) TO (1000);
INSERT INTO texts_part SELECT * FROM texts;
ANALYZE texts_part;
SET enable_partitionwise_aggregate = on;
SET max_parallel_workers_per_gather = 0;
SELECT * FROM public.plan_lines('SELECT custprofile.profile_agg(body, rating, written_at) FROM texts_part');
SELECT pg_temp.same((SELECT custprofile.profile_agg(body, rating, written_at) FROM texts_part),
                    (SELECT custprofile.profile_agg(body, rating, written_at) FROM texts)) AS partitions_same_as_serial;
RESET ALL;

-- small batches give the same result as large ones
SET custprofile.batch_size = 1;
SELECT customer, pg_temp.same(s.p, x.p) AS small_batches_same
  FROM serial s JOIN (SELECT customer, custprofile.profile_agg(body, rating, written_at) AS p FROM texts GROUP BY customer) x USING (customer)
 ORDER BY customer;
-- and under hash aggregation, where a batch takes the pending texts of every group at once
SET enable_sort = off;
CREATE FUNCTION pg_temp.plan_has(q text, node text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE l text;
BEGIN
  FOR l IN EXECUTE 'EXPLAIN (COSTS OFF) ' || q LOOP
    IF l LIKE '%' || node || '%' THEN RETURN true; END IF;
  END LOOP;
  RETURN false;
END $$;
SELECT pg_temp.plan_has('SELECT customer, custprofile.profile_agg(body, rating, written_at) FROM texts GROUP BY customer', 'HashAggregate') AS hashed;
SELECT customer, pg_temp.same(s.p, x.p) AS cross_group_batches_same
  FROM serial s JOIN (SELECT customer, custprofile.profile_agg(body, rating, written_at) AS p FROM texts GROUP BY customer) x USING (customer)
 ORDER BY customer;
RESET enable_sort;
RESET custprofile.batch_size;

-- in two steps: partial states (per customer and day here, as Citus workers would make them
-- per shard) merged per customer give the same documents
SELECT customer, pg_temp.same(s.p, m.p) AS merged_same_as_serial
  FROM serial s
  JOIN (SELECT customer, custprofile.profile_agg_merge(partial_state) AS p
          FROM (SELECT customer, written_at::date, custprofile.profile_agg_partial(body, rating, written_at) AS partial_state
                  FROM texts GROUP BY 1, 2) d
         GROUP BY customer) m USING (customer)
 ORDER BY customer;
-- NULL partial states are skipped, none gives NULL; bytes that are not a partial state, or one
-- from another encoder, are refused
SELECT custprofile.profile_agg_merge(x) IS NULL AS no_states FROM (VALUES (NULL::bytea)) v(x);
SELECT try($$SELECT custprofile.profile_agg_merge(x) FROM (VALUES ('\x00'::bytea)) v(x)$$);
SELECT try($$SELECT custprofile.profile_agg_merge(convert_to((convert_from(s, 'UTF8')::jsonb || '{"vector_space": "other@0"}')::text, 'UTF8'))
               FROM (SELECT custprofile.profile_agg_partial(body) AS s FROM texts) p$$)
       ~ '^22023: a partial state scored by encoder other@0 cannot be merged under encoder ' AS other_encoder_refused;

-- the support functions are not callable on their own: a NULL for their internal argument is
-- refused: 0A000 on earlier minor releases, 42883 on 15.20 (the call no longer resolves)
SELECT try($$SELECT custprofile_internal.profile_agg_final(NULL)$$) ~ '^(0A000: cannot accept a value of type internal|42883: function custprofile_internal.profile_agg_final\(unknown\) does not exist)$' AS refused;
DROP TABLE texts, texts_part, serial, parallel, parallel_hash;
