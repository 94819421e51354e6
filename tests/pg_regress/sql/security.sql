-- Trust: who may register sources and as whom they are read, classifier ownership, training
-- that fails honestly, predict under parallel query and read-only transactions, and bad numbers.
-- Roles act through SET SESSION AUTHORIZATION (not SET ROLE), so that session_user is theirs as
-- it would be over a real login.
\set VERBOSITY terse
SET client_min_messages = warning;
SELECT count(custprofile.unregister_source(kind, relation)) >= 0 AS clean FROM custprofile.sources;
DROP SCHEMA IF EXISTS sec CASCADE;
CREATE SCHEMA sec;
CREATE TABLE sec.customers (id int PRIMARY KEY, city text);
INSERT INTO sec.customers VALUES (1, 'Lyon'), (2, 'Porto'), (3, 'Leeds');
CREATE TABLE sec.reviews (customer_id int, body text, stars int);
INSERT INTO sec.reviews VALUES (1, 'Great kettle, boils fast.', 5), (2, 'The parcel arrived broken.', 1),
                               (3, 'Fine, nothing special.', 3);
-- a table only the superuser may read
CREATE TABLE sec.payroll (id int, salary int);
INSERT INTO sec.payroll VALUES (1, 99000);
CREATE TABLE sec.orders (customer_id int, ordered_at timestamptz, total numeric);
CREATE TABLE sec.log (who name, what text);
GRANT INSERT ON sec.log TO PUBLIC;

CREATE ROLE sec_registrar;
CREATE ROLE sec_mallory;
CREATE ROLE sec_analyst_a;
CREATE ROLE sec_analyst_b;
GRANT USAGE ON SCHEMA sec TO sec_registrar, sec_mallory, sec_analyst_a, sec_analyst_b;
GRANT CREATE ON SCHEMA sec TO sec_registrar, sec_mallory;
GRANT SELECT ON sec.customers, sec.reviews TO sec_registrar, sec_mallory;
GRANT SELECT ON sec.reviews TO sec_analyst_a, sec_analyst_b;
GRANT EXECUTE ON FUNCTION custprofile.register_source(text, regclass, jsonb), custprofile.unregister_source(text, text)
   TO sec_registrar;

-- 1. the registry is written only by register_source, and only by roles allowed to call it
SET SESSION AUTHORIZATION sec_mallory;
SELECT try($$INSERT INTO custprofile.source_registry (kind, relid, relation_name, columns)
             VALUES ('customers', 'sec.payroll'::regclass, 'sec.payroll', '{"key": "id", "attributes": ["salary"]}')$$);
SELECT try($$SELECT custprofile.register_source('customers', 'sec.customers', '{"key": "id"}')$$);
-- the writer behind register_source believes no claimed identity that the session cannot act as
SELECT try($$SELECT custprofile_internal.store_registration('customers', 'sec.payroll', '{"key": "id", "attributes": ["salary"]}', 'postgres')$$);
SELECT try($$SELECT custprofile_internal.store_registration('customers', 'sec.customers', '{"key": "id"}', 'sec_mallory')$$);
SELECT try($$SELECT custprofile_internal.drop_registration('customers', 'sec.customers', 'postgres')$$);
RESET SESSION AUTHORIZATION;

SET SESSION AUTHORIZATION sec_registrar;
SELECT try($$UPDATE custprofile.source_registry SET relid = 'sec.payroll'::regclass$$);
-- a table the registrar cannot read, and a view of its own over it
SELECT try($$SELECT custprofile.register_source('customers', 'sec.payroll', '{"key": "id", "attributes": ["salary"]}')$$);
CREATE VIEW sec.payroll_view AS SELECT id, salary FROM sec.payroll;
SELECT try($$SELECT custprofile.register_source('customers', 'sec.payroll_view', '{"key": "id", "attributes": ["salary"]}')$$);
RESET SESSION AUTHORIZATION;
-- read as its registrant, that view shows nothing to a superuser's build either
SELECT try($$SELECT custprofile.build_profile(1)$$);
SELECT registered_by FROM custprofile.sources;

-- 2. code in a source runs as its registrant, even when a superuser (or pg_cron) builds profiles
SET SESSION AUTHORIZATION sec_registrar;
CREATE FUNCTION sec.escalate(int) RETURNS int LANGUAGE plpgsql AS $f$
BEGIN
  BEGIN
    EXECUTE 'ALTER ROLE sec_registrar SUPERUSER';
  EXCEPTION WHEN insufficient_privilege THEN NULL;
  END;
  INSERT INTO sec.log VALUES (current_user, 'escalate');
  RETURN $1;
END $f$;
CREATE VIEW sec.customers_view AS SELECT sec.escalate(id) AS id, city FROM sec.customers;
SELECT custprofile.register_source('customers', 'sec.customers_view', '{"key": "id", "attributes": ["city"]}') ->> 'relation' AS registered;
SELECT custprofile.register_source('texts', 'sec.reviews', '{"customer": "customer_id", "text": "body", "rating": "stars"}') ->> 'relation' AS registered;
RESET SESSION AUTHORIZATION;
SELECT kind, relation, registered_by FROM custprofile.sources;
CALL custprofile.refresh_profiles();
SELECT customer_key, profile -> 'demographics' AS demographics FROM custprofile.profiles ORDER BY 1;
SELECT DISTINCT who FROM sec.log;
SELECT rolsuper FROM pg_roles WHERE rolname = 'sec_registrar';
-- the superuser cannot add a source of its own beside the registrar's: one role reads them all
SELECT try($$SELECT custprofile.register_source('orders', 'sec.orders', '{"customer": "customer_id", "time": "ordered_at", "amount": "total"}')$$);
-- nor can another role that may register replace them
GRANT EXECUTE ON FUNCTION custprofile.register_source(text, regclass, jsonb), custprofile.unregister_source(text, text) TO sec_mallory;
SET SESSION AUTHORIZATION sec_mallory;
SELECT try($$SELECT custprofile.register_source('customers', 'sec.customers', '{"key": "id"}')$$);
SELECT try($$SELECT custprofile.unregister_source('texts', 'sec.reviews')$$);
-- and a role that is not a member of the registrar reads no source through custprofile
SELECT try($$SELECT custprofile.build_profile(2)$$);
SELECT try($$SELECT count(*) FROM custprofile.text_insights$$);
RESET SESSION AUTHORIZATION;
SELECT count(*) AS profiles_kept FROM custprofile.profiles;

-- 3. classifiers: anyone trains their own, nobody replaces or deletes another's
CREATE TABLE sec.train (body text, label text);
INSERT INTO sec.train VALUES ('I love it', 'pos'), ('Wonderful, works great', 'pos'), ('Best purchase this year', 'pos'),
  ('Terrible, it broke', 'neg'), ('Awful service, never again', 'neg'), ('It stopped working after a day', 'neg');
GRANT SELECT ON sec.train TO sec_analyst_a, sec_analyst_b;
SET SESSION AUTHORIZATION sec_analyst_a;
SELECT (custprofile.train_classifier('sec_head', 'SELECT body, label FROM sec.train', '{"validation_share": 0}')) ->> 'rows' AS trained_rows;
SELECT name, owner FROM custprofile.classifiers WHERE name = 'sec_head';
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION sec_analyst_b;
SELECT try($$SELECT custprofile.train_classifier('sec_head', 'SELECT body, label FROM sec.train')$$);
SELECT try($$DELETE FROM custprofile.classifiers WHERE name = 'sec_head'$$);
SELECT try($$UPDATE custprofile.classifiers SET owner = 'sec_analyst_b' WHERE name = 'sec_head'$$);
SELECT try($$INSERT INTO custprofile.classifiers (name, head, metrics, owner) VALUES ('forged', '{}', '{}', 'sec_analyst_a')$$);
SELECT custprofile.predict('sec_head', 'I love this kettle') AS predicted_by_b;
-- the churn weights every profile shares are an administrator's
SELECT try($$SELECT custprofile.train_churn_model('SELECT 1, true')$$);
SELECT try($$SELECT custprofile.reset_churn_model()$$);
RESET SESSION AUTHORIZATION;
SELECT name, owner FROM custprofile.classifiers WHERE name = 'sec_head';

-- 4. training fails honestly: options out of range, empty queries, divergence; nothing stored
SELECT try($$SELECT custprofile.train_classifier('sec_head', 'SELECT body, label FROM sec.train', '{"l2": 1e308}')$$);
SELECT try($$SELECT custprofile.train_classifier('sec_head', 'SELECT body, label FROM sec.train', '{"model": "mlp", "learning_rate": 1e30}')$$);
SELECT try($$SELECT custprofile.train_classifier('sec_head', '')$$);
SELECT try($$SELECT custprofile.train_classifier('sec_head', '   ')$$);
SELECT try($$SELECT custprofile.train_classifier('sec_head', ';')$$);
SELECT try($$SELECT custprofile.train_classifier('sec_diverged',
  'SELECT array_fill(CASE WHEN n % 2 = 0 THEN ''NaN''::real ELSE 1::real END, ARRAY[384]), CASE WHEN n % 2 = 0 THEN ''a'' ELSE ''b'' END FROM generate_series(1, 20) n',
  '{"pooling": "mean", "validation_share": 0}')$$);
SELECT count(*) AS diverged_stored FROM custprofile.classifiers WHERE name = 'sec_diverged';
SELECT owner, custprofile.predict('sec_head', 'Terrible, broke in a week') AS still_predicts
  FROM custprofile.classifiers WHERE name = 'sec_head';

-- 5. predict reads its head without a transaction id: in a parallel plan, and read-only
CREATE TABLE sec.many AS SELECT n, CASE WHEN n % 2 = 0 THEN 'I love it' ELSE 'It broke' END AS body
  FROM generate_series(1, 40) n;
ANALYZE sec.many;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SELECT plan_lines($$SELECT count(*) FROM sec.many WHERE custprofile.predict('sec_head', body) = 'pos'$$);
SELECT count(*) AS positive FROM sec.many WHERE custprofile.predict('sec_head', body) = 'pos';
SELECT count(*) AS scored FROM sec.many WHERE (custprofile.predict_scores('sec_head', body) ->> 'pos')::float8 >= 0;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
BEGIN READ ONLY;
SELECT custprofile.predict('sec_head', 'I love it') AS read_only_predict;
SELECT try($$SELECT custprofile.train_classifier('sec_other', 'SELECT body, label FROM sec.train')$$);
ROLLBACK;

-- 6. numbers at the edges
SELECT try($$SELECT custprofile.cosine_similarity('{{1,2},{3,4}}', '{1,2,3,4}')$$);
-- squares beyond real: normalised in float8 instead of turning NULL
SELECT custprofile.embedding_avg(v) AS near_real_max FROM (VALUES ('{3e38,3e38}'::real[]), ('{3e38,3e38}'::real[])) t(v);
SELECT custprofile.embedding_avg(v) AS large_but_finite FROM (VALUES ('{3e37,1e37}'::real[])) t(v);
SELECT try($$SELECT custprofile.profile_agg(b, r) FROM (VALUES ('Nice', -1e30::real)) t(b, r)$$);
SELECT try($$SELECT custprofile.profile_agg(b, r) FROM (VALUES ('Nice', 3.4e38::real)) t(b, r)$$);
SELECT try($$SELECT custprofile.profile_agg(b, 5, w) FROM (VALUES ('Nice', 'infinity'::timestamptz)) t(b, w)$$);
SELECT try($$SELECT custprofile.profile_agg(b, 5, w) FROM (VALUES ('Nice', '-infinity'::timestamptz)) t(b, w)$$);
-- aspect_sentiment scores the first 128 clauses of a text, so megabytes cannot take minutes
SELECT custprofile.aspect_sentiment(repeat('The box is blue. ', 127) || 'The delivery was awful.', '{delivery}') ? 'delivery' AS within_limit,
       custprofile.aspect_sentiment(repeat('The box is blue. ', 128) || 'The delivery was awful.', '{delivery}') ? 'delivery' AS beyond_limit;

-- the aggregates' support functions are not executable by PUBLIC; the aggregates still work for
-- everyone (PostgreSQL checks the aggregate owner's right to call them), parallel, partial and
-- merged states included
RESET SESSION AUTHORIZATION;
SELECT count(*) AS support_functions,
       count(*) FILTER (WHERE has_function_privilege('sec_mallory', s.oid, 'EXECUTE')) AS executable_by_others
  FROM (SELECT DISTINCT s.oid FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
          JOIN pg_proc s ON s.oid IN (a.aggtransfn, a.aggfinalfn, a.aggcombinefn, a.aggserialfn, a.aggdeserialfn)
         WHERE p.pronamespace = 'custprofile'::regnamespace) s;
SET SESSION AUTHORIZATION sec_mallory;
SELECT custprofile.profile_agg(b) IS NOT NULL AS profile_agg,
       array_length(custprofile.embedding_avg(custprofile.embed_text(b)), 1) AS embedding_avg
  FROM (VALUES ('Great kettle.'), ('The parcel arrived broken.')) t(b);
SELECT custprofile.profile_agg_merge(s) IS NOT NULL AS merged
  FROM (SELECT custprofile.profile_agg_partial(b) AS s FROM (VALUES ('Great kettle.'), ('Late parcel.')) t(b) GROUP BY b) p;
SELECT try($$SELECT custprofile_internal.embedding_avg_final('{1, 2}'::float8[])$$);
RESET SESSION AUTHORIZATION;

-- clean up
SELECT count(custprofile.unregister_source(kind, relation)) AS unregistered FROM custprofile.sources;
DELETE FROM custprofile.profiles;
DELETE FROM custprofile.classifiers WHERE name LIKE 'sec\_%';
DROP SCHEMA sec CASCADE;
REVOKE ALL ON SCHEMA custprofile FROM sec_registrar, sec_mallory, sec_analyst_a, sec_analyst_b;
REVOKE ALL ON ALL TABLES IN SCHEMA custprofile FROM sec_registrar, sec_mallory, sec_analyst_a, sec_analyst_b;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA custprofile FROM sec_registrar, sec_mallory, sec_analyst_a, sec_analyst_b;
DROP ROLE sec_registrar, sec_mallory, sec_analyst_a, sec_analyst_b;
