-- pgvector, when a database has it: approximate nearest-neighbour (HNSW) indexes on the stored
-- vectors, used by similar_customers, recommend and suggest_replies. custprofile never requires
-- pgvector: without the `vector` extension, or without the indexes, every function searches
-- exactly as before. The vectors stay real[] (what embed_text returns): each index is on a cast,
-- (interest_vector::vector(384)), partial on the rows it can hold (one vector space, one length),
-- so the tables, their dumps and their readers do not change with pgvector. An index is not part
-- of the extension: pg_dump leaves it out (the tables are extension tables, dumped as data), and
-- the next refresh_profiles builds it again.

-- The schema of the vector extension; NULL when this database does not have it.
CREATE FUNCTION custprofile.pgvector_schema() RETURNS name
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'vector'
$$;

-- The indexes custprofile keeps, one per kind of stored vector, what each holds and whether it is
-- built for the vectors stored now.
CREATE FUNCTION custprofile.vector_index_targets()
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
CREATE FUNCTION custprofile.vector_index_state(target text) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT pg_catalog.obj_description(c.oid, 'pg_class')::jsonb
      FROM custprofile.vector_index_targets() t
      JOIN pg_class c ON c.relname = t.index_name AND c.relnamespace = 'custprofile'::regnamespace
      JOIN pg_index i ON i.indexrelid = c.oid AND i.indisvalid
     WHERE t.target = $1 AND custprofile.pgvector_schema() IS NOT NULL
$$;

-- The vector space and length the index of `target` should hold now: profiles in the current
-- encoder's space, catalogue vectors as long as the current encoder's. NULL when no such vector
-- is stored (nothing to index).
CREATE FUNCTION custprofile.vector_index_wanted(target text) RETURNS jsonb
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

-- Builds (or rebuilds, for another vector space or length) the HNSW index of each kind of stored
-- vector, for the vectors stored now; one line per index saying what it did. The caller must own
-- the tables (the role that created the extension). ERROR when pgvector is not installed.
CREATE FUNCTION custprofile.create_vector_indexes() RETURNS SETOF text
LANGUAGE plpgsql SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    s name := custprofile.pgvector_schema();
    t record;
    wanted jsonb;
    present boolean;
BEGIN
    PERFORM custprofile.require_coordinator('create_vector_indexes');
    IF s IS NULL THEN
        RAISE EXCEPTION 'the vector extension (pgvector) is not installed in this database'
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'CREATE EXTENSION vector; then call custprofile.create_vector_indexes() again. Without it the searches are exact.';
    END IF;
    FOR t IN SELECT * FROM custprofile.vector_index_targets() LOOP
        wanted := custprofile.vector_index_wanted(t.target);
        present := to_regclass(format('custprofile.%I', t.index_name)) IS NOT NULL;
        IF wanted IS NULL THEN
            IF present THEN
                EXECUTE format('DROP INDEX custprofile.%I', t.index_name);
            END IF;
            RETURN NEXT format('%s: no stored vectors, no index', t.target);
        ELSIF custprofile.vector_index_state(t.target) IS NOT DISTINCT FROM wanted THEN
            RETURN NEXT format('%s: %s is up to date', t.target, t.index_name);
        ELSE
            IF present THEN
                EXECUTE format('DROP INDEX custprofile.%I', t.index_name);
            END IF;
            EXECUTE format('CREATE INDEX %I ON custprofile.%I USING hnsw ((%I::%I.vector(%s)) %I.vector_cosine_ops) WHERE ',
                           t.index_name, t.table_name, t.vector_column, s, wanted ->> 'dimensions', s)
                    || format(t.predicate, COALESCE(wanted ->> 'vector_space', wanted ->> 'dimensions'));
            EXECUTE format('COMMENT ON INDEX custprofile.%I IS %L', t.index_name, wanted::text);
            RETURN NEXT format('%s: built %s (%s dimensions)', t.target, t.index_name, wanted ->> 'dimensions');
        END IF;
    END LOOP;
END $$;

-- Called by refresh_profiles when it is done: keeps the indexes in step with the stored vectors
-- when pgvector is installed and the caller owns the tables; otherwise says what to run (an
-- index that is not for the stored vectors is not used, so the searches stay right meanwhile).
CREATE FUNCTION custprofile.maintain_vector_indexes() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    stale boolean;
BEGIN
    IF custprofile.pgvector_schema() IS NULL THEN
        RETURN;
    END IF;
    SELECT bool_or(custprofile.vector_index_state(t.target) IS DISTINCT FROM custprofile.vector_index_wanted(t.target))
      INTO stale FROM custprofile.vector_index_targets() t;
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
CREATE FUNCTION custprofile.nearest_sql(target text, vector_sql text, dimensions int, pool int) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    s name := custprofile.pgvector_schema();
    state jsonb := custprofile.vector_index_state(target);
    t record;
BEGIN
    IF state IS NULL OR (state ->> 'dimensions')::int IS DISTINCT FROM dimensions
       OR (target = 'profiles' AND state ->> 'vector_space' IS DISTINCT FROM custprofile.vector_space()) THEN
        RETURN NULL;
    END IF;
    SELECT * INTO t FROM custprofile.vector_index_targets() x WHERE x.target = $1;
    RETURN format('SELECT n.*, n.%1$I::%2$I.vector(%3$s) OPERATOR(%2$I.<=>) (%4$s)::%2$I.vector(%3$s) AS distance '
                  'FROM custprofile.%5$I n WHERE %6$s ORDER BY distance LIMIT %7$s',
                  t.vector_column, s, dimensions, vector_sql, t.table_name,
                  format(t.predicate, COALESCE(state ->> 'vector_space', dimensions::text)),
                  pool);
END $$;

-- How many candidates an index search gives the exact ranking: the k best by the full score
-- are almost always among the 10·k (at least 100) nearest by vector alone.
CREATE FUNCTION custprofile.nearest_pool(k int) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT greatest(10 * k, 100)
$$;
