-- The levels of use (sql/roles.sql): grant_usage(role, level) and revoke_usage(role), and what
-- each level may do, tried as each role: ok, or the SQLSTATE it gets.
\set ECHO none
\i ../../demo/shop.sql
\set ECHO all
\set VERBOSITY terse
SET client_min_messages = warning;
CREATE ROLE cp_admin;
CREATE ROLE cp_analyst;
CREATE ROLE cp_reader;
CREATE ROLE cp_nobody;
-- the source role: reads the shop's tables and registers them, nothing else
CREATE ROLE cp_sources NOLOGIN;
GRANT USAGE ON SCHEMA shop TO cp_sources;
GRANT SELECT ON ALL TABLES IN SCHEMA shop TO cp_sources;
GRANT EXECUTE ON FUNCTION custprofile.register_source(text, regclass, jsonb), custprofile.unregister_source(text, text) TO cp_sources;

-- bad input
SELECT try($$SELECT custprofile.grant_usage('cp_reader', 'owner')$$);
SELECT try($$SELECT custprofile.grant_usage('cp_reader', NULL)$$);
SELECT try($$SELECT custprofile.grant_usage('no_such_role', 'reader')$$);
SELECT try($$SELECT custprofile.revoke_usage(NULL)$$);

-- sources registered by an admin (or a superuser) cannot be read by analysts: they would become
-- members of it
SELECT count(*) AS statements FROM custprofile.grant_usage('cp_admin', 'admin');
GRANT USAGE ON SCHEMA shop TO cp_admin;
GRANT SELECT ON shop.customers TO cp_admin;
SET ROLE cp_admin;
SELECT custprofile.register_source('customers', 'shop.customers', '{"key": "customer_id"}') IS NOT NULL AS registered_by_admin;
RESET ROLE;
SELECT try($$SELECT custprofile.grant_usage('cp_analyst', 'analyst')$$);
SELECT custprofile.unregister_source('customers', 'shop.customers');
SELECT count(*) AS statements FROM custprofile.revoke_usage('cp_admin');
REVOKE SELECT ON shop.customers FROM cp_admin;

-- the admin first: no sources yet, so a NOTICE; it registers the shop as the source role
SET client_min_messages = notice;
SELECT custprofile.grant_usage('cp_admin', 'admin');
SET client_min_messages = warning;
GRANT cp_sources TO cp_admin;
SET ROLE cp_sources;
SELECT count(custprofile.register_source(kind, relation, columns)) AS registered
  FROM (VALUES ('customers', 'shop.customers'::regclass, '{"key": "customer_id", "attributes": ["city"]}'::jsonb),
               ('orders', 'shop.orders', '{"customer": "customer_id", "time": "ordered_at", "amount": "total", "item": "product", "category": "category"}'),
               ('texts', 'shop.reviews', '{"customer": "customer_id", "text": "body", "time": "written_at", "rating": "stars"}')) s(kind, relation, columns);
RESET ROLE;
-- granting levels is not part of any level
SET ROLE cp_admin;
SELECT try($$SELECT custprofile.grant_usage('cp_nobody', 'admin')$$);
RESET ROLE;
-- an analyst becomes a member of the source role (sources are read as it); a reader does not
SELECT custprofile.grant_usage('cp_analyst', 'analyst');
SELECT count(*) AS statements FROM custprofile.grant_usage('cp_reader', 'reader');
SELECT pg_has_role('cp_analyst', 'cp_sources', 'MEMBER') AS analyst_reads_as_sources,
       pg_has_role('cp_reader', 'cp_sources', 'MEMBER') AS reader_does_not;
-- registering is for members of the source role
SET ROLE cp_reader;
SELECT try($$SELECT custprofile.register_source('texts', 'shop.reviews', '{"customer": "customer_id", "text": "body"}')$$);
RESET ROLE;

-- the analyst builds the profiles (as a pg_cron job running as it would)
SET ROLE cp_analyst;
CALL custprofile.refresh_profiles();
RESET ROLE;

CREATE TABLE public.role_capability (n int, capability text, query text);
INSERT INTO public.role_capability VALUES
  (1, 'read customer_profiles', 'SELECT count(*) FROM custprofile.customer_profiles'),
  (2, 'read segments', 'SELECT count(*) FROM custprofile.segments'),
  (3, 'read text_insights', 'SELECT count(*) FROM custprofile.text_insights'),
  (4, 'score a text', 'SELECT custprofile.sentiment_label(''Great kettle'')'),
  (5, 'train a classifier', 'SELECT custprofile.train_classifier(''head_'' || current_user, $q$SELECT * FROM (VALUES (''yes'', ''a''), (''no'', ''b'')) v$q$, ''{"validation_share": 0, "epochs": 2}'')'),
  (6, 'refresh profiles', 'SELECT custprofile.refresh_profiles_in_transaction()'),
  (7, 'segment customers', 'SELECT count(*) FROM custprofile.segment_customers(2)'),
  (9, 'edit topics', 'UPDATE custprofile.topics SET description = description WHERE false'),
  (10, 'reset churn weights', 'SELECT custprofile.reset_churn_model()'),
  (11, 'choose the encoder', 'SET custprofile.encoder = ''multilingual-e5-small''');
CREATE TABLE public.role_outcome (who text, n int, result text);
GRANT SELECT ON public.role_capability TO PUBLIC;
GRANT INSERT ON public.role_outcome TO PUBLIC;
SET ROLE cp_reader;
INSERT INTO public.role_outcome SELECT 'reader', n, try(query) FROM public.role_capability;
SET ROLE cp_analyst;
INSERT INTO public.role_outcome SELECT 'analyst', n, try(query) FROM public.role_capability;
SET ROLE cp_admin;
INSERT INTO public.role_outcome SELECT 'admin', n, try(query) FROM public.role_capability;
SET ROLE cp_nobody;
INSERT INTO public.role_outcome SELECT 'nobody', n, try(query) FROM public.role_capability;
RESET ROLE;
SELECT c.capability,
       max(left(o.result, 5)) FILTER (WHERE o.who = 'reader') AS reader,
       max(left(o.result, 5)) FILTER (WHERE o.who = 'analyst') AS analyst,
       max(left(o.result, 5)) FILTER (WHERE o.who = 'admin') AS admin,
       max(left(o.result, 5)) FILTER (WHERE o.who = 'nobody') AS nobody
  FROM public.role_capability c JOIN public.role_outcome o USING (n)
 GROUP BY c.n, c.capability ORDER BY c.n;

-- without the level: 42501 with a HINT naming the grant
\set VERBOSITY default
SET ROLE cp_reader;
SELECT custprofile.refresh_profiles_in_transaction();
RESET ROLE;
\set VERBOSITY terse

-- revoke_usage takes every level back, membership included
SELECT count(*) AS statements FROM custprofile.revoke_usage('cp_analyst');
SELECT pg_has_role('cp_analyst', 'cp_sources', 'MEMBER') AS still_member;
DELETE FROM public.role_outcome;
SET ROLE cp_analyst;
INSERT INTO public.role_outcome SELECT 'analyst', n, try(query) FROM public.role_capability WHERE n IN (1, 3, 4, 6);
RESET ROLE;
SELECT c.capability, left(o.result, 5) AS revoked_analyst
  FROM public.role_capability c JOIN public.role_outcome o USING (n) ORDER BY c.n;

-- clean up
DROP TABLE public.role_capability, public.role_outcome;
SELECT count(custprofile.unregister_source(kind, relation)) AS unregistered FROM custprofile.sources;
TRUNCATE custprofile.profiles, custprofile.refresh_queue, custprofile.segmentation;
DELETE FROM custprofile.classifiers WHERE name LIKE 'head\_cp\_%';
SELECT custprofile.reset_churn_model();
DROP SCHEMA shop CASCADE;
DROP OWNED BY cp_admin, cp_analyst, cp_reader, cp_nobody, cp_sources;
DROP ROLE cp_admin, cp_analyst, cp_reader, cp_nobody, cp_sources;
