-- A bounded fuzz run over every public function: a few thousand generated inputs (NULL, empty,
-- whitespace, control characters, scripts beyond Latin, long and huge texts, malformed JSON,
-- arrays of the wrong shape, extreme numbers), from a fixed seed. Each call may fail with a
-- proper ERROR; none may fail with XX000 (an internal error) or lose the connection (this file
-- would stop). The report counts calls and SQLSTATE classes only, never an input.
\set VERBOSITY terse
SET client_min_messages = warning;
SELECT setseed(0.17);
SELECT count(custprofile.unregister_source(kind, relation)) >= 0 AS clean FROM custprofile.sources;
DROP SCHEMA IF EXISTS fz CASCADE;
CREATE SCHEMA fz;
CREATE TABLE fz.customers (id int PRIMARY KEY);
INSERT INTO fz.customers SELECT generate_series(1, 3);
CREATE TABLE fz.reviews (customer_id int, body text);
INSERT INTO fz.reviews VALUES (1, 'Good.'), (2, 'Bad.'), (3, NULL);
SELECT custprofile.register_source('customers', 'fz.customers', '{"key": "id"}') IS NOT NULL AS registered;
SELECT custprofile.register_source('texts', 'fz.reviews', '{"customer": "customer_id", "text": "body"}') IS NOT NULL AS registered;
CALL custprofile.refresh_profiles();
CREATE TABLE fz.train (body text, label text);
INSERT INTO fz.train VALUES ('I love it', 'pos'), ('Works great', 'pos'), ('It broke', 'neg'), ('Awful', 'neg');
SELECT custprofile.train_classifier('fz_head', 'SELECT body, label FROM fz.train', '{"validation_share": 0}') IS NOT NULL AS trained;

-- generated values: texts, text arrays, real arrays, JSON documents, integers
CREATE FUNCTION fz.text_value() RETURNS text LANGUAGE sql VOLATILE AS $$
  SELECT CASE floor(random() * 16)::int
    WHEN 0 THEN NULL
    WHEN 1 THEN ''
    WHEN 2 THEN repeat(' ', 1 + floor(random() * 5)::int) || E'\t\n'
    WHEN 3 THEN (SELECT string_agg(chr(1 + floor(random() * 31)::int), '') FROM generate_series(1, 1 + floor(random() * 20)::int))
    WHEN 4 THEN (SELECT string_agg(chr(32 + floor(random() * 95)::int), '') FROM generate_series(1, 1 + floor(random() * 80)::int))
    WHEN 5 THEN (SELECT string_agg(chr(19968 + floor(random() * 20000)::int), '') FROM generate_series(1, 1 + floor(random() * 40)::int))
    WHEN 6 THEN (SELECT string_agg(chr(1024 + floor(random() * 255)::int), '') FROM generate_series(1, 1 + floor(random() * 40)::int))
    WHEN 7 THEN (SELECT string_agg(chr(127744 + floor(random() * 1000)::int), '') FROM generate_series(1, 1 + floor(random() * 20)::int))
    WHEN 8 THEN repeat('The delivery was late but the kettle is great. ', 1 + floor(random() * 300)::int)
    WHEN 9 THEN repeat('x', 100000 + floor(random() * 200000)::int)
    WHEN 10 THEN 'Call me at +44 20 7946 0958 or mail jane.doe@example.com, IBAN GB82WEST12345698765432.'
    WHEN 11 THEN '<p>Great &amp; <b>cheap</b></p><script>alert(1)</script>'
    WHEN 12 THEN (SELECT string_agg(w, ' ') FROM (SELECT (ARRAY['not', 'bad', 'good', 'refund', 'price', 'delivery', 'but', '!!!', '...', '3.5', '"quoted"'])[1 + floor(random() * 11)::int] AS w
                                                   FROM generate_series(1, 1 + floor(random() * 30)::int)) q)
    WHEN 13 THEN repeat('.', 1 + floor(random() * 5000)::int)
    WHEN 14 THEN 'fz_head'
    ELSE 'Wonderful kettle, fast delivery.' END
$$;
CREATE FUNCTION fz.texts_value() RETURNS text[] LANGUAGE sql VOLATILE AS $$
  SELECT CASE floor(random() * 6)::int
    WHEN 0 THEN NULL
    WHEN 1 THEN '{}'::text[]
    WHEN 2 THEN ARRAY[NULL::text]
    WHEN 3 THEN '{{a,b},{c,d}}'::text[]
    ELSE ARRAY(SELECT fz.text_value() FROM generate_series(1, 1 + floor(random() * 6)::int)) END
$$;
CREATE FUNCTION fz.reals_value() RETURNS real[] LANGUAGE sql VOLATILE AS $$
  SELECT CASE floor(random() * 9)::int
    WHEN 0 THEN NULL
    WHEN 1 THEN '{}'::real[]
    WHEN 2 THEN '{{1,2},{3,4}}'::real[]
    WHEN 3 THEN ARRAY[NULL::real, 1]
    WHEN 4 THEN ARRAY['NaN'::real, 'Infinity'::real]
    WHEN 5 THEN array_fill(3e38::real, ARRAY[384])
    WHEN 6 THEN ARRAY(SELECT (random() - 0.5)::real FROM generate_series(1, 1 + floor(random() * 1000)::int))
    WHEN 7 THEN array_fill(0::real, ARRAY[384])
    ELSE ARRAY(SELECT (random() - 0.5)::real FROM generate_series(1, 384)) END
$$;
CREATE FUNCTION fz.json_value() RETURNS text LANGUAGE sql VOLATILE AS $$
  SELECT (ARRAY[NULL, '{}', '[]', '"x"', '1e400', '{"k": }', '{"seed": -1}', '{"max_iterations": 1e9}', '{"rfm_weight": "high"}',
                '{"epochs": 0}', '{"model": "svm"}', '{"l2": 1e308}', '{"learning_rate": -5}', '{"hidden": 1e12}',
                '{"key": "id"}', '{"key": 1}', '{"attributes": [1, 2]}', '{"texts": {"texts": "x"}}', 'null',
                '{"a": [1, [2, [3, [4, [5]]]]]}'])[1 + floor(random() * 20)::int]
$$;
CREATE FUNCTION fz.int_value() RETURNS text LANGUAGE sql VOLATILE AS $$
  SELECT (ARRAY['NULL', '0', '-1', '1', '3', '1000', '2147483647', '-2147483648'])[1 + floor(random() * 8)::int]
$$;

-- the calls: templates whose %s are filled with generated literals
CREATE TABLE fz.templates (fn text, call text, kinds text[], rounds int);
INSERT INTO fz.templates VALUES
  ('sentiment', 'custprofile.sentiment(%s)', '{t}', 300),
  ('sentiment_label', 'custprofile.sentiment_label(%s)', '{t}', 100),
  ('sentiment_detail', 'custprofile.sentiment_detail(%s)', '{t}', 100),
  ('embed_text', 'custprofile.embed_text(%s)', '{t}', 200),
  ('embed_texts', '(SELECT count(*) FROM custprofile.embed_texts(%s))', '{ta}', 100),
  ('cosine_similarity', 'custprofile.cosine_similarity(%s, %s)', '{r,r}', 300),
  ('embedding_avg', '(SELECT custprofile.embedding_avg(v) FROM (VALUES (%s), (%s)) x(v))', '{r,r}', 200),
  ('split_sentences', '(SELECT count(*) FROM custprofile.split_sentences(%s))', '{t}', 200),
  ('clean_text', 'custprofile.clean_text(%s)', '{t}', 200),
  ('mask_pii', 'custprofile.mask_pii(%s)', '{t}', 200),
  ('classify', 'custprofile.classify(%s, %s)', '{t,ta}', 100),
  ('classify_scores', 'custprofile.classify_scores(%s, %s)', '{t,ta}', 100),
  ('aspect_sentiment', 'custprofile.aspect_sentiment(%s, %s)', '{t,ta}', 100),
  ('keywords', 'custprofile.keywords(%s, %s)', '{t,i}', 200),
  ('group_keywords', 'custprofile.group_keywords(%s, %s, %s)', '{ta,i,r}', 100),
  ('predict', 'custprofile.predict(%s, %s)', '{t,t}', 150),
  ('predict_scores', 'custprofile.predict_scores(%s, %s)', '{t,t}', 100),
  ('text_features', 'custprofile.text_features(%s, %s, %s)', '{t,t,i}', 100),
  ('profile_agg', '(SELECT custprofile.profile_agg(b) FROM unnest(%s) b)', '{ta}', 100),
  ('build_profile', 'custprofile.build_profile(%s::text)', '{t}', 50),
  ('churn_assessment', 'custprofile.churn_assessment(%s::jsonb, 30, now())', '{j}', 100),
  ('customer_similarity', 'custprofile.customer_similarity(%s, %s::jsonb, %s, %s::jsonb)', '{r,j,r,j}', 100),
  ('fit_logistic', 'custprofile_internal.fit_logistic(%s::float8[], ARRAY[true, false], ARRAY[''a''], %s::jsonb)', '{r,j}', 50),
  ('segment_customers', '(SELECT count(*) FROM custprofile.segment_customers(%s, %s::jsonb))', '{i,j}', 30),
  ('similar_customers', '(SELECT count(*) FROM custprofile.similar_customers(%s::text, %s))', '{t,i}', 50),
  ('register_source', 'custprofile.register_source(''customers'', ''fz.customers'', %s::jsonb)', '{j}', 50),
  ('train_classifier', 'custprofile.train_classifier(''fz_other'', %s, %s::jsonb)', '{t,j}', 30);

CREATE TABLE fz.outcomes (fn text, sqlstate text);
DO $fuzz$
DECLARE
  t record;
  args text[];
  kind text;
  q text;
  state text;
BEGIN
  FOR t IN SELECT * FROM fz.templates ORDER BY fn LOOP
    FOR i IN 1 .. t.rounds LOOP
      args := '{}';
      FOREACH kind IN ARRAY t.kinds LOOP
        args := args || CASE kind
          WHEN 't' THEN quote_nullable(fz.text_value())
          WHEN 'ta' THEN quote_nullable(fz.texts_value()) || '::text[]'
          WHEN 'r' THEN quote_nullable(fz.reals_value()) || '::real[]'
          WHEN 'j' THEN quote_nullable(fz.json_value())
          ELSE fz.int_value() END;
      END LOOP;
      q := 'SELECT ' || format(t.call, VARIADIC args);
      BEGIN
        EXECUTE q;
        state := '00000';
      EXCEPTION WHEN OTHERS THEN
        state := SQLSTATE;
      END;
      INSERT INTO fz.outcomes VALUES (t.fn, state);
    END LOOP;
  END LOOP;
END $fuzz$;

SELECT count(*) AS calls FROM fz.outcomes;
-- what must never happen: internal errors (by function, with no input shown)
SELECT fn, sqlstate, count(*) FROM fz.outcomes WHERE sqlstate LIKE 'XX%' OR sqlstate = '58000' GROUP BY 1, 2 ORDER BY 1, 2;
-- every function was called and mostly answered
SELECT count(DISTINCT fn) AS functions, bool_and(sqlstate NOT LIKE 'XX%') AS no_internal_errors FROM fz.outcomes;

-- clean up
SELECT count(custprofile.unregister_source(kind, relation)) AS unregistered FROM custprofile.sources;
DELETE FROM custprofile.profiles;
DELETE FROM custprofile.classifiers WHERE name LIKE 'fz\_%';
DROP SCHEMA fz CASCADE;
