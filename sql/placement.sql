-- Where functions run on Citus. The model functions (sentiment, embed_text, profile_agg, ...)
-- depend only on their arguments and the node's model files, so Citus runs them on the workers
-- with the rows. The functions that write the extension's own tables (the source registry,
-- stored profiles, catalogues, classifiers, churn weights, segments, the pgvector indexes) must
-- run on the coordinator, where those tables are read: in a query over a distributed table
-- Citus would run them on every worker, each writing its own copy. They call this first.

-- ERROR 0A000 when called inside a task Citus sent to a worker (its connections name themselves
-- "citus_internal gpid=..."); nothing otherwise, with or without Citus.
CREATE FUNCTION custprofile.require_coordinator(operation text) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
BEGIN
    IF pg_catalog.current_setting('application_name') LIKE 'citus\_internal gpid=%' THEN
        RAISE EXCEPTION '% writes custprofile''s own tables and cannot run on a Citus worker', operation
            USING ERRCODE = 'feature_not_supported',
                  HINT = format('Call it on the coordinator on its own (SELECT custprofile.%s(...);), not in a query over a distributed table.', operation);
    END IF;
    RETURN true;
END $$;
