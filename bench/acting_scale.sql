-- How similar_customers, recommend and segment_customers scale with exact search: builds N
-- synthetic stored profiles (random unit interest vectors, orders in 5 of 20 categories) and a
-- catalogue of N items whose stored vectors are random too (so no model time is spent on them),
-- then times each function. Run by bench/acting_scale.sh in a scratch database:
--   bash bench/acting_scale.sh 100000
\set ON_ERROR_STOP on
SET client_min_messages = warning;
DROP SCHEMA IF EXISTS scale CASCADE;
CREATE SCHEMA scale;
SELECT custprofile.unregister_source(kind, relation) FROM custprofile.sources \g /dev/null
TRUNCATE custprofile.profiles, custprofile.refresh_queue, custprofile.catalogue_embeddings, custprofile.segmentation;

-- 10,000 pseudo-random unit vectors (deterministic), shared out by id
CREATE TABLE scale.vectors (id int PRIMARY KEY, v real[]);
INSERT INTO scale.vectors
SELECT seed, array_agg((x / norm)::real ORDER BY i)
  FROM (SELECT seed, i, x, sqrt(sum(x * x) OVER (PARTITION BY seed)) AS norm
          FROM (SELECT seed, i, sin(seed * 12.9898 + i * 78.233) * 43758.5453 - floor(sin(seed * 12.9898 + i * 78.233) * 43758.5453) - 0.5 AS x
                  FROM generate_series(0, 9999) seed, generate_series(1, 384) i) r) n
 GROUP BY seed;

CREATE TABLE scale.customers (customer_id bigint PRIMARY KEY);
INSERT INTO scale.customers SELECT generate_series(1, :n);
CREATE TABLE scale.orders (customer_id bigint, ordered_at timestamptz, total numeric, item text, category text);
INSERT INTO scale.orders SELECT c, now() - (c % 300) * interval '1 day', 20 + c % 50, 'item ' || ((c * 7 + k) % :n + 1), 'category ' || ((c + k) % 20)
  FROM generate_series(1, :n) c, generate_series(1, 3) k;
CREATE INDEX ON scale.orders (customer_id);
CREATE TABLE scale.reviews (customer_id bigint, body text);
CREATE INDEX ON scale.reviews (customer_id);
CREATE TABLE scale.items (item_id text PRIMARY KEY, title text, category text, price numeric);
INSERT INTO scale.items SELECT 'item ' || i, 'Item number ' || i, 'category ' || (i % 20), 10 + i % 90 FROM generate_series(1, :n) i;
SELECT custprofile.register_source('customers', 'scale.customers', '{"key": "customer_id"}') \g /dev/null
SELECT custprofile.register_source('orders', 'scale.orders', '{"customer": "customer_id", "time": "ordered_at", "amount": "total", "item": "item", "category": "category"}') \g /dev/null
SELECT custprofile.register_source('texts', 'scale.reviews', '{"customer": "customer_id", "text": "body"}') \g /dev/null
SELECT custprofile.register_source('items', 'scale.items', '{"key": "item_id", "title": "title", "category": "category", "price": "price"}') \g /dev/null

-- stored profiles shaped as refresh_profiles writes them (the interest vector in the document too)
INSERT INTO custprofile.profiles (customer_key, profile, interest_vector, source_hash)
SELECT c::text,
       jsonb_build_object('customer_id', c,
           'purchases', jsonb_build_object('orders', 3, 'average_spend', 40, 'rfm', jsonb_build_object('recency', 1 + c % 5, 'frequency', 1 + c % 4, 'monetary', 1 + c % 3),
                                           'orders_by_category', jsonb_build_object('category ' || (c % 20), 2, 'category ' || ((c + 3) % 20), 1)),
           'texts', jsonb_build_object('interest_vector', to_jsonb(v))),
       v, 'synthetic'
  FROM generate_series(1, :n) c JOIN scale.vectors x ON x.id = c % 5000;
INSERT INTO custprofile.catalogue_embeddings (kind, key, text_hash, embedding)
SELECT 'items', c.key, custprofile_internal.catalogue_hash(c.document, custprofile.model_version()), x.v
  FROM scale.items i
  CROSS JOIN LATERAL (SELECT i.item_id AS key, concat_ws('. ', i.title, i.category) AS document) c
  JOIN scale.vectors x ON x.id = 5000 + abs(hashtext(i.item_id) % 5000);
ANALYZE custprofile.profiles, custprofile.catalogue_embeddings, scale.items, scale.orders;
SELECT count(*) AS profiles FROM custprofile.profiles;
SELECT count(*) AS items FROM custprofile.catalogue_embeddings;

\timing on
SELECT count(*) AS similar FROM custprofile.similar_customers(42, 10);
SELECT count(*) AS similar FROM custprofile.similar_customers(4242, 10);
SELECT count(*) AS recommended FROM custprofile.recommend(42, 10);
SELECT count(*) AS recommended FROM custprofile.recommend(4242, 10);
SELECT count(*) AS segmented FROM custprofile.segment_customers(8, '{"max_iterations": 20}');
\timing off
