-- Where functions run on Citus. The model functions (sentiment, embed_text, profile_agg, ...)
-- depend only on their arguments and the node's model files, so Citus runs them on the workers
-- with the rows. The functions that write the extension's own tables (the source registry,
-- stored profiles, catalogues, classifiers, churn weights, segments, the pgvector indexes) must
-- run on the coordinator, where those tables are read: in a query over a distributed table
-- Citus would run them on every worker, each writing its own copy. They call this first.

-- ERROR 0A000 when called inside a task Citus sent to a worker (its connections name themselves
-- "citus_internal gpid=..."); nothing otherwise, with or without Citus.
CREATE FUNCTION custprofile_internal.require_coordinator(operation text) RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
BEGIN
    IF pg_catalog.current_setting('application_name') LIKE 'citus\_internal gpid=%' THEN
        RAISE EXCEPTION '% writes custprofile''s own tables and cannot run on a Citus worker', operation
            USING ERRCODE = 'feature_not_supported',
                  HINT = format('Call it on the coordinator on its own (SELECT custprofile.%s(...);), not in a query over a distributed table.', operation);
    END IF;
    RETURN true;
END $$;

-- ERROR 0A000 when one of custprofile's own tables has been distributed with Citus. Tried on
-- the test cluster: Citus accepts create_distributed_table('custprofile.profiles', ...), after
-- which the refresh's writes fail inside Citus ("missing data for column"), the readers too ("a
-- column definition list is required"), and undistribute_table refuses a table an extension
-- depends on. Readers and writers of the stored profiles call this first, so that the ERROR
-- says what happened (docs/scale-out.md: the stored profiles stay local on the coordinator).
CREATE FUNCTION custprofile_internal.require_local_tables() RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    distributed text;
BEGIN
    IF pg_catalog.to_regclass('pg_catalog.pg_dist_partition') IS NULL THEN
        RETURN;
    END IF;
    EXECUTE $q$SELECT string_agg(p.logicalrelid::regclass::text, ', ' ORDER BY p.logicalrelid::regclass::text)
                 FROM pg_catalog.pg_dist_partition p JOIN pg_catalog.pg_class c ON c.oid = p.logicalrelid
                WHERE c.relnamespace = 'custprofile'::regnamespace$q$ INTO distributed;
    IF distributed IS NOT NULL THEN
        RAISE EXCEPTION 'custprofile''s own tables must stay local on the coordinator, but % is distributed', distributed
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Distribute your sources, not custprofile''s tables. Citus cannot undistribute a table of an extension: save your registrations, topics and classifiers, then DROP EXTENSION custprofile CASCADE and CREATE EXTENSION custprofile.';
    END IF;
END $$;
