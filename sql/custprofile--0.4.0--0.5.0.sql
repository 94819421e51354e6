-- custprofile 0.4.0 -> 0.5.0: multilingual-e5-small becomes the default encoder, and every
-- similarity the SQL layer thresholds or weighs is read on one scale, whichever encoder made it.
-- Chinese and other languages: language detection, words, profile document version 2 (languages,
-- several topics per text), text_insights' language, labels in English or Chinese, several
-- labels per text (classify_multi, predict_multi). Judgements as of the data's own time
-- (custprofile.as_of), trends shrunk by their uncertainty, customer keys in their own type in the
-- views, refresh_profiles_in_transaction, blank texts in check_sources.
\echo Use "ALTER EXTENSION custprofile UPDATE TO '0.5.0'" to load this file. \quit

-- The helpers move to a schema of their own (custprofile_internal, docs/reference.md), so that
-- custprofile holds what users call; the definitions below and the functions recreated at the
-- end call them there. Moved first: what follows replaces some of them in their new schema.
CREATE SCHEMA custprofile_internal;
COMMENT ON SCHEMA custprofile_internal IS 'What custprofile''s own functions call: not for direct use (docs/reference.md).';
GRANT USAGE ON SCHEMA custprofile_internal TO PUBLIC;
ALTER FUNCTION custprofile.answers_sql(jsonb) SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.builtin_models() SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.catalogue_hash(text,jsonb) SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.catalogue_rows_sql(text,jsonb) SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.catalogue_similarity_sql(text,text,jsonb) SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.check_k(integer,integer) SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.check_registrar(name,regprocedure,text) SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.check_registration(text,oid,text,jsonb) SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.checked_source(jsonb,text) SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.checked_sources(text[]) SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.churn_weights() SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.clamp01(double precision) SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.column_type(oid,text) SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.customers_sql(jsonb) SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.default_churn_weights() SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.drop_registration(text,text,name) SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.embedding_avg_accum(double precision[],real[]) SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.embedding_avg_combine(double precision[],double precision[]) SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.embedding_avg_final(double precision[]) SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.enter_source_reader() SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.fit_logistic(double precision[],boolean[],text[],jsonb) SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.items_sql(jsonb) SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.key_type(jsonb) SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.kmeans_segments(integer,jsonb) SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.leave_source_reader(text) SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.orders_or_none_sql(jsonb) SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.orders_sql(jsonb) SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.pii_masking() SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.profile_agg_accum(internal,text) SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.profile_agg_accum(internal,text,real) SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.profile_agg_accum(internal,text,real,timestamp with time zone) SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.profile_agg_combine(internal,internal) SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.profile_agg_deserialize(bytea,internal) SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.profile_agg_final(internal) SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.profile_agg_serialize(internal) SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.profile_document(jsonb,jsonb,jsonb,jsonb) SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.profiles_sql(jsonb) SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.purchases_section(bigint,numeric,timestamp with time zone,timestamp with time zone,numeric,numeric,jsonb,jsonb,jsonb) SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.quintile_score(double precision,jsonb,boolean) SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.registered(text) SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.require_one_vector_space() SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.require_profiles() SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.require_vector_space(text) SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.rfm_section(numeric,bigint,numeric,jsonb) SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.role_sql(jsonb,text,text,text) SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.segment_keyword_texts() SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.source_fingerprints() SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.source_reader() SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.source_relation(jsonb) SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.source_roles(text) SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.store_registration(text,regclass,jsonb,name) SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.stored_churn(jsonb,timestamp with time zone) SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.texts_interest_vector(jsonb) SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.texts_sql(jsonb) SET SCHEMA custprofile_internal;
ALTER FUNCTION custprofile.with_churn(jsonb,jsonb) SET SCHEMA custprofile_internal;

-- Intent beside sentiment, and segment names by contrast: the new Rust functions
-- custprofile::api::intent::intent
CREATE FUNCTION custprofile."intent"(
	"input" TEXT /* & str */
) RETURNS TEXT /* & '_ str */
STRICT STABLE PARALLEL SAFE COST 5000
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'intent_wrapper';
-- custprofile::api::intent::intent_detail
CREATE FUNCTION custprofile."intent_detail"(
	"input" TEXT /* & str */
) RETURNS jsonb /* JsonB */
STRICT STABLE PARALLEL SAFE COST 5000
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'intent_detail_wrapper';
-- custprofile::api::intent::text_signals
CREATE FUNCTION custprofile."text_signals"(
	"input" TEXT /* & str */
) RETURNS jsonb /* JsonB */
STRICT STABLE PARALLEL SAFE COST 5000
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'text_signals_wrapper';
-- an answer's alternate questions: catalogue documents embedded as the centroid of their phrasings
-- custprofile::api::embedding::embed_documents
CREATE FUNCTION custprofile_internal."embed_documents"(
	"documents" TEXT[] /* Array < & str > */
) RETURNS SETOF real[] /* :: std :: option :: Option < Vec < f32 > > */
STRICT STABLE PARALLEL SAFE COST 5000
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'embed_documents_wrapper';
-- the per-text scores a refresh stores for text_insights (custprofile.text_scores)
-- custprofile::api::profile_agg::start_text_score_log
CREATE FUNCTION custprofile_internal."start_text_score_log"() RETURNS void
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'start_text_score_log_wrapper';
-- custprofile::api::profile_agg::take_text_score_log
CREATE FUNCTION custprofile_internal."take_text_score_log"() RETURNS TABLE (
	"body" TEXT,  /* String */
	"sentiment_label" TEXT,  /* &str */
	"sentiment" real,  /* f32 */
	"intent" TEXT  /* Option<&str> */
)
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'take_text_score_log_wrapper';
-- custprofile::api::segments::segment_names
CREATE FUNCTION custprofile."segment_names"(
	"stats" jsonb, /* JsonArg */
	"language" TEXT DEFAULT 'en' /* & str */
) RETURNS jsonb /* pgrx :: JsonB */
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'segment_names_wrapper';

-- Customer keys in their own type: the views show them as uuid or bigint beside the text form,
-- and a key that is not of the type is one clear ERROR
-- The type of the registered customers key column (NULL without a customers source): the views
-- show the key in it beside the text form.
CREATE FUNCTION custprofile_internal.customer_key_type() RETURNS regtype
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT custprofile_internal.column_type(r.relid, r.columns ->> 'key') FROM custprofile.source_registry r WHERE r.kind = 'customers'
$$;

-- A key (as text) in the customers key column's type, for the views: as uuid when that type is
-- uuid, as bigint when it is an integer type, else NULL. No SET clause, so that the planner
-- inlines them; every name is qualified instead.
CREATE FUNCTION custprofile_internal.key_as_uuid(customer_key text, key_type regtype) RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN key_type OPERATOR(pg_catalog.=) 'pg_catalog.uuid'::pg_catalog.regtype
                THEN customer_key::pg_catalog.uuid END
$$;
CREATE FUNCTION custprofile_internal.key_as_bigint(customer_key text, key_type regtype) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN key_type OPERATOR(pg_catalog.=) ANY (ARRAY['pg_catalog.int8', 'pg_catalog.int4', 'pg_catalog.int2']::pg_catalog.regtype[])
                THEN customer_key::pg_catalog.int8 END
$$;

-- Raises ERROR 22P02 naming the first key that is not a value of the customers key's type, so
-- that a mistyped key ('not-a-uuid') gets one clear line instead of a failed cast inside a
-- query of the extension's. NULL keys pass (they match no customer).
CREATE FUNCTION custprofile_internal.check_customer_keys(customer_keys text[], sources jsonb) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    kt text := custprofile_internal.key_type(sources);
    k text;
BEGIN
    IF kt = 'text' OR customer_keys IS NULL THEN
        RETURN;
    END IF;
    BEGIN
        EXECUTE format('SELECT $1::%s[]', kt) USING customer_keys;
    EXCEPTION WHEN data_exception THEN
        FOREACH k IN ARRAY customer_keys LOOP
            BEGIN
                EXECUTE format('SELECT $1::%s', kt) USING k;
            EXCEPTION WHEN data_exception THEN
                RAISE EXCEPTION 'customer key % is not a valid %', quote_literal(k), kt
                    USING ERRCODE = 'invalid_text_representation',
                          HINT = format('The customers source (%s) keys its customers by %s values.',
                                        custprofile_internal.source_relation(custprofile_internal.checked_source(sources, 'customers')), kt);
            END;
        END LOOP;
    END;
END $$;

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
-- pool and dimensions: the search by pgvector's index (sql/vectors.sql)
DROP FUNCTION custprofile_internal.catalogue_similarity_sql(text, text, jsonb);
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

-- refresh_profiles in steps shared with refresh_profiles_in_transaction, the function form for
-- clients that cannot autocommit; inside a transaction block the procedure says so with a HINT.
-- A second refresh that starts while one runs shares its queue instead of locking every entry
-- (ON CONFLICT DO UPDATE did, so the first refresh's claims found nothing and it ended early).
-- Every batch is judged as of one moment (custprofile.as_of, below) and writes last_activity.
-- custprofile::api::session::in_transaction_block
CREATE FUNCTION custprofile_internal."in_transaction_block"() RETURNS bool /* bool */
STRICT VOLATILE PARALLEL UNSAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'in_transaction_block_wrapper';
-- A refresh in steps, shared by the procedure refresh_profiles (a commit after each step) and
-- the function refresh_profiles_in_transaction (one transaction).

-- Step 1: embeds new and changed items and answers, queues the customers whose rows changed
-- since their profile was built (all with full_rebuild), drops profiles of customers that are
-- gone. Returns how many were dropped.
CREATE FUNCTION custprofile_internal.queue_stale_profiles(full_rebuild boolean) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, custprofile, pg_temp SET TimeZone = 'UTC' AS $$
DECLARE
    removed bigint;
BEGIN
    PERFORM custprofile.refresh_catalogues();
    -- text_insights' copy of the texts first: a full rebuild prunes the scores by it
    PERFORM custprofile_internal.store_texts();
    PERFORM custprofile_internal.prune_text_scores(full_rebuild);
    WITH f AS MATERIALIZED (SELECT * FROM custprofile_internal.source_fingerprints()),
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
    RETURN removed;
END $$;

-- Step 2, as often as it returns a number: claims up to batch_size queued customers that no
-- concurrent refresh holds (SKIP LOCKED), builds their profiles as of one moment with one
-- yardstick, stores them and empties their entries. Returns how many were built (entries that
-- a concurrent refresh built meanwhile are fresh and only removed); NULL when nothing was left.
CREATE FUNCTION custprofile_internal.rebuild_queued_profiles(batch_size int, breakpoints jsonb, as_of timestamptz) RETURNS int
LANGUAGE plpgsql SET search_path = pg_catalog, custprofile, pg_temp SET TimeZone = 'UTC'
-- no parallel workers: the texts' scores are recorded by the backend that scores them, and the
-- leader stores only its own (custprofile_internal.store_text_scores)
SET max_parallel_workers_per_gather = 0 AS $$
DECLARE
    claimed text[];
    batch text[];
    hashes text[];
BEGIN
    SELECT array_agg(c.customer_key), array_agg(c.source_hash) FILTER (WHERE NOT c.fresh),
           array_agg(c.customer_key) FILTER (WHERE NOT c.fresh)
      INTO claimed, hashes, batch
      FROM (SELECT q.customer_key, q.source_hash,
                   NOT q.forced AND p.source_hash IS NOT DISTINCT FROM q.source_hash AS fresh
              FROM custprofile.refresh_queue q
              LEFT JOIN custprofile.profiles p ON p.customer_key = q.customer_key
             ORDER BY q.customer_key LIMIT batch_size FOR UPDATE OF q SKIP LOCKED) c;
    IF claimed IS NULL THEN
        RETURN NULL;
    END IF;
    PERFORM custprofile_internal.start_text_score_log();
    INSERT INTO custprofile.profiles AS p (customer_key, profile, interest_vector, source_hash, vector_space, refreshed_at,
                                           last_activity, churn_risk, churn_valid_from, churn_valid_until, churn_basis)
    SELECT b.customer_key, b.profile, NULLIF(b.interest_vector, '{}'), h.source_hash, custprofile.vector_space(), now(),
           l.last_activity, (b.profile #>> '{churn,risk}')::real, v.valid_from, v.valid_until, (SELECT custprofile_internal.churn_basis())
      FROM custprofile.build_profiles(batch, breakpoints, as_of) b
      JOIN unnest(batch, hashes) AS h(customer_key, source_hash) ON h.customer_key = b.customer_key,
           LATERAL (SELECT greatest((custprofile.profile_row(b.profile)).last_order_at,
                                    (custprofile.profile_row(b.profile)).last_text_at) AS last_activity) l,
           LATERAL custprofile_internal.churn_validity(b.profile -> 'churn', l.last_activity) v
    ON CONFLICT (customer_key) DO UPDATE
        SET profile = EXCLUDED.profile, interest_vector = EXCLUDED.interest_vector, vector_space = EXCLUDED.vector_space,
            source_hash = EXCLUDED.source_hash, refreshed_at = EXCLUDED.refreshed_at,
            last_activity = EXCLUDED.last_activity, churn_risk = EXCLUDED.churn_risk,
            churn_valid_from = EXCLUDED.churn_valid_from, churn_valid_until = EXCLUDED.churn_valid_until,
            churn_basis = EXCLUDED.churn_basis;
    PERFORM custprofile_internal.store_text_scores();
    DELETE FROM custprofile.refresh_queue q WHERE q.customer_key = ANY (claimed);
    RETURN COALESCE(cardinality(batch), 0);
END $$;

-- Raises ERROR 22023 unless batch_size is at least 1.
CREATE FUNCTION custprofile_internal.check_batch_size(batch_size int) RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
BEGIN
    IF batch_size IS NULL OR batch_size < 1 THEN
        RAISE EXCEPTION 'batch_size must be at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
END $$;

-- The progress NOTICE of a refresh after each batch, when there is more than one batch.
CREATE FUNCTION custprofile_internal.refresh_progress(done bigint, total bigint, batch_size int, started timestamptz,
                                             last_report timestamptz) RETURNS timestamptz
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, custprofile, pg_temp AS $$
BEGIN
    IF total > batch_size THEN
        RETURN custprofile_internal.report_progress('refresh_profiles', format('%s of %s queued customers rebuilt', done, total),
                                           started, last_report);
    END IF;
    RETURN last_report;
END $$;

-- Rebuilds the profiles of customers whose source rows changed since the last refresh (all of
-- them the first time, or with full_rebuild), in batches of batch_size customers, each batch
-- committed: a failure or a cancel loses no finished batch and the next call resumes. Two
-- refreshes at once share the work (each batch is claimed with SKIP LOCKED), so no customer is
-- written by both. Call it outside a transaction block (it commits), e.g. from pg_cron; inside
-- one, refresh_profiles_in_transaction() does the same work in the caller's transaction.
CREATE OR REPLACE PROCEDURE custprofile.refresh_profiles(batch_size int DEFAULT 200, full_rebuild boolean DEFAULT false)
LANGUAGE plpgsql AS $$
DECLARE
    total bigint;
    done bigint := 0;
    built int;
    removed bigint;
    breakpoints jsonb;
    as_of timestamptz;
    sources jsonb;
    started timestamptz := pg_catalog.clock_timestamp();
    last_report timestamptz := started;
    run bigint;
    step text := 'queue';
    failure text[];
    code text;
    message text;
    detail text;
    hint text;
BEGIN
    -- a procedure that commits cannot have a SET clause: the search_path is pinned here and
    -- again after every COMMIT (which ends a local setting)
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, custprofile, pg_temp', true);
    IF custprofile_internal.in_transaction_block() THEN
        RAISE EXCEPTION 'refresh_profiles commits after every batch and cannot run inside a transaction block'
            USING ERRCODE = 'active_sql_transaction',
                  HINT = 'Run CALL custprofile.refresh_profiles(); on its own (autocommit), or SELECT custprofile.refresh_profiles_in_transaction(); to refresh within your transaction.';
    END IF;
    PERFORM custprofile_internal.check_batch_size(batch_size);
    PERFORM custprofile_internal.require_analyst('refresh_profiles');
    -- the run is in custprofile.runs from its start, and says how it ended (sql/runs.sql)
    run := custprofile_internal.start_run('refresh_profiles', current_user);
    COMMIT;
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, custprofile, pg_temp', true);

    -- each step is a block that catches its ERROR (a block with a handler cannot COMMIT, so
    -- the commits are between the blocks): the failure is recorded and committed, then raised
    LOOP
        BEGIN
            IF step = 'queue' THEN
                removed := custprofile_internal.queue_stale_profiles(full_rebuild);
            ELSIF step = 'indexes' THEN
                -- the churn column as of the moment now stored, and pgvector's indexes in step
                -- with the vectors just stored (sql/vectors.sql)
                PERFORM custprofile_internal.judge_stored_churn();
                PERFORM custprofile_internal.maintain_vector_indexes();
                -- texts no profile holds (their customers are not in the customers source)
                PERFORM custprofile_internal.store_missing_text_scores();
            ELSE
                IF sources IS NULL THEN
                    SELECT count(*) INTO total FROM custprofile.refresh_queue;
                    -- one moment and one yardstick for every batch
                    sources := custprofile_internal.checked_sources('customers', 'orders', 'texts');
                    as_of := custprofile_internal.sources_as_of(sources);
                    breakpoints := custprofile_internal.rfm_breakpoints(sources, as_of);
                END IF;
                built := custprofile_internal.rebuild_queued_profiles(batch_size, breakpoints, as_of);
            END IF;
        EXCEPTION WHEN OTHERS OR query_canceled THEN
            GET STACKED DIAGNOSTICS code = RETURNED_SQLSTATE, message = MESSAGE_TEXT,
                                    detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
            failure := ARRAY[code, message, detail, hint];
        END;
        IF failure IS NOT NULL THEN
            PERFORM custprofile_internal.finish_run(run, done, jsonb_build_object('rebuilt', done, 'removed', removed), failure[1]);
            COMMIT;
            PERFORM custprofile_internal.raise_again(failure);
        END IF;
        IF step = 'queue' THEN
            step := 'rebuild';
        ELSIF step = 'indexes' THEN
            EXIT;
        ELSIF built IS NULL THEN
            step := 'indexes';
        ELSE
            done := done + built;
            last_report := custprofile_internal.refresh_progress(done, total, batch_size, started, last_report);
        END IF;
        COMMIT;
        PERFORM pg_catalog.set_config('search_path', 'pg_catalog, custprofile, pg_temp', true);
    END LOOP;
    PERFORM custprofile_internal.finish_run(run, done, jsonb_build_object('rebuilt', done, 'removed', removed));
    RAISE NOTICE 'refresh_profiles: % profiles rebuilt, % removed', done, removed
        USING DETAIL = format('%s s', round(extract(epoch FROM clock_timestamp() - started)::numeric, 1));
END $$;

-- The same refresh in the caller's transaction, for clients that cannot run a statement outside
-- one (some drivers and BI schedulers): nothing is committed until the caller commits, a failure
-- or a cancel undoes all of it, and the rows it rebuilt stay locked until then (a concurrent
-- refresh skips them). Returns {"rebuilt": n, "removed": m}.
CREATE FUNCTION custprofile.refresh_profiles_in_transaction(batch_size int DEFAULT 200, full_rebuild boolean DEFAULT false)
RETURNS jsonb LANGUAGE plpgsql SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    total bigint;
    done bigint := 0;
    built int;
    removed bigint;
    sources jsonb;
    as_of timestamptz;
    breakpoints jsonb;
    started timestamptz := clock_timestamp();
    last_report timestamptz := started;
BEGIN
    PERFORM custprofile_internal.check_batch_size(batch_size);
    PERFORM custprofile_internal.require_analyst('refresh_profiles_in_transaction');
    removed := custprofile_internal.queue_stale_profiles(full_rebuild);
    SELECT count(*) INTO total FROM custprofile.refresh_queue;
    sources := custprofile_internal.checked_sources('customers', 'orders', 'texts');
    as_of := custprofile_internal.sources_as_of(sources);
    breakpoints := custprofile_internal.rfm_breakpoints(sources, as_of);
    LOOP
        built := custprofile_internal.rebuild_queued_profiles(batch_size, breakpoints, as_of);
        EXIT WHEN built IS NULL;
        done := done + built;
        last_report := custprofile_internal.refresh_progress(done, total, batch_size, started, last_report);
    END LOOP;
    PERFORM custprofile_internal.judge_stored_churn();
    PERFORM custprofile_internal.maintain_vector_indexes();
    PERFORM custprofile_internal.store_missing_text_scores();
    PERFORM custprofile_internal.record_run('refresh_profiles_in_transaction', started, done,
                                   jsonb_build_object('rebuilt', done, 'removed', removed));
    RETURN jsonb_build_object('rebuilt', done, 'removed', removed);
END $$;
COMMENT ON FUNCTION custprofile.refresh_profiles_in_transaction(int, boolean) IS
    'refresh_profiles within the caller''s transaction (nothing is committed until the caller commits).';


-- Profile document version 2: texts.languages, and a text counts towards every topic it names
CREATE OR REPLACE FUNCTION custprofile.profile_document_version() RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$ SELECT 2 $$;
CREATE OR REPLACE FUNCTION custprofile.profile_document_fields()
RETURNS TABLE (field text, json_type text, meaning text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT * FROM (VALUES
    ('version',                                'integer',        'Shape of the document (profile_document_version()).'),
    ('customer_id',                            'integer|string', 'The customer''s key as in the customers source.'),
    ('demographics',                           'object',         'The attribute columns named at registration, as they are.'),
    ('generated_at',                           'string',         'When the document was built (UTC in stored profiles).'),
    ('model',                                  'object',         'What built it: model_version().'),
    ('model.extension',                        'string',         'The extension''s version.'),
    ('model.encoder',                          'string',         'The sentence encoder.'),
    ('model.encoder_identity',                 'string',         'The encoder by content (vector_space()): name@hash of its files.'),
    ('model.sentiment',                        'string',         'The sentiment head.'),
    ('model.intent',                           'null|string',    'The intent head (null where the encoder has none).'),
    ('model.sentiment_identity',               'string',         'The sentiment head by content: name@hash of its file.'),
    ('model.intent_identity',                  'null|string',    'The intent head by content (null where the encoder has none).'),
    ('model.manifest_identity',                'string',         'The encoder''s manifest by content (its scoring settings): name@hash of manifest.json.'),
    ('purchases',                              'null|object',    'Purchase behaviour; null without an orders source.'),
    ('purchases.orders',                       'integer',        'Orders placed.'),
    ('purchases.total_spend',                  'number',         'Sum of the order amounts.'),
    ('purchases.average_spend',                'null|number',    'Mean order amount, 2 decimals.'),
    ('purchases.first_order',                  'null|string',    'Time of the first order.'),
    ('purchases.last_order',                   'null|string',    'Time of the last order.'),
    ('purchases.recency_days',                 'integer|null',   'Whole days from the last order to churn.as_of (0 when later).'),
    ('purchases.rfm',                          'null|object',    'Scores from 1 to 5 against the quintiles of every customer with orders; 1, 1, 1 without orders (null in version 1).'),
    ('purchases.rfm.recency',                  'integer',        'Recency score: 5 ordered most recently.'),
    ('purchases.rfm.frequency',                'integer',        'Frequency score: 5 ordered most often.'),
    ('purchases.rfm.monetary',                 'integer',        'Monetary score: 5 spent most.'),
    ('purchases.favourite_categories',         'array',          'Up to three categories, most orders first.'),
    ('purchases.orders_by_category',           'object',         'Orders per category.'),
    ('purchases.order_interval_days',          'null|number',    'Mean days between two orders.'),
    ('texts',                                  'null|object',    'What profile_agg made of the customer''s texts; null without texts.'),
    ('texts.texts',                            'integer',        'Texts scored.'),
    ('texts.skipped',                          'object',         'Texts not scored.'),
    ('texts.skipped.null',                     'integer',        'NULL texts.'),
    ('texts.skipped.blank',                    'integer',        'Empty or blank texts.'),
    ('texts.sentiment',                        'null|object',    'Sentiment of the scored texts.'),
    ('texts.sentiment.mean',                   'number',         'Mean score in [-1, 1].'),
    ('texts.sentiment.min',                    'number',         'Lowest score.'),
    ('texts.sentiment.max',                    'number',         'Highest score.'),
    ('texts.sentiment.distribution',           'object',         'Share of texts per label.'),
    ('texts.sentiment.distribution.negative',  'number',         'Share of negative texts.'),
    ('texts.sentiment.distribution.neutral',   'number',         'Share of neutral texts.'),
    ('texts.sentiment.distribution.positive',  'number',         'Share of positive texts.'),
    ('texts.sentiment.trend',                  'null|object',    'Sentiment over time; null unless at least 3 dated texts span 30 days or more.'),
    ('texts.sentiment.trend.slope_per_month',  'number',         'Score change per 30 days, shrunk toward 0 by its uncertainty and bounded by the span (what churn reads).'),
    ('texts.sentiment.trend.raw_slope_per_month', 'number',      'The least-squares slope before shrinking.'),
    ('texts.sentiment.trend.standard_error',   'number',         'Standard error of the least-squares slope, per 30 days.'),
    ('texts.sentiment.trend.span_days',        'number',         'Days from the first dated text to the last.'),
    ('texts.sentiment.trend.direction',        'string',         'improving, steady or declining (the shrunk slope beyond 0.02 a month).'),
    ('texts.sentiment.trend.texts',            'integer',        'Dated texts the slope is fitted on.'),
    ('texts.rating',                           'null|object',    'Ratings given with the texts.'),
    ('texts.rating.count',                     'integer',        'Rated texts.'),
    ('texts.rating.mean',                      'number',         'Mean rating.'),
    ('texts.rating.disagreement',              'number',         'Mean |sentiment - (rating - 3) / 2|.'),
    ('texts.rating.conflicting_texts',         'integer',        'Texts whose rating and sentiment disagree.'),
    ('texts.topics',                           'array',          'Up to three topics the texts are about, most texts first.'),
    ('texts.topics[].topic',                   'string',         'The topic (custprofile.topics).'),
    ('texts.topics[].texts',                   'integer',        'Texts about it (a text may be about several topics).'),
    ('texts.topics[].share',                   'number',         'Their share of the scored texts.'),
    ('texts.topics[].sentiment',               'number',         'Their mean sentiment.'),
    ('texts.intent',                           'null|object',    'Share of the scored texts per intent (question, complaint, praise, other); null where the encoder has no intent head.'),
    ('texts.intent.question',                  'number',         'Share of texts that ask a question.'),
    ('texts.intent.complaint',                 'number',         'Share of texts that make a complaint.'),
    ('texts.intent.praise',                    'number',         'Share of texts that give praise.'),
    ('texts.intent.other',                     'number',         'Share of other texts (requests, statements).'),
    ('texts.needs',                            'array',          'Topics the customer asked or complained about, most texts first.'),
    ('texts.complaints',                       'array',          'Topics the customer complained about, most texts first (churn reads it).'),
    ('texts.languages',                        'object',         'Share of the scored texts per language (ISO 639-1); from version 2.'),
    ('texts.interest_vector',                  'array|null',     'Normalised mean embedding of the texts.'),
    ('texts.first_seen',                       'null|string',    'Time of the first timed text.'),
    ('texts.last_seen',                        'null|string',    'Time of the last timed text.'),
    ('texts.model',                            'object',         'What scored the texts.'),
    ('texts.model.encoder',                    'string',         'The sentence encoder.'),
    ('texts.model.encoder_identity',           'string',         'The encoder by content: name@hash of its files.'),
    ('texts.model.sentiment',                  'string',         'The sentiment head.'),
    ('texts.model.intent',                     'null|string',    'The intent head (null where the encoder has none).'),
    ('texts.model.sentiment_identity',         'string',         'The sentiment head by content: name@hash of its file.'),
    ('texts.model.intent_identity',            'null|string',    'The intent head by content (null where the encoder has none).'),
    ('texts.model.manifest_identity',          'string',         'The encoder''s manifest by content: name@hash of manifest.json.'),
    ('churn',                                  'object',         'Churn risk as of churn.as_of (sql/churn.sql).'),
    ('churn.risk',                             'number',         'Risk in [0, 1].'),
    ('churn.factors',                          'object',         'Each factor in [0, 1].'),
    ('churn.factors.recency',                  'number',         'Days since the last activity against the rhythm.'),
    ('churn.factors.sentiment_decline',        'number',         'How fast sentiment declines.'),
    ('churn.factors.complaints',               'number',         '1 when the customer complained about a topic marked complaint, else 0.'),
    ('churn.factors.disagreement',             'number',         'Share of texts whose rating contradicts them.'),
    ('churn.factors.negative_share',           'number',         'Share of negative texts.'),
    ('churn.contributions',                    'object',         'Each factor times its weight.'),
    ('churn.contributions.recency',            'number',         'Weighted recency.'),
    ('churn.contributions.sentiment_decline',  'number',         'Weighted sentiment decline.'),
    ('churn.contributions.complaints',         'number',         'Weighted complaints.'),
    ('churn.contributions.disagreement',       'number',         'Weighted disagreement.'),
    ('churn.contributions.negative_share',     'number',         'Weighted negative share.'),
    ('churn.rhythm_days',                      'number',         'The customer''s usual days between orders (else the shop''s, else 91).'),
    ('churn.weights',                          'string',         'default or trained.'),
    ('churn.as_of',                            'string',         'The moment recency and the risk are judged at (custprofile.as_of, sql/clock.sql).')
    ) AS f(field, json_type, meaning)
$$;
COMMENT ON FUNCTION custprofile.profile_document_fields() IS
    'Every field of the profile document: path, JSON type, meaning.';

-- Intent beside sentiment: profile_row reads the shares of questions and complaints and the
-- topics complained about (attributes added at the end, so that views over it keep theirs)
ALTER TYPE custprofile.profile_row ADD ATTRIBUTE question_share float8, ADD ATTRIBUTE complaint_share float8,
    ADD ATTRIBUTE complaints jsonb;
-- Reads a document. No SET clause, so that the planner inlines it and keeps only the fields a
-- query selects; every name in it is schema-qualified instead.
CREATE OR REPLACE FUNCTION custprofile.profile_row(profile pg_catalog.jsonb) RETURNS custprofile.profile_row
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT ROW(
        -- a document from before versions is version 1; no document has no version
        COALESCE((profile OPERATOR(pg_catalog.->>) 'version')::int, CASE WHEN profile IS NOT NULL THEN 1 END),
        profile OPERATOR(pg_catalog.->) 'customer_id',
        (profile OPERATOR(pg_catalog.->>) 'generated_at')::timestamp with time zone,
        (profile OPERATOR(pg_catalog.#>>) '{texts,texts}')::int,
        (profile OPERATOR(pg_catalog.#>>) '{texts,sentiment,mean}')::double precision,
        (profile OPERATOR(pg_catalog.#>>) '{texts,sentiment,distribution,negative}')::double precision,
        (profile OPERATOR(pg_catalog.#>>) '{texts,sentiment,trend,slope_per_month}')::double precision,
        (profile OPERATOR(pg_catalog.#>>) '{texts,rating,mean}')::double precision,
        (profile OPERATOR(pg_catalog.#>>) '{texts,rating,count}')::int,
        (profile OPERATOR(pg_catalog.#>>) '{texts,rating,conflicting_texts}')::int,
        profile OPERATOR(pg_catalog.#>) '{texts,topics}',
        profile OPERATOR(pg_catalog.#>>) '{texts,topics,0,topic}',
        profile OPERATOR(pg_catalog.#>) '{texts,needs}',
        profile OPERATOR(pg_catalog.#>>) '{texts,needs,0}',
        (profile OPERATOR(pg_catalog.#>>) '{texts,last_seen}')::timestamp with time zone,
        (profile OPERATOR(pg_catalog.#>>) '{purchases,orders}')::int,
        (profile OPERATOR(pg_catalog.#>>) '{purchases,total_spend}')::numeric,
        (profile OPERATOR(pg_catalog.#>>) '{purchases,average_spend}')::numeric,
        (profile OPERATOR(pg_catalog.#>>) '{purchases,last_order}')::timestamp with time zone,
        (profile OPERATOR(pg_catalog.#>>) '{purchases,rfm,recency}')::int,
        (profile OPERATOR(pg_catalog.#>>) '{purchases,rfm,frequency}')::int,
        (profile OPERATOR(pg_catalog.#>>) '{purchases,rfm,monetary}')::int,
        profile OPERATOR(pg_catalog.#>>) '{purchases,favourite_categories,0}',
        profile OPERATOR(pg_catalog.#>) '{purchases,orders_by_category}',
        profile OPERATOR(pg_catalog.->) 'churn',
        (profile OPERATOR(pg_catalog.#>>) '{churn,rhythm_days}')::double precision,
        (profile OPERATOR(pg_catalog.#>>) '{texts,intent,question}')::double precision,
        (profile OPERATOR(pg_catalog.#>>) '{texts,intent,complaint}')::double precision,
        profile OPERATOR(pg_catalog.#>) '{texts,complaints}'
    )::custprofile.profile_row
$$;
COMMENT ON FUNCTION custprofile.profile_row(jsonb) IS
    'The main fields of a profile document as typed columns: (custprofile.profile_row(profile)).mean_sentiment.';

-- The rhythm recency is measured in, in days: the customer's own, else 91, never under one day.
CREATE FUNCTION custprofile_internal.churn_rhythm_days(rhythm_days float8) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$ SELECT greatest(COALESCE(rhythm_days, 91), 1) $$;

-- The recency factor (the top of this file): 0 within one rhythm of the last activity, 1 from
-- three on. The one formula churn_factors and the stored column's re-judging (rejudged_churn,
-- churn_validity in sql/profiles.sql) share, so that both give the same figure to the last digit.
CREATE FUNCTION custprofile_internal.churn_recency(last_activity timestamptz, rhythm_days float8, as_of timestamptz)
RETURNS numeric LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT round(custprofile_internal.clamp01(
        (extract(epoch FROM as_of - last_activity) / 86400 / custprofile_internal.churn_rhythm_days(rhythm_days) - 1) / 2)::numeric, 4)
$$;

-- the complaints factor reads the topics complained about, not the needs (questions are needs)
-- The five factors of a profile document as of a moment (see the top of this file).
CREATE OR REPLACE FUNCTION custprofile.churn_factors(profile jsonb, rhythm_days float8, as_of timestamptz)
RETURNS jsonb LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT jsonb_build_object(
        'recency', custprofile_internal.churn_recency(
            greatest((custprofile.profile_row(profile)).last_order_at, (custprofile.profile_row(profile)).last_text_at),
            rhythm_days, as_of),
        'sentiment_decline', round(custprofile_internal.clamp01(
            -(custprofile.profile_row(profile)).sentiment_trend / 0.1)::numeric, 4),
        'complaints', CASE WHEN EXISTS (
            SELECT FROM jsonb_array_elements_text(COALESCE((custprofile.profile_row(profile)).complaints, '[]')) n(topic)
              JOIN custprofile.topics t ON t.topic = n.topic AND t.complaint) THEN 1 ELSE 0 END,
        'disagreement', round(custprofile_internal.clamp01(
            (custprofile.profile_row(profile)).conflicting_texts::float8
            / NULLIF((custprofile.profile_row(profile)).rated_texts::float8, 0))::numeric, 4),
        'negative_share', round(custprofile_internal.clamp01(
            (custprofile.profile_row(profile)).negative_share)::numeric, 4))
$$;

COMMENT ON TABLE custprofile.topics IS
    'Topics of the profiles (texts.topics, texts.needs, texts.complaints); edit to use your own.';

-- text_insights gains each text's language, the customer key in its own type and the text's
-- intent (columns added at the end: the view is replaced in place, so views of the user's over
-- it stay), and reads the scores refresh_profiles stores (custprofile.text_scores) instead of
-- scoring every text on every read. What follows is sql/text_insights.sql.
-- What scored a stored text: the encoder and its sentiment and intent heads, by content
-- (model_version() without the extension's version, which changes no score).
CREATE FUNCTION custprofile_internal.text_scorer() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT md5((custprofile.model_version() - 'extension')::text)
$$;

-- Content-addressed: one row per text content (sha256 of its UTF-8 bytes) and scorer, shared
-- by every row of every source that holds the same text.
CREATE TABLE custprofile.text_scores (
    text_hash       bytea NOT NULL,
    scored_by       text NOT NULL,
    sentiment_label text NOT NULL,
    sentiment       real NOT NULL,
    intent          text,
    stored_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (text_hash, scored_by)
);
-- every refresh looks for the scores of other models (prune_text_scores): by this index a lookup,
-- not a scan of every stored score
CREATE INDEX text_scores_scored_by ON custprofile.text_scores (scored_by);
COMMENT ON TABLE custprofile.text_scores IS
    'Sentiment and intent of each registered text, stored by refresh_profiles under the text''s sha256 and the models that scored it; text_insights reads them.';
-- dumped like the stored profiles: a restored database reads its texts' scores at once (the
-- profiles' fingerprints are restored too, so no refresh would score those texts again)
SELECT pg_catalog.pg_extension_config_dump('custprofile.text_scores', '');

-- Stores what profile_agg recorded in this backend since start_text_score_log, once per text
-- content; returns how many texts were new.
CREATE FUNCTION custprofile_internal.store_text_scores() RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    scorer text := custprofile_internal.text_scorer();
    n bigint;
BEGIN
    INSERT INTO custprofile.text_scores (text_hash, scored_by, sentiment_label, sentiment, intent)
    SELECT DISTINCT ON (l.text_hash) l.text_hash, scorer, l.sentiment_label, l.sentiment, l.intent
      FROM (SELECT sha256(convert_to(r.body, 'UTF8')) AS text_hash, r.*
              FROM custprofile_internal.take_text_score_log() r) l
     ORDER BY l.text_hash
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- Drops the stored scores of other models (a changed encoder or head: their texts are scored
-- again as their profiles are rebuilt); with `everything` (a full rebuild) also the scores of
-- texts no source holds any more (custprofile.stored_texts, brought up to date first). Returns
-- how many rows went.
CREATE FUNCTION custprofile_internal.prune_text_scores(everything boolean) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    scorer text := custprofile_internal.text_scorer();
    n bigint;
    orphans bigint := 0;
BEGIN
    -- two ranges rather than <>, which the index cannot serve
    DELETE FROM custprofile.text_scores s WHERE s.scored_by < scorer OR s.scored_by > scorer;
    GET DIAGNOSTICS n = ROW_COUNT;
    IF everything THEN
        DELETE FROM custprofile.text_scores s
         WHERE NOT EXISTS (SELECT FROM custprofile.stored_texts t WHERE t.text_hash = s.text_hash);
        GET DIAGNOSTICS orphans = ROW_COUNT;
    END IF;
    RETURN n + orphans;
END $$;

-- The registered texts as the last refresh found them, for text_insights: a copy of each row of
-- every texts source, so that the view is a plain view over a table of the extension's own (the
-- planner pushes filters on customer_key and written_at into its indexes) without depending on
-- the user's tables (a view over them would make DROP TABLE of a source fail, and would not
-- survive a dump as an extension member). refresh_profiles brings it up to date (store_texts);
-- rows added since are read from the sources (unstored_texts). Rows belong to their source by
-- oid, so a renamed source keeps them. Not dumped: it is rebuilt from the sources by the next
-- refresh (oids change in a restore), and until then the view reads the sources.
CREATE TABLE custprofile.stored_texts (
    -- sha256 of the row's values and its number among identical rows: what the refresh compares
    row_key      bytea PRIMARY KEY,
    relid        oid NOT NULL,
    customer_key text,
    written_at   timestamptz,
    rating       real,
    body         text,
    text_hash    bytea
);
CREATE INDEX stored_texts_customer_key ON custprofile.stored_texts (customer_key);
CREATE INDEX stored_texts_written_at ON custprofile.stored_texts (written_at);
-- the latest stored text of each source (unstored_texts): the first entry of the source, past the
-- times that are NULL, not a scan of them
CREATE INDEX stored_texts_source_latest ON custprofile.stored_texts (relid, written_at DESC NULLS LAST);
COMMENT ON TABLE custprofile.stored_texts IS
    'The registered texts as the last refresh_profiles found them, read by text_insights (a copy kept up to date by each refresh; not dumped).';

-- The registered texts sources whose relations exist: oid and name, named as the queries over
-- them name them.
CREATE FUNCTION custprofile_internal.registered_text_relations() RETURNS TABLE (relid oid, source text)
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT r.relid::oid, r.relid::regclass::text
      FROM custprofile.source_registry r
     WHERE r.kind = 'texts' AND EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid = r.relid)
$$;

-- The registered texts (as registered_texts reads them, `after` alike) with their source's oid,
-- the hash of their text and their row key: the sha256 of the row's values (its source by oid,
-- which a rename keeps) and its number among identical rows (identical rows have one time, so
-- those at or after a time number alike).
CREATE FUNCTION custprofile_internal.keyed_texts(after jsonb DEFAULT NULL)
RETURNS TABLE (row_key bytea, relid oid, source text, customer_key text, written_at timestamptz, rating real, body text,
               text_hash bytea)
-- the ratings' text in the key is the shortest exact one whatever the session's extra_float_digits
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp SET extra_float_digits = 1 AS $$
    SELECT sha256(convert_to(jsonb_build_array(t.relid, t.customer_key, extract(epoch FROM t.written_at), t.rating,
                                               t.body, t.copy)::text, 'UTF8')),
           t.relid, t.source, t.customer_key, t.written_at, t.rating, t.body, t.text_hash
      FROM (SELECT h.*, row_number() OVER (PARTITION BY h.relid, h.customer_key, h.written_at, h.rating, h.text_hash) AS copy
              FROM (SELECT n.relid, r.*, sha256(convert_to(r.body, 'UTF8')) AS text_hash
                      FROM custprofile_internal.registered_texts(after) r
                      JOIN custprofile_internal.registered_text_relations() n ON n.source = r.source) h) t
$$;

-- Brings custprofile.stored_texts up to date with the sources: rows no source holds any more go,
-- new and changed rows come (a changed row is a new row_key); unchanged rows are not written.
-- Returns how many rows went or came. Two refreshes at once take turns (the lock).
CREATE FUNCTION custprofile_internal.store_texts() RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    n bigint;
BEGIN
    PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('custprofile.stored_texts'));
    WITH held AS MATERIALIZED (SELECT * FROM custprofile_internal.keyed_texts()),
    gone AS (
        DELETE FROM custprofile.stored_texts s WHERE NOT EXISTS (SELECT FROM held h WHERE h.row_key = s.row_key)
        RETURNING 1),
    came AS (
        INSERT INTO custprofile.stored_texts (row_key, relid, customer_key, written_at, rating, body, text_hash)
        SELECT h.row_key, h.relid, h.customer_key, h.written_at, h.rating, h.body, h.text_hash
          FROM held h WHERE NOT EXISTS (SELECT FROM custprofile.stored_texts s WHERE s.row_key = h.row_key)
        ON CONFLICT (row_key) DO NOTHING
        RETURNING 1)
    SELECT (SELECT count(*) FROM gone) + (SELECT count(*) FROM came) INTO n;
    RETURN n;
END $$;

-- Scores and stores the stored texts that no profile's refresh scored (texts of customers the
-- customers source does not hold), so that text_insights reads them too without the encoder.
-- Returns how many were stored.
CREATE FUNCTION custprofile_internal.store_missing_text_scores() RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    scorer text := custprofile_internal.text_scorer();
    n bigint;
BEGIN
    INSERT INTO custprofile.text_scores (text_hash, scored_by, sentiment_label, sentiment, intent)
    SELECT m.text_hash, scorer, m.signals ->> 'sentiment', (m.signals ->> 'score')::real, m.signals ->> 'intent'
      FROM (SELECT u.text_hash, custprofile.text_signals(u.body) AS signals
              FROM (SELECT DISTINCT ON (t.text_hash) t.text_hash, t.body
                      FROM custprofile.stored_texts t
                     WHERE btrim(t.body) <> ''
                       AND NOT EXISTS (SELECT FROM custprofile.text_scores s WHERE s.text_hash = t.text_hash AND s.scored_by = scorer)
                     ORDER BY t.text_hash) u) m
     WHERE m.signals ->> 'sentiment' IS NOT NULL
    ON CONFLICT DO NOTHING;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- The registered texts as their sources hold them, read as the sources' registrant; with
-- `after` (source name -> time), of each source named there only the rows written at or after
-- its time (none when the time is null), of the others every row. The filter is compared inside
-- the query over each source, so that an index on the source's time column finds the rows (a
-- timestamptz column: a timestamp or date one is converted, in UTC as the profiles read them).
CREATE FUNCTION custprofile_internal.registered_texts(after jsonb DEFAULT NULL)
RETURNS TABLE (source text, customer_key text, written_at timestamptz, rating real, body text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp SET TimeZone = 'UTC' AS $$
DECLARE
    previous_role text;
    sources jsonb;
BEGIN
    previous_role := custprofile_internal.enter_source_reader();
    sources := custprofile_internal.checked_sources('customers', 'texts');
    IF after IS NOT NULL THEN
        -- a source named without a time (no time column, or none stored) has no rows to read:
        -- left out of the query rather than scanned for none
        sources := jsonb_set(sources, '{texts}', COALESCE(
            (SELECT jsonb_agg(e) FROM jsonb_array_elements(sources -> 'texts') e
              WHERE NOT after ? custprofile_internal.source_relation(e)
                 OR after ->> custprofile_internal.source_relation(e) IS NOT NULL), '[]'));
    END IF;
    RETURN QUERY EXECUTE format($q$
        SELECT t.source, t.customer_key::text, t.written_at, t.rating, t.body FROM (%s) t
         WHERE $1 IS NULL OR NOT $1 ? t.source OR t.written_at >= ($1 ->> t.source)::timestamptz
        $q$, custprofile_internal.texts_sql(sources))
        USING after;
    PERFORM custprofile_internal.leave_source_reader(previous_role);
END $$;

-- The registered texts that custprofile.stored_texts does not hold yet: of each source, the rows
-- written at or after its latest stored row that are not stored (every row of a source none of
-- whose rows is stored). Rows changed, deleted, or written with an earlier time or none since
-- the last refresh show as that refresh found them until the next one (a row edited at or after
-- that time shows in both versions).
CREATE FUNCTION custprofile_internal.unstored_texts()
RETURNS TABLE (relid oid, source text, customer_key text, written_at timestamptz, rating real, body text, text_hash bytea)
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT k.relid, k.source, k.customer_key, k.written_at, k.rating, k.body, k.text_hash
      FROM custprofile_internal.keyed_texts(
        -- one lookup per source: its latest stored row, if it has any (its time NULL when none has one)
        (SELECT jsonb_object_agg(n.source, l.written_at)
           FROM custprofile_internal.registered_text_relations() n
          CROSS JOIN LATERAL (SELECT t.written_at FROM custprofile.stored_texts t WHERE t.relid = n.relid
                               ORDER BY t.written_at DESC NULLS LAST LIMIT 1) l)) k
     WHERE NOT EXISTS (SELECT FROM custprofile.stored_texts s WHERE s.row_key = k.row_key)
$$;

-- Every registered text: the copy the last refresh stored (a table, so the planner takes filters
-- on customer_key and written_at to its indexes) and what was written since, with the scores the
-- refresh stored, the encoder only for texts not stored yet (one pass for sentiment and intent).
-- The body is shown PII-masked when custprofile.mask_pii is on, and its language is told from
-- the body as shown (a masked e-mail address does not change it); the language is told on read
-- (cheap, and it follows the session's custprofile.languages). Columns added after 0.4.0 come at
-- the end, so that an update replaces the view in place and the user's views over it stay.
CREATE OR REPLACE VIEW custprofile.text_insights AS
SELECT t.source, t.customer_key, t.written_at, t.rating, shown.body,
       COALESCE(s.sentiment_label, f.signals ->> 'sentiment') AS sentiment_label,
       COALESCE(s.sentiment, (f.signals ->> 'score')::real) AS sentiment,
       custprofile.detect_language(shown.body) AS language,
       custprofile_internal.key_as_uuid(t.customer_key, k.key_type) AS customer_uuid,
       custprofile_internal.key_as_bigint(t.customer_key, k.key_type) AS customer_bigint,
       CASE WHEN s.text_hash IS NOT NULL THEN s.intent ELSE f.signals ->> 'intent' END AS intent
  FROM (-- the stored rows of the sources registered now, under their names of now
        SELECT n.source, c.customer_key, c.written_at, c.rating, c.body, c.text_hash
          FROM custprofile.stored_texts c
          JOIN custprofile_internal.registered_text_relations() n ON n.relid = c.relid
        UNION ALL
        SELECT u.source, u.customer_key, u.written_at, u.rating, u.body, u.text_hash
          FROM custprofile_internal.unstored_texts() u) t
 CROSS JOIN (SELECT custprofile_internal.customer_key_type() AS key_type) k
 -- OFFSET 0: evaluated once per row, not once per reference
 CROSS JOIN LATERAL (SELECT CASE WHEN (SELECT custprofile_internal.pii_masking()) THEN custprofile.mask_pii(t.body)
                                 ELSE t.body END AS body OFFSET 0) shown
  LEFT JOIN custprofile.text_scores s
         ON s.text_hash = t.text_hash AND s.scored_by = (SELECT custprofile_internal.text_scorer())
  LEFT JOIN LATERAL (SELECT custprofile.text_signals(t.body) AS signals
                      WHERE s.text_hash IS NULL AND t.body IS NOT NULL OFFSET 0) f ON true;
COMMENT ON VIEW custprofile.text_insights IS
    'Every registered text with its sentiment label and score, its intent and its language (texts and scores as refresh_profiles stored them; texts written since read from the sources and scored on read).';

-- the analysts of 0.4.0 (grant_usage's analyst level) write the stored scores and texts as they
-- write the stored profiles
DO $$
DECLARE
    r name;
BEGIN
    FOR r IN SELECT DISTINCT a.grantee::regrole::name
               FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) a
              WHERE c.oid = 'custprofile.profiles'::regclass AND a.privilege_type = 'INSERT'
                AND a.grantee <> c.relowner AND a.grantee <> 0 LOOP
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON custprofile.text_scores, custprofile.stored_texts TO %I', r);
    END LOOP;
END $$;
DROP FUNCTION custprofile.text_insight_rows();

-- Profiles written under another document version are stale: the fingerprint names it
CREATE OR REPLACE FUNCTION custprofile_internal.source_fingerprints() RETURNS TABLE (customer_key text, source_hash text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    sources jsonb := custprofile_internal.checked_sources('customers', 'orders', 'texts');
    previous_role text := custprofile_internal.enter_source_reader();
BEGIN
    RETURN QUERY EXECUTE format($q$
        SELECT c.customer_key::text,
               md5(concat_ws('|', hashtextextended(c.attributes::text, 0), o.h, t.h, $1::text))
          FROM (%s) c
          LEFT JOIN (SELECT o.customer_key,
                            sum(hashtextextended(concat_ws(chr(31), extract(epoch FROM o.ordered_at), o.amount,
                                                           o.item, o.category), 1)::numeric) AS h
                       FROM (%s) o GROUP BY o.customer_key) o ON o.customer_key = c.customer_key
          LEFT JOIN (SELECT t.customer_key,
                            sum(hashtextextended(concat_ws(chr(31), t.source, t.body, t.rating,
                                                           extract(epoch FROM t.written_at)), 2)::numeric) AS h
                       FROM (%s) t GROUP BY t.customer_key) t ON t.customer_key = c.customer_key
        $q$, custprofile_internal.customers_sql(sources), custprofile_internal.orders_or_none_sql(sources), custprofile_internal.texts_sql(sources))
    -- the document's version too: a library that writes another shape makes every profile stale
    USING (custprofile.model_version() - 'extension')::text || 'document ' || custprofile.profile_document_version()
          || (SELECT COALESCE(string_agg(t.topic || ':' || t.description || ':' || t.complaint, ';' ORDER BY t.topic), '') FROM custprofile.topics t);
    PERFORM custprofile_internal.leave_source_reader(previous_role);
END $$;


-- Labels for people in English or Chinese (custprofile.label_language): segment names,
-- recommendation reasons and churn reasons (sql/labels.sql)
-- custprofile::api::session::label_language
CREATE FUNCTION custprofile."label_language"() RETURNS TEXT /* & '_ str */
STRICT STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'label_language_wrapper';
-- A topic's name in the label language: the default topics (sql/topics.sql) have Chinese names;
-- any other name is the user's own and stays as it is.
CREATE FUNCTION custprofile_internal.topic_label(topic text, language text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT CASE WHEN language = 'zh' THEN COALESCE((SELECT t.zh FROM (VALUES
               ('price', '价格'), ('delivery', '物流'), ('quality', '质量'), ('customer service', '客服'),
               ('returns and refunds', '退货退款'), ('product features', '产品功能')) AS t(en, zh)
            WHERE t.en = topic), topic) ELSE topic END
$$;

-- The churn factors that raise a customer's risk, strongest contribution first, as phrases in
-- the label language: each factor of at least 0.5 whose weight is positive. An empty array when
-- none does; NULL for a NULL churn section.
CREATE FUNCTION custprofile.churn_reasons(churn jsonb) RETURNS text[]
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT CASE WHEN churn IS NOT NULL THEN COALESCE(array_agg(
               CASE WHEN custprofile.label_language() = 'zh' THEN r.zh ELSE r.en END
               ORDER BY (churn #>> ARRAY['contributions', r.factor])::float8 DESC, r.factor), '{}') END
      FROM (VALUES
          ('recency',           'long without an order or a review', '很久没有下单或评论'),
          ('sentiment_decline', 'reviews turning negative',          '评价越来越差'),
          ('complaints',        'complaints in their reviews',       '评论中有投诉'),
          ('disagreement',      'ratings that contradict the texts', '评分与评论内容不符'),
          ('negative_share',    'mostly negative reviews',           '差评居多')) AS r(factor, en, zh)
     WHERE (churn #>> ARRAY['factors', r.factor])::float8 >= 0.5
       AND (churn #>> ARRAY['contributions', r.factor])::float8 > 0
$$;
COMMENT ON FUNCTION custprofile.churn_reasons(jsonb) IS
    'What raises a churn risk, as phrases in custprofile.label_language: churn_reasons(profile -> ''churn'').';

-- Segment names by contrast: the segments view names each segment through segment_names (what
-- sets it apart, unique within the segmentation) and gains the evidence behind the name and the
-- share of complaints (columns added at the end: replaced in place); segment_name goes
CREATE OR REPLACE VIEW custprofile.segments AS
WITH members AS (
    SELECT p.segment, f.mean_sentiment, f.total_spend, f.monetary_score, f.orders_by_category, f.topics,
           f.text_count, f.question_share, f.complaint_share
      FROM custprofile.profiles p, LATERAL (SELECT (custprofile.profile_row(p.profile)).*) f
     WHERE p.segment IS NOT NULL),
stats AS (
    SELECT m.segment, count(*) AS customers,
           avg(m.mean_sentiment) AS mean_sentiment,
           avg(COALESCE(m.total_spend, 0)) AS mean_spend,
           avg(m.monetary_score::float8) AS mean_monetary,
           COALESCE(sum(m.text_count), 0) AS texts,
           COALESCE(sum(m.question_share * m.text_count), 0) AS questions,
           COALESCE(sum(m.complaint_share * m.text_count), 0) AS complaints
      FROM members m GROUP BY m.segment),
category_orders AS (
    SELECT m.segment, e.key AS category, sum(e.value::text::int) AS orders
      FROM members m, jsonb_each(COALESCE(m.orders_by_category, '{}')) e
     GROUP BY m.segment, e.key),
categories AS (
    SELECT c.segment, (array_agg(c.category ORDER BY c.orders DESC, c.category))[1:3] AS top,
           jsonb_object_agg(c.category, c.orders) AS orders
      FROM category_orders c GROUP BY c.segment),
topics AS (
    SELECT m.segment, t ->> 'topic' AS topic, sum((t ->> 'texts')::int) AS texts,
           sum((t ->> 'texts')::int * (t ->> 'sentiment')::float8) / sum((t ->> 'texts')::int) AS sentiment
      FROM members m, jsonb_array_elements(COALESCE(m.topics, '[]')) t
     GROUP BY m.segment, t ->> 'topic'),
top_topics AS (
    SELECT t.segment, (array_agg(t.topic ORDER BY t.texts DESC, t.topic))[1:3] AS top,
           jsonb_object_agg(custprofile_internal.topic_label(t.topic, custprofile.label_language()),
                            jsonb_build_object('texts', t.texts, 'sentiment', t.sentiment)) AS stats
      FROM topics t GROUP BY t.segment),
names AS (
    SELECT e.key::int AS segment, e.value ->> 'name' AS name, e.value -> 'evidence' AS evidence
      FROM jsonb_each(custprofile.segment_names(
               (SELECT COALESCE(jsonb_agg(jsonb_build_object(
                           'segment', s.segment, 'customers', s.customers, 'mean_sentiment', s.mean_sentiment,
                           'mean_monetary', s.mean_monetary, 'texts', s.texts, 'questions', s.questions,
                           'complaints', s.complaints, 'categories', COALESCE(c.orders, '{}'),
                           'topics', COALESCE(tt.stats, '{}'))), '[]')
                  FROM stats s LEFT JOIN categories c USING (segment) LEFT JOIN top_topics tt USING (segment)),
               custprofile.label_language())) e)
SELECT s.segment,
       n.name,
       s.customers,
       round(s.mean_sentiment::numeric, 3) AS mean_sentiment,
       round(s.mean_spend, 2) AS mean_spend,
       COALESCE(c.top, '{}') AS top_categories,
       COALESCE(tt.top, '{}') AS top_topics,
       COALESCE(g.keywords, '{}') AS keywords,
       n.evidence AS name_evidence,
       round((s.complaints / NULLIF(s.texts, 0))::numeric, 3) AS complaint_share
  FROM stats s
  LEFT JOIN categories c USING (segment)
  LEFT JOIN top_topics tt USING (segment)
  LEFT JOIN names n USING (segment)
  LEFT JOIN custprofile.segmentation g USING (segment)
 ORDER BY s.segment;
COMMENT ON VIEW custprofile.segments IS
    'Each segment of the last segment_customers run: size, mean sentiment and spend, top categories, topics, keywords, its share of complaints, and a name for what sets it apart with the evidence behind it.';
DROP FUNCTION custprofile.segment_name(text, text, float8, float8, text, text);

CREATE OR REPLACE FUNCTION custprofile.recommend(customer_id text, k int DEFAULT 10)
RETURNS TABLE (item_id text, score real, reason text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp
    SET hnsw.ef_search = 200 SET hnsw.iterative_scan = relaxed_order AS $$
DECLARE
    sources jsonb;
    previous_role text;
    -- the customer's interest vector
    me real[];
BEGIN
    PERFORM custprofile_internal.check_k(k, 1000);
    sources := custprofile_internal.checked_sources('items');
    PERFORM custprofile_internal.require_profiles();
    PERFORM custprofile_internal.require_vector_space(customer_id);
    sources := sources || custprofile_internal.checked_sources('customers', 'orders', 'texts');
    PERFORM custprofile_internal.check_customer_keys(ARRAY[customer_id], sources);
    me := (SELECT p.interest_vector FROM custprofile.profiles p WHERE p.customer_key = customer_id);
    previous_role := custprofile_internal.enter_source_reader();
    RETURN QUERY EXECUTE format($q$
        WITH me AS MATERIALIZED (
            -- the customer's figures taken out of the document once, not once per item
            SELECT p.interest_vector, p.orders_by_category, (custprofile.profile_row(p.profile)).average_spend
              FROM custprofile.profiles p WHERE p.customer_key = $1),
        my_categories AS (
            SELECT e.key AS category, e.value::text::float8 AS orders
              FROM me, jsonb_each(COALESCE(me.orders_by_category, '{}')) e),
        total AS (SELECT COALESCE(sum(orders), 0) AS orders FROM my_categories),
        catalogue AS (%1$s),
        my_texts AS MATERIALIZED (
            SELECT t.item, t.body FROM (%2$s) t WHERE t.customer_key = $1::%4$s AND t.item IS NOT NULL),
        owned AS (
            SELECT o.item FROM (%3$s) o WHERE o.customer_key = $1::%4$s AND o.item IS NOT NULL
            UNION SELECT t.item FROM my_texts t),
        praise AS (
            SELECT r.category, avg(r.sentiment) AS sentiment,
                   (array_agg(r.title ORDER BY r.sentiment DESC, r.title))[1] AS best_item
              FROM (SELECT i.category, COALESCE(i.title, i.key) AS title, custprofile.sentiment(t.body) AS sentiment
                      FROM my_texts t JOIN (%5$s) i ON i.key = t.item
                     WHERE t.body IS NOT NULL AND i.category IS NOT NULL) r
             GROUP BY r.category),
        scored AS (
            SELECT i.key, i.category, i.price,
                   i.similarity AS interest,
                   c.orders AS category_orders, total.orders AS all_orders,
                   pr.sentiment AS praise, pr.best_item, me.average_spend
              FROM catalogue i CROSS JOIN me CROSS JOIN total
              LEFT JOIN my_categories c ON c.category = i.category
              LEFT JOIN praise pr ON pr.category = i.category
             WHERE NOT EXISTS (SELECT FROM owned o WHERE o.item = i.key))
        SELECT s.key,
               (0.6 * COALESCE(s.interest, 0) + 0.25 * COALESCE(s.category_orders / NULLIF(s.all_orders, 0), 0)
                + 0.15 * COALESCE(s.praise, 0))::real AS score,
               CASE WHEN $4 = 'zh' THEN
                   COALESCE(NULLIF(concat_ws('；',
                       CASE WHEN s.category_orders > 0 AND s.all_orders = 1 THEN format('%%s：您唯一的一笔订单', s.category)
                            WHEN s.category_orders > 0 THEN
                           format('%%s：您%%s笔订单中的%%s笔', s.category, s.all_orders, s.category_orders) END,
                       CASE WHEN s.praise >= 0.25 THEN format('您好评过%%s', s.best_item) END,
                       CASE WHEN s.interest >= 0.35 THEN '与您评论的内容相近' END,
                       CASE WHEN s.price <= s.average_spend THEN '在您平时的消费范围内' END), ''),
                       '与您的画像最接近')
               ELSE
                   COALESCE(NULLIF(concat_ws('; ',
                       CASE WHEN s.category_orders > 0 AND s.all_orders = 1 THEN format('%%s: your only order', s.category)
                            WHEN s.category_orders > 0 THEN
                           format('%%s: %%s of your %%s orders', s.category, s.category_orders, s.all_orders) END,
                       CASE WHEN s.praise >= 0.25 THEN format('you praised %%s', s.best_item) END,
                       CASE WHEN s.interest >= 0.35 THEN 'close to what your reviews talk about' END,
                       CASE WHEN s.price <= s.average_spend THEN 'within your usual spend' END), ''),
                       'the closest match to your profile')
               END AS reason
          FROM scored s
         WHERE s.interest IS NOT NULL OR s.category_orders > 0 OR s.praise IS NOT NULL
         ORDER BY 2 DESC, s.key
         LIMIT $2
        $q$, custprofile_internal.catalogue_similarity_sql('items', '$3', sources, custprofile_internal.nearest_pool(k), array_length(me, 1)),
             custprofile_internal.texts_sql(sources),
             custprofile_internal.orders_or_none_sql(sources), custprofile_internal.key_type(sources), custprofile_internal.items_sql(sources))
    USING customer_id, k, me, custprofile.label_language();
    PERFORM custprofile_internal.leave_source_reader(previous_role);
END $$;

-- Several labels per text: zero-shot classify_multi, and predict_multi for classifiers trained
-- on a text[] label column (the classifiers table is unchanged: a head says multi_label itself)
-- custprofile::api::understanding::classify_multi
CREATE FUNCTION custprofile."classify_multi"(
	"input" TEXT, /* & str */
	"labels" TEXT[], /* Array < & str > */
	"threshold" real DEFAULT 0.3 /* f32 */
) RETURNS jsonb /* JsonB */
STRICT STABLE PARALLEL SAFE COST 5000
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'classify_multi_wrapper';
-- custprofile::api::classifiers::predict_multi
CREATE FUNCTION custprofile."predict_multi"(
	"name" TEXT, /* & str */
	"input" TEXT, /* & str */
	"threshold" real DEFAULT 0.5 /* f32 */
) RETURNS jsonb /* JsonB */
STRICT STABLE PARALLEL SAFE COST 5000
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'predict_multi_wrapper';

-- Judgements as of the data's own time: custprofile.as_of (latest_activity, now or a timestamp)
-- is the moment recency, RFM and churn are counted to; by default the latest order or text, so
-- that historical data is not judged against today's clock.
-- custprofile::api::session::as_of_setting
CREATE FUNCTION custprofile_internal."as_of_setting"() RETURNS TEXT /* String */
STRICT STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'as_of_setting_wrapper';

-- The moment time-dependent judgements are made at: the recency of RFM scores, the churn
-- factor recency, and so the churn risk. Set by custprofile.as_of:
--   latest_activity (default)  the latest order or text in the data, never later than now:
--                              historical data (a shop's export that ends in 2018) is judged as
--                              of its own end, not against today's clock, and a live shop's latest
--                              event is minutes old, so it is judged as of now
--   now                        the transaction's start
--   a timestamp                that moment, for reports as of a date (SET custprofile.as_of = '2018-06-30')
-- Data after the moment is not left out: the moment is where recency is counted to.

-- The moment for a given latest activity (NULL: none, then now).
CREATE FUNCTION custprofile_internal.judgement_time(latest_activity timestamptz) RETURNS timestamptz
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT CASE s WHEN 'latest_activity' THEN least(COALESCE(latest_activity, now()), now())
                  WHEN 'now' THEN now()
                  ELSE s::timestamptz END
      FROM (SELECT custprofile_internal.as_of_setting() AS s) setting
$$;

-- The latest order or text of a customer in the customers source, over the registered sources
-- (checked_sources('customers', 'orders', 'texts')); NULL without any. Texts that are NULL or
-- blank do not count, as profiles skip them. An index on the time columns makes it a lookup.
CREATE FUNCTION custprofile_internal.latest_activity(sources jsonb) RETURNS timestamptz
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    latest timestamptz;
    previous_role text := custprofile_internal.enter_source_reader();
BEGIN
    EXECUTE format($q$
        SELECT greatest(
            (SELECT max(o.ordered_at) FROM (%1$s) o WHERE o.customer_key IN (SELECT c.customer_key FROM (%3$s) c)),
            (SELECT max(t.written_at) FROM (%2$s) t
              WHERE t.body ~ '\S' AND t.customer_key IN (SELECT c.customer_key FROM (%3$s) c)))
        $q$, custprofile_internal.orders_or_none_sql(sources), custprofile_internal.texts_sql(sources), custprofile_internal.customers_sql(sources))
        INTO latest;
    PERFORM custprofile_internal.leave_source_reader(previous_role);
    RETURN latest;
END $$;

-- The moment a build over `sources` is judged at: the sources are read for their latest
-- activity only when custprofile.as_of is latest_activity.
CREATE FUNCTION custprofile_internal.sources_as_of(sources jsonb) RETURNS timestamptz
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
BEGIN
    IF custprofile_internal.as_of_setting() = 'latest_activity' THEN
        RETURN custprofile_internal.judgement_time(custprofile_internal.latest_activity(sources));
    END IF;
    RETURN custprofile_internal.judgement_time(NULL);
END $$;

-- The moment the stored profiles are judged at: with latest_activity, the latest activity among
-- them (an index lookup on profiles.last_activity), which is the data's latest activity as of the
-- last refresh. Views and churn_risk read it once per query.
CREATE FUNCTION custprofile.as_of() RETURNS timestamptz
LANGUAGE plpgsql STABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
BEGIN
    RETURN custprofile_internal.judgement_time((SELECT max(p.last_activity) FROM custprofile.profiles p));
END $$;
COMMENT ON FUNCTION custprofile.as_of() IS
    'The moment recency, RFM and churn are judged at (custprofile.as_of: latest_activity, now or a timestamp).';

-- profiles record each customer's latest activity (custprofile.as_of() reads the latest of them)
ALTER TABLE custprofile.profiles ADD COLUMN last_activity timestamptz;
UPDATE custprofile.profiles p
   SET last_activity = greatest((custprofile.profile_row(p.profile)).last_order_at, (custprofile.profile_row(p.profile)).last_text_at);
CREATE INDEX profiles_last_activity ON custprofile.profiles (last_activity);
CREATE INDEX profiles_segment ON custprofile.profiles (segment);
-- the customers similar_customers compares by orders alone when it searches by pgvector's index
CREATE INDEX profiles_without_interest ON custprofile.profiles (vector_space) WHERE interest_vector IS NULL;

-- the churn risk as columns with the moments it holds for, filled at the end of this script
ALTER TABLE custprofile.profiles
    ADD COLUMN churn_risk real,
    ADD COLUMN churn_valid_from timestamptz NOT NULL DEFAULT 'infinity',
    ADD COLUMN churn_valid_until timestamptz NOT NULL DEFAULT '-infinity',
    ADD COLUMN churn_basis text NOT NULL DEFAULT '';
CREATE INDEX profiles_churn_risk ON custprofile.profiles (churn_risk);
-- stored_churn_holds reads the latest start and the earliest end of the spans
CREATE INDEX profiles_churn_valid_from ON custprofile.profiles (churn_valid_from);
CREATE INDEX profiles_churn_valid_until ON custprofile.profiles (churn_valid_until);
CREATE INDEX profiles_churn_basis ON custprofile.profiles (churn_basis);

-- The churn risk as plain columns, for BI tools that filter on it (WHERE churn_risk > 0.7 by
-- an index). Churn is judged as of custprofile.as_of, and only its recency factor moves with
-- the moment: 0 while the customer is within one rhythm of their last activity, 1 from three
-- rhythms on, in between exact only at the moment it was judged. So each row keeps its risk
-- with the moments it holds for (churn_valid_from .. churn_valid_until); refresh_profiles
-- judges again, at its end, only the rows whose span does not hold the moment (or that were
-- judged with other weights or complaint topics: churn_basis), and customer_profiles reads the
-- column when every row holds the moment and basis its reader judges with (index lookups), else
-- judges on read as before.

-- The moments a churn section (churn_assessment's result, judged at its "as_of") holds for.
CREATE FUNCTION custprofile_internal.churn_validity(churn jsonb, last_activity timestamptz,
                                           OUT valid_from timestamptz, OUT valid_until timestamptz)
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT CASE WHEN churn IS NULL OR last_activity IS NULL OR x.recency = 0 THEN '-infinity'
                WHEN x.recency = 1 THEN least(x.judged, last_activity + make_interval(secs => 3 * x.rhythm_seconds))
                ELSE x.judged END,
           CASE WHEN churn IS NULL OR last_activity IS NULL OR x.recency = 1 THEN 'infinity'
                WHEN x.recency = 0 THEN greatest(x.judged, last_activity + make_interval(secs => x.rhythm_seconds))
                ELSE x.judged END
      -- the rhythm as churn_recency reads it (sql/churn.sql), in seconds: no time zone in the sum
      FROM (SELECT (churn #>> '{factors,recency}')::float8 AS recency, (churn ->> 'as_of')::timestamptz AS judged,
                   custprofile_internal.churn_rhythm_days((churn ->> 'rhythm_days')::float8) * 86400 AS rhythm_seconds) x
$$;

-- A stored churn section judged again at another moment: only its recency factor moves, so the
-- risk is the sum over the stored factors with the new recency, in the same order and arithmetic
-- as churn_assessment (the same figure to the last digit), without reading the document again.
CREATE FUNCTION custprofile_internal.rejudged_churn(churn jsonb, last_activity timestamptz, as_of timestamptz, weights jsonb)
RETURNS jsonb LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT churn || jsonb_build_object(
               'risk', round((1 / (1 + exp(-((weights ->> 'bias')::float8 + t.total))))::numeric, 4),
               'factors', x.f, 'as_of', as_of)
      FROM (SELECT (churn -> 'factors') || jsonb_build_object('recency', custprofile_internal.churn_recency(
                       last_activity, (churn ->> 'rhythm_days')::float8, as_of)) AS f) x,
           LATERAL (SELECT COALESCE(sum((weights ->> e.key)::float8 * e.value::text::float8), 0) AS total
                      FROM jsonb_each(x.f) e) t
     WHERE churn IS NOT NULL
$$;

-- What a churn risk depends on besides the profile and the moment: the weights in use and the
-- topics marked complaint. A stored risk holds only while they are what it was judged with.
CREATE FUNCTION custprofile_internal.churn_basis() RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT md5(custprofile_internal.churn_weights()::text || ';'
               || COALESCE((SELECT string_agg(t.topic, ',' ORDER BY t.topic) FROM custprofile.topics t WHERE t.complaint), ''))
$$;

-- Whether every stored row's churn_risk holds as of custprofile.as_of() and with the basis in
-- use (true without rows): four index lookups.
CREATE FUNCTION custprofile_internal.stored_churn_holds() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT COALESCE((SELECT max(p.churn_valid_from) FROM custprofile.profiles p) <= x.a
                    AND x.a <= (SELECT min(p.churn_valid_until) FROM custprofile.profiles p)
                    AND (SELECT min(p.churn_basis) FROM custprofile.profiles p) = x.b
                    AND (SELECT max(p.churn_basis) FROM custprofile.profiles p) = x.b, true)
      FROM (SELECT custprofile.as_of() AS a, custprofile_internal.churn_basis() AS b) x
$$;

-- Judges churn_risk again as of custprofile.as_of() where it does not hold then or was judged
-- with another basis (every row with `everything`). The document's churn section is left as
-- built: it belongs with the document's RFM figures, judged at the same moment. Returns how many
-- rows were judged.
CREATE FUNCTION custprofile_internal.judge_stored_churn(everything boolean DEFAULT false) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    a timestamptz := custprofile.as_of();
    weights jsonb := custprofile_internal.churn_weights();
    basis text := custprofile_internal.churn_basis();
    n bigint;
BEGIN
    -- the rows to judge, locked in key order and skipping those another transaction holds (a
    -- refresh in the caller's transaction keeps its rows until it commits): no waiting, so no
    -- deadlock; a skipped row keeps stored_churn_holds() false, readers judge on read until the
    -- next refresh judges it
    UPDATE custprofile.profiles p
       SET (churn_risk, churn_valid_from, churn_valid_until, churn_basis) =
           (SELECT (j.churn ->> 'risk')::real, v.valid_from, v.valid_until, basis
              FROM (SELECT custprofile_internal.rejudged_churn(p.profile -> 'churn', p.last_activity, a, weights) AS churn) j,
                   custprofile_internal.churn_validity(j.churn, p.last_activity) v)
      FROM (SELECT s.customer_key FROM custprofile.profiles s
             WHERE everything OR s.churn_valid_from > a OR s.churn_valid_until < a
                OR s.churn_basis < basis OR s.churn_basis > basis
             ORDER BY s.customer_key FOR UPDATE OF s SKIP LOCKED) l
     WHERE p.customer_key = l.customer_key;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- Every function that judged as of now() takes the moment instead; those whose arguments change
-- are dropped and created again (nothing of the extension's depends on them)
DROP FUNCTION custprofile.rfm_breakpoints();
DROP FUNCTION custprofile.rfm_breakpoints(jsonb);
DROP FUNCTION custprofile.build_profile(text);
DROP FUNCTION custprofile.build_profile(bigint);
DROP FUNCTION custprofile.build_profile(uuid);
DROP FUNCTION custprofile.build_profiles(text[], jsonb);
DROP FUNCTION custprofile.churn_risk(text);
DROP FUNCTION custprofile.churn_risk(bigint);
DROP FUNCTION custprofile.churn_risk(uuid);
-- Quintile breakpoints (20/40/60/80 %) of recency, order count and spend over every customer
-- with orders: the yardstick of the 1 to 5 RFM scores, computed once per refresh
-- (refresh_profiles hands them to every batch) or per build_profiles call, never per customer.
-- Recency is counted in days up to `as_of` (sql/clock.sql). NULL without an orders source.
-- `sources` as checked_sources('customers', 'orders', ...) gives them.
CREATE FUNCTION custprofile_internal.rfm_breakpoints(sources jsonb, as_of timestamptz) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    orders_q text := custprofile_internal.orders_sql(sources);
    result jsonb;
    previous_role text;
BEGIN
    IF orders_q IS NULL THEN
        RETURN NULL;
    END IF;
    previous_role := custprofile_internal.enter_source_reader();
    EXECUTE format($q$
        SELECT jsonb_build_object(
            -- rounded as they are shown: a breakpoint between two spends needs no 13th decimal
            'recency_days', custprofile_internal.rounded(percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY recency_days), 1),
            'orders',       custprofile_internal.rounded(percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY orders), 1),
            'spend',        custprofile_internal.rounded(percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY spend), 2),
            -- the usual time between two orders, for customers whose own rhythm is unknown
            'interval_days', round(percentile_cont(0.5) WITHIN GROUP (ORDER BY interval_days)::numeric, 1),
            'customers',    count(*),
            'as_of',        $1)
          FROM (SELECT greatest(extract(epoch FROM $1 - max(o.ordered_at)) / 86400, 0) AS recency_days,
                       count(*) AS orders, sum(o.amount) AS spend,
                       extract(epoch FROM max(o.ordered_at) - min(o.ordered_at)) / 86400 / NULLIF(count(*) - 1, 0) AS interval_days
                  FROM (%s) o
                 WHERE o.customer_key IN (SELECT c.customer_key FROM (%s) c)
                 GROUP BY o.customer_key) per_customer
        $q$, orders_q, custprofile_internal.customers_sql(sources)) INTO result USING as_of;
    PERFORM custprofile_internal.leave_source_reader(previous_role);
    RETURN result;
END $$;
COMMENT ON FUNCTION custprofile_internal.rfm_breakpoints(jsonb, timestamptz) IS
    'Quintile breakpoints of recency, order count and spend over the checked sources, as of a moment (rfm_breakpoints(as_of) is the one to call).';

CREATE FUNCTION custprofile.rfm_breakpoints(as_of timestamptz DEFAULT NULL) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT custprofile_internal.rfm_breakpoints(s, COALESCE(as_of, custprofile_internal.sources_as_of(s)))
      FROM (SELECT custprofile_internal.checked_sources('customers', 'orders', 'texts') AS s) sources
$$;
COMMENT ON FUNCTION custprofile.rfm_breakpoints(timestamptz) IS
    'Quintile breakpoints of recency (days up to as_of, default custprofile.as_of), order count and spend over all customers with orders.';

-- Each element rounded to `digits` decimals, as a JSON array.
CREATE FUNCTION custprofile_internal.rounded(xs float8[], digits int) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT jsonb_agg(round(x::numeric, digits) ORDER BY n) FROM unnest(xs) WITH ORDINALITY u(x, n)
$$;

-- The one query build_profiles runs, as text: every source read once for all the customers
-- in $1 (keys as text), texts scored in batches by profile_agg, the document written by
-- sql/profile_document.sql. $2: whether an orders source is registered, $3: the RFM
-- breakpoints, $4: the moment recency and churn are judged at. explain_build_profiles shows
-- its plan.
CREATE OR REPLACE FUNCTION custprofile_internal.profiles_sql(sources jsonb) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT format($q$
        WITH wanted AS (SELECT DISTINCT k::%1$s AS customer_key FROM unnest($1) AS k WHERE k IS NOT NULL),
        cust AS (SELECT c.customer_key, c.attributes FROM (%2$s) c WHERE c.customer_key IN (SELECT customer_key FROM wanted)),
        orders AS (SELECT o.* FROM (%3$s) o WHERE o.customer_key IN (SELECT customer_key FROM wanted)),
        per_customer AS (
            SELECT o.customer_key, count(*) AS orders, sum(o.amount) AS spend,
                   min(o.ordered_at) AS first_order, max(o.ordered_at) AS last_order,
                   greatest(extract(epoch FROM $4 - max(o.ordered_at)) / 86400, 0) AS recency_days,
                   extract(epoch FROM max(o.ordered_at) - min(o.ordered_at)) / 86400 / NULLIF(count(*) - 1, 0) AS interval_days
              FROM orders o GROUP BY o.customer_key),
        categories AS (
            SELECT r.customer_key, jsonb_agg(r.category ORDER BY r.rank) FILTER (WHERE r.rank <= 3) AS favourite,
                   jsonb_object_agg(r.category, r.orders) AS orders_by_category
              FROM (SELECT o.customer_key, o.category, count(*) AS orders,
                           row_number() OVER (PARTITION BY o.customer_key
                                              ORDER BY count(*) DESC, sum(o.amount) DESC NULLS LAST, o.category) AS rank
                      FROM orders o WHERE o.category IS NOT NULL
                     GROUP BY o.customer_key, o.category) r
             GROUP BY r.customer_key),
        texts AS (
            SELECT t.customer_key, custprofile.profile_agg(t.body, t.rating, t.written_at) AS signals
              FROM (%4$s) t WHERE t.customer_key IN (SELECT customer_key FROM wanted)
             GROUP BY t.customer_key)
        SELECT d.customer_key, custprofile_internal.with_churn(d.profile, custprofile.churn_assessment(d.profile, d.rhythm_days, $4)),
               d.interest_vector
          FROM (
        SELECT c.customer_key::text,
               custprofile_internal.profile_document(
                   to_jsonb(c.customer_key),
                   c.attributes,
                   CASE WHEN $2 THEN custprofile_internal.purchases_section(
                       p.orders, p.spend, p.first_order, p.last_order, p.recency_days::numeric, p.interval_days::numeric,
                       custprofile_internal.rfm_section(p.recency_days::numeric, p.orders, p.spend, $3),
                       cat.favourite, cat.orders_by_category) END,
                   t.signals),
               custprofile_internal.texts_interest_vector(t.signals),
               -- the customer's own rhythm, else the shop's usual one, else a quarter
               COALESCE(p.interval_days, ($3 ->> 'interval_days')::float8, 91) AS rhythm_days
          FROM cust c
          LEFT JOIN per_customer p ON p.customer_key = c.customer_key
          LEFT JOIN categories cat ON cat.customer_key = c.customer_key
          LEFT JOIN texts t ON t.customer_key = c.customer_key
          ) AS d(customer_key, profile, interest_vector, rhythm_days)
        $q$, custprofile_internal.key_type(sources), custprofile_internal.customers_sql(sources), custprofile_internal.orders_or_none_sql(sources),
             custprofile_internal.texts_sql(sources))
$$;

-- Profiles of the given customers (keys as text), built set-wise. Unknown customers give no
-- row. `breakpoints` (from rfm_breakpoints) and `as_of` (the moment of judgement, default
-- custprofile.as_of over the sources) are computed here when not passed.
CREATE FUNCTION custprofile.build_profiles(customer_keys text[], breakpoints jsonb DEFAULT NULL, as_of timestamptz DEFAULT NULL)
RETURNS TABLE (customer_key text, profile jsonb, interest_vector real[])
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    sources jsonb := custprofile_internal.checked_sources('customers', 'orders', 'texts');
    has_orders boolean := custprofile_internal.orders_sql(sources) IS NOT NULL;
    previous_role text;
BEGIN
    PERFORM custprofile_internal.check_customer_keys(customer_keys, sources);
    as_of := COALESCE(as_of, (breakpoints ->> 'as_of')::timestamptz,
                      custprofile_internal.sources_as_of(sources));
    IF has_orders THEN
        breakpoints := COALESCE(breakpoints, custprofile_internal.rfm_breakpoints(sources, as_of));
    END IF;
    previous_role := custprofile_internal.enter_source_reader();
    RETURN QUERY EXECUTE custprofile_internal.profiles_sql(sources) USING customer_keys, has_orders, breakpoints, as_of;
    PERFORM custprofile_internal.leave_source_reader(previous_role);
END $$;

-- The plan of the query build_profiles runs for these customers (EXPLAIN; with actual, EXPLAIN
-- ANALYZE, which builds the profiles and throws them away).
CREATE OR REPLACE FUNCTION custprofile.explain_build_profiles(customer_keys text[], actual boolean DEFAULT false)
RETURNS SETOF text
-- volatile: PostgreSQL runs EXPLAIN only there
LANGUAGE plpgsql SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    sources jsonb := custprofile_internal.checked_sources('customers', 'orders', 'texts');
    has_orders boolean := custprofile_internal.orders_sql(sources) IS NOT NULL;
    as_of timestamptz := custprofile_internal.sources_as_of(sources);
    breakpoints jsonb;
    previous_role text;
BEGIN
    IF has_orders THEN
        breakpoints := custprofile_internal.rfm_breakpoints(sources, as_of);
    END IF;
    previous_role := custprofile_internal.enter_source_reader();
    RETURN QUERY EXECUTE CASE WHEN actual THEN 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) ' ELSE 'EXPLAIN (COSTS OFF) ' END
                         || custprofile_internal.profiles_sql(sources)
                 USING customer_keys, has_orders, breakpoints, as_of;
    PERFORM custprofile_internal.leave_source_reader(previous_role);
END $$;
COMMENT ON FUNCTION custprofile.explain_build_profiles(text[], boolean) IS
    'The plan of the one query build_profile(s) runs for these customers.';

-- The profile of one customer; NULL for an unknown customer. Keys of type bigint, text and uuid
-- have their own overload so that literals resolve without casts. `as_of`: the moment recency,
-- RFM and churn are judged at, default custprofile.as_of (the latest activity in the sources).
CREATE FUNCTION custprofile.build_profile(customer_id text, as_of timestamptz DEFAULT NULL) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT (SELECT b.profile FROM custprofile.build_profiles(ARRAY[customer_id], NULL, as_of) b)
$$;
CREATE FUNCTION custprofile.build_profile(customer_id bigint, as_of timestamptz DEFAULT NULL) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$ SELECT custprofile.build_profile(customer_id::text, as_of) $$;
CREATE FUNCTION custprofile.build_profile(customer_id uuid, as_of timestamptz DEFAULT NULL) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$ SELECT custprofile.build_profile(customer_id::text, as_of) $$;
COMMENT ON FUNCTION custprofile.build_profile(text, timestamptz) IS
    'Profile of one customer: demographics, purchases with RFM scores, text signals, churn as of as_of; NULL if unknown.';

-- The RFM scores of one customer against the breakpoints of rfm_breakpoints(). A customer
-- without orders scores the lowest on all three, so that every customer has scores.
CREATE OR REPLACE FUNCTION custprofile_internal.rfm_section(recency_days numeric, orders bigint, spend numeric, breakpoints jsonb)
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT CASE WHEN orders > 0 THEN jsonb_build_object(
        'recency', custprofile_internal.quintile_score(recency_days, breakpoints -> 'recency_days', false),
        'frequency', custprofile_internal.quintile_score(orders, breakpoints -> 'orders', true),
        'monetary', custprofile_internal.quintile_score(spend, breakpoints -> 'spend', true))
        ELSE '{"recency": 1, "frequency": 1, "monetary": 1}' END
$$;

-- The churn risk of one customer in [0, 1] from the stored profile, as of `as_of` (default
-- custprofile.as_of()); NULL for a customer without a stored profile.
CREATE FUNCTION custprofile.churn_risk(customer_id text, as_of timestamptz DEFAULT NULL) RETURNS real
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    p jsonb;
BEGIN
    PERFORM custprofile_internal.require_profiles();
    SELECT s.profile INTO p FROM custprofile.profiles s WHERE s.customer_key = customer_id;
    RETURN (custprofile_internal.stored_churn(p, COALESCE(as_of, custprofile.as_of())) ->> 'risk')::real;
END $$;
CREATE FUNCTION custprofile.churn_risk(customer_id bigint, as_of timestamptz DEFAULT NULL) RETURNS real
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$ SELECT custprofile.churn_risk(customer_id::text, as_of) $$;
CREATE FUNCTION custprofile.churn_risk(customer_id uuid, as_of timestamptz DEFAULT NULL) RETURNS real
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$ SELECT custprofile.churn_risk(customer_id::text, as_of) $$;
COMMENT ON FUNCTION custprofile.churn_risk(text, timestamptz) IS
    'Churn risk in [0, 1] from the stored profile as of as_of (default custprofile.as_of()); factors in profile -> churn.';

-- Recomputes the churn section of every stored profile with the weights in use, as of the
-- moment it was judged at (no model is run).
CREATE OR REPLACE FUNCTION custprofile.rescore_churn() RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    n bigint;
BEGIN
    -- the whole table at once, before any row: row by row in the table's order would deadlock
    -- with a refresh writing the same rows in its own order
    LOCK TABLE custprofile.profiles IN SHARE ROW EXCLUSIVE MODE;
    UPDATE custprofile.profiles p
       SET profile = custprofile_internal.with_churn(p.profile,
                               custprofile_internal.stored_churn(p.profile, COALESCE(((custprofile.profile_row(p.profile)).churn ->> 'as_of')::timestamptz,
                                                                            (custprofile.profile_row(p.profile)).generated_at)))
     WHERE (custprofile.profile_row(p.profile)).churn IS NOT NULL;
    GET DIAGNOSTICS n = ROW_COUNT;
    -- and the churn column as of now, with the new weights
    PERFORM custprofile_internal.judge_stored_churn(true);
    RETURN n;
END $$;

-- Fits the weights to the user's own labels: training_query returns (customer key, churned
-- boolean) rows; the factors come from the stored profiles as of `as_of` in options (default
-- custprofile.as_of());
-- logistic regression through the same trainer as train_classifier (options: l2, epochs, seed,
-- validation_share, learning_rate). The weights replace the defaults, and every stored profile's
-- churn section is recomputed with them, in one transaction.
-- The caller's training query is resolved with the caller's search_path (their tables need no
-- schema); everything else here runs with the pinned one, as every other function does. Hence no
-- SET clause: the query's rows are read into arrays first, with the caller's path.
CREATE OR REPLACE FUNCTION custprofile.train_churn_model(training_query text, options jsonb DEFAULT '{}')
RETURNS jsonb LANGUAGE plpgsql AS $$
DECLARE
    caller_path text := pg_catalog.current_setting('search_path');
    names text[];
    as_of timestamptz;
    user_rows text;
    keys text[];
    churned boolean[];
    features float8[];
    labels boolean[];
    unmatched bigint;
    fitted jsonb;
BEGIN
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, custprofile, pg_temp', true);
    names := ARRAY['recency', 'sentiment_decline', 'complaints', 'disagreement', 'negative_share'];
    as_of := COALESCE((options ->> 'as_of')::timestamptz, custprofile.as_of());
    PERFORM custprofile_internal.require_coordinator('train_churn_model');
    IF training_query IS NULL OR btrim(btrim(training_query), ';') = '' THEN
        RAISE EXCEPTION 'train_churn_model needs a query returning (customer key, churned boolean) rows'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM custprofile_internal.require_profiles();
    -- the shared weights change every customer's churn risk: refuse before any work whoever
    -- could not store them
    IF NOT has_table_privilege('custprofile.churn_model', 'INSERT') THEN
        RAISE EXCEPTION 'permission denied to train the churn model'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'The churn weights are shared by every profile: an administrator trains them.';
    END IF;
    user_rows := format('SELECT pg_catalog.array_agg(q.k::text), pg_catalog.array_agg(q.churned::boolean) FROM (%s) q(k, churned)',
                        training_query);
    PERFORM pg_catalog.set_config('search_path', caller_path, true);
    EXECUTE user_rows INTO keys, churned;
    PERFORM pg_catalog.set_config('search_path', 'pg_catalog, custprofile, pg_temp', true);
    SELECT array_agg(f.value ORDER BY l.k, f.n), (array_agg(l.churned ORDER BY l.k) FILTER (WHERE f.n = 1)),
           (SELECT count(*) FROM unnest(keys) q(k) WHERE NOT EXISTS
                (SELECT FROM custprofile.profiles p WHERE p.customer_key = q.k))
      INTO features, labels, unmatched
      FROM unnest(keys, churned) l(k, churned)
      JOIN custprofile.profiles p ON p.customer_key = l.k
      CROSS JOIN LATERAL unnest(ARRAY(
          SELECT (custprofile.churn_factors(p.profile, (custprofile.profile_row(p.profile)).rhythm_days, as_of) ->> n)::float8
            FROM unnest(names) n)) WITH ORDINALITY AS f(value, n);
    IF labels IS NULL THEN
        RAISE EXCEPTION 'the training query returned no rows that match a stored profile'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Return (customer key, churned boolean) for customers that have a profile; run CALL custprofile.refresh_profiles() first.';
    END IF;
    IF array_position(labels, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'the training query returned NULL churn labels' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    fitted := custprofile_internal.fit_logistic(features, labels, names, options - 'as_of');
    -- one model row: a concurrent training waits, then replaces it
    PERFORM pg_advisory_xact_lock(hashtext('custprofile.churn_model'));
    DELETE FROM custprofile.churn_model;
    INSERT INTO custprofile.churn_model (weights, metrics)
    VALUES (fitted -> 'weights', (fitted -> 'metrics') || jsonb_build_object('rows', cardinality(labels),
                                                                            'unmatched_rows', unmatched, 'as_of', as_of));
    PERFORM custprofile.rescore_churn();
    fitted := fitted || jsonb_build_object('rows', cardinality(labels), 'unmatched_rows', unmatched);
    PERFORM pg_catalog.set_config('search_path', caller_path, true);
    RETURN fitted;
END $$;

-- For BI tools: the main fields as plain typed columns, no JSON functions needed.
CREATE OR REPLACE VIEW custprofile.customer_profiles AS
SELECT p.customer_key,
       COALESCE((custprofile.profile_row(p.profile)).text_count, 0)    AS text_count,
       (custprofile.profile_row(p.profile)).mean_sentiment::real        AS mean_sentiment,
       (custprofile.profile_row(p.profile)).negative_share::real        AS negative_share,
       (custprofile.profile_row(p.profile)).sentiment_trend::real       AS sentiment_trend,
       (custprofile.profile_row(p.profile)).mean_rating::real           AS mean_rating,
       (custprofile.profile_row(p.profile)).main_topic                  AS main_topic,
       (custprofile.profile_row(p.profile)).main_need                   AS main_need,
       (custprofile.profile_row(p.profile)).order_count                 AS order_count,
       (custprofile.profile_row(p.profile)).total_spend                 AS total_spend,
       (custprofile.profile_row(p.profile)).recency_score               AS recency_score,
       (custprofile.profile_row(p.profile)).frequency_score             AS frequency_score,
       (custprofile.profile_row(p.profile)).monetary_score              AS monetary_score,
       (custprofile.profile_row(p.profile)).favourite_category          AS favourite_category,
       -- as of custprofile.as_of: the stored column when it holds then (an index serves filters
       -- on it), else judged on read
       p.churn_risk,
       p.segment,
       p.last_activity,
       (custprofile.profile_row(p.profile)).generated_at                AS profile_time,
       -- the key in the type of the customers key column, to join the user's tables without a
       -- cast: one of the two is set when the key is a uuid or an integer, neither for text keys
       custprofile_internal.key_as_uuid(p.customer_key, k.key_type)              AS customer_uuid,
       custprofile_internal.key_as_bigint(p.customer_key, k.key_type)            AS customer_bigint,
       -- what the texts do: shares of questions and of complaints (NULL without an intent head)
       (custprofile.profile_row(p.profile)).question_share::real        AS question_share,
       (custprofile.profile_row(p.profile)).complaint_share::real       AS complaint_share
  FROM (SELECT s.customer_key, s.profile, s.segment, s.last_activity, s.churn_risk
          FROM custprofile.profiles s WHERE custprofile_internal.stored_churn_holds()
        UNION ALL
        SELECT s.customer_key, s.profile, s.segment, s.last_activity,
               (custprofile_internal.stored_churn(s.profile, (SELECT custprofile.as_of())) ->> 'risk')::real
          FROM custprofile.profiles s WHERE NOT custprofile_internal.stored_churn_holds()) p,
       (SELECT custprofile_internal.customer_key_type() AS key_type) k;

-- check_sources reports blank texts too (the profiles skip them, as NULL ones)
-- Data checks over the registered sources: a registration that no longer matches the
-- catalogue, rows whose customer is not in the customers source (never merged into a profile),
-- NULL keys, NULL and blank texts. One row per check; rows = 0 means fine.
CREATE OR REPLACE FUNCTION custprofile.check_sources()
RETURNS TABLE (kind text, relation text, check_name text, rows bigint, detail text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    s custprofile.source_registry;
    rel text;
    n bigint;
    customers jsonb;
    previous_role text := custprofile_internal.enter_source_reader();
BEGIN
    FOR s IN SELECT * FROM custprofile.source_registry r
              ORDER BY array_position(ARRAY['customers', 'orders', 'texts', 'items', 'answers'], r.kind), r.relation_name LOOP
        kind := s.kind;
        rel := CASE WHEN EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid = s.relid)
                    THEN s.relid::regclass::text ELSE s.relation_name END;
        relation := rel;
        BEGIN
            PERFORM custprofile_internal.check_registration(s.kind, s.relid, s.relation_name, s.columns);
        EXCEPTION WHEN OTHERS THEN
            check_name := 'registration'; rows := NULL; detail := SQLERRM;
            RETURN NEXT;
            CONTINUE;
        END;
        check_name := 'registration'; rows := 0; detail := 'columns exist and have usable types';
        RETURN NEXT;
        IF s.kind IN ('customers', 'items', 'answers') THEN
            EXECUTE format('SELECT count(*) - count(DISTINCT %1$I) + count(*) FILTER (WHERE %1$I IS NULL) FROM %2$s',
                           s.columns ->> 'key', s.relid::regclass) INTO n;
            check_name := 'duplicate or NULL keys'; rows := n;
            detail := format('%s whose key is NULL or appears more than once', s.kind);
            RETURN NEXT;
            CONTINUE;
        END IF;
        customers := custprofile_internal.checked_sources('customers');
        EXECUTE format('SELECT count(*) FROM %s x WHERE x.%I IS NOT NULL AND x.%I::%s NOT IN (SELECT c.customer_key FROM (%s) c WHERE c.customer_key IS NOT NULL)',
                       s.relid::regclass, s.columns ->> 'customer', s.columns ->> 'customer', custprofile_internal.key_type(customers),
                       custprofile_internal.customers_sql(customers)) INTO n;
        check_name := 'unknown customers'; rows := n;
        detail := 'rows whose customer is not in the customers source: left out of every profile';
        RETURN NEXT;
        EXECUTE format('SELECT count(*) FROM %s x WHERE x.%I IS NULL', s.relid::regclass, s.columns ->> 'customer') INTO n;
        check_name := 'NULL customer'; rows := n; detail := 'rows without a customer key: left out of every profile';
        RETURN NEXT;
        IF s.kind = 'texts' THEN
            EXECUTE format('SELECT count(*) FROM %s x WHERE x.%I IS NULL', s.relid::regclass, s.columns ->> 'text') INTO n;
            check_name := 'NULL texts'; rows := n; detail := 'texts that are NULL: skipped and counted in each profile';
            RETURN NEXT;
            EXECUTE format('SELECT count(*) FROM %s x WHERE x.%I !~ ''\S''', s.relid::regclass, s.columns ->> 'text') INTO n;
            check_name := 'blank texts'; rows := n;
            detail := 'texts that are empty or only spaces: skipped and counted in each profile';
            RETURN NEXT;
        END IF;
    END LOOP;
    PERFORM custprofile_internal.leave_source_reader(previous_role);
END $$;
COMMENT ON FUNCTION custprofile.check_sources() IS
    'Checks the registered sources: registrations, rows of unknown customers, NULL keys, NULL and blank texts.';

-- Replies only where they help: praise gets none, and the thresholds are calibrated on the
-- knowledge base against messages no article answers (sql/replies.sql), stored by
-- refresh_catalogues
-- Messages that no shop's help desk answers, in English and Chinese: what the knowledge base's
-- articles score against text that is not about them. Written for the calibration only; the
-- evaluation messages (eval/replies/messages.tsv) are others.
CREATE FUNCTION custprofile.reply_calibration_messages() RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT ARRAY[
        'Hello', 'Hi there, how are you?', 'Good morning!', 'Thanks!', 'Thank you very much.',
        'Have a great day.', 'Okay, thanks.', 'Sounds good.', 'I love it.', 'This is great.',
        'Nice to meet you.', 'What time is it?', 'Tell me a joke.', 'What is the capital of France?',
        'Who won the game last night?', 'Do you sell cars?', 'Do you have a restaurant?',
        'Can I book a flight with you?', 'Where is the nearest train station?',
        'Are you open on public holidays?', 'What does your company name mean?',
        'Can you help me with my homework?', 'I like the colour blue.', 'My dog loves long walks.',
        '你好', '谢谢', '今天天气怎么样？', '你们卖汽车吗？', '祝你周末愉快', '好的，明白了']
$$;

-- The calibrated thresholds of the stored answers' vectors (one row; refresh_catalogues keeps it).
CREATE TABLE custprofile.reply_calibration (
    only_row    boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    -- answers_fingerprint() when it was measured: other vectors, other thresholds
    fingerprint bigint NOT NULL,
    -- {"floor": ..., "answers": {"<answer key>": the best score of any calibration message}}
    thresholds  jsonb NOT NULL,
    -- the best relatedness of each calibration message to any article
    unrelated   jsonb NOT NULL,
    measured_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE custprofile.reply_calibration IS
    'The reply thresholds measured on the stored answers (custprofile.reply_thresholds), kept by refresh_catalogues.';

-- Which answers' vectors are stored (keys and text hashes, which include the model).
CREATE FUNCTION custprofile_internal.answers_fingerprint() RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT hashtextextended(COALESCE(string_agg(e.key || ':' || e.text_hash, ',' ORDER BY e.key), ''), 0)
      FROM custprofile.catalogue_embeddings e WHERE e.kind = 'answers'
$$;

-- Scores every calibration message against every article. An article's own threshold is the
-- best score any calibration message reaches with it ("Do you sell cars?" comes close to "Do you
-- sell spare parts?", and raises that article's bar only); no article's is below the floor, the
-- score three quarters of the calibration messages stay under with their best article. A message
-- that two articles match about as well is ambiguous ("what is your returns process" against
-- returns and refunds): the best must lead the next by the margin, or nothing is suggested.
CREATE FUNCTION custprofile_internal.measure_reply_thresholds(OUT thresholds jsonb, OUT unrelated jsonb)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    sources jsonb := custprofile_internal.checked_sources('answers');
    previous_role text;
BEGIN
    previous_role := custprofile_internal.enter_source_reader();
    EXECUTE format($q$
        WITH s AS (SELECT v.n::int AS n, c.key, c.similarity
                     FROM custprofile.embed_texts($1) WITH ORDINALITY AS v(embedding, n), LATERAL (%s) c),
        per_message AS (SELECT s.n, max(s.similarity) AS best FROM s GROUP BY s.n),
        per_answer AS (SELECT s.key, max(s.similarity) AS ceiling FROM s GROUP BY s.key)
        SELECT jsonb_build_object(
                   'floor', (SELECT round(percentile_cont(0.75) WITHIN GROUP (ORDER BY m.best)::numeric, 4) FROM per_message m),
                   -- how far the best article must lead the next: chosen on eval/replies/tuning.tsv
                   -- (0.05 took the first suggestion's precision there from 0.84 to 0.88, docs/acting.md)
                   'margin', 0.05,
                   'answers', COALESCE((SELECT jsonb_object_agg(a.key, round(a.ceiling::numeric, 4)) FROM per_answer a), '{}')),
               COALESCE((SELECT jsonb_object_agg($1[m.n], round(m.best::numeric, 4)) FROM per_message m), '{}')
        $q$, custprofile_internal.catalogue_similarity_sql('answers', 'v.embedding', sources))
    INTO thresholds, unrelated USING custprofile.reply_calibration_messages();
    PERFORM custprofile_internal.leave_source_reader(previous_role);
END $$;

-- The thresholds suggest_replies uses by default: the stored calibration when it was measured on
-- the vectors stored now, else measured now (30 embeddings).
CREATE FUNCTION custprofile.reply_thresholds() RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT COALESCE((SELECT c.thresholds FROM custprofile.reply_calibration c
                      WHERE c.fingerprint = custprofile_internal.answers_fingerprint()),
                    (custprofile_internal.measure_reply_thresholds()).thresholds)
$$;
COMMENT ON FUNCTION custprofile.reply_thresholds() IS
    'What an answer must beat to be suggested: {"floor", "margin" over the next article, "answers": {key: the best score of messages no article answers}}.';

-- Stores the calibration of the answers' vectors now stored (refresh_catalogues calls it).
CREATE FUNCTION custprofile_internal.calibrate_replies() RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    m record;
BEGIN
    DELETE FROM custprofile.reply_calibration;
    IF NOT EXISTS (SELECT FROM custprofile.source_registry r WHERE r.kind = 'answers') THEN
        RETURN NULL;
    END IF;
    m := custprofile_internal.measure_reply_thresholds();
    INSERT INTO custprofile.reply_calibration (fingerprint, thresholds, unrelated)
    VALUES (custprofile_internal.answers_fingerprint(), m.thresholds, m.unrelated);
    RETURN m.thresholds;
END $$;

DROP FUNCTION custprofile.suggest_replies(text, int, real);
-- NULL or blank messages and praise give no rows; k at most 100; min_score NULL means the
-- calibrated thresholds (an answer must beat its own and the floor, and the best must lead the
-- next article by the margin), else answers at or above min_score.
CREATE FUNCTION custprofile.suggest_replies(message text, k int DEFAULT 3, min_score real DEFAULT NULL)
RETURNS TABLE (answer_id text, answer text, score real)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp
    SET hnsw.ef_search = 200 SET hnsw.iterative_scan = relaxed_order AS $$
DECLARE
    sources jsonb;
    m real[];
    thresholds jsonb;
    previous_role text;
BEGIN
    PERFORM custprofile_internal.check_k(k, 100);
    IF min_score IS NOT NULL AND NOT (min_score BETWEEN -1 AND 1) THEN
        RAISE EXCEPTION 'min_score must be between -1 and 1' USING ERRCODE = 'invalid_parameter_value',
            HINT = 'Pass NULL for the thresholds calibrated on the knowledge base (custprofile.reply_thresholds()).';
    END IF;
    sources := custprofile_internal.checked_sources('answers');
    IF message IS NULL OR btrim(message) = '' THEN
        RETURN;
    END IF;
    -- praise needs no help-desk article (an encoder without an intent head answers everything)
    IF custprofile.text_signals(message) ->> 'intent' = 'praise' THEN
        RETURN;
    END IF;
    m := custprofile.embed_text(message);
    -- an answer must beat the calibration messages (strictly); an explicit min_score is inclusive
    IF min_score IS NULL THEN
        thresholds := custprofile.reply_thresholds();
    END IF;
    previous_role := custprofile_internal.enter_source_reader();
    RETURN QUERY EXECUTE format(
        'WITH r AS MATERIALIZED (SELECT c.key, c.answer, c.similarity, row_number() OVER (ORDER BY c.similarity DESC, c.key) AS n'
        '                          FROM (%s) c WHERE c.similarity IS NOT NULL)'
        ' SELECT r.key, r.answer, r.similarity FROM r'
        ' WHERE CASE WHEN $4 IS NULL THEN r.similarity > greatest(($2 ->> ''floor'')::real, ($2 -> ''answers'' ->> r.key)::real)'
        '                 AND (SELECT f.similarity FROM r f WHERE f.n = 1) - COALESCE((SELECT s.similarity FROM r s WHERE s.n = 2), -1)'
        '                     >= COALESCE(($2 ->> ''margin'')::real, 0)'
        '            ELSE r.similarity >= $4 END'
        ' ORDER BY r.n LIMIT $3',
        custprofile_internal.catalogue_similarity_sql('answers', '$1', sources, custprofile_internal.nearest_pool(k), array_length(m, 1)))
    USING m, thresholds, k, min_score;
    PERFORM custprofile_internal.leave_source_reader(previous_role);
END $$;
COMMENT ON FUNCTION custprofile.suggest_replies(text, int, real) IS
    'Answers from the registered knowledge base whose question (or alternate questions) matches a question, complaint or request, best first, above the calibrated threshold.';
GRANT SELECT ON custprofile.reply_calibration TO PUBLIC;
-- Embeds the new and changed rows of the registered items and answers (in batches through
-- embed_documents) and forgets rows that are gone. One row per kind: how many rows were embedded,
-- how many removed. Kinds that are not registered are skipped.
CREATE OR REPLACE FUNCTION custprofile.refresh_catalogues()
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

-- Backup and restore: every table of user state is dumped by pg_dump, and the registry names its
-- relations as regclass, so that a restore finds them again by name (docs/operations.md, Backup and restore).
-- The sources view reads relid: it is made again around the change of type.
-- checked_sources hands on the oid (a regclass would become its name in JSON)
CREATE OR REPLACE FUNCTION custprofile_internal.checked_sources(VARIADIC kinds text[]) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    k text;
    entries jsonb;
    sources jsonb := '{}';
BEGIN
    FOREACH k IN ARRAY kinds LOOP
        SELECT jsonb_agg(jsonb_build_object('relid', s.relid::oid, 'relation', s.relid::regclass::text, 'columns', s.columns)
                         ORDER BY s.relation_name)
          INTO entries FROM custprofile_internal.registered(k) s;
        sources := sources || jsonb_build_object(k, CASE WHEN k = 'texts' THEN COALESCE(entries, '[]') ELSE entries -> 0 END);
        IF k = 'customers' THEN
            sources := sources || jsonb_build_object('key_type',
                (SELECT format_type(custprofile_internal.column_type(r.relid, r.columns ->> 'key'), NULL)
                   FROM custprofile.source_registry r WHERE r.kind = 'customers'));
        END IF;
    END LOOP;
    RETURN sources;
END $$;
DROP VIEW custprofile.sources;
ALTER TABLE custprofile.source_registry ALTER COLUMN relid TYPE regclass USING relid::regclass;
CREATE VIEW custprofile.sources AS
SELECT s.kind,
       CASE WHEN c.oid IS NULL THEN s.relation_name ELSE c.oid::regclass::text END AS relation,
       s.columns,
       c.oid IS NOT NULL AS relation_exists,
       s.registered_at,
       s.registered_by
  FROM custprofile.source_registry s
  LEFT JOIN pg_catalog.pg_class c ON c.oid = s.relid
 ORDER BY array_position(ARRAY['customers', 'orders', 'texts', 'items', 'answers'], s.kind), 2;
COMMENT ON VIEW custprofile.sources IS 'The registered sources: kind, relation, columns by role.';
GRANT SELECT ON custprofile.sources TO PUBLIC;
SELECT pg_catalog.pg_extension_config_dump('custprofile.source_registry', '');
SELECT pg_catalog.pg_extension_config_dump('custprofile.churn_model', '');
SELECT pg_catalog.pg_extension_config_dump('custprofile.profiles', '');
SELECT pg_catalog.pg_extension_config_dump('custprofile.segmentation', '');
SELECT pg_catalog.pg_extension_config_dump('custprofile.catalogue_embeddings', '');
SELECT pg_catalog.pg_extension_config_dump('custprofile.reply_calibration', '');

-- Backup and restore. The rows above are the extension's until the table is first changed; from
-- the first INSERT, UPDATE, DELETE or TRUNCATE the whole list is the user's, and pg_dump keeps it.
-- A restore runs CREATE EXTENSION (which inserts the defaults again) before it copies the dumped
-- list in, so the COPY of a user's list first removes the defaults: the restored table is the
-- dumped list exactly, edited and deleted defaults included. Which rows are still the
-- extension's is kept here (not dumped: the install fills it again).
CREATE TABLE custprofile.default_topics_in_use (
    topic text PRIMARY KEY
);
-- an updated database's list is still the extension's only when it is exactly the defaults
WITH defaults (topic, description, complaint) AS (VALUES
        ('price', 'cost, expensive, cheap, value for money', false),
        ('delivery', 'shipping, courier, parcel, arrived late', false),
        ('quality', 'broken, defective, durable, well made', false),
        ('customer service', 'support, staff, help, replies to emails', true),
        ('returns and refunds', 'return, refund, exchange, money back', true),
        ('product features', 'features, functions, design, battery, size', false))
INSERT INTO custprofile.default_topics_in_use
SELECT t.topic FROM custprofile.topics t
 WHERE NOT EXISTS ((SELECT topic, description, complaint FROM custprofile.topics EXCEPT SELECT * FROM defaults)
                   UNION ALL
                   (SELECT * FROM defaults EXCEPT SELECT topic, description, complaint FROM custprofile.topics));
COMMENT ON TABLE custprofile.default_topics_in_use IS
    'The rows of custprofile.topics that are still the extension''s defaults (empty once the list is edited).';
SELECT pg_catalog.pg_extension_config_dump('custprofile.topics',
    'WHERE NOT EXISTS (SELECT FROM custprofile.default_topics_in_use)');

-- A COPY into an unedited list is a restore of a dumped one: its first row makes the defaults
-- give way to the dumped list (pg_dump writes a COPY, with no rows, for an unedited list too, so
-- this waits for a row). Any other change takes the list over as it is.
CREATE FUNCTION custprofile_internal.is_copy() RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT current_query() ~* '^\s*(--[^\n]*\n\s*)*COPY\s'
$$;
CREATE FUNCTION custprofile_internal.topics_before_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, custprofile, pg_temp AS $$
BEGIN
    IF TG_LEVEL = 'ROW' THEN
        IF EXISTS (SELECT FROM custprofile.default_topics_in_use) THEN
            DELETE FROM custprofile.default_topics_in_use;
            DELETE FROM custprofile.topics;
        END IF;
        RETURN NEW;
    END IF;
    IF NOT (TG_OP = 'INSERT' AND custprofile_internal.is_copy()) THEN
        DELETE FROM custprofile.default_topics_in_use;
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER topics_before_change BEFORE INSERT OR UPDATE OR DELETE OR TRUNCATE ON custprofile.topics
    FOR EACH STATEMENT EXECUTE FUNCTION custprofile_internal.topics_before_change();
CREATE TRIGGER topics_before_copied_row BEFORE INSERT ON custprofile.topics
    FOR EACH ROW WHEN (custprofile_internal.is_copy()) EXECUTE FUNCTION custprofile_internal.topics_before_change();

-- Progress and history of long operations (sql/runs.sql): custprofile.runs, report_progress,
-- and custprofile.progress_interval; segment_customers records its run
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
GRANT SELECT ON custprofile.runs TO PUBLIC;

CREATE OR REPLACE FUNCTION custprofile.segment_customers(k int, options jsonb DEFAULT '{}')
RETURNS TABLE (customer_id text, segment int)
LANGUAGE plpgsql SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    masking boolean;
    text_segments int[];
    text_bodies text[];
    previous_role text;
    started timestamptz := clock_timestamp();
BEGIN
    PERFORM custprofile_internal.check_k(k, 100);
    IF options IS NULL OR jsonb_typeof(options) <> 'object' THEN
        RAISE EXCEPTION 'options must be a JSON object' USING ERRCODE = 'invalid_parameter_value',
            HINT = 'For example {"seed": 42, "max_iterations": 50, "rfm_weight": 0.5}.';
    END IF;
    PERFORM custprofile_internal.require_profiles();
    PERFORM custprofile_internal.require_analyst('segment_customers');
    -- two runs at once would interleave their writes to profiles.segment and segmentation: the
    -- second waits for the first
    PERFORM pg_advisory_xact_lock(hashtext('custprofile.segment_customers'));
    masking := custprofile_internal.pii_masking();

    -- kmeans_segments reads every stored profile; profiles.segment then holds the result
    PERFORM custprofile_internal.require_one_vector_space();
    UPDATE custprofile.profiles p SET segment = s.segment
      FROM custprofile_internal.kmeans_segments(k, options) s
     WHERE s.customer_key = p.customer_key AND p.segment IS DISTINCT FROM s.segment;

    DELETE FROM custprofile.segmentation;
    INSERT INTO custprofile.segmentation (segment, centre, k, options)
    SELECT p.segment, custprofile.embedding_avg(p.interest_vector), k, options
      FROM custprofile.profiles p WHERE p.segment IS NOT NULL
     GROUP BY p.segment;

    previous_role := custprofile_internal.enter_source_reader();
    -- keywords from each segment's most recent texts, ranked against its centre; the texts are
    -- read as the sources' reader (sql/sources.sql), the keywords stored as the caller
    EXECUTE format($q$
        SELECT array_agg(r.segment ORDER BY r.segment, r.n), array_agg(r.body ORDER BY r.segment, r.n)
          FROM (SELECT s.segment, CASE WHEN $1 THEN custprofile.mask_pii(t.body) ELSE t.body END AS body,
                       row_number() OVER (PARTITION BY s.segment ORDER BY t.written_at DESC NULLS LAST, t.body) AS n
                  FROM (%s) t JOIN custprofile.profiles s ON s.customer_key = t.customer_key::text AND s.segment IS NOT NULL
                 WHERE t.body IS NOT NULL AND btrim(t.body) <> '') r
         WHERE r.n <= custprofile_internal.segment_keyword_texts()
        $q$, custprofile_internal.texts_sql(custprofile_internal.checked_sources('customers', 'texts'))) INTO text_segments, text_bodies USING masking;
    PERFORM custprofile_internal.leave_source_reader(previous_role);
    UPDATE custprofile.segmentation g SET keywords = COALESCE(kw.keywords, '{}')
      FROM (SELECT r.segment,
                   custprofile.group_keywords(array_agg(r.body ORDER BY r.n), 5,
                                              (SELECT x.centre FROM custprofile.segmentation x WHERE x.segment = r.segment)) AS keywords
              FROM unnest(text_segments, text_bodies) WITH ORDINALITY AS r(segment, body, n)
             GROUP BY r.segment) kw
     WHERE kw.segment = g.segment;

    PERFORM custprofile_internal.record_run('segment_customers', started,
        (SELECT count(*) FROM custprofile.profiles p WHERE p.segment IS NOT NULL),
        jsonb_build_object('k', k, 'segments', (SELECT count(*) FROM custprofile.segmentation)));
    RETURN QUERY SELECT p.customer_key, p.segment FROM custprofile.profiles p
                  WHERE p.segment IS NOT NULL ORDER BY p.segment, p.customer_key;
END $$;

-- Levels of use (sql/roles.sql): grant_usage(role, level), revoke_usage(role); refreshes and
-- segmentation check the analyst level first
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
REVOKE EXECUTE ON FUNCTION custprofile.grant_usage(name, text), custprofile.revoke_usage(name) FROM PUBLIC;

-- Self-describing: a comment on every view column and table (the function comments come from
-- sql/function_comments.sql, run after this script's objects exist)
COMMENT ON TABLE custprofile.refresh_queue IS
    'Customers waiting for refresh_profiles to rebuild their profile (work in progress; not dumped).';
COMMENT ON COLUMN custprofile.customer_profiles.customer_key IS 'The customer''s key as text (as in profiles.customer_key).';
COMMENT ON COLUMN custprofile.customer_profiles.text_count IS 'Texts the customer wrote (texts.texts).';
COMMENT ON COLUMN custprofile.customer_profiles.mean_sentiment IS 'Mean sentiment of their texts, -1 to 1.';
COMMENT ON COLUMN custprofile.customer_profiles.negative_share IS 'Share of their texts scored negative.';
COMMENT ON COLUMN custprofile.customer_profiles.sentiment_trend IS 'Sentiment change per month, shrunk by its uncertainty (0 without a trend).';
COMMENT ON COLUMN custprofile.customer_profiles.mean_rating IS 'Mean of their ratings.';
COMMENT ON COLUMN custprofile.customer_profiles.main_topic IS 'The topic they write about most (custprofile.topics).';
COMMENT ON COLUMN custprofile.customer_profiles.main_need IS 'The topic they ask or complain about most (texts.needs).';
COMMENT ON COLUMN custprofile.customer_profiles.order_count IS 'Orders placed.';
COMMENT ON COLUMN custprofile.customer_profiles.total_spend IS 'Sum of their order amounts.';
COMMENT ON COLUMN custprofile.customer_profiles.recency_score IS 'RFM recency score, 1 to 5 (5 = most recent), as of custprofile.as_of.';
COMMENT ON COLUMN custprofile.customer_profiles.frequency_score IS 'RFM frequency score, 1 to 5.';
COMMENT ON COLUMN custprofile.customer_profiles.monetary_score IS 'RFM monetary score, 1 to 5.';
COMMENT ON COLUMN custprofile.customer_profiles.favourite_category IS 'The category they ordered most.';
COMMENT ON COLUMN custprofile.customer_profiles.churn_risk IS 'Churn risk in [0, 1] as of custprofile.as_of() (the indexed profiles.churn_risk when it holds then).';
COMMENT ON COLUMN custprofile.customer_profiles.segment IS 'Segment of the last segment_customers run (NULL before one).';
COMMENT ON COLUMN custprofile.customer_profiles.last_activity IS 'Their latest order or text.';
COMMENT ON COLUMN custprofile.customer_profiles.profile_time IS 'When the profile was built.';
COMMENT ON COLUMN custprofile.customer_profiles.customer_uuid IS 'The key as uuid when the customers key is a uuid, else NULL.';
COMMENT ON COLUMN custprofile.customer_profiles.customer_bigint IS 'The key as bigint when the customers key is an integer, else NULL.';
COMMENT ON COLUMN custprofile.customer_profiles.question_share IS 'Share of their texts that are questions (NULL without an intent head).';
COMMENT ON COLUMN custprofile.customer_profiles.complaint_share IS 'Share of their texts that are complaints (NULL without an intent head).';
COMMENT ON COLUMN custprofile.models.name IS 'The model''s name (an encoder, a built-in head or a trained classifier).';
COMMENT ON COLUMN custprofile.models.task IS 'embedding, sentiment, intent or classification.';
COMMENT ON COLUMN custprofile.models.encoder IS 'The encoder it belongs to.';
COMMENT ON COLUMN custprofile.models.dimensions IS 'Output size: vector dimensions or number of classes.';
COMMENT ON COLUMN custprofile.models.languages IS 'Languages it was made for (encoders).';
COMMENT ON COLUMN custprofile.models.description IS 'What it is and where it comes from.';
COMMENT ON COLUMN custprofile.models.files IS 'Its files (or custprofile.classifiers for trained ones).';
COMMENT ON COLUMN custprofile.models.sha256 IS 'The sha256 of each file: the model by content.';
COMMENT ON COLUMN custprofile.models.installed IS 'Whether its files are present and readable.';
COMMENT ON COLUMN custprofile.models.active IS 'Whether it belongs to the encoder custprofile.encoder names.';
COMMENT ON COLUMN custprofile.models.loaded IS 'Whether this backend has it in memory.';
COMMENT ON COLUMN custprofile.models.memory_bytes IS 'Resident memory loading the encoder added to this backend.';
COMMENT ON COLUMN custprofile.segments.segment IS 'Segment number.';
COMMENT ON COLUMN custprofile.segments.name IS 'A name for what sets it apart (in custprofile.label_language).';
COMMENT ON COLUMN custprofile.segments.customers IS 'Customers in it.';
COMMENT ON COLUMN custprofile.segments.mean_sentiment IS 'Mean sentiment of its customers.';
COMMENT ON COLUMN custprofile.segments.mean_spend IS 'Mean total spend of its customers.';
COMMENT ON COLUMN custprofile.segments.top_categories IS 'Its most ordered categories.';
COMMENT ON COLUMN custprofile.segments.top_topics IS 'Topics its customers write about most.';
COMMENT ON COLUMN custprofile.segments.keywords IS 'Keywords of the recent texts of its customers.';
COMMENT ON COLUMN custprofile.segments.name_evidence IS 'The traits behind the name, with their values against the other segments.';
COMMENT ON COLUMN custprofile.segments.complaint_share IS 'Share of its customers texts that are complaints.';
COMMENT ON COLUMN custprofile.sources.kind IS 'customers, orders, texts, items or answers.';
COMMENT ON COLUMN custprofile.sources.relation IS 'The registered relation (its name at registration when it is gone).';
COMMENT ON COLUMN custprofile.sources.columns IS 'Which column plays which role.';
COMMENT ON COLUMN custprofile.sources.relation_exists IS 'Whether the relation still exists.';
COMMENT ON COLUMN custprofile.sources.registered_at IS 'When it was registered.';
COMMENT ON COLUMN custprofile.sources.registered_by IS 'The role that registered it: sources are read as this role.';
COMMENT ON COLUMN custprofile.text_insights.source IS 'The text source (relation) the row comes from.';
COMMENT ON COLUMN custprofile.text_insights.customer_key IS 'The customer''s key as text.';
COMMENT ON COLUMN custprofile.text_insights.written_at IS 'When it was written.';
COMMENT ON COLUMN custprofile.text_insights.rating IS 'Its rating, when the source has one.';
COMMENT ON COLUMN custprofile.text_insights.body IS 'The text (PII-masked when custprofile.mask_pii is on).';
COMMENT ON COLUMN custprofile.text_insights.sentiment_label IS 'negative, neutral or positive.';
COMMENT ON COLUMN custprofile.text_insights.sentiment IS 'Sentiment score, -1 to 1.';
COMMENT ON COLUMN custprofile.text_insights.language IS 'Detected language (ISO 639-1), NULL when too short to tell.';
COMMENT ON COLUMN custprofile.text_insights.customer_uuid IS 'The key as uuid when the customers key is a uuid, else NULL.';
COMMENT ON COLUMN custprofile.text_insights.customer_bigint IS 'The key as bigint when the customers key is an integer, else NULL.';
COMMENT ON COLUMN custprofile.text_insights.intent IS 'question, complaint, praise or other (NULL without an intent head).';



-- profile_agg in two steps: the new Rust functions
-- custprofile::api::profile_agg::profile_agg_merge_accum
CREATE FUNCTION custprofile_internal."profile_agg_merge_accum"(
	"state" internal, /* Internal */
	"partial_state" bytea /* Option < & [u8] > */
) RETURNS internal /* Internal */
PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'profile_agg_merge_accum_wrapper';
-- custprofile::api::profile_agg::profile_agg_partial_final
CREATE FUNCTION custprofile_internal."profile_agg_partial_final"(
	"state" internal /* Internal */
) RETURNS bytea /* :: std :: option :: Option < Vec < u8 > > */
PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'profile_agg_partial_final_wrapper';

-- profile_agg in two steps, for partial aggregates made elsewhere: profile_agg_partial folds
-- texts into a partial state (bytea, the portable form of src/profiles/partial.rs: its version
-- and the encoder's vector space, with the sums), profile_agg_merge folds partial states into
-- the same document profile_agg gives for all their texts at once. On Citus, profile_agg
-- grouped by the distribution column runs whole on the workers; grouped by anything else,
-- Citus would gather every row to the coordinator (it combines only states that are not
-- `internal`). Instead: the partials by customer and the wanted column on the workers, merged
-- by that column on the coordinator (docs/scale-out.md).
CREATE AGGREGATE custprofile.profile_agg_partial(body text) (
    SFUNC = custprofile_internal.profile_agg_accum,
    STYPE = internal,
    SSPACE = 4096,
    COMBINEFUNC = custprofile_internal.profile_agg_combine,
    SERIALFUNC = custprofile_internal.profile_agg_serialize,
    DESERIALFUNC = custprofile_internal.profile_agg_deserialize,
    FINALFUNC = custprofile_internal.profile_agg_partial_final,
    FINALFUNC_MODIFY = READ_WRITE,
    PARALLEL = SAFE
);
CREATE AGGREGATE custprofile.profile_agg_partial(body text, rating real) (
    SFUNC = custprofile_internal.profile_agg_accum,
    STYPE = internal,
    SSPACE = 4096,
    COMBINEFUNC = custprofile_internal.profile_agg_combine,
    SERIALFUNC = custprofile_internal.profile_agg_serialize,
    DESERIALFUNC = custprofile_internal.profile_agg_deserialize,
    FINALFUNC = custprofile_internal.profile_agg_partial_final,
    FINALFUNC_MODIFY = READ_WRITE,
    PARALLEL = SAFE
);
CREATE AGGREGATE custprofile.profile_agg_partial(body text, rating real, written_at timestamptz) (
    SFUNC = custprofile_internal.profile_agg_accum,
    STYPE = internal,
    SSPACE = 4096,
    COMBINEFUNC = custprofile_internal.profile_agg_combine,
    SERIALFUNC = custprofile_internal.profile_agg_serialize,
    DESERIALFUNC = custprofile_internal.profile_agg_deserialize,
    FINALFUNC = custprofile_internal.profile_agg_partial_final,
    FINALFUNC_MODIFY = READ_WRITE,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE custprofile.profile_agg_partial(text, real, timestamptz) IS
    'The partial state of profile_agg over these texts, for profile_agg_merge (e.g. computed on Citus workers).';
CREATE AGGREGATE custprofile.profile_agg_merge(partial_state bytea) (
    SFUNC = custprofile_internal.profile_agg_merge_accum,
    STYPE = internal,
    SSPACE = 4096,
    COMBINEFUNC = custprofile_internal.profile_agg_combine,
    SERIALFUNC = custprofile_internal.profile_agg_serialize,
    DESERIALFUNC = custprofile_internal.profile_agg_deserialize,
    FINALFUNC = custprofile_internal.profile_agg_final,
    FINALFUNC_MODIFY = READ_WRITE,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE custprofile.profile_agg_merge(bytea) IS
    'The profile_agg document of every text behind these partial states (profile_agg_partial), under the same encoder.';

-- What must run on a Citus coordinator (sql/placement.sql); the functions that write the
-- extension's tables check it first
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

-- the stored profiles' readers say so when the table has been distributed
CREATE OR REPLACE FUNCTION custprofile_internal.require_profiles() RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
BEGIN
    PERFORM custprofile_internal.require_local_tables();
    IF NOT EXISTS (SELECT FROM custprofile.profiles) THEN
        RAISE EXCEPTION 'no customer profiles have been built yet'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Register your sources with custprofile.register_source(...), then run CALL custprofile.refresh_profiles();';
    END IF;
END $$;

CREATE OR REPLACE FUNCTION custprofile.register_source(kind text, relation regclass, columns jsonb)
RETURNS jsonb LANGUAGE plpgsql SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    r record;
    unknown text;
    relkind "char";
BEGIN
    PERFORM custprofile_internal.require_coordinator('register_source');
    IF kind IS NULL OR relation IS NULL OR columns IS NULL THEN
        RAISE EXCEPTION 'register_source needs a kind, a relation and its columns'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF kind NOT IN ('customers', 'orders', 'texts', 'items', 'answers') THEN
        RAISE EXCEPTION 'unknown source kind "%"', kind
            USING ERRCODE = 'invalid_parameter_value', HINT = 'The kinds are customers, orders, texts, items and answers.';
    END IF;
    IF jsonb_typeof(columns) <> 'object' THEN
        RAISE EXCEPTION 'columns must be a JSON object of role to column name'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = (SELECT format('The roles of a %s source: %s.', kind, string_agg(role, ', ')) FROM custprofile_internal.source_roles(kind));
    END IF;
    SELECT string_agg(k, ', ') INTO unknown FROM jsonb_object_keys(columns) k
     WHERE k NOT IN (SELECT role FROM custprofile_internal.source_roles(kind));
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'unknown role(s) for a % source: %', kind, unknown
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = (SELECT format('The roles of a %s source: %s.', kind, string_agg(role, ', ')) FROM custprofile_internal.source_roles(kind));
    END IF;
    FOR r IN SELECT * FROM custprofile_internal.source_roles(kind) LOOP
        IF r.role = 'attributes' THEN
            IF columns ? 'attributes' AND (jsonb_typeof(columns -> 'attributes') <> 'array'
               OR EXISTS (SELECT FROM jsonb_array_elements(columns -> 'attributes') e WHERE jsonb_typeof(e) <> 'string')) THEN
                RAISE EXCEPTION 'attributes must be an array of column names'
                    USING ERRCODE = 'invalid_parameter_value', HINT = 'For example {"key": "id", "attributes": ["age", "city"]}.';
            END IF;
        ELSIF columns ? r.role AND jsonb_typeof(columns -> r.role) <> 'string' THEN
            RAISE EXCEPTION 'the % column must be given as a column name (a JSON string)', r.role
                USING ERRCODE = 'invalid_parameter_value';
        ELSIF r.required AND NOT columns ? r.role THEN
            RAISE EXCEPTION 'the % source needs its % column', kind, r.role
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = (SELECT format('The roles of a %s source: %s (required: %s).', kind,
                                            string_agg(role, ', '), string_agg(role, ', ') FILTER (WHERE required))
                                FROM custprofile_internal.source_roles(kind));
        END IF;
    END LOOP;
    IF kind = 'items' AND NOT (columns ? 'title' OR columns ? 'description') THEN
        RAISE EXCEPTION 'an items source needs a title or a description column (or both)'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example {"key": "item_id", "title": "name", "description": "blurb", "category": "category", "price": "price"}.';
    END IF;
    SELECT c.relkind INTO relkind FROM pg_catalog.pg_class c WHERE c.oid = relation;
    IF relkind NOT IN ('r', 'p', 'v', 'm', 'f') THEN
        RAISE EXCEPTION '% is not a table, view, materialized view or foreign table', relation
            USING ERRCODE = 'wrong_object_type';
    END IF;
    -- the caller's right to read the relation and the registration itself are checked there
    PERFORM custprofile_internal.store_registration(kind, relation, columns, current_user);
    RETURN jsonb_build_object('kind', kind, 'relation', relation::text, 'columns', columns);
END $$;

CREATE OR REPLACE FUNCTION custprofile.unregister_source(kind text, relation text)
RETURNS boolean LANGUAGE plpgsql SET search_path = pg_catalog, custprofile, pg_temp AS $$
BEGIN
    PERFORM custprofile_internal.require_coordinator('unregister_source');
    RETURN custprofile_internal.drop_registration(kind, relation, current_user);
END $$;

-- pgvector, when the database has it (sql/vectors.sql)
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

-- The k customers most like this one (customer_similarity: 0.7 × relatedness of the interest
-- vectors + 0.3 × cosine of the orders by category), most similar first, the customer itself
-- excluded. No rows for a customer without a stored profile; k at most 1000. Only profiles in
-- the current encoder's vector space are compared: after custprofile.encoder changed, asking
-- about a customer not yet rebuilt is an ERROR, and customers not yet rebuilt are left out.
-- With pgvector's index (sql/vectors.sql) the candidates are the nearest_pool(k) customers by
-- interest vector and every customer without one (no texts), ranked by the same score, which
-- gives the exact answer unless one of the k best is not among the pool's nearest by interest.
-- Without it every stored profile is compared.
-- (plpgsql cannot name an argument like a result column: similar_customers is the SQL wrapper)
CREATE FUNCTION custprofile_internal.most_similar_customers(key text, k int)
RETURNS TABLE (customer_key text, similarity real)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp
    SET hnsw.ef_search = 200 SET hnsw.iterative_scan = relaxed_order AS $$
DECLARE
    me record;
    nearest text;
BEGIN
    PERFORM custprofile_internal.check_k(k, 1000);
    PERFORM custprofile_internal.require_profiles();
    PERFORM custprofile_internal.require_vector_space($1);
    SELECT m.customer_key, m.interest_vector, m.orders_by_category, m.vector_space INTO me
      FROM custprofile.profiles m WHERE m.customer_key = $1;
    IF me.customer_key IS NULL THEN
        RETURN;
    END IF;
    nearest := custprofile_internal.nearest_sql('profiles', '$1', array_length(me.interest_vector, 1), custprofile_internal.nearest_pool(k));
    -- customers without texts have no interest vector and are compared by their orders alone:
    -- they are candidates too (found by profiles_without_interest)
    nearest := '(' || nearest || ') UNION ALL (SELECT x.*, NULL FROM custprofile.profiles x'
                                 ' WHERE x.interest_vector IS NULL AND x.vector_space = $5)';
    RETURN QUERY EXECUTE format($q$
        SELECT s.customer_key, s.similarity
          FROM (SELECT p.customer_key, custprofile.customer_similarity($1, $2, p.interest_vector, p.orders_by_category) AS similarity
                  FROM (%s) p WHERE p.customer_key <> $3) s
         WHERE s.similarity IS NOT NULL
         ORDER BY s.similarity DESC, s.customer_key
         LIMIT $4 $q$,
        COALESCE(nearest, 'SELECT * FROM custprofile.profiles x WHERE x.vector_space = $5'))
    USING me.interest_vector, me.orders_by_category, me.customer_key, k, me.vector_space;
END $$;
CREATE OR REPLACE FUNCTION custprofile.similar_customers(customer_id text, k int DEFAULT 10)
RETURNS TABLE (customer_id text, similarity real)
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT s.customer_key, s.similarity FROM custprofile_internal.most_similar_customers($1, k) s
$$;

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

-- answers gain the optional alternate_questions
-- The roles each kind knows: name, required, and the type categories it accepts
-- (pg_type.typcategory: N numeric, S string, U user-defined such as uuid, D date/time,
-- A array; NULL accepts any type).
CREATE OR REPLACE FUNCTION custprofile_internal.source_roles(kind text)
RETURNS TABLE (role text, required boolean, categories text)
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT r.role, r.required, r.categories
      FROM (VALUES
        ('customers', 'key',        true,  'NSU'),
        ('customers', 'attributes', false, NULL),
        ('orders',    'customer',   true,  'NSU'),
        ('orders',    'time',       true,  'D'),
        ('orders',    'amount',     true,  'N'),
        ('orders',    'item',       false, NULL),
        ('orders',    'category',   false, NULL),
        ('texts',     'customer',   true,  'NSU'),
        ('texts',     'text',       true,  'S'),
        ('texts',     'time',       false, 'D'),
        ('texts',     'rating',     false, 'N'),
        ('texts',     'item',       false, NULL),
        ('items',     'key',        true,  NULL),
        ('items',     'title',      false, 'S'),
        ('items',     'description', false, 'S'),
        ('items',     'category',   false, NULL),
        ('items',     'price',      false, 'N'),
        ('answers',   'key',        true,  NULL),
        ('answers',   'question',   true,  'S'),
        ('answers',   'answer',     true,  'S'),
        ('answers',   'alternate_questions', false, 'A')
      ) AS r(kind, role, required, categories)
     WHERE r.kind = source_roles.kind
$$;

-- The functions of 0.4.0 not replaced above whose bodies call the moved helpers: they call them
-- in custprofile_internal now (their text as in sql/sources.sql, churn.sql, catalogues.sql)
CREATE OR REPLACE FUNCTION custprofile_internal.check_registration(kind text, relid oid, relation_name text, columns jsonb)
RETURNS void LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    r record;
    col text;
    typ regtype;
    cat text;
    what text := format('the %s source %s', kind, relation_name);
    key_col text;
    key_cat text;
BEGIN
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_class WHERE oid = relid) THEN
        RAISE EXCEPTION '% no longer exists', what
            USING ERRCODE = 'undefined_table',
                  HINT = format('Register the relation that replaced it with custprofile.register_source(%L, ...), '
                                'or remove the registration with custprofile.unregister_source(%L, %L).',
                                kind, kind, relation_name);
    END IF;
    what := format('the %s source %s', kind, relid::regclass);
    FOR r IN SELECT * FROM custprofile_internal.source_roles(kind) LOOP
        IF r.role = 'attributes' THEN
            CONTINUE;  -- any type; checked below as plain columns
        END IF;
        col := columns ->> r.role;
        IF col IS NULL THEN
            CONTINUE;  -- required roles are enforced by register_source
        END IF;
        typ := custprofile_internal.column_type(relid, col);
        IF typ IS NULL THEN
            RAISE EXCEPTION 'column "%" (the % of %) does not exist', col, r.role, what
                USING ERRCODE = 'undefined_column',
                      HINT = format('Register it again with the current column name: custprofile.register_source(%L, %L, ...).',
                                    kind, relid::regclass);
        END IF;
        -- an array must hold strings (text[], varchar[]): its elements are read as text
        SELECT CASE WHEN t.typcategory = 'A' AND e.typcategory IS DISTINCT FROM 'S' THEN 'A?' ELSE t.typcategory::text END
          INTO cat FROM pg_catalog.pg_type t LEFT JOIN pg_catalog.pg_type e ON e.oid = t.typelem WHERE t.oid = typ;
        IF r.categories IS NOT NULL AND strpos(r.categories, cat) = 0 THEN
            RAISE EXCEPTION 'column "%" (the % of %) has type %, which cannot be used there', col, r.role, what, typ
                USING ERRCODE = 'datatype_mismatch',
                      HINT = CASE r.role
                          WHEN 'time' THEN 'Use a timestamptz, timestamp or date column, or register a view that casts it.'
                          WHEN 'amount' THEN 'Use a numeric column, or register a view that casts it.'
                          WHEN 'rating' THEN 'Use a numeric column (1 to 5), or register a view that casts it.'
                          WHEN 'text' THEN 'Use a text or varchar column.'
                          WHEN 'alternate_questions' THEN 'Use a text[] column, one phrasing of the question per element (for a jsonb array, register a view with ARRAY(SELECT jsonb_array_elements_text(...))).'
                          ELSE 'Use an integer, text or uuid column.' END;
        END IF;
    END LOOP;
    FOR col IN SELECT jsonb_array_elements_text(COALESCE(columns -> 'attributes', '[]')) LOOP
        IF custprofile_internal.column_type(relid, col) IS NULL THEN
            RAISE EXCEPTION 'column "%" (an attribute of %) does not exist', col, what
                USING ERRCODE = 'undefined_column',
                      HINT = 'Register the customers source again with the current column names.';
        END IF;
    END LOOP;
    -- customer keys must compare with the key of the customers source
    IF kind IN ('orders', 'texts') THEN
        SELECT s.columns ->> 'key', t.typcategory INTO key_col, key_cat
          FROM custprofile.source_registry s
          JOIN pg_catalog.pg_type t ON t.oid = custprofile_internal.column_type(s.relid, s.columns ->> 'key')
         WHERE s.kind = 'customers';
        SELECT t.typcategory INTO cat FROM pg_catalog.pg_type t
         WHERE t.oid = custprofile_internal.column_type(relid, columns ->> 'customer');
        IF key_cat IS NOT NULL AND key_cat <> cat THEN
            RAISE EXCEPTION 'the customer column "%" of % has type %, which does not compare with the customers key (%)',
                columns ->> 'customer', what, custprofile_internal.column_type(relid, columns ->> 'customer'),
                (SELECT custprofile_internal.column_type(s.relid, key_col) FROM custprofile.source_registry s WHERE s.kind = 'customers')
                USING ERRCODE = 'datatype_mismatch',
                      HINT = 'Customer keys of every source must have the type of the customers key; register a view that casts it.';
        END IF;
    END IF;
END $$;

CREATE OR REPLACE FUNCTION custprofile_internal.registered(kind text)
RETURNS SETOF custprofile.source_registry LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    s custprofile.source_registry;
    found_any boolean := false;
BEGIN
    FOR s IN SELECT * FROM custprofile.source_registry r WHERE r.kind = registered.kind ORDER BY r.relation_name LOOP
        PERFORM custprofile_internal.check_registration(s.kind, s.relid, s.relation_name, s.columns);
        found_any := true;
        RETURN NEXT s;
    END LOOP;
    -- orders and texts are optional; the other kinds are needed by whoever asks for them
    IF NOT found_any AND kind IN ('customers', 'items', 'answers') THEN
        RAISE EXCEPTION 'no % source is registered', kind
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Call custprofile.register_source(' || CASE kind
                      WHEN 'customers' THEN '''customers'', ''public.customers'', ''{"key": "customer_id", "attributes": ["age", "city"]}'''
                      WHEN 'items' THEN '''items'', ''public.items'', ''{"key": "item_id", "title": "name", "description": "description", "category": "category", "price": "price"}'''
                      ELSE '''answers'', ''public.answers'', ''{"key": "answer_id", "question": "question", "answer": "answer"}''' END
                  || ') with your table and columns.';
    END IF;
END $$;

-- Drops text_insights' copy of the texts a registration change makes stale: those of the texts
-- sources `relids`, or all of them when the customers source changes (the keys may be read in
-- another type). The next refresh copies them anew; until then text_insights reads them from the
-- sources. Waits for a refresh that is copying them (its lock, store_texts).
CREATE FUNCTION custprofile_internal.forget_stored_texts(kind text, relids oid[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, custprofile, pg_temp AS $$
BEGIN
    IF forget_stored_texts.kind IN ('customers', 'texts') THEN
        PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('custprofile.stored_texts'));
        DELETE FROM custprofile.stored_texts t
         WHERE forget_stored_texts.kind = 'customers' OR t.relid = ANY (relids);
    END IF;
END $$;

CREATE OR REPLACE FUNCTION custprofile_internal.store_registration(kind text, relation regclass, columns jsonb, registrant name)
RETURNS void LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    others name;
BEGIN
    PERFORM custprofile_internal.check_registrar(registrant, 'custprofile.register_source(text, regclass, jsonb)', 'register');
    IF NOT has_table_privilege(registrant, relation, 'SELECT') THEN
        RAISE EXCEPTION 'permission denied: % cannot read %', registrant, relation
            USING ERRCODE = 'insufficient_privilege', HINT = format('GRANT SELECT ON %s TO %I;', relation, registrant);
    END IF;
    -- every source is read as one role: the others must have been registered by the same one
    SELECT string_agg(DISTINCT s.registered_by::text, ', ') INTO others FROM custprofile.source_registry s
     WHERE s.registered_by <> registrant
       AND NOT (s.kind = store_registration.kind AND (s.kind <> 'texts' OR s.relid = relation));
    IF others IS NOT NULL THEN
        RAISE EXCEPTION 'the other sources are registered by %, so % cannot register one', others, registrant
            USING ERRCODE = 'insufficient_privilege',
                  HINT = format('Sources are read with the rights of the one role that registered them: register as that role (SET ROLE %s), or unregister its sources first.', others);
    END IF;
    PERFORM custprofile_internal.check_registration(kind, relation, relation::text, columns);
    IF kind <> 'texts' THEN
        DELETE FROM custprofile.source_registry s WHERE s.kind = store_registration.kind;
    END IF;
    PERFORM custprofile_internal.forget_stored_texts(kind, ARRAY[relation::oid]);
    INSERT INTO custprofile.source_registry AS s (kind, relid, relation_name, columns, registered_by)
    VALUES (kind, relation, relation::text, columns, registrant)
    ON CONFLICT ON CONSTRAINT source_registry_pkey DO UPDATE
        SET relation_name = EXCLUDED.relation_name, columns = EXCLUDED.columns,
            registered_at = now(), registered_by = EXCLUDED.registered_by;
    -- what is built from the role's sources (profiles, item and answer vectors) is read together
    -- with them, as that role
    EXECUTE format('GRANT SELECT ON custprofile.profiles, custprofile.catalogue_embeddings, custprofile.segmentation TO %I',
                   registrant);
END $$;

CREATE OR REPLACE FUNCTION custprofile_internal.drop_registration(kind text, relation text, caller name)
RETURNS boolean LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    removed int;
    relids oid[];
BEGIN
    PERFORM custprofile_internal.check_registrar(caller, 'custprofile.unregister_source(text, text)', 'unregister');
    IF EXISTS (SELECT FROM custprofile.source_registry s
                WHERE s.kind = drop_registration.kind AND NOT pg_has_role(caller, s.registered_by, 'MEMBER')
                  AND (s.relation_name = relation OR s.relid = to_regclass(relation))) THEN
        RAISE EXCEPTION 'the % source % was registered by another role', kind, relation
            USING ERRCODE = 'insufficient_privilege', HINT = 'Only the role that registered a source (or a member of it) can remove it.';
    END IF;
    WITH gone AS (
        DELETE FROM custprofile.source_registry s
         WHERE s.kind = drop_registration.kind
           AND (s.relation_name = relation
                OR (EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid = s.relid) AND s.relid::regclass::text = relation)
                OR s.relid = to_regclass(relation))
        RETURNING s.relid)
    SELECT count(*), array_agg(g.relid::oid) INTO removed, relids FROM gone g;
    PERFORM custprofile_internal.forget_stored_texts(kind, relids);
    RETURN removed > 0;
END $$;

CREATE OR REPLACE FUNCTION custprofile_internal.enter_source_reader() RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    reader name := custprofile_internal.source_reader();
    previous text;
BEGIN
    IF reader IS NULL OR reader OPERATOR(pg_catalog.=) CURRENT_USER THEN
        RETURN NULL;
    END IF;
    previous := pg_catalog.current_setting('role');
    PERFORM pg_catalog.set_config('role', reader, true);
    RETURN previous;
END $$;

CREATE OR REPLACE FUNCTION custprofile_internal.texts_sql(sources jsonb) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    kt text := custprofile_internal.key_type(sources);
    parts text[] := '{}';
    s jsonb;
BEGIN
    FOR s IN SELECT e FROM jsonb_array_elements(custprofile_internal.checked_source(sources, 'texts')) e LOOP
        parts := parts || format(
            'SELECT %L::text AS source, t.%I::%s AS customer_key, t.%I::text AS body, %s AS rating, %s AS written_at, %s AS item FROM %s t',
            custprofile_internal.source_relation(s), s #>> '{columns,customer}', kt, s #>> '{columns,text}',
            custprofile_internal.role_sql(s -> 'columns', 'rating', 't', 'real'),
            custprofile_internal.role_sql(s -> 'columns', 'time', 't', 'timestamptz'),
            custprofile_internal.role_sql(s -> 'columns', 'item', 't', 'text'),
            custprofile_internal.source_relation(s));
    END LOOP;
    IF cardinality(parts) = 0 THEN
        RETURN format('SELECT NULL::text AS source, NULL::%s AS customer_key, NULL::text AS body, NULL::real AS rating, '
                      'NULL::timestamptz AS written_at, NULL::text AS item WHERE false', kt);
    END IF;
    RETURN array_to_string(parts, ' UNION ALL ');
END $$;

CREATE OR REPLACE FUNCTION custprofile_internal.orders_sql(sources jsonb) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    s jsonb := custprofile_internal.checked_source(sources, 'orders');
BEGIN
    IF s IS NULL THEN
        RETURN NULL;
    END IF;
    RETURN format(
        'SELECT o.%I::%s AS customer_key, o.%I::timestamptz AS ordered_at, o.%I::numeric AS amount, %s AS item, %s AS category FROM %s o',
        s #>> '{columns,customer}', custprofile_internal.key_type(sources), s #>> '{columns,time}', s #>> '{columns,amount}',
        custprofile_internal.role_sql(s -> 'columns', 'item', 'o', 'text'),
        custprofile_internal.role_sql(s -> 'columns', 'category', 'o', 'text'),
        custprofile_internal.source_relation(s));
END $$;

CREATE OR REPLACE FUNCTION custprofile_internal.orders_or_none_sql(sources jsonb) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT COALESCE(custprofile_internal.orders_sql(sources),
                    format('SELECT NULL::%s AS customer_key, NULL::timestamptz AS ordered_at, NULL::numeric AS amount, '
                           'NULL::text AS item, NULL::text AS category WHERE false', custprofile_internal.key_type(sources)))
$$;

CREATE OR REPLACE FUNCTION custprofile_internal.customers_sql(sources jsonb) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    s jsonb := custprofile_internal.checked_source(sources, 'customers');
    attrs text;
BEGIN
    SELECT string_agg(format('%L, c.%I', a, a), ', ') INTO attrs
      FROM jsonb_array_elements_text(COALESCE(s #> '{columns,attributes}', '[]')) a;
    RETURN format('SELECT c.%I AS customer_key, jsonb_build_object(%s) AS attributes FROM %s c',
                  s #>> '{columns,key}', COALESCE(attrs, ''), custprofile_internal.source_relation(s));
END $$;

CREATE OR REPLACE FUNCTION custprofile_internal.churn_weights() RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT COALESCE((SELECT m.weights FROM custprofile.churn_model m), custprofile_internal.default_churn_weights())
$$;

CREATE OR REPLACE FUNCTION custprofile.churn_assessment(profile jsonb, rhythm_days float8, as_of timestamptz)
RETURNS jsonb LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT jsonb_build_object(
               'risk', round((1 / (1 + exp(-((w ->> 'bias')::float8 + c.total))))::numeric, 4),
               'factors', f,
               'contributions', c.each,
               'rhythm_days', round(rhythm_days::numeric, 1),
               'weights', CASE WHEN EXISTS (SELECT FROM custprofile.churn_model) THEN 'trained' ELSE 'default' END,
               'as_of', as_of)
      -- the rhythm as stored (one decimal), so that the live figure equals the stored one
      FROM (SELECT custprofile.churn_factors(profile, round(rhythm_days::numeric, 1)::float8, as_of) AS f,
                   custprofile_internal.churn_weights() AS w) x,
           LATERAL (SELECT COALESCE(sum((x.w ->> e.key)::float8 * e.value::text::float8), 0) AS total,
                           jsonb_object_agg(e.key, round(((x.w ->> e.key)::float8 * e.value::text::float8)::numeric, 4)) AS each
                      FROM jsonb_each(x.f) e) c
     WHERE profile IS NOT NULL
$$;

CREATE OR REPLACE FUNCTION custprofile_internal.items_sql(sources jsonb) RETURNS text
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

CREATE OR REPLACE FUNCTION custprofile_internal.answers_sql(sources jsonb) RETURNS text
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

CREATE OR REPLACE FUNCTION custprofile_internal.catalogue_rows_sql(kind text, sources jsonb) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT CASE kind WHEN 'items' THEN custprofile_internal.items_sql(sources) ELSE custprofile_internal.answers_sql(sources) END
$$;

-- BEGIN sql/function_comments.sql
-- Generated by scripts/function_comments.py from the code's own descriptions (the `///` doc
-- comment of each Rust function, the `--` lines above each SQL one): do not edit, rerun it.
-- Every function of the extension without a COMMENT ON of its own gets its description; every
-- overload of a name shares it, and the overloads of a name commented by hand share that comment.
DO $$
DECLARE
    f record;
BEGIN
    FOR f IN
        SELECT p.oid::regprocedure AS signature, p.prokind, d.description
          FROM pg_catalog.pg_proc p
          JOIN (VALUES
    ('answers_fingerprint', 'Which answers'' vectors are stored (keys and text hashes, which include the model).'),
    ('answers_sql', 'The answers source of sources as (key text, document text, answer text), the document being what is matched: the question (or topic) and its alternate questions, if any.'),
    ('as_of_setting', 'custprofile.as_of as set: latest_activity, now or an ISO timestamp (sql/clock.sql resolves it).'),
    ('aspect_sentiment', 'For each aspect the text talks about, the sentiment of the sentences (clauses, cut at "but", "however", ";", "但是", "，" ...) that concern it: {"delivery": {"label": "negative", "score": -0.93, "sentences": 1}}.'),
    ('build_profiles', 'Profiles of the given customers (keys as text), built set-wise.'),
    ('builtin_models', 'Every installed encoder (a folder with a manifest under custprofile.model_dir) and the built-in sentiment and intent heads of each that has them.'),
    ('calibrate_replies', 'Stores the calibration of the answers'' vectors now stored (refresh_catalogues calls it).'),
    ('catalogue_hash', 'The hash that says whether a stored embedding still fits its text and the model.'),
    ('catalogue_rows_sql', 'The rows of a catalogue: items_sql(sources) or answers_sql(sources).'),
    ('catalogue_similarity_sql', 'The rows of a catalogue (''items'' or ''answers'') with the relatedness of their text to a query vector (vector_sql: a parameter such as ''$1'', or any expression; relatedness is the cosine on the current encoder''s common scale, so thresholds mean the same for every encoder), as a column similarity:...'),
    ('check_batch_size', 'Raises ERROR 22023 unless batch_size is at least 1.'),
    ('check_customer_keys', 'Raises ERROR 22P02 naming the first key that is not a value of the customers key''s type, so that a mistyped key (''not-a-uuid'') gets one clear line instead of a failed cast inside a query of the extension''s.'),
    ('check_k', 'Raises ERROR 22023 unless 1 <= k <= maximum.'),
    ('check_registrar', 'The trust rule of the registry''s writers below, which run as the extension''s owner and so cannot see their caller: the role they are told the caller is (claimed) is believed only if the session''s user may act as it, and it may call the entry point (register_source or unregister_source, whose...'),
    ('check_registration', 'Checks one registration against the catalogue as it is now: the relation exists, each named column exists with a usable type, customer keys compare with the customers key.'),
    ('check_usage_arguments', 'Raises 22023 for an unknown level and 42704 for an unknown role.'),
    ('checked_source', 'The entry of kind in a checked_sources description (an object; for texts, an array; NULL for orders when none is registered).'),
    ('checked_sources', 'The registered sources one statement reads, checked once and handed to the query builders below (instead of each builder reading and checking the registry again).'),
    ('churn_assessment', 'Risk, factors and each factor''s contribution (weight * factor) for a profile document.'),
    ('churn_basis', 'What a churn risk depends on besides the profile and the moment: the weights in use and the topics marked complaint.'),
    ('churn_factors', 'The five factors of a profile document as of a moment (see the top of this file).'),
    ('churn_recency', 'The recency factor (the top of this file): 0 within one rhythm of the last activity, 1 from three on.'),
    ('churn_rhythm_days', 'The rhythm recency is measured in, in days: the customer''s own, else 91, never under one day.'),
    ('churn_validity', 'The moments a churn section (churn_assessment''s result, judged at its "as_of") holds for.'),
    ('churn_weights', 'The weights in use: the trained ones when there are, else the defaults.'),
    ('clamp01', 'x limited to [0, 1].'),
    ('classify', 'The most likely of the labels (its name, without the description).'),
    ('classify_multi', 'Every label that applies to the text, with the probability that it does ({"price": 0.65, "delivery": 0.32}).'),
    ('classify_scores', 'A probability per label (names without descriptions), summing to 1.'),
    ('clean_text', 'HTML tags and entities removed, URLs replaced by [URL], repeated punctuation tamed, control characters dropped, whitespace collapsed, Unicode NFKC.'),
    ('column_type', 'The type of a live column, or NULL when the relation or the column is gone.'),
    ('cosine_similarity', 'Cosine similarity of two vectors of equal length.'),
    ('create_vector_indexes', 'Builds (or rebuilds, for another vector space or length, or another graph) the HNSW index of each kind of stored vector, for the vectors stored now; one line per index saying what it did.'),
    ('customer_key_type', 'The type of the registered customers key column (NULL without a customers source): the views show the key in it beside the text form.'),
    ('customer_similarity', 'How alike two customers are, in [-1, 1]: 0.7 × the relatedness of their interest vectors (their cosine on the current encoder''s common scale) + 0.3 × the cosine of their orders by category; when one part is missing on either side, the other part alone; NULL when both are.'),
    ('customers_sql', 'The customers source of sources as (customer_key, attributes jsonb).'),
    ('default_churn_weights', 'The documented default weights (the top of this file), used while churn_model is empty.'),
    ('detect_language', 'The ISO 639-1 code of the language a text is written in ("zh", "en", "ja"), or NULL when it is too short to tell: fewer than three letters, or no letters at all (emoji, digits, punctuation).'),
    ('detect_language_scores', 'detect_language with the detector''s working: {"language", "script", "confidence" (0 to 1), "reliable", "scores" (up to five candidate languages, best first)}.'),
    ('drop_registration', 'The registry''s only deleter; SECURITY DEFINER with the same trust rule as store_registration.'),
    ('embed_documents', 'One embedding per catalogue document, in input order (NULL elements give NULL rows): the centroid of its phrasings'' embeddings (numeric::centroid), so that an article matches a message close to any of the ways it is asked for; a document of one phrasing embeds as embed_texts would embed it.'),
    ('embed_text', 'The sentence embedding of the chosen encoder (custprofile.encoder): mean pooling over the attention mask, L2-normalised, with the encoder''s input prefix.'),
    ('embed_texts', 'One embedding per array element, in input order (NULL elements give NULL rows), computed in length-sorted batches of custprofile.batch_size.'),
    ('embedding_avg_accum', 'Transition function: adds one embedding; NULL embeddings are skipped.'),
    ('embedding_avg_combine', 'Combine function: adds two partial states.'),
    ('embedding_avg_final', 'Final function: the mean, L2-normalised; NULL for no rows or a zero mean.'),
    ('enter_source_reader', 'Switches to the sources'' reader role for one read and returns the role to switch back to with leave_source_reader (NULL: nothing to undo).'),
    ('finish_run', 'Ends a run: succeeded, or failed with error_code.'),
    ('fit_logistic', 'Logistic regression of labels on features (row-major, names.len() values per row): {"weights": {"bias": b, name: w, ...}, "metrics": {...}} such that P(true) = 1 / (1 + exp(-(b + sum w * x))).'),
    ('forget_stored_texts', 'Drops text_insights'' copy of the texts a registration change makes stale: those of the texts sources relids, or all of them when the customers source changes (the keys may be read in another type).'),
    ('group_keywords', 'Up to k phrases that best represent a group of texts (a segment''s reviews, say): candidates from all of them, ranked by similarity to centre (the group''s mean interest vector, for example) or, when it is NULL, to the mean of the texts'' embeddings, with diversity.'),
    ('in_transaction_block', 'Whether the caller is inside BEGIN ... COMMIT, where a procedure that commits cannot run: refresh_profiles says so with a HINT instead of PostgreSQL''s bare "invalid transaction termination" after its first batch.'),
    ('intent', 'question, complaint, praise or other (a request, a statement); a blank text is other.'),
    ('intent_detail', 'Label, the four probabilities and the model that produced them.'),
    ('is_copy', 'A COPY into an unedited list is a restore of a dumped one: its first row makes the defaults give way to the dumped list (pg_dump writes a COPY, with no rows, for an unedited list too, so this waits for a row).'),
    ('is_source_role', 'A role fit to register the sources that analysts read as: not a superuser, no role creation, and none of the admin level''s privileges (registering is allowed: it is how it registers).'),
    ('items_sql', 'The items source of sources (checked_sources) as (key text, document text, title text, category text, price numeric): the document is what is embedded, "title.'),
    ('judge_stored_churn', 'Judges churn_risk again as of custprofile.as_of() where it does not hold then or was judged with another basis (every row with everything).'),
    ('judgement_time', 'The moment for a given latest activity (NULL: none, then now).'),
    ('key_as_bigint', 'The same for integer keys: as bigint when the key type is an integer type, else NULL.'),
    ('key_as_uuid', 'A key (as text) in the customers key column''s type, for the views: as uuid when that type is uuid, as bigint when it is an integer type, else NULL.'),
    ('key_type', 'The type customer keys are cast to in every query: the customers key''s, so that every source compares with it (and indexes on it are used when the types are the same).'),
    ('keyed_texts', 'The registered texts (as registered_texts reads them, after alike) with their source''s oid, the hash of their text and their row key: the sha256 of the row''s values (its source by oid, which a rename keeps) and its number among identical rows (identical rows have one time, so those at or after a...'),
    ('keywords', 'Up to k phrases (one to three words, lowercase) that best represent the text: candidates without stop words, ranked by similarity to the whole text with diversity (maximal marginal relevance).'),
    ('kmeans_segments', 'k-means (k-means++ start, fixed seed) over every stored profile.'),
    ('label_language', 'The language of the labels the extension writes (custprofile.label_language): ''en'' or ''zh''.'),
    ('latest_activity', 'The latest order or text of a customer in the customers source, over the registered sources (checked_sources(''customers'', ''orders'', ''texts'')); NULL without any.'),
    ('leave_source_reader', 'Switches back to the role enter_source_reader returned.'),
    ('maintain_vector_indexes', 'Called by refresh_profiles when it is done: keeps the indexes in step with the stored vectors when pgvector is installed and the caller owns the tables; otherwise says what to run (an index that is not for the stored vectors is not used, so the searches stay right meanwhile).'),
    ('mask_pii', 'E-mail addresses, phone numbers, payment cards (Luhn-checked), IBANs (mod 97), IP addresses and national ID numbers (US SSN, Chinese resident ID with its check digit) replaced by [EMAIL], [PHONE], [CARD], [IBAN], [IP], [NATIONAL_ID].'),
    ('measure_reply_thresholds', 'Scores every calibration message against every article.'),
    ('model_version', 'What produced a profile: the extension''s version, the encoder (by name and by content) and its sentiment and intent heads.'),
    ('most_similar_customers', 'The k customers most like this one (customer_similarity: 0.7 × relatedness of the interest vectors + 0.3 × cosine of the orders by category), most similar first, the customer itself excluded.'),
    ('nearest_pool', 'How many candidates an index search gives the exact ranking: the k best by the full score are almost always among the 10·k (at least 100) nearest by vector alone.'),
    ('nearest_sql', 'The nearest pool rows of target to the vector vector_sql (an SQL expression) by the index, as the SQL of a subquery over the target''s table (alias n) with a column distance (cosine distance); NULL when no index serves vectors of dimensions (then search exactly).'),
    ('orders_or_none_sql', 'orders_sql(sources), or the same shape with no rows when no orders source is registered.'),
    ('orders_sql', 'The orders source of sources as (customer_key, ordered_at, amount, item, category); NULL when none is registered.'),
    ('pgvector_schema', 'The schema of the vector extension; NULL when this database does not have it.'),
    ('pii_masking', 'Whether custprofile.mask_pii is on.'),
    ('predict', 'The most probable class.'),
    ('predict_multi', 'Every label of a multi-label classifier (trained on text[] labels) that applies to the text, with its probability; {} when none reaches the threshold.'),
    ('predict_scores', 'Probability of each class (summing to 1; for a multi-label classifier, each label''s own).'),
    ('profile_agg_accum', 'Transition function of profile_agg: adds one text (and its rating and time, in the longer forms).'),
    ('profile_agg_combine', 'Merges two partial states (parallel workers, partitions).'),
    ('profile_agg_deserialize', 'Reads a summary written by profile_agg_serialize, in the leader of a parallel plan.'),
    ('profile_agg_final', 'The text part of a profile; NULL when the aggregate saw no rows.'),
    ('profile_agg_merge_accum', 'Transition function of profile_agg_merge: adds a partial state of profile_agg_partial.'),
    ('profile_agg_partial_final', 'Final function of profile_agg_partial: the state scored and written in the portable form (src/profiles/partial.rs); NULL when the aggregate saw no rows.'),
    ('profile_agg_serialize', 'Scores what is pending, then writes the summary for the leader of a parallel plan.'),
    ('profile_document', 'The document of one customer, without its churn section (with_churn adds it).'),
    ('profile_document_version', 'The version of the document''s shape this installation writes (its "version" field).'),
    ('profiles_sql', 'The one query build_profiles runs, as text: every source read once for all the customers in $1 (keys as text), texts scored in batches by profile_agg, the document written by sql/profile_document.sql.'),
    ('prune_text_scores', 'Drops the stored scores of other models (a changed encoder or head: their texts are scored again as their profiles are rebuilt); with everything (a full rebuild) also the scores of texts no source holds any more (custprofile.stored_texts, brought up to date first).'),
    ('purchases_section', 'The purchases section from a customer''s order statistics (NULL counts as no orders).'),
    ('queue_stale_profiles', 'Step 1: embeds new and changed items and answers, queues the customers whose rows changed since their profile was built (all with full_rebuild), drops profiles of customers that are gone.'),
    ('quintile_score', 'A score from 1 to 5: how many breakpoints the value exceeds (reversed when lower is better).'),
    ('raise_again', 'Raises a caught ERROR again, as GET STACKED DIAGNOSTICS gave it: {SQLSTATE, message, detail, hint} (an empty detail or hint is left out rather than shown as an empty line).'),
    ('rebuild_queued_profiles', 'Step 2, as often as it returns a number: claims up to batch_size queued customers that no concurrent refresh holds (SKIP LOCKED), builds their profiles as of one moment with one yardstick, stores them and empties their entries.'),
    ('record_run', 'A run of a function, written when it succeeded (in the caller''s transaction).'),
    ('refresh_progress', 'The progress NOTICE of a refresh after each batch, when there is more than one batch.'),
    ('registered', 'The registration of a kind, checked; raises the ERROR that names the missing register_source call when there is none.'),
    ('registered_text_relations', 'The registered texts sources whose relations exist: oid and name, named as the queries over them name them.'),
    ('registered_texts', 'The registered texts as their sources hold them, read as the sources'' registrant; with after (source name -> time), of each source named there only the rows written at or after its time (none when the time is null), of the others every row.'),
    ('rejudged_churn', 'A stored churn section judged again at another moment: only its recency factor moves, so the risk is the sum over the stored factors with the new recency, in the same order and arithmetic as churn_assessment (the same figure to the last digit), without reading the document again.'),
    ('relatedness', 'The cosine of two vectors of the current encoder on the one similarity scale that recommend, suggest_replies and similar_customers rank and threshold by (the encoder manifest''s relatedness; all-MiniLM-L6-v2''s cosine as it is).'),
    ('reply_calibration_messages', 'Messages that no shop''s help desk answers, in English and Chinese: what the knowledge base''s articles score against text that is not about them.'),
    ('report_progress', 'A progress NOTICE of a long operation when custprofile.progress_interval has passed since last_report (0: at every step), the time so far in its DETAIL; returns the time of the last report.'),
    ('require_analyst', 'The analyst level''s write access, checked before a refresh or segmentation starts, so that a role without it gets one ERROR naming the grant instead of a failure halfway.'),
    ('require_coordinator', 'ERROR 0A000 when called inside a task Citus sent to a worker (its connections name themselves "citus_internal gpid=..."); nothing otherwise, with or without Citus.'),
    ('require_local_tables', 'ERROR 0A000 when one of custprofile''s own tables has been distributed with Citus.'),
    ('require_one_vector_space', 'The same for every stored profile at once (k-means over the whole base).'),
    ('require_profiles', 'Raises the ERROR that tells the user to build profiles first.'),
    ('require_vector_space', 'Raises the ERROR that tells the user to rebuild the profiles when the customer''s stored interest vector is in another encoder''s vector space than custprofile.encoder''s (after the setting changed, until refresh_profiles has rebuilt it).'),
    ('rescore_churn', 'Recomputes the churn section of every stored profile with the weights in use, as of the moment it was judged at (no model is run).'),
    ('reset_churn_model', 'Back to the default weights, in the stored profiles too.'),
    ('rfm_section', 'The RFM scores of one customer against the breakpoints of rfm_breakpoints().'),
    ('role_sql', 'The expression for an optional role of a registration: alias.column::type, or a typed NULL when the role is not registered.'),
    ('rounded', 'Each element rounded to digits decimals, as a JSON array.'),
    ('runs_kept', 'Runs older than this are removed when a new one starts.'),
    ('segment_keyword_texts', 'At most this many recent texts per segment feed its keywords.'),
    ('segment_names', 'Names for the segments of one segmentation, each for what sets it apart from the others (src/segments/naming.rs), with the evidence behind it: {"1": {"name": ..., "evidence": [...]}, ...}.'),
    ('sentiment', 'Sentiment score in [-1, 1], negative to positive.'),
    ('sentiment_detail', 'Label, score, the three probabilities and the model that produced them.'),
    ('sentiment_label', 'negative, neutral or positive.'),
    ('source_fingerprints', 'A fingerprint of each customer''s rows in every source (order-independent sums of row hashes), of the model and of the topics: when it differs from the stored one, the profile is stale.'),
    ('source_reader', 'The role the registered sources are read as: the one that registered them (NULL when nothing is registered).'),
    ('source_relation', 'A source''s relation, as a name to put in a query (from its oid, not from text).'),
    ('source_roles', 'The roles each kind knows: name, required, and the type categories it accepts (pg_type.typcategory: N numeric, S string, U user-defined such as uuid, D date/time, A array; NULL accepts any type).'),
    ('sources_as_of', 'The moment a build over sources is judged at: the sources are read for their latest activity only when custprofile.as_of is latest_activity.'),
    ('split_sentences', 'The sentences of a text, in order, as the sentence-level scorers see them.'),
    ('split_words', 'The words of a text in order, as keywords and aspects see them: Chinese segmented by jieba, other scripts split at spaces and punctuation.'),
    ('start_run', 'Starts a run (now, or at started): marks runs of ended backends failed, drops old ones, inserts this one as running.'),
    ('start_text_score_log', 'Starts recording, in this backend, the per-text scores profile_agg makes: refresh_profiles stores them in custprofile.text_scores for text_insights (src/profiles/score_log.rs).'),
    ('store_missing_text_scores', 'Scores and stores the stored texts that no profile''s refresh scored (texts of customers the customers source does not hold), so that text_insights reads them too without the encoder.'),
    ('store_registration', 'The only writer of the registry (nobody else may write it): records registrant as the role every read of the relation runs as.'),
    ('store_text_scores', 'Stores what profile_agg recorded in this backend since start_text_score_log, once per text content; returns how many texts were new.'),
    ('store_texts', 'Brings custprofile.stored_texts up to date with the sources: rows no source holds any more go, new and changed rows come (a changed row is a new row_key); unchanged rows are not written.'),
    ('stored_churn', 'The churn section of a stored profile recomputed as of a moment, with the rhythm it stored.'),
    ('stored_churn_holds', 'Whether every stored row''s churn_risk holds as of custprofile.as_of() and with the basis in use (true without rows): four index lookups.'),
    ('take_text_score_log', 'The per-text scores recorded since start_text_score_log (score rounded as text_signals rounds it); recording stops.'),
    ('text_features', 'The pooled features a head is trained on, for precomputing them in a table.'),
    ('text_scorer', 'What scored a stored text: the encoder and its sentiment and intent heads, by content (model_version() without the extension''s version, which changes no score).'),
    ('text_signals', 'What the text_insights view shows of one text, from one encoder pass: sentiment label and score, and the intent (NULL where the encoder has no intent head).'),
    ('texts_interest_vector', 'The texts section''s interest vector as real[]; empty without one (no texts, or only NULL and blank ones: the section then says "interest_vector": null).'),
    ('texts_sql', 'One query over every registered text source of sources (checked_sources), with the columns (source text, customer_key <key type>, body text, rating real, written_at timestamptz, item text).'),
    ('topic_label', 'A topic''s name in the label language: the default topics (sql/topics.sql) have Chinese names; any other name is the user''s own and stays as it is.'),
    ('topics_before_change', 'The trigger function of both triggers below.'),
    ('train_classifier', 'Trains a classifier head and stores it under name, replacing one of the same name in the same transaction.'),
    ('unregister_source', 'Removes a registration; the relation may already be dropped, so it is named as text.'),
    ('unstored_texts', 'The registered texts that custprofile.stored_texts does not hold yet: of each source, the rows written at or after its latest stored row that are not stored (every row of a source none of whose rows is stored).'),
    ('usage_grants', 'The privileges of a level and of the levels below it, as GRANT clauses.'),
    ('vector_index_graph', 'The HNSW graph an index is built with unless create_vector_indexes is told otherwise: the one that keeps recall@10 at or above 0.95 at 1,000,000 profiles (docs/scale-out.md).'),
    ('vector_index_state', 'What the index of target was built for ({"dimensions": n, "vector_space": ...}, its comment); NULL when there is none, it is not valid, or pgvector is gone.'),
    ('vector_index_targets', 'The indexes custprofile keeps, one per kind of stored vector, what each holds and whether it is built for the vectors stored now.'),
    ('vector_index_wanted', 'The vector space and length the index of target should hold now: profiles in the current encoder''s space, catalogue vectors as long as the current encoder''s.'),
    ('vector_space', 'The vector space of the chosen encoder (Manifest::identity): stored interest vectors carry it, and only vectors of the same space are compared.'),
    ('warmup', 'Loads the encoder and its sentiment and intent heads (where it has them) now, so that the first real call does not pay for it; returns the milliseconds it took (0 when already loaded).'),
    ('with_churn', 'The document with its churn section set (or replaced).')
          ) d(name, description) ON d.name = p.proname
         WHERE p.pronamespace IN ('custprofile'::regnamespace, 'custprofile_internal'::regnamespace)
           AND pg_catalog.obj_description(p.oid, 'pg_proc') IS NULL
    LOOP
        EXECUTE format('COMMENT ON %s %s IS %L',
                       CASE f.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END,
                       f.signature, f.description);
    END LOOP;
    -- overloads of a name commented by hand (COMMENT ON in sql/*.sql) share its comment
    FOR f IN
        SELECT p.oid::regprocedure AS signature, p.prokind,
               (SELECT pg_catalog.obj_description(o.oid, 'pg_proc') FROM pg_catalog.pg_proc o
                 WHERE o.pronamespace = p.pronamespace AND o.proname = p.proname
                   AND pg_catalog.obj_description(o.oid, 'pg_proc') IS NOT NULL
                 ORDER BY o.oid LIMIT 1) AS description
          FROM pg_catalog.pg_proc p
         WHERE p.pronamespace IN ('custprofile'::regnamespace, 'custprofile_internal'::regnamespace)
           AND pg_catalog.obj_description(p.oid, 'pg_proc') IS NULL
    LOOP
        CONTINUE WHEN f.description IS NULL;
        EXECUTE format('COMMENT ON %s %s IS %L',
                       CASE f.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE' ELSE 'FUNCTION' END,
                       f.signature, f.description);
    END LOOP;
END $$;
-- END sql/function_comments.sql
