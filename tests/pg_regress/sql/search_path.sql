-- A superuser whose search_path puts a schema that others can write before pg_catalog runs every
-- entry point; functions and operators planted there, with the signatures the extension's SQL
-- uses, must never run. Every SQL and PL/pgSQL function pins its own search_path.
\set VERBOSITY terse
SET client_min_messages = warning;
SELECT count(custprofile.unregister_source(kind, relation)) >= 0 AS clean FROM custprofile.sources;
DELETE FROM custprofile.profiles;
DROP SCHEMA IF EXISTS hj CASCADE;
CREATE SCHEMA hj;
CREATE TABLE hj.customers (id int PRIMARY KEY, city text);
INSERT INTO hj.customers VALUES (1, 'Lyon'), (2, 'Porto'), (3, 'Leeds');
CREATE TABLE hj.orders (customer_id int, ordered_at timestamptz, total numeric, item text, category text);
INSERT INTO hj.orders VALUES (1, '2026-10-01', 20, 'k1', 'kitchen'), (1, '2026-10-20', 35, 'k2', 'kitchen'),
                             (2, '2026-09-01', 12, 'b1', 'books'), (3, '2026-08-15', 80, 'k1', 'kitchen');
CREATE TABLE hj.reviews (customer_id int, body text, stars int, written_at timestamptz, item text);
INSERT INTO hj.reviews VALUES (1, 'Great kettle, boils fast.', 5, '2026-10-05', 'k1'),
                              (2, 'The parcel arrived late and broken.', 1, '2026-09-10', 'b1'),
                              (3, 'Fine, nothing special.', 3, '2026-08-20', 'k1');
CREATE TABLE hj.items (item_id text, title text, category text, price numeric);
INSERT INTO hj.items VALUES ('k1', 'Electric kettle', 'kitchen', 30), ('k2', 'Teapot', 'kitchen', 25), ('b1', 'Cookbook', 'books', 15);
CREATE TABLE hj.answers (id text, question text, answer text);
INSERT INTO hj.answers VALUES ('a1', 'Where is my parcel?', 'Track it under My orders.'),
                              ('a2', 'How do I return an item?', 'Use the returns form.');
CREATE TABLE hj.train (body text, label text);
INSERT INTO hj.train VALUES ('I love it', 'pos'), ('Works great', 'pos'), ('Terrible, it broke', 'neg'), ('Awful', 'neg');

-- the planted functions and operators: each logs that it ran, then does what the real one does
CREATE TABLE public.hijack_log (fn text);
CREATE FUNCTION public.hijacked(fn text) RETURNS boolean LANGUAGE sql AS
  'INSERT INTO public.hijack_log VALUES (fn) RETURNING true';
DO $plant$
DECLARE
  f record;
BEGIN
  -- name, argument types, result, the real call
  FOR f IN SELECT * FROM (VALUES
    ('format', 'text, text', 'text', 'pg_catalog.format($1, $2)'),
    ('format', 'text, text, text', 'text', 'pg_catalog.format($1, $2, $3)'),
    ('format', 'text, text, text, text', 'text', 'pg_catalog.format($1, $2, $3, $4)'),
    ('format', 'text, regclass', 'text', 'pg_catalog.format($1, $2)'),
    ('cardinality', 'anyarray', 'int', 'pg_catalog.cardinality($1)'),
    ('to_jsonb', 'anyelement', 'jsonb', 'pg_catalog.to_jsonb($1)'),
    ('array_position', 'anycompatiblearray, anycompatible', 'int', 'pg_catalog.array_position($1, $2)'),
    ('has_table_privilege', 'regclass, text', 'boolean', 'pg_catalog.has_table_privilege($1, $2)'),
    ('has_table_privilege', 'name, regclass, text', 'boolean', 'pg_catalog.has_table_privilege($1, $2, $3)'),
    ('pg_has_role', 'name, text', 'boolean', 'pg_catalog.pg_has_role($1, $2)'),
    ('pg_has_role', 'name, name, text', 'boolean', 'pg_catalog.pg_has_role($1, $2, $3)'),
    ('now', '', 'timestamptz', 'pg_catalog.now()'),
    ('clock_timestamp', '', 'timestamptz', 'pg_catalog.clock_timestamp()'),
    ('set_config', 'text, text, boolean', 'text', 'pg_catalog.set_config($1, $2, $3)'),
    ('current_setting', 'text', 'text', 'pg_catalog.current_setting($1)'),
    ('jsonb_build_object', 'text, text', 'jsonb', 'pg_catalog.jsonb_build_object($1, $2)'),
    ('jsonb_typeof', 'jsonb', 'text', 'pg_catalog.jsonb_typeof($1)'),
    ('jsonb_array_length', 'jsonb', 'int', 'pg_catalog.jsonb_array_length($1)'),
    ('btrim', 'text', 'text', 'pg_catalog.btrim($1)'),
    ('md5', 'text', 'text', 'pg_catalog.md5($1)'),
    ('hashtext', 'text', 'int', 'pg_catalog.hashtext($1)'),
    ('hashtextextended', 'text, bigint', 'bigint', 'pg_catalog.hashtextextended($1, $2)'),
    ('concat_ws', 'text, text, text', 'text', 'pg_catalog.concat_ws($1, $2, $3)'),
    ('round', 'numeric, int', 'numeric', 'pg_catalog.round($1, $2)'),
    ('exp', 'float8', 'float8', 'pg_catalog.exp($1)'),
    ('array_to_string', 'anyarray, text', 'text', 'pg_catalog.array_to_string($1, $2)'),
    ('quote_literal', 'text', 'text', 'pg_catalog.quote_literal($1)'),
    ('strpos', 'text, text', 'int', 'pg_catalog.strpos($1, $2)'),
    ('to_regclass', 'text', 'regclass', 'pg_catalog.to_regclass($1)'),
    ('pg_advisory_xact_lock', 'bigint', 'void', 'pg_catalog.pg_advisory_xact_lock($1)'),
    ('jsonb_set', 'jsonb, text[], jsonb', 'jsonb', 'pg_catalog.jsonb_set($1, $2, $3)')
  ) AS v(name, args, result, body) LOOP
    EXECUTE pg_catalog.format('CREATE FUNCTION public.%I(%s) RETURNS %s LANGUAGE plpgsql AS %L',
      f.name, f.args, f.result,
      pg_catalog.format('BEGIN PERFORM public.hijacked(%L); RETURN %s; END', f.name || '(' || f.args || ')',
                        CASE WHEN f.result = 'void' THEN 'NULL' ELSE f.body END));
  END LOOP;
END $plant$;
CREATE FUNCTION public.eq_text(text, text) RETURNS boolean LANGUAGE sql AS
  'SELECT public.hijacked(''=(text,text)'') AND $1 OPERATOR(pg_catalog.=) $2';
CREATE OPERATOR public.= (LEFTARG = text, RIGHTARG = text, FUNCTION = public.eq_text);
CREATE FUNCTION public.ne_text(text, text) RETURNS boolean LANGUAGE sql AS
  'SELECT public.hijacked(''<>(text,text)'') AND $1 OPERATOR(pg_catalog.<>) $2';
CREATE OPERATOR public.<> (LEFTARG = text, RIGHTARG = text, FUNCTION = public.ne_text);
CREATE FUNCTION public.eq_oid_regclass(oid, regclass) RETURNS boolean LANGUAGE sql AS
  'SELECT public.hijacked(''=(oid,regclass)'') AND $1 OPERATOR(pg_catalog.=) $2::oid';
CREATE OPERATOR public.= (LEFTARG = oid, RIGHTARG = regclass, FUNCTION = public.eq_oid_regclass);
CREATE FUNCTION public.concat_text(text, text) RETURNS text LANGUAGE sql AS
  'SELECT CASE WHEN public.hijacked(''||(text,text)'') THEN $1 OPERATOR(pg_catalog.||) $2 END';
CREATE OPERATOR public.|| (LEFTARG = text, RIGHTARG = text, FUNCTION = public.concat_text);
CREATE FUNCTION public.field_text(jsonb, text) RETURNS text LANGUAGE sql AS
  'SELECT CASE WHEN public.hijacked(''->>(jsonb,text)'') THEN $1 OPERATOR(pg_catalog.->>) $2 END';
CREATE OPERATOR public.->> (LEFTARG = jsonb, RIGHTARG = text, FUNCTION = public.field_text);
CREATE FUNCTION public.field_json(jsonb, text) RETURNS jsonb LANGUAGE sql AS
  'SELECT CASE WHEN public.hijacked(''->(jsonb,text)'') THEN $1 OPERATOR(pg_catalog.->) $2 END';
CREATE OPERATOR public.-> (LEFTARG = jsonb, RIGHTARG = text, FUNCTION = public.field_json);
CREATE FUNCTION public.path_text(jsonb, text[]) RETURNS text LANGUAGE sql AS
  'SELECT CASE WHEN public.hijacked(''#>>(jsonb,text[])'') THEN $1 OPERATOR(pg_catalog.#>>) $2 END';
CREATE OPERATOR public.#>> (LEFTARG = jsonb, RIGHTARG = text[], FUNCTION = public.path_text);
CREATE FUNCTION public.has_key(jsonb, text) RETURNS boolean LANGUAGE sql AS
  'SELECT public.hijacked(''?(jsonb,text)'') AND $1 OPERATOR(pg_catalog.?) $2';
CREATE OPERATOR public.? (LEFTARG = jsonb, RIGHTARG = text, FUNCTION = public.has_key);
SELECT count(*) AS planted FROM pg_proc WHERE pronamespace = 'public'::regnamespace;

-- the control: with this search_path the plants do catch unqualified calls
SET search_path = public, pg_catalog;
SELECT format('%s-%s', 'a', 'b') AS control, '{"a": 1}'::jsonb ->> 'a' AS control_operator;
RESET search_path;
SELECT fn FROM public.hijack_log ORDER BY fn;
TRUNCATE public.hijack_log;

-- every entry point, as the superuser, with the hostile search_path
SET search_path = public, pg_catalog;
SELECT custprofile.register_source('customers', 'hj.customers', '{"key": "id", "attributes": ["city"]}') IS NOT NULL AS registered;
SELECT custprofile.register_source('orders', 'hj.orders', '{"customer": "customer_id", "time": "ordered_at", "amount": "total", "item": "item", "category": "category"}') IS NOT NULL AS registered;
SELECT custprofile.register_source('texts', 'hj.reviews', '{"customer": "customer_id", "text": "body", "rating": "stars", "time": "written_at", "item": "item"}') IS NOT NULL AS registered;
SELECT custprofile.register_source('items', 'hj.items', '{"key": "item_id", "title": "title", "category": "category", "price": "price"}') IS NOT NULL AS registered;
SELECT custprofile.register_source('answers', 'hj.answers', '{"key": "id", "question": "question", "answer": "answer"}') IS NOT NULL AS registered;
SELECT count(*) AS checks FROM custprofile.check_sources();
SELECT custprofile.build_profile(1) IS NOT NULL AS built;
SELECT custprofile.rfm_breakpoints() IS NOT NULL AS breakpoints;
CALL custprofile.refresh_profiles();
CALL custprofile.refresh_profiles(full_rebuild => true);
SELECT count(*) AS rows FROM custprofile.customer_profiles;
SELECT count(*) AS rows FROM custprofile.text_insights;
SELECT count(*) AS rows FROM custprofile.similar_customers(1, 5);
SELECT count(*) AS rows FROM custprofile.recommend(2, 5);
SELECT count(*) AS rows FROM custprofile.suggest_replies('Where is my parcel?', 2, 0.0);
SELECT count(*) AS rows FROM custprofile.segment_customers(2);
SELECT count(*) AS rows FROM custprofile.segments;
SELECT custprofile.churn_risk(1) IS NOT NULL AS churn;
SELECT custprofile.train_churn_model('SELECT id, id = 2 FROM hj.customers') IS NOT NULL AS churn_trained;
SELECT custprofile.rescore_churn() AS rescored;
SELECT count(*) AS reset FROM (SELECT custprofile.reset_churn_model()) r;
SELECT custprofile.train_classifier('hj_head', 'SELECT body, label FROM hj.train', '{"validation_share": 0}') IS NOT NULL AS trained;
SELECT custprofile.predict('hj_head', 'I love this') AS predicted, custprofile.predict_scores('hj_head', 'I love this') IS NOT NULL AS scored;
SELECT count(*) AS models FROM custprofile.models;
SELECT custprofile.unregister_source('answers', 'hj.answers') AS unregistered;
RESET search_path;
SELECT fn, count(*) FROM public.hijack_log GROUP BY fn ORDER BY fn;

-- what pins it: every SQL and PL/pgSQL function of the extension has its search_path set, but
-- the few that cannot (a procedure that commits; functions that run the caller's own query
-- with the caller's search_path, or switch roles for the caller), which pin it themselves, and
-- profile_row (the document's reader) and key_as_uuid and key_as_bigint (the views' typed keys),
-- which the planner inlines only without a SET clause and whose bodies name everything with
-- their schema
SELECT p.oid::regprocedure AS without_set_clause
  FROM pg_proc p JOIN pg_depend d ON d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e'
  JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'custprofile'
  JOIN pg_language l ON l.oid = p.prolang AND l.lanname IN ('sql', 'plpgsql')
 WHERE NOT EXISTS (SELECT FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%')
 ORDER BY p.oid::regprocedure::text;

-- clean up
SELECT count(custprofile.unregister_source(kind, relation)) AS unregistered FROM custprofile.sources;
DELETE FROM custprofile.profiles;
DELETE FROM custprofile.classifiers WHERE name = 'hj_head';
DROP SCHEMA hj CASCADE;
DROP TABLE public.hijack_log CASCADE;
DO $unplant$
DECLARE
  f regprocedure;
BEGIN
  FOR f IN SELECT p.oid::regprocedure FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
            AND p.proname NOT IN ('try', 'plan_lines') LOOP
    EXECUTE pg_catalog.format('DROP FUNCTION %s CASCADE', f);
  END LOOP;
END $unplant$;
