CREATE EXTENSION custprofile;
-- no progress NOTICEs unless a test asks for them (they come by time: tests/pg_regress/sql/runs.sql
-- and profiles.sql set custprofile.progress_interval = 0 to see one after every step)
DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET custprofile.progress_interval = 3600', current_database()); END $$;
-- try(query): runs a statement and reports 'ok' or its SQLSTATE and message, so that expected
-- output pins both.
CREATE FUNCTION public.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE q;
  RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
-- plan_lines(query): the parallel and partial-aggregation lines of its EXPLAIN ANALYZE, without
-- per-worker row counts (they vary run to run), so that tests pin the plan's shape.
CREATE FUNCTION public.plan_lines(q text) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE l text;
BEGIN
  FOR l IN EXECUTE 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) ' || q LOOP
    IF l ~ 'Workers Launched|Partial|Finalize' THEN RETURN NEXT regexp_replace(trim(l), ' \(actual rows=.*\)$', ''); END IF;
  END LOOP;
END $$;
