-- A scheduled refresh through a real pg_cron: the job runs CALL custprofile.refresh_profiles()
-- in this database as a login role with the analyst level and builds the stored profiles
-- (pg_cron 1.4 schedules by the minute, so this waits up to two minutes).
\set ECHO none
\i ../../demo/shop.sql
\set ECHO all
-- as in production: the sources registered by a role that only reads them, and the job run by
-- a login role with the analyst level (not a superuser)
CREATE ROLE cron_sources NOLOGIN;
GRANT USAGE ON SCHEMA shop TO cron_sources;
GRANT SELECT ON ALL TABLES IN SCHEMA shop TO cron_sources;
GRANT EXECUTE ON FUNCTION custprofile.register_source(text, regclass, jsonb) TO cron_sources;
SET ROLE cron_sources;
SELECT count(custprofile.register_source(kind, relation, columns)) AS registered
  FROM (VALUES ('customers', 'shop.customers'::regclass, '{"key": "customer_id", "attributes": ["age", "city"]}'::jsonb),
               ('orders', 'shop.orders', '{"customer": "customer_id", "time": "ordered_at", "amount": "total"}'),
               ('texts', 'shop.reviews', '{"customer": "customer_id", "text": "body", "time": "written_at"}')) s(kind, relation, columns);
RESET ROLE;
-- (scores stored by earlier tests of the same texts would hide whether the job stores them)
TRUNCATE custprofile.text_scores;
CREATE ROLE cron_refresher LOGIN;
SELECT count(*) AS grants FROM custprofile.grant_usage('cron_refresher', 'analyst');
SELECT current_database() AS regress_db \gset

-- pg_cron lives in the database named by cron.database_name
\c custprofile
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS pg_cron;
RESET client_min_messages;
SELECT cron.schedule_in_database('custprofile-regress-refresh', '* * * * *',
                                 'CALL custprofile.refresh_profiles()', :'regress_db', 'cron_refresher') AS jobid \gset

\c :regress_db
DO $$
BEGIN
  FOR i IN 1..1500 LOOP
    -- the job's run ends after its last profile is stored
    EXIT WHEN EXISTS (SELECT FROM custprofile.runs WHERE operation = 'refresh_profiles' AND run_by = 'cron_refresher'
                                                  AND status <> 'running');
    PERFORM pg_sleep(0.1);
  END LOOP;
END $$;
SELECT count(*) AS profiles_built_by_the_job FROM custprofile.profiles;
SELECT run_by, status, rows FROM custprofile.runs WHERE operation = 'refresh_profiles' ORDER BY run_id DESC LIMIT 1;
SELECT count(*) FILTER (WHERE NOT EXISTS (SELECT FROM custprofile.text_scores s
                                          WHERE s.text_hash = sha256(convert_to(r.body, 'UTF8')))) AS texts_the_job_did_not_store,
       count(*) > 30 AS texts
  FROM custprofile_internal.registered_texts() r
 WHERE btrim(r.body) <> '' AND r.customer_key IN (SELECT customer_key FROM custprofile.profiles);

\c custprofile
SELECT count(*) > 0 AS job_succeeded FROM cron.job_run_details WHERE jobid = :jobid AND status = 'succeeded';
SELECT cron.unschedule(:jobid);
\c :regress_db
SELECT custprofile.unregister_source(kind, relation) FROM custprofile.sources;
TRUNCATE custprofile.profiles, custprofile.refresh_queue, custprofile.text_scores;
DELETE FROM custprofile.runs WHERE run_by = 'cron_refresher';
SELECT count(*) AS revoked FROM custprofile.revoke_usage('cron_refresher');
DROP SCHEMA shop CASCADE;
DROP OWNED BY cron_sources, cron_refresher;
DROP ROLE cron_refresher;
DROP ROLE cron_sources;
