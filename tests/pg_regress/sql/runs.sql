-- The history of long operations (custprofile.runs) and their progress NOTICEs
-- (custprofile.progress_interval); refresh_profiles' own runs, failed and succeeded, are in
-- profiles.sql.
\set VERBOSITY terse
SET client_min_messages = notice;
DELETE FROM custprofile.runs;

-- a NOTICE after every step when the interval is 0: rows encoded, then each epoch
SET custprofile.progress_interval = 0;
SELECT custprofile.train_classifier('runs_head',
  $$SELECT * FROM (VALUES ('Great kettle, boils fast', 'pos'), ('Love it', 'pos'),
                          ('Broken on arrival', 'neg'), ('Awful support', 'neg')) v$$,
  '{"validation_share": 0, "epochs": 3}') ->> 'rows' AS rows;
-- none within the interval
SET custprofile.progress_interval = '1h';
SELECT custprofile.train_classifier('runs_head',
  $$SELECT * FROM (VALUES ('Great kettle', 'pos'), ('Broken on arrival', 'neg')) v$$,
  '{"validation_share": 0, "epochs": 3}') ->> 'rows' AS rows;
SELECT try($$SET custprofile.progress_interval = -1$$);
RESET custprofile.progress_interval;

-- a training that fails is rolled back with its row; one in a rolled-back transaction too
SELECT try($$SELECT custprofile.train_classifier('runs_head', 'SELECT ''only one class'', ''pos''', '{}')$$);
BEGIN;
SELECT custprofile.train_classifier('rolled_back', $$SELECT * FROM (VALUES ('yes', 'a'), ('no', 'b')) v$$, '{"validation_share": 0}') ->> 'rows' AS rows;
ROLLBACK;

-- what the runs say: one row each, with rows, detail, role and times
SELECT operation, status, rows, error_code, detail ->> 'name' AS name, detail -> 'classes' AS classes,
       run_by = current_user AS by_me, finished_at >= started_at AS in_order
  FROM custprofile.runs ORDER BY run_id;

-- a run whose backend ended without finishing is marked failed by the next run
INSERT INTO custprofile.runs (operation, started_at, status, run_by, backend_pid)
VALUES ('refresh_profiles', now() - interval '1 hour', 'running', current_user, 2147483647);
SELECT custprofile.train_classifier('runs_head', $$SELECT * FROM (VALUES ('yes', 'a'), ('no', 'b')) v$$, '{"validation_share": 0}') ->> 'rows' AS rows;
SELECT operation, status, error_code, finished_at IS NOT NULL AS finished FROM custprofile.runs
 WHERE backend_pid = 2147483647;

-- anyone may read the history; nobody writes it but the extension
CREATE ROLE runs_reader;
SET ROLE runs_reader;
SELECT count(*) > 0 AS readable FROM custprofile.runs;
SELECT try($$INSERT INTO custprofile.runs (operation, started_at, status, run_by, backend_pid) VALUES ('x', now(), 'running', 'x', 1)$$);
RESET ROLE;
DROP ROLE runs_reader;

-- the history's writers called directly: a run is recorded only as a role the session acts as,
-- and a session ends only its own runs
CREATE ROLE runs_forger;
-- (a run of another live backend: the checkpointer's pid stands in for it)
INSERT INTO custprofile.runs (operation, started_at, status, run_by, backend_pid)
SELECT 'refresh_profiles', now(), 'running', current_user, pid FROM pg_stat_activity WHERE backend_type = 'checkpointer';
SET SESSION AUTHORIZATION runs_forger;
SELECT try($$SELECT custprofile_internal.start_run('refresh_profiles', (SELECT rolname FROM pg_roles WHERE oid = 10))$$);
SELECT try($$SELECT custprofile_internal.record_run('train_classifier', now(), 1, '{}', (SELECT rolname FROM pg_roles WHERE oid = 10))$$);
SELECT custprofile_internal.finish_run(max(run_id), 0, '{}', 'XX000') IS NULL AS called FROM custprofile.runs;
SELECT custprofile_internal.record_run('my_own', now(), 1, '{}') IS NULL AS recorded;
RESET SESSION AUTHORIZATION;
SELECT operation, status, run_by = current_user AS by_me FROM custprofile.runs ORDER BY run_id DESC LIMIT 2;
DELETE FROM custprofile.runs WHERE run_by = 'runs_forger' OR status = 'running';
DROP ROLE runs_forger;
DELETE FROM custprofile.classifiers WHERE name = 'runs_head';
