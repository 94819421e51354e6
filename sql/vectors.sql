-- pgvector, when a database has it: approximate nearest-neighbour (HNSW) indexes on the stored
-- vectors, used by similar_customers, recommend and suggest_replies. custprofile never requires
-- pgvector: without the `vector` extension, or without the indexes, every function searches
-- exactly as before. The vectors stay real[] (what embed_text returns): each index is on a cast,
-- (interest_vector::vector(384)), partial on the rows it can hold (one vector space, one length),
-- so the tables, their dumps and their readers do not change with pgvector. An index is not part
-- of the extension: pg_dump leaves it out (the tables are extension tables, dumped as data), and
-- the next refresh_profiles builds it again.

-- The schema of the vector extension; NULL when this database does not have it.
CREATE FUNCTION custprofile_internal.pgvector_schema() RETURNS name
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'vector'
$$;

-- The indexes custprofile keeps, one per kind of stored vector, what each holds and whether it is
-- built for the vectors stored now.
CREATE FUNCTION custprofile_internal.vector_index_targets()
RETURNS TABLE (target text, index_name name, table_name text, vector_column text, predicate text)
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    VALUES ('profiles', 'profiles_interest_ann'::name, 'profiles', 'interest_vector', 'vector_space = %L'),
           ('items', 'catalogue_items_ann'::name, 'catalogue_embeddings', 'embedding',
            'kind = ''items'' AND array_length(embedding, 1) = %s'),
           ('answers', 'catalogue_answers_ann'::name, 'catalogue_embeddings', 'embedding',
            'kind = ''answers'' AND array_length(embedding, 1) = %s')
$$;

-- What the index of `target` was built for ({"dimensions": n, "vector_space": ...}, its comment);
-- NULL when there is none, it is not valid, or pgvector is gone.
CREATE FUNCTION custprofile_internal.vector_index_state(target text) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT pg_catalog.obj_description(c.oid, 'pg_class')::jsonb
      FROM custprofile_internal.vector_index_targets() t
      JOIN pg_class c ON c.relname = t.index_name AND c.relnamespace = 'custprofile'::regnamespace
      JOIN pg_index i ON i.indexrelid = c.oid AND i.indisvalid
     WHERE t.target = $1 AND custprofile_internal.pgvector_schema() IS NOT NULL
$$;

-- The vector space and length the index of `target` should hold now: profiles in the current
-- encoder's space, catalogue vectors as long as the current encoder's. NULL when no such vector
-- is stored (nothing to index).
CREATE FUNCTION custprofile_internal.vector_index_wanted(target text) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT CASE WHEN $1 = 'profiles' THEN
               (SELECT jsonb_build_object('dimensions', array_length(p.interest_vector, 1), 'vector_space', p.vector_space)
                  FROM custprofile.profiles p
                 WHERE p.vector_space = custprofile.vector_space() AND p.interest_vector IS NOT NULL LIMIT 1)
           ELSE
               (SELECT jsonb_build_object('dimensions', array_length(e.embedding, 1))
                  FROM custprofile.catalogue_embeddings e WHERE e.kind = $1
                 ORDER BY e.embedded_at DESC LIMIT 1)
           END
$$;

-- The HNSW graph an index is built with unless create_vector_indexes is told otherwise:
-- the one that keeps recall@10 at or above 0.95 at 1,000,000 profiles (docs/scale-out.md).
CREATE FUNCTION custprofile.vector_index_graph() RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT '{"m": 32, "ef_construction": 128}'::jsonb
$$;

-- Builds (or rebuilds, for another vector space or length, or another graph) the HNSW index of
-- each kind of stored vector, for the vectors stored now; one line per index saying what it did.
-- m and ef_construction are pgvector's graph parameters (links per node, candidate list while
-- building): more of either is a better graph, at a longer build and, for m, a bigger index
-- (docs/scale-out.md has the measurements). NULL keeps what the index was built with (the
-- defaults, vector_index_graph(), the first time). The caller must own the tables (the role
-- that created the extension). ERROR when pgvector is not installed.
CREATE FUNCTION custprofile.create_vector_indexes(m int DEFAULT NULL, ef_construction int DEFAULT NULL) RETURNS SETOF text
LANGUAGE plpgsql SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    s name := custprofile_internal.pgvector_schema();
    t record;
    wanted jsonb;
    state jsonb;
    graph jsonb;
    present boolean;
BEGIN
    PERFORM custprofile_internal.require_coordinator('create_vector_indexes');
    IF s IS NULL THEN
        RAISE EXCEPTION 'the vector extension (pgvector) is not installed in this database'
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'CREATE EXTENSION vector; then call custprofile.create_vector_indexes() again. Without it the searches are exact.';
    END IF;
    IF m IS NOT NULL AND m NOT BETWEEN 2 AND 100 THEN
        RAISE EXCEPTION 'm must be between 2 and 100, not %', m
            USING ERRCODE = 'invalid_parameter_value', HINT = 'pgvector''s default is 16; 32 gives a better graph at twice the index size.';
    END IF;
    IF ef_construction IS NOT NULL AND ef_construction NOT BETWEEN 4 AND 1000 THEN
        RAISE EXCEPTION 'ef_construction must be between 4 and 1000, not %', ef_construction
            USING ERRCODE = 'invalid_parameter_value', HINT = 'pgvector''s default is 64; a bigger one builds a better graph, more slowly.';
    END IF;
    FOR t IN SELECT * FROM custprofile_internal.vector_index_targets() LOOP
        wanted := custprofile_internal.vector_index_wanted(t.target);
        state := custprofile_internal.vector_index_state(t.target);
        graph := jsonb_build_object(
            'm', COALESCE(m, (state ->> 'm')::int, (custprofile.vector_index_graph() ->> 'm')::int),
            'ef_construction', COALESCE(ef_construction, (state ->> 'ef_construction')::int,
                                        (custprofile.vector_index_graph() ->> 'ef_construction')::int));
        IF (graph ->> 'ef_construction')::int < 2 * (graph ->> 'm')::int THEN
            RAISE EXCEPTION 'ef_construction (%) must be at least twice m (%)', graph ->> 'ef_construction', graph ->> 'm'
                USING ERRCODE = 'invalid_parameter_value', HINT = 'pgvector builds each node''s links from at least 2·m candidates.';
        END IF;
        wanted := wanted || graph;
        present := to_regclass(format('custprofile.%I', t.index_name)) IS NOT NULL;
        IF wanted IS NULL THEN
            IF present THEN
                EXECUTE format('DROP INDEX custprofile.%I', t.index_name);
            END IF;
            RETURN NEXT format('%s: no stored vectors, no index', t.target);
        ELSIF state IS NOT DISTINCT FROM wanted THEN
            RETURN NEXT format('%s: %s is up to date', t.target, t.index_name);
        ELSE
            IF present THEN
                EXECUTE format('DROP INDEX custprofile.%I', t.index_name);
            END IF;
            EXECUTE format('CREATE INDEX %I ON custprofile.%I USING hnsw ((%I::%I.vector(%s)) %I.vector_cosine_ops) '
                           'WITH (m = %s, ef_construction = %s) WHERE ',
                           t.index_name, t.table_name, t.vector_column, s, wanted ->> 'dimensions', s,
                           wanted ->> 'm', wanted ->> 'ef_construction')
                    || format(t.predicate, COALESCE(wanted ->> 'vector_space', wanted ->> 'dimensions'));
            EXECUTE format('COMMENT ON INDEX custprofile.%I IS %L', t.index_name, wanted::text);
            RETURN NEXT format('%s: built %s (%s dimensions, m = %s, ef_construction = %s)', t.target, t.index_name,
                               wanted ->> 'dimensions', wanted ->> 'm', wanted ->> 'ef_construction');
        END IF;
    END LOOP;
END $$;

-- Called by refresh_profiles when it is done: keeps the indexes in step with the stored vectors
-- when pgvector is installed and the caller owns the tables; otherwise says what to run (an
-- index that is not for the stored vectors is not used, so the searches stay right meanwhile).
CREATE FUNCTION custprofile_internal.maintain_vector_indexes() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    stale boolean;
BEGIN
    IF custprofile_internal.pgvector_schema() IS NULL THEN
        RETURN;
    END IF;
    SELECT bool_or(custprofile_internal.vector_index_state(t.target) - 'm' - 'ef_construction' IS DISTINCT FROM custprofile_internal.vector_index_wanted(t.target))
      INTO stale FROM custprofile_internal.vector_index_targets() t;
    IF NOT stale THEN
        RETURN;
    ELSIF pg_catalog.pg_has_role((SELECT c.relowner FROM pg_class c WHERE c.oid = 'custprofile.profiles'::regclass), 'USAGE') THEN
        PERFORM custprofile.create_vector_indexes();
    ELSE
        RAISE NOTICE 'the pgvector indexes of custprofile are missing or out of date; searches are exact until they are built'
            USING HINT = 'The owner of the extension runs SELECT custprofile.create_vector_indexes();';
    END IF;
END $$;

-- The nearest `pool` rows of `target` to the vector `vector_sql` (an SQL expression) by the
-- index, as the SQL of a subquery over the target's table (alias n) with a column `distance`
-- (cosine distance); NULL when no index serves vectors of `dimensions` (then search exactly).
-- The predicate is the index's own, literally, so that the planner proves the partial index.
CREATE FUNCTION custprofile_internal.nearest_sql(target text, vector_sql text, dimensions int, pool int) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    s name := custprofile_internal.pgvector_schema();
    state jsonb := custprofile_internal.vector_index_state(target);
    t record;
BEGIN
    IF state IS NULL OR (state ->> 'dimensions')::int IS DISTINCT FROM dimensions
       OR (target = 'profiles' AND state ->> 'vector_space' IS DISTINCT FROM custprofile.vector_space()) THEN
        RETURN NULL;
    END IF;
    SELECT * INTO t FROM custprofile_internal.vector_index_targets() x WHERE x.target = $1;
    RETURN format('SELECT n.*, n.%1$I::%2$I.vector(%3$s) OPERATOR(%2$I.<=>) (%4$s)::%2$I.vector(%3$s) AS distance '
                  'FROM custprofile.%5$I n WHERE %6$s ORDER BY distance LIMIT %7$s',
                  t.vector_column, s, dimensions, vector_sql, t.table_name,
                  format(t.predicate, COALESCE(state ->> 'vector_space', dimensions::text)),
                  pool);
END $$;

-- How many candidates an index search gives the exact ranking: the k best by the full score
-- are almost always among the 10·k (at least 100) nearest by vector alone.
CREATE FUNCTION custprofile_internal.nearest_pool(k int) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT greatest(10 * k, 100)
$$;
