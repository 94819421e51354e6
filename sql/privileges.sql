-- Who may use what (docs/profiles.md, Privileges, says the same, and tests/pg_regress/sql/
-- security.sql proves it). Every function is executable by PUBLIC (PostgreSQL's default), so
-- analysts need only USAGE on the schema to embed and score text, and may train classifiers of
-- their own (row-level security keeps everyone's heads their own). Not granted: the stored
-- profiles and their views (they reveal customer data), writing the source registry (only
-- register_source writes it, for the roles an administrator lets call it), and the churn
-- weights that every profile shares.
GRANT USAGE ON SCHEMA custprofile TO PUBLIC;
-- the helpers run as their caller, called by the functions above (the aggregates' support
-- functions, revoked below, excepted)
GRANT USAGE ON SCHEMA custprofile_internal TO PUBLIC;
GRANT SELECT ON custprofile.source_registry, custprofile.sources, custprofile.models, custprofile.classifiers, custprofile.topics,
      custprofile.churn_model, custprofile.reply_calibration, custprofile.runs TO PUBLIC;
GRANT INSERT, UPDATE, DELETE ON custprofile.classifiers TO PUBLIC;

-- Registering decides what every profile is built from, and as whom it is read.
REVOKE EXECUTE ON FUNCTION custprofile.register_source(text, regclass, jsonb), custprofile.unregister_source(text, text)
    FROM PUBLIC;
-- The churn weights are shared by every profile: an administrator's.
REVOKE EXECUTE ON FUNCTION custprofile.train_churn_model(text, jsonb), custprofile.reset_churn_model(),
       custprofile.rescore_churn() FROM PUBLIC;
-- Granting levels is for whoever may grant the privileges (sql/roles.sql).
REVOKE EXECUTE ON FUNCTION custprofile.grant_usage(name, text), custprofile.revoke_usage(name) FROM PUBLIC;
-- The aggregates' support functions (state, final, combine, serialise functions) are reached
-- only through their aggregates, which PostgreSQL runs with the aggregate owner's right to call
-- them: nobody calls them directly, so nobody but the owner may.
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT DISTINCT s.oid::regprocedure
               FROM pg_catalog.pg_aggregate a
               JOIN pg_catalog.pg_proc p ON p.oid = a.aggfnoid
               JOIN pg_catalog.pg_proc s ON s.oid IN (a.aggtransfn, a.aggfinalfn, a.aggcombinefn, a.aggserialfn, a.aggdeserialfn)
              WHERE p.pronamespace = 'custprofile'::regnamespace LOOP
        EXECUTE pg_catalog.format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
    END LOOP;
END $$;
