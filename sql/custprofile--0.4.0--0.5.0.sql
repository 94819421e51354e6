-- custprofile 0.4.0 -> 0.5.0: multilingual-e5-small becomes the default encoder, and every
-- similarity the SQL layer thresholds or weighs is read on one scale, whichever encoder made it.
\echo Use "ALTER EXTENSION custprofile UPDATE TO '0.5.0'" to load this file. \quit

-- The cosine on the current encoder's common scale (its manifest's "relatedness").
-- custprofile::api::embedding::relatedness
CREATE FUNCTION custprofile."relatedness"(
	"a" real[], /* Array < f32 > */
	"b" real[] /* Array < f32 > */
) RETURNS real /* Option < f32 > */
STRICT STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'relatedness_wrapper';

-- Language detection and the words of a text (Chinese segmented), as src/api/text.rs defines them.
-- custprofile::api::text::detect_language
CREATE FUNCTION custprofile."detect_language"(
	"input" TEXT /* &str */
) RETURNS TEXT /* core::option::Option<&str> */
STABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'detect_language_wrapper';
-- custprofile::api::text::detect_language_scores
CREATE FUNCTION custprofile."detect_language_scores"(
	"input" TEXT /* &str */
) RETURNS jsonb /* pgrx::datum::json::JsonB */
STABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'detect_language_scores_wrapper';
-- custprofile::api::text::split_words
CREATE FUNCTION custprofile."split_words"(
	"input" TEXT /* &str */
) RETURNS SETOF TEXT /* alloc::string::String */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'split_words_wrapper';

-- customer_similarity reads its interest part on that scale, which follows custprofile.encoder.
ALTER FUNCTION custprofile.customer_similarity(real[], jsonb, real[], jsonb) STABLE;

-- The rows of a catalogue ('items' or 'answers') with the relatedness of their text to a query
-- vector (`vector_sql`: a parameter such as '$1', or any expression; relatedness is the cosine
-- on the current encoder's common scale, so thresholds mean the same for every encoder), as a
-- column `similarity`: from the stored vector when it is fresh, else from an embedding computed now.
-- The similarity is computed in the scan of the stored vectors (OFFSET 0 keeps the planner
-- from pulling it above the join), so only (key, similarity) rows meet the catalogue, never
-- the vectors themselves. Rows without text are left out; a NULL
-- query vector gives NULL similarities.
CREATE OR REPLACE FUNCTION custprofile.catalogue_similarity_sql(kind text, vector_sql text, sources jsonb) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
BEGIN
    RETURN format(
        'SELECT c.*, CASE WHEN e.key IS NOT NULL THEN e.similarity '
        '                 WHEN (%2$s) IS NOT NULL THEN custprofile.relatedness(custprofile.embed_text(c.document), %2$s) END AS similarity '
        'FROM (%1$s) c '
        'LEFT JOIN (SELECT x.key, x.text_hash, custprofile.relatedness(x.embedding, %2$s) AS similarity '
        '             FROM custprofile.catalogue_embeddings x WHERE x.kind = %3$L OFFSET 0) e '
        '  ON e.key = c.key AND e.text_hash = custprofile.catalogue_hash(c.document, %4$L) '
        'WHERE c.document IS NOT NULL AND c.key IS NOT NULL',
        custprofile.catalogue_rows_sql(kind, sources), vector_sql, kind, custprofile.model_version());
END $$;

-- A second refresh that starts while one runs shares its queue instead of locking every entry
-- (ON CONFLICT DO UPDATE did, so the first refresh's claims found nothing and it ended early).
CREATE OR REPLACE PROCEDURE custprofile.refresh_profiles(batch_size int DEFAULT 200, full_rebuild boolean DEFAULT false)
LANGUAGE plpgsql AS $$
DECLARE
    total bigint;
    done bigint := 0;
    removed bigint;
    claimed text[];
    batch text[];
    hashes text[];
    breakpoints jsonb;
    started timestamptz := pg_catalog.clock_timestamp();
BEGIN
    -- a procedure that commits cannot have a SET clause: the search_path is pinned here and
    -- again after every COMMIT (which ends a local setting)
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, custprofile, pg_temp', true);
    IF batch_size IS NULL OR batch_size < 1 THEN
        RAISE EXCEPTION 'batch_size must be at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- stored documents carry UTC times, whoever calls
    PERFORM set_config('TimeZone', 'UTC', true);

    -- 0. embed new and changed items and answers
    PERFORM custprofile.refresh_catalogues();

    -- 1. queue what changed; drop profiles of customers that are gone
    WITH f AS MATERIALIZED (SELECT * FROM custprofile.source_fingerprints()),
    gone AS (
        DELETE FROM custprofile.profiles p
         WHERE NOT EXISTS (SELECT FROM f WHERE f.customer_key = p.customer_key)
        RETURNING 1),
    gone_queued AS (
        DELETE FROM custprofile.refresh_queue q
         WHERE NOT EXISTS (SELECT FROM f WHERE f.customer_key = q.customer_key)),
    queued AS (
        INSERT INTO custprofile.refresh_queue AS q (customer_key, source_hash, forced)
        SELECT f.customer_key, f.source_hash, full_rebuild
          FROM f LEFT JOIN custprofile.profiles p ON p.customer_key = f.customer_key
         WHERE full_rebuild OR p.source_hash IS DISTINCT FROM f.source_hash
        ON CONFLICT (customer_key) DO NOTHING),
    -- only entries whose rows changed again are updated: an update locks the entry until this
    -- transaction commits, and a concurrent refresh's claim would skip it (and end early, its
    -- queue seemingly empty) if every entry were rewritten, as ON CONFLICT DO UPDATE would
    requeued AS (
        UPDATE custprofile.refresh_queue q SET source_hash = f.source_hash, forced = q.forced OR full_rebuild
          FROM f
         WHERE f.customer_key = q.customer_key
           AND (q.source_hash IS DISTINCT FROM f.source_hash OR (full_rebuild AND NOT q.forced)))
    SELECT count(*) INTO removed FROM gone;
    COMMIT;
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, custprofile, pg_temp', true);

    SELECT count(*) INTO total FROM custprofile.refresh_queue;
    breakpoints := custprofile.rfm_breakpoints();

    -- 2. build batch by batch
    LOOP
        PERFORM pg_catalog.set_config('TimeZone', 'UTC', true);
        -- claim a batch; entries that a concurrent refresh has built meanwhile are fresh
        SELECT array_agg(c.customer_key), array_agg(c.source_hash) FILTER (WHERE NOT c.fresh),
               array_agg(c.customer_key) FILTER (WHERE NOT c.fresh)
          INTO claimed, hashes, batch
          FROM (SELECT q.customer_key, q.source_hash,
                       NOT q.forced AND p.source_hash IS NOT DISTINCT FROM q.source_hash AS fresh
                  FROM custprofile.refresh_queue q
                  LEFT JOIN custprofile.profiles p ON p.customer_key = q.customer_key
                 ORDER BY q.customer_key LIMIT batch_size FOR UPDATE OF q SKIP LOCKED) c;
        EXIT WHEN claimed IS NULL;
        INSERT INTO custprofile.profiles AS p (customer_key, profile, interest_vector, source_hash, vector_space, refreshed_at)
        SELECT b.customer_key, b.profile, NULLIF(b.interest_vector, '{}'), h.source_hash, custprofile.vector_space(), now()
          FROM custprofile.build_profiles(batch, breakpoints) b
          JOIN unnest(batch, hashes) AS h(customer_key, source_hash) ON h.customer_key = b.customer_key
        ON CONFLICT (customer_key) DO UPDATE
            SET profile = EXCLUDED.profile, interest_vector = EXCLUDED.interest_vector, vector_space = EXCLUDED.vector_space,
                source_hash = EXCLUDED.source_hash, refreshed_at = EXCLUDED.refreshed_at;
        DELETE FROM custprofile.refresh_queue q WHERE q.customer_key = ANY (claimed);
        done := done + COALESCE(cardinality(batch), 0);
        IF total > batch_size THEN
            RAISE NOTICE 'refresh_profiles: % of % queued customers rebuilt', done, total
                USING DETAIL = format('%s s so far', round(extract(epoch FROM clock_timestamp() - started)::numeric, 1));
        END IF;
        COMMIT;
        PERFORM pg_catalog.set_config('search_path', 'pg_catalog, custprofile, pg_temp', true);
    END LOOP;
    RAISE NOTICE 'refresh_profiles: % profiles rebuilt, % removed', done, removed
        USING DETAIL = format('%s s', round(extract(epoch FROM clock_timestamp() - started)::numeric, 1));
END $$;
