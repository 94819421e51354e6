-- Three levels of use, granted to a role by custprofile.grant_usage(role, level) (docs/profiles.md, Privileges);
-- each includes the one before:
--   reader   the stored profiles and their views (customer_profiles, segments), the catalogue
--            vectors and segmentation: read what the refresh built, never the sources
--   analyst  also refresh_profiles, refresh_catalogues, segment_customers and text_insights
--            (write access to the stored profiles, their queue, the stored text scores and copy
--            of the texts, catalogue vectors, segmentation and reply thresholds, and membership
--            in the role that registered the sources,
--            since sources are read as that role); the role a pg_cron refresh job runs as.
--            That source role must only read the sources (is_source_role): an analyst made a
--            member of a superuser or an admin would have its rights, so grant_usage refuses
--   admin    also register_source and unregister_source, the topics, the churn weights, and the
--            encoder settings (SET on custprofile.encoder, mask_pii, batch_size, intra_threads;
--            the file locations stay superuser-only)
-- Everyone already has what needs no grant: the text functions (embed, sentiment, classify,
-- intent ...), training and using classifiers (their own, by row-level security) and reading
-- the models, sources, topics, churn weights and run history.

-- The privileges of a level and of the levels below it, as GRANT clauses.
CREATE FUNCTION custprofile_internal.usage_grants(level text)
RETURNS TABLE (privileges text, objects text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT g.privileges, g.objects FROM (VALUES
        (1, 'SELECT', 'TABLE custprofile.profiles, custprofile.customer_profiles, custprofile.segments, '
                      'custprofile.segmentation, custprofile.catalogue_embeddings'),
        (2, 'SELECT, INSERT, UPDATE, DELETE', 'TABLE custprofile.profiles, custprofile.refresh_queue, '
                      'custprofile.catalogue_embeddings, custprofile.segmentation, custprofile.reply_calibration, '
                      'custprofile.text_scores, custprofile.stored_texts'),
        (2, 'SELECT', 'TABLE custprofile.text_insights'),
        (3, 'EXECUTE', 'FUNCTION custprofile.register_source(text, regclass, jsonb), custprofile.unregister_source(text, text), '
                       'custprofile.train_churn_model(text, jsonb), custprofile.reset_churn_model(), custprofile.rescore_churn()'),
        (3, 'INSERT, UPDATE, DELETE, TRUNCATE', 'TABLE custprofile.topics'),
        (3, 'INSERT, UPDATE, DELETE', 'TABLE custprofile.churn_model'),
        (3, 'SET', 'PARAMETER custprofile.encoder, custprofile.mask_pii, custprofile.batch_size, custprofile.intra_threads')
    ) g(rank, privileges, objects)
     WHERE g.rank <= array_position(ARRAY['reader', 'analyst', 'admin'], level)
$$;

-- Raises 22023 for an unknown level and 42704 for an unknown role.
CREATE FUNCTION custprofile_internal.check_usage_arguments(role name, level text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
BEGIN
    IF level IS NULL OR level NOT IN ('reader', 'analyst', 'admin') THEN
        RAISE EXCEPTION 'level must be reader, analyst or admin, not %', COALESCE(quote_literal(level), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'reader reads the stored profiles; analyst also refreshes them; admin also registers sources and edits topics.';
    END IF;
    IF role IS NULL OR NOT EXISTS (SELECT FROM pg_catalog.pg_roles r WHERE r.rolname = role) THEN
        RAISE EXCEPTION 'role % does not exist', COALESCE(quote_ident(role), 'NULL')
            USING ERRCODE = 'undefined_object', HINT = 'Create it first: CREATE ROLE ... LOGIN;';
    END IF;
END $$;

-- A role fit to register the sources that analysts read as: not a superuser, no role creation,
-- and none of the admin level's privileges (registering is allowed: it is how it registers).
CREATE FUNCTION custprofile_internal.is_source_role(registrant name) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT NOT r.rolsuper AND NOT r.rolcreaterole
       AND NOT has_table_privilege(registrant, 'custprofile.topics', 'UPDATE')
       AND NOT has_table_privilege(registrant, 'custprofile.churn_model', 'UPDATE')
       AND NOT has_function_privilege(registrant, 'custprofile.train_churn_model(text, jsonb)', 'EXECUTE')
       AND NOT has_function_privilege(registrant, 'custprofile.grant_usage(name, text)', 'EXECUTE')
      FROM pg_catalog.pg_roles r WHERE r.rolname = registrant
$$;

-- Grants `level` to `role` in this database; returns the statements it ran. Runs with the
-- caller's rights (a superuser, or a role holding these privileges with GRANT OPTION), and is
-- not executable by PUBLIC. Levels add up: granting reader to an admin takes nothing away (use
-- revoke_usage first).
CREATE FUNCTION custprofile.grant_usage(role name, level text) RETURNS SETOF text
LANGUAGE plpgsql SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    g record;
    registrant name;
    statement text;
BEGIN
    PERFORM custprofile_internal.check_usage_arguments(role, level);
    FOR g IN SELECT * FROM custprofile_internal.usage_grants(level) LOOP
        statement := format('GRANT %s ON %s TO %I', g.privileges, g.objects, role);
        EXECUTE statement;
        RETURN NEXT statement;
    END LOOP;
    -- sources are read as the role that registered them: analysts and admins become members of
    -- it, which gives them its privileges too, so it must be a role that only reads the sources
    SELECT DISTINCT s.registered_by INTO registrant FROM custprofile.source_registry s LIMIT 1;
    IF level <> 'reader' AND registrant IS NOT NULL AND registrant <> role
       AND NOT custprofile_internal.is_source_role(registrant) THEN
        RAISE EXCEPTION 'the sources are registered by %, which is a superuser or has the admin level: % would have its rights as a member of it', registrant, role
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Register the sources as a role that only reads them: CREATE ROLE shop_sources NOLOGIN; GRANT SELECT ON your tables TO shop_sources; GRANT EXECUTE ON FUNCTION custprofile.register_source(text, regclass, jsonb), custprofile.unregister_source(text, text) TO shop_sources; then SET ROLE shop_sources and register them again.';
    END IF;
    IF level <> 'reader' AND registrant IS NOT NULL AND registrant <> role THEN
        statement := format('GRANT %I TO %I', registrant, role);
        EXECUTE statement;
        RETURN NEXT statement;
    ELSIF level <> 'reader' AND registrant IS NULL THEN
        RAISE NOTICE 'no sources are registered yet: % will read them once it is a member of the role that registers them', role
            USING HINT = 'Call custprofile.grant_usage again after register_source, or GRANT that role to it.';
    END IF;
END $$;
COMMENT ON FUNCTION custprofile.grant_usage(name, text) IS
    'Grants a role the reader, analyst or admin level of custprofile in this database; returns the GRANT statements.';

-- Takes back every level from `role`, including its membership in the registering role.
CREATE FUNCTION custprofile.revoke_usage(role name) RETURNS SETOF text
LANGUAGE plpgsql SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    g record;
    registrant name;
    statement text;
BEGIN
    PERFORM custprofile_internal.check_usage_arguments(role, 'admin');
    FOR g IN SELECT * FROM custprofile_internal.usage_grants('admin') LOOP
        statement := format('REVOKE %s ON %s FROM %I', g.privileges, g.objects, role);
        EXECUTE statement;
        RETURN NEXT statement;
    END LOOP;
    SELECT DISTINCT s.registered_by INTO registrant FROM custprofile.source_registry s LIMIT 1;
    IF registrant IS NOT NULL AND registrant <> role AND pg_has_role(role, registrant, 'MEMBER') THEN
        statement := format('REVOKE %I FROM %I', registrant, role);
        EXECUTE statement;
        RETURN NEXT statement;
    END IF;
END $$;
COMMENT ON FUNCTION custprofile.revoke_usage(name) IS
    'Takes back the levels grant_usage gave a role; returns the REVOKE statements.';

-- The analyst level's write access, checked before a refresh or segmentation starts, so that a
-- role without it gets one ERROR naming the grant instead of a failure halfway.
CREATE FUNCTION custprofile_internal.require_analyst(operation text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
BEGIN
    PERFORM custprofile_internal.require_coordinator(operation);
    PERFORM custprofile_internal.require_local_tables();
    IF NOT (SELECT bool_and(has_table_privilege(t.relation, p.privilege))
              FROM unnest(ARRAY['custprofile.profiles', 'custprofile.refresh_queue', 'custprofile.catalogue_embeddings',
                                'custprofile.segmentation', 'custprofile.reply_calibration', 'custprofile.text_scores',
                                'custprofile.stored_texts']) t(relation)
             CROSS JOIN unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']) p(privilege)) THEN
        RAISE EXCEPTION 'permission denied: % writes the stored profiles, which % may not', operation, current_user
            USING ERRCODE = 'insufficient_privilege',
                  HINT = format('A superuser grants the analyst level: SELECT custprofile.grant_usage(%L, ''analyst'');', current_user);
    END IF;
END $$;
