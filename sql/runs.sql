-- The history of long operations, so that a scheduled job's outcome can be read with SQL
-- (pg_cron keeps no NOTICEs): one row per run of refresh_profiles, refresh_profiles_in_transaction,
-- refresh_catalogues, segment_customers and train_classifier.
-- The procedure refresh_profiles commits its row before it starts and records a failure (its
-- SQLSTATE) before the ERROR reaches the caller. The functions run in their caller's transaction,
-- so they write their row when they succeed, and a failure rolls it back with everything else
-- (pg_cron's cron.job_run_details records those).
CREATE TABLE custprofile.runs (
    run_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    operation   text NOT NULL,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz,
    -- running, succeeded, failed; a run whose backend ended without finishing is marked failed
    -- (error_code NULL) by the next run that starts
    status      text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    -- what the run worked through: profiles rebuilt, rows embedded, customers segmented, rows trained on
    rows        bigint,
    error_code  text,
    -- operation-specific counts and names; never customer text
    detail      jsonb,
    run_by      name NOT NULL,
    backend_pid int NOT NULL
);
CREATE INDEX runs_operation_started ON custprofile.runs (operation, started_at DESC);
COMMENT ON TABLE custprofile.runs IS
    'One row per run of refresh_profiles, refresh_catalogues, segment_customers and train_classifier: status, rows, SQLSTATE.';
COMMENT ON COLUMN custprofile.runs.status IS 'running, succeeded or failed (also when the backend ended mid-run).';
COMMENT ON COLUMN custprofile.runs.rows IS 'Profiles rebuilt, rows embedded, customers segmented or rows trained on.';
COMMENT ON COLUMN custprofile.runs.error_code IS 'The SQLSTATE of a failed run (NULL when its backend ended without an ERROR).';
-- the history is user state: pg_dump keeps it, and its numbering goes on after a restore
SELECT pg_catalog.pg_extension_config_dump('custprofile.runs', '');
SELECT pg_catalog.pg_extension_config_dump('custprofile.runs_run_id_seq', '');

-- Runs older than this are removed when a new one starts.
CREATE FUNCTION custprofile_internal.runs_kept() RETURNS interval
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$ SELECT interval '90 days' $$;

-- Starts a run (now, or at `started`): marks runs of ended backends failed, drops old ones, inserts
-- this one as running.
-- The writers of the history are SECURITY DEFINER, so that every role that may run an operation
-- can record it without write access to the table; the caller's role is passed in. Called
-- directly, they can only record runs as a role the session may act as, and end only the
-- session's own runs: nobody can forge another role's job outcome.
CREATE FUNCTION custprofile_internal.start_run(operation text, caller name, started timestamptz DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    id bigint;
BEGIN
    IF caller IS NULL OR NOT pg_has_role(session_user, caller, 'MEMBER') THEN
        RAISE EXCEPTION 'a run can only be recorded as a role this session acts as'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    UPDATE custprofile.runs r SET status = 'failed', finished_at = clock_timestamp()
     WHERE r.status = 'running'
       AND NOT EXISTS (SELECT FROM pg_catalog.pg_stat_activity a WHERE a.pid = r.backend_pid AND a.backend_start <= r.started_at);
    DELETE FROM custprofile.runs r WHERE r.started_at < now() - custprofile_internal.runs_kept();
    INSERT INTO custprofile.runs (operation, started_at, status, run_by, backend_pid)
    VALUES (operation, COALESCE(started, clock_timestamp()), 'running', caller, pg_backend_pid())
    RETURNING run_id INTO id;
    RETURN id;
END $$;

-- Ends a run: succeeded, or failed with error_code.
CREATE FUNCTION custprofile_internal.finish_run(run bigint, rows bigint, detail jsonb, error_code text DEFAULT NULL) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, custprofile, pg_temp AS $$
    UPDATE custprofile.runs r
       SET finished_at = clock_timestamp(), rows = finish_run.rows, detail = finish_run.detail,
           error_code = finish_run.error_code,
           status = CASE WHEN finish_run.error_code IS NULL THEN 'succeeded' ELSE 'failed' END
     WHERE r.run_id = run AND r.backend_pid = pg_backend_pid() AND r.status = 'running';
$$;

-- A run of a function, written when it succeeded (in the caller's transaction).
CREATE FUNCTION custprofile_internal.record_run(operation text, started timestamptz, rows bigint, detail jsonb,
                                       caller name DEFAULT current_user) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT custprofile_internal.finish_run(custprofile_internal.start_run(operation, caller, started), rows, detail)
$$;

-- A progress NOTICE of a long operation when custprofile.progress_interval has passed since
-- `last_report` (0: at every step), the time so far in its DETAIL; returns the time of the last
-- report. src/api/progress.rs does the same for the Rust operations.
CREATE FUNCTION custprofile_internal.report_progress(operation text, what text, started timestamptz, last_report timestamptz)
RETURNS timestamptz LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, custprofile, pg_temp AS $$
BEGIN
    IF clock_timestamp() - last_report < COALESCE(current_setting('custprofile.progress_interval', true), '5s')::interval THEN
        RETURN last_report;
    END IF;
    RAISE NOTICE '%: %', operation, what
        USING DETAIL = format('%s s so far', round(extract(epoch FROM clock_timestamp() - started)::numeric, 1));
    RETURN clock_timestamp();
END $$;

-- Raises a caught ERROR again, as GET STACKED DIAGNOSTICS gave it: {SQLSTATE, message, detail,
-- hint} (an empty detail or hint is left out rather than shown as an empty line).
CREATE FUNCTION custprofile_internal.raise_again(failure text[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, custprofile, pg_temp AS $$
BEGIN
    IF failure[3] <> '' AND failure[4] <> '' THEN
        RAISE EXCEPTION USING ERRCODE = failure[1], MESSAGE = failure[2], DETAIL = failure[3], HINT = failure[4];
    ELSIF failure[3] <> '' THEN
        RAISE EXCEPTION USING ERRCODE = failure[1], MESSAGE = failure[2], DETAIL = failure[3];
    ELSIF failure[4] <> '' THEN
        RAISE EXCEPTION USING ERRCODE = failure[1], MESSAGE = failure[2], HINT = failure[4];
    END IF;
    RAISE EXCEPTION USING ERRCODE = failure[1], MESSAGE = failure[2];
END $$;
