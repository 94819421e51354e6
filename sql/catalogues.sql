-- The shop's catalogues: the items it sells (for recommend) and the answers of its knowledge
-- base (for suggest_replies), both registered with register_source. Their texts are embedded
-- once and stored here; refresh_catalogues (called by refresh_profiles) embeds what is new or
-- changed. Readers never see a stale vector: a row whose text changed since it was stored is
-- embedded again on the fly until the next refresh stores it.

CREATE TABLE custprofile.catalogue_embeddings (
    kind        text NOT NULL CHECK (kind IN ('items', 'answers')),
    key         text NOT NULL,
    -- hashtextextended of the embedded text and of the model version: a change of either
    -- makes the row stale
    text_hash   bigint NOT NULL,
    embedding   real[] NOT NULL,
    embedded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, key)
);
COMMENT ON TABLE custprofile.catalogue_embeddings IS
    'Stored embeddings of the items and answers sources, kept by custprofile.refresh_catalogues().';
-- pg_dump keeps the vectors (recomputing them costs an encoder pass per row); its text_hash covers
-- the model version, so a restore under another encoder re-embeds it
SELECT pg_catalog.pg_extension_config_dump('custprofile.catalogue_embeddings', '');

-- The items source of `sources` (checked_sources) as (key text, document text, title text,
-- category text, price numeric): the document is what is embedded, "title. category. description".
CREATE FUNCTION custprofile_internal.items_sql(sources jsonb) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    s jsonb := custprofile_internal.checked_source(sources, 'items');
    title text := custprofile_internal.role_sql(s -> 'columns', 'title', 'i', 'text');
    category text := custprofile_internal.role_sql(s -> 'columns', 'category', 'i', 'text');
BEGIN
    RETURN format(
        'SELECT i.%1$I::text AS key, '
        -- chr(30) separates the phrasings of a document (embed_documents): an item has one
        'translate(concat_ws(''. '', NULLIF(btrim(%2$s), ''''), NULLIF(btrim(%3$s), ''''), NULLIF(btrim(%4$s), '''')), chr(30), '' '') AS document, '
        '%2$s AS title, %3$s AS category, %5$s AS price FROM %6$s i',
        s #>> '{columns,key}', title, category, custprofile_internal.role_sql(s -> 'columns', 'description', 'i', 'text'),
        custprofile_internal.role_sql(s -> 'columns', 'price', 'i', 'numeric'), custprofile_internal.source_relation(s));
END $$;

-- The answers source of `sources` as (key text, document text, answer text), the document being
-- what is matched: the question (or topic) and its alternate questions, if any. They are
-- separated by chr(30) (stripped from their text), so that embed_documents embeds the article as
-- the centroid of the ways it is asked for. Blank phrasings are left out; NULL where all are.
CREATE FUNCTION custprofile_internal.answers_sql(sources jsonb) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT format('SELECT a.%1$I::text AS key, '
                  'NULLIF(concat_ws(chr(30), NULLIF(btrim(translate(a.%2$I::text, chr(30), '' '')), ''''), '
                  '    (SELECT string_agg(p.phrasing, chr(30) ORDER BY q.n) '
                  '       FROM unnest(%3$s) WITH ORDINALITY AS q(alternate, n), '
                  '            LATERAL (SELECT NULLIF(btrim(translate(q.alternate, chr(30), '' '')), '''') AS phrasing) p)), '''') AS document, '
                  'a.%4$I::text AS answer FROM %5$s a',
                  s #>> '{columns,key}', s #>> '{columns,question}',
                  custprofile_internal.role_sql(s -> 'columns', 'alternate_questions', 'a', 'text[]'),
                  s #>> '{columns,answer}', custprofile_internal.source_relation(s))
      FROM (SELECT custprofile_internal.checked_source(sources, 'answers') AS s) x
$$;

-- The rows of a catalogue: items_sql(sources) or answers_sql(sources).
CREATE FUNCTION custprofile_internal.catalogue_rows_sql(kind text, sources jsonb) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT CASE kind WHEN 'items' THEN custprofile_internal.items_sql(sources) ELSE custprofile_internal.answers_sql(sources) END
$$;

-- The hash that says whether a stored embedding still fits its text and the model.
CREATE FUNCTION custprofile_internal.catalogue_hash(document text, model jsonb) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT hashtextextended(document || chr(31) || (model - 'extension')::text, 0)
$$;

-- The rows of a catalogue ('items' or 'answers') with the relatedness of their text to a query
-- vector (`vector_sql`: a parameter such as '$1', or any expression; relatedness is the cosine
-- on the current encoder's common scale, so thresholds mean the same for every encoder), as a
-- column `similarity`: from the stored vector when it is fresh, else from an embedding computed now.
-- The similarity is computed in the scan of the stored vectors (OFFSET 0 keeps the planner
-- from pulling it above the join), so only (key, similarity) rows meet the catalogue, never
-- the vectors themselves. Rows without text are left out; a NULL
-- query vector gives NULL similarities.
-- Given `pool` and the query vector's `dimensions`, and pgvector's index of the kind
-- (sql/vectors.sql): only the `pool` rows nearest to the query vector by the index, with fresh
-- stored vectors (a row added or changed since the last refresh_catalogues is left out until
-- then, never scored with a stale vector).
CREATE FUNCTION custprofile_internal.catalogue_similarity_sql(kind text, vector_sql text, sources jsonb,
                                                     pool int DEFAULT NULL, dimensions int DEFAULT NULL) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    nearest text := CASE WHEN pool IS NOT NULL THEN custprofile_internal.nearest_sql(kind, vector_sql, dimensions, pool) END;
BEGIN
    IF nearest IS NOT NULL THEN
        RETURN format(
            'SELECT c.*, e.similarity FROM (%1$s) c '
            'JOIN (SELECT x.key, x.text_hash, custprofile.relatedness(x.embedding, %2$s) AS similarity '
            '        FROM (%3$s) x OFFSET 0) e '
            '  ON e.key = c.key AND e.text_hash = custprofile_internal.catalogue_hash(c.document, %4$L) '
            'WHERE c.document IS NOT NULL AND c.key IS NOT NULL',
            custprofile_internal.catalogue_rows_sql(kind, sources), vector_sql, nearest, custprofile.model_version());
    END IF;
    RETURN format(
        'SELECT c.*, CASE WHEN e.key IS NOT NULL THEN e.similarity '
        '                 WHEN (%2$s) IS NOT NULL THEN custprofile.relatedness((SELECT d FROM custprofile_internal.embed_documents(ARRAY[c.document]) d), %2$s) END AS similarity '
        'FROM (%1$s) c '
        'LEFT JOIN (SELECT x.key, x.text_hash, custprofile.relatedness(x.embedding, %2$s) AS similarity '
        '             FROM custprofile.catalogue_embeddings x WHERE x.kind = %3$L OFFSET 0) e '
        '  ON e.key = c.key AND e.text_hash = custprofile_internal.catalogue_hash(c.document, %4$L) '
        'WHERE c.document IS NOT NULL AND c.key IS NOT NULL',
        custprofile_internal.catalogue_rows_sql(kind, sources), vector_sql, kind, custprofile.model_version());
END $$;

-- Embeds the new and changed rows of the registered items and answers (in batches through
-- embed_documents) and forgets rows that are gone. One row per kind: how many rows were embedded,
-- how many removed. Kinds that are not registered are skipped.
CREATE FUNCTION custprofile.refresh_catalogues()
RETURNS TABLE (kind text, embedded bigint, removed bigint)
LANGUAGE plpgsql SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    k text;
    model jsonb := custprofile.model_version();
    chunk record;
    sources jsonb;
    reader name;
    previous_role text;
    started timestamptz := clock_timestamp();
    last_report timestamptz := started;
    run_detail jsonb := '{}';
BEGIN
    PERFORM custprofile_internal.require_coordinator('refresh_catalogues');
    -- the vectors of a kind that is no longer registered
    DELETE FROM custprofile.catalogue_embeddings e
     WHERE NOT EXISTS (SELECT FROM custprofile.source_registry r WHERE r.kind = e.kind);
    FOR k IN SELECT r.kind FROM custprofile.source_registry r WHERE r.kind IN ('items', 'answers') ORDER BY 1 LOOP
        sources := custprofile_internal.checked_sources(k);
        kind := k;
        CREATE TEMP TABLE custprofile_catalogue (key text, document text) ON COMMIT DROP;
        -- filled as the sources' reader (sql/sources.sql), who may write just this table
        reader := custprofile_internal.source_reader();
        IF reader IS NOT NULL THEN
            EXECUTE format('GRANT INSERT ON pg_temp.custprofile_catalogue TO %I', reader);
        END IF;
        previous_role := custprofile_internal.enter_source_reader();
        EXECUTE format('INSERT INTO pg_temp.custprofile_catalogue SELECT DISTINCT ON (c.key) c.key, c.document FROM (%s) c '
                       'WHERE c.key IS NOT NULL AND c.document IS NOT NULL ORDER BY c.key',
                       custprofile_internal.catalogue_rows_sql(k, sources));
        PERFORM custprofile_internal.leave_source_reader(previous_role);
        DELETE FROM custprofile.catalogue_embeddings e
         WHERE e.kind = k AND NOT EXISTS (SELECT FROM pg_temp.custprofile_catalogue c WHERE c.key = e.key);
        GET DIAGNOSTICS removed = ROW_COUNT;
        embedded := 0;
        -- stale or missing rows, 256 documents per embed_documents call
        FOR chunk IN
            SELECT array_agg(s.key ORDER BY s.key) AS keys, array_agg(s.document ORDER BY s.key) AS documents
              FROM (SELECT c.key, c.document, (row_number() OVER (ORDER BY c.key) - 1) / 256 AS part
                      FROM pg_temp.custprofile_catalogue c
                      LEFT JOIN custprofile.catalogue_embeddings e ON e.kind = k AND e.key = c.key
                     WHERE e.text_hash IS DISTINCT FROM custprofile_internal.catalogue_hash(c.document, model)) s
             GROUP BY s.part ORDER BY s.part
        LOOP
            INSERT INTO custprofile.catalogue_embeddings AS e (kind, key, text_hash, embedding, embedded_at)
            SELECT k, chunk.keys[v.n], custprofile_internal.catalogue_hash(chunk.documents[v.n], model), v.embedding, now()
              FROM custprofile_internal.embed_documents(chunk.documents) WITH ORDINALITY AS v(embedding, n)
            ON CONFLICT ON CONSTRAINT catalogue_embeddings_pkey DO UPDATE
                SET text_hash = EXCLUDED.text_hash, embedding = EXCLUDED.embedding, embedded_at = EXCLUDED.embedded_at;
            embedded := embedded + cardinality(chunk.keys);
            last_report := custprofile_internal.report_progress('refresh_catalogues', format('%s %s embedded', embedded, k),
                                                       started, last_report);
        END LOOP;
        run_detail := run_detail || jsonb_build_object(k, jsonb_build_object('embedded', embedded, 'removed', removed));
        RETURN NEXT;
        DROP TABLE pg_temp.custprofile_catalogue;
    END LOOP;
    -- the reply threshold is measured on the answers' vectors just stored (sql/replies.sql)
    IF NOT EXISTS (SELECT FROM custprofile.reply_calibration c WHERE c.fingerprint = custprofile_internal.answers_fingerprint()) THEN
        PERFORM custprofile_internal.calibrate_replies();
    END IF;
    PERFORM custprofile_internal.record_run('refresh_catalogues', started,
        (SELECT COALESCE(sum((v ->> 'embedded')::bigint), 0)::bigint FROM jsonb_each(run_detail) d(k, v)), run_detail);
END $$;
COMMENT ON FUNCTION custprofile.refresh_catalogues() IS
    'Embeds new and changed items and answers and forgets removed ones; refresh_profiles calls it.';
