-- A shop keyed by uuid whose data ended in 2018: the views give the key in its own type, a key
-- that is not a uuid is one clear ERROR, and recency and churn are judged as of the data's end.
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE SCHEMA uuid_shop;
CREATE TABLE uuid_shop.customers (id uuid PRIMARY KEY, name text);
CREATE TABLE uuid_shop.orders (id serial, customer uuid, at timestamptz, total numeric);
CREATE TABLE uuid_shop.reviews (id serial, customer uuid, body text, at timestamptz);
INSERT INTO uuid_shop.customers VALUES
  ('a0000000-0000-0000-0000-000000000001', 'regular'),
  ('a0000000-0000-0000-0000-000000000002', 'gone quiet'),
  ('a0000000-0000-0000-0000-000000000003', 'never ordered');
-- the regular orders every month until the data ends (June 2018); the other stopped in 2017
INSERT INTO uuid_shop.orders (customer, at, total)
SELECT uuid 'a0000000-0000-0000-0000-000000000001', timestamptz '2018-06-30 10:00+00' - make_interval(months => m), 40 FROM generate_series(0, 11) m
UNION ALL
SELECT uuid 'a0000000-0000-0000-0000-000000000002', timestamptz '2017-06-30 10:00+00' - make_interval(months => m), 40 FROM generate_series(0, 11) m;
INSERT INTO uuid_shop.reviews (customer, body, at) VALUES
  ('a0000000-0000-0000-0000-000000000001', 'Great kettle and fast delivery.', '2018-06-01 12:00+00'),
  ('a0000000-0000-0000-0000-000000000002', 'The tent leaked on the first night.', '2017-06-01 12:00+00'),
  ('a0000000-0000-0000-0000-000000000003', '   ', '2018-05-01 12:00+00'),
  ('a0000000-0000-0000-0000-000000000003', 'Lovely shop.', '2018-06-10 12:00+00');
CREATE TABLE uuid_shop.items (sku text, name text);
INSERT INTO uuid_shop.items VALUES ('k1', 'electric kettle'), ('t1', 'two person tent');
SELECT custprofile.register_source('customers', 'uuid_shop.customers', '{"key": "id"}') IS NOT NULL AS customers,
       custprofile.register_source('orders', 'uuid_shop.orders', '{"customer": "customer", "time": "at", "amount": "total"}') IS NOT NULL AS orders,
       custprofile.register_source('texts', 'uuid_shop.reviews', '{"customer": "customer", "text": "body", "time": "at"}') IS NOT NULL AS texts,
       custprofile.register_source('items', 'uuid_shop.items', '{"key": "sku", "title": "name"}') IS NOT NULL AS items;
CALL custprofile.refresh_profiles();

-- the key as uuid beside its text form: the user's table joins without a cast
SELECT c.name, p.customer_bigint, p.recency_score, p.frequency_score, p.monetary_score, p.total_spend,
       round(p.churn_risk::numeric, 2) AS churn_risk
  FROM uuid_shop.customers c JOIN custprofile.customer_profiles p ON p.customer_uuid = c.id ORDER BY c.name;
SELECT count(*) AS texts, count(customer_uuid) AS with_uuid FROM custprofile.text_insights;
SELECT pg_typeof(customer_uuid) AS uuid_column, pg_typeof(customer_bigint) AS bigint_column
  FROM custprofile.customer_profiles LIMIT 1;

-- as of the data's end (2018-06-30), not today: the regular is at low risk, recency counts only
-- for the one who went quiet a year before the end
SET TimeZone = 'UTC';
SELECT custprofile.as_of() AS as_of;
RESET TimeZone;
SELECT c.name, (p.profile #>> '{churn,factors,recency}')::float8 AS recency_factor,
       (p.profile #>> '{purchases,recency_days}')::int AS recency_days
  FROM uuid_shop.customers c JOIN custprofile.profiles p ON p.customer_key = c.id::text ORDER BY c.name;
-- as of today every customer would be long gone
SELECT count(*) FILTER (WHERE custprofile.churn_risk(customer_key, now()) > custprofile.churn_risk(customer_key)) AS riskier_today
  FROM custprofile.profiles;

-- a key that is not a uuid: one line that says so, no internal SQL
\set VERBOSITY default
SELECT custprofile.build_profile('not-a-uuid');
\set VERBOSITY terse
SELECT try($$SELECT * FROM custprofile.recommend('not-a-uuid')$$);
SELECT count(*) > 0 AS recommends FROM custprofile.recommend('a0000000-0000-0000-0000-000000000001'::uuid);
SELECT custprofile.churn_risk('not-a-uuid') AS unknown_is_null;
SELECT custprofile.build_profile('a0000000-0000-0000-0000-000000000001'::uuid) ->> 'customer_id' AS by_uuid;

-- blank texts are skipped by the profiles and reported by check_sources
SELECT kind, check_name, rows FROM custprofile.check_sources() WHERE rows <> 0;
SELECT profile #> '{texts,skipped}' AS skipped FROM custprofile.profiles WHERE customer_key = 'a0000000-0000-0000-0000-000000000003';

SELECT count(custprofile.unregister_source(kind, relation)) AS unregistered FROM custprofile.sources;
TRUNCATE custprofile.profiles, custprofile.refresh_queue, custprofile.catalogue_embeddings;
DROP SCHEMA uuid_shop CASCADE;
