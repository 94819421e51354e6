-- custprofile 0.3.0 -> 0.4.0: encoders as installable units chosen by custprofile.encoder,
-- and what was made with one encoder kept apart from what another makes.
\echo Use "ALTER EXTENSION custprofile UPDATE TO '0.4.0'" to load this file. \quit

-- What produced a profile now follows custprofile.encoder (so STABLE, not IMMUTABLE) and names
-- the encoder by content too: after the encoder changes, every profile and catalogue vector is
-- stale and the next refresh rebuilds it.
-- custprofile::api::models::model_version
CREATE OR REPLACE FUNCTION custprofile."model_version"() RETURNS jsonb /* pgrx :: JsonB */
STRICT STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'model_version_wrapper';


-- The documents' "model" (and "texts.model") gain encoder_identity.
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
    ('purchases',                              'null|object',    'Purchase behaviour; null without an orders source.'),
    ('purchases.orders',                       'integer',        'Orders placed.'),
    ('purchases.total_spend',                  'number',         'Sum of the order amounts.'),
    ('purchases.average_spend',                'null|number',    'Mean order amount, 2 decimals.'),
    ('purchases.first_order',                  'null|string',    'Time of the first order.'),
    ('purchases.last_order',                   'null|string',    'Time of the last order.'),
    ('purchases.recency_days',                 'integer|null',   'Whole days since the last order.'),
    ('purchases.rfm',                          'null|object',    'Scores from 1 to 5 against the quintiles of every customer with orders.'),
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
    ('texts.sentiment.trend',                  'null|object',    'Least-squares slope of sentiment over time.'),
    ('texts.sentiment.trend.slope_per_month',  'number',         'Score change per 30 days.'),
    ('texts.sentiment.trend.direction',        'string',         'improving, steady or declining.'),
    ('texts.sentiment.trend.texts',            'integer',        'Timed texts the slope is fitted on.'),
    ('texts.rating',                           'null|object',    'Ratings given with the texts.'),
    ('texts.rating.count',                     'integer',        'Rated texts.'),
    ('texts.rating.mean',                      'number',         'Mean rating.'),
    ('texts.rating.disagreement',              'number',         'Mean |sentiment - (rating - 3) / 2|.'),
    ('texts.rating.conflicting_texts',         'integer',        'Texts whose rating and sentiment disagree.'),
    ('texts.topics',                           'array',          'Up to three topics the texts are mainly about.'),
    ('texts.topics[].topic',                   'string',         'The topic (custprofile.topics).'),
    ('texts.topics[].texts',                   'integer',        'Texts about it.'),
    ('texts.topics[].share',                   'number',         'Their share of the scored texts.'),
    ('texts.topics[].sentiment',               'number',         'Their mean sentiment.'),
    ('texts.needs',                            'array',          'Topics whose texts are negative on average.'),
    ('texts.interest_vector',                  'array|null',     'Normalised mean embedding of the texts.'),
    ('texts.first_seen',                       'null|string',    'Time of the first timed text.'),
    ('texts.last_seen',                        'null|string',    'Time of the last timed text.'),
    ('texts.model',                            'object',         'What scored the texts.'),
    ('texts.model.encoder',                    'string',         'The sentence encoder.'),
    ('texts.model.encoder_identity',           'string',         'The encoder by content: name@hash of its files.'),
    ('texts.model.sentiment',                  'string',         'The sentiment head.'),
    ('churn',                                  'object',         'Churn risk as of generated_at (sql/churn.sql).'),
    ('churn.risk',                             'number',         'Risk in [0, 1].'),
    ('churn.factors',                          'object',         'Each factor in [0, 1].'),
    ('churn.factors.recency',                  'number',         'Days since the last activity against the rhythm.'),
    ('churn.factors.sentiment_decline',        'number',         'How fast sentiment declines.'),
    ('churn.factors.complaints',               'number',         'Needs among the topics.'),
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
    ('churn.as_of',                            'string',         'The time the risk is assessed at.')
    ) AS f(field, json_type, meaning)
$$;

-- The vector space of the chosen encoder.
-- custprofile::api::models::vector_space
CREATE FUNCTION custprofile."vector_space"() RETURNS TEXT /* String */
STRICT STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'vector_space_wrapper';

-- The models view lists every installed encoder, its head, which is active and its memory.
DROP VIEW custprofile.models;
DROP FUNCTION custprofile.builtin_models();
-- custprofile::api::models::builtin_models
CREATE FUNCTION custprofile."builtin_models"() RETURNS TABLE (
	"name" TEXT,  /* String */
	"task" TEXT,  /* String */
	"encoder" TEXT,  /* String */
	"dimensions" INT,  /* i32 */
	"languages" TEXT[],  /* Vec < String > */
	"description" TEXT,  /* String */
	"files" TEXT[],  /* Vec < String > */
	"sha256" TEXT[],  /* Vec < String > */
	"installed" bool,  /* bool */
	"active" bool,  /* bool */
	"loaded" bool,  /* bool */
	"memory_bytes" bigint  /* Option < i64 > */
)
STRICT STABLE PARALLEL SAFE
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'builtin_models_wrapper';
-- Every model this installation can use: each installed encoder and its built-in sentiment
-- head, and each classifier trained in SQL, with the encoder it belongs to; `active` marks
-- those of the encoder custprofile.encoder names, `memory_bytes` what loading an encoder added
-- to this backend's resident memory.
CREATE VIEW custprofile.models AS
SELECT name, task, encoder, dimensions, languages, description, files, sha256, installed, active, loaded, memory_bytes
  FROM custprofile.builtin_models()
UNION ALL
SELECT c.name,
       'classification',
       c.head ->> 'encoder',
       jsonb_array_length(c.head -> 'classes'),
       NULL,
       'trained by ' || c.owner || ' at ' || c.trained_at,
       ARRAY['custprofile.classifiers'],
       ARRAY[encode(sha256(convert_to(c.head::text, 'UTF8')), 'hex')],
       true,
       c.head ->> 'encoder' IS NOT DISTINCT FROM pg_catalog.current_setting('custprofile.encoder', true),
       false,
       NULL
  FROM custprofile.classifiers c;
COMMENT ON VIEW custprofile.models IS
    'Installed models: name, task, output dimensions, files with their sha256, and whether this backend has them loaded.';
GRANT SELECT ON custprofile.models TO PUBLIC;

-- Stored interest vectors carry their vector space; every stored profile so far was built
-- with all-MiniLM-L6-v2 (the only encoder before 0.4.0), whose identity this is.
ALTER TABLE custprofile.profiles ADD COLUMN vector_space text;
UPDATE custprofile.profiles SET vector_space = 'all-MiniLM-L6-v2@496a19ad35ecf5c4';

CREATE FUNCTION custprofile.require_vector_space(customer_key text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    built text;
BEGIN
    SELECT p.vector_space INTO built FROM custprofile.profiles p WHERE p.customer_key = $1;
    IF FOUND AND built IS DISTINCT FROM custprofile.vector_space() THEN
        RAISE EXCEPTION 'this customer''s stored profile was built with encoder %, but custprofile.encoder is %',
                        COALESCE(split_part(built, '@', 1), 'unknown'), current_setting('custprofile.encoder')
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Vectors of two encoders are never compared: run CALL custprofile.refresh_profiles(); to rebuild the profiles with the current encoder.';
    END IF;
END $$;

-- The same for every stored profile at once (k-means over the whole base).
CREATE FUNCTION custprofile.require_one_vector_space() RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    other text;
BEGIN
    SELECT p.vector_space INTO other FROM custprofile.profiles p
     WHERE p.vector_space IS DISTINCT FROM custprofile.vector_space() LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'some stored profiles were built with encoder %, but custprofile.encoder is %',
                        COALESCE(split_part(other, '@', 1), 'unknown'), current_setting('custprofile.encoder')
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Vectors of two encoders are never compared: run CALL custprofile.refresh_profiles(); to rebuild the profiles with the current encoder.';
    END IF;
END $$;

-- Readers compare only vectors of one space; the refresh records the space.
CREATE OR REPLACE FUNCTION custprofile.similar_customers(customer_id text, k int DEFAULT 10)
RETURNS TABLE (customer_id text, similarity real)
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT custprofile.check_k(k, 1000);
    SELECT custprofile.require_profiles();
    SELECT custprofile.require_vector_space($1);
    SELECT s.customer_key, s.similarity
      FROM (SELECT p.customer_key,
                   custprofile.customer_similarity(me.interest_vector, me.orders_by_category,
                                                   p.interest_vector, p.orders_by_category) AS similarity
              FROM (SELECT m.customer_key, m.interest_vector, m.orders_by_category, m.vector_space
                      FROM custprofile.profiles m WHERE m.customer_key = $1 OFFSET 0) me
              JOIN custprofile.profiles p ON p.customer_key <> me.customer_key AND p.vector_space = me.vector_space) s
     WHERE s.similarity IS NOT NULL
     ORDER BY s.similarity DESC, s.customer_key
     LIMIT k;
$$;
CREATE OR REPLACE FUNCTION custprofile.recommend(customer_id text, k int DEFAULT 10)
RETURNS TABLE (item_id text, score real, reason text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    sources jsonb;
    previous_role text;
BEGIN
    PERFORM custprofile.check_k(k, 1000);
    sources := custprofile.checked_sources('items');
    PERFORM custprofile.require_profiles();
    PERFORM custprofile.require_vector_space(customer_id);
    sources := sources || custprofile.checked_sources('customers', 'orders', 'texts');
    previous_role := custprofile.enter_source_reader();
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
               COALESCE(NULLIF(concat_ws('; ',
                   CASE WHEN s.category_orders > 0 AND s.all_orders = 1 THEN format('%%s: your only order', s.category)
                        WHEN s.category_orders > 0 THEN
                       format('%%s: %%s of your %%s orders', s.category, s.category_orders, s.all_orders) END,
                   CASE WHEN s.praise >= 0.25 THEN format('you praised %%s', s.best_item) END,
                   CASE WHEN s.interest >= 0.35 THEN 'close to what your reviews talk about' END,
                   CASE WHEN s.price <= s.average_spend THEN 'within your usual spend' END), ''),
                   'the closest match to your profile') AS reason
          FROM scored s
         WHERE s.interest IS NOT NULL OR s.category_orders > 0 OR s.praise IS NOT NULL
         ORDER BY 2 DESC, s.key
         LIMIT $2
        $q$, custprofile.catalogue_similarity_sql('items', '$3', sources), custprofile.texts_sql(sources),
             custprofile.orders_or_none_sql(sources), custprofile.key_type(sources), custprofile.items_sql(sources))
    USING customer_id, k, (SELECT p.interest_vector FROM custprofile.profiles p WHERE p.customer_key = customer_id);
    PERFORM custprofile.leave_source_reader(previous_role);
END $$;
CREATE OR REPLACE FUNCTION custprofile.segment_customers(k int, options jsonb DEFAULT '{}')
RETURNS TABLE (customer_id text, segment int)
LANGUAGE plpgsql SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    masking boolean;
    text_segments int[];
    text_bodies text[];
    previous_role text;
BEGIN
    PERFORM custprofile.check_k(k, 100);
    IF options IS NULL OR jsonb_typeof(options) <> 'object' THEN
        RAISE EXCEPTION 'options must be a JSON object' USING ERRCODE = 'invalid_parameter_value',
            HINT = 'For example {"seed": 42, "max_iterations": 50, "rfm_weight": 0.5}.';
    END IF;
    PERFORM custprofile.require_profiles();
    -- two runs at once would interleave their writes to profiles.segment and segmentation: the
    -- second waits for the first
    PERFORM pg_advisory_xact_lock(hashtext('custprofile.segment_customers'));
    masking := custprofile.pii_masking();

    -- kmeans_segments reads every stored profile; profiles.segment then holds the result
    PERFORM custprofile.require_one_vector_space();
    UPDATE custprofile.profiles p SET segment = s.segment
      FROM custprofile.kmeans_segments(k, options) s
     WHERE s.customer_key = p.customer_key AND p.segment IS DISTINCT FROM s.segment;

    DELETE FROM custprofile.segmentation;
    INSERT INTO custprofile.segmentation (segment, centre, k, options)
    SELECT p.segment, custprofile.embedding_avg(p.interest_vector), k, options
      FROM custprofile.profiles p WHERE p.segment IS NOT NULL
     GROUP BY p.segment;

    previous_role := custprofile.enter_source_reader();
    -- keywords from each segment's most recent texts, ranked against its centre; the texts are
    -- read as the sources' reader (sql/sources.sql), the keywords stored as the caller
    EXECUTE format($q$
        SELECT array_agg(r.segment ORDER BY r.segment, r.n), array_agg(r.body ORDER BY r.segment, r.n)
          FROM (SELECT s.segment, CASE WHEN $1 THEN custprofile.mask_pii(t.body) ELSE t.body END AS body,
                       row_number() OVER (PARTITION BY s.segment ORDER BY t.written_at DESC NULLS LAST, t.body) AS n
                  FROM (%s) t JOIN custprofile.profiles s ON s.customer_key = t.customer_key::text AND s.segment IS NOT NULL
                 WHERE t.body IS NOT NULL AND btrim(t.body) <> '') r
         WHERE r.n <= custprofile.segment_keyword_texts()
        $q$, custprofile.texts_sql(custprofile.checked_sources('customers', 'texts'))) INTO text_segments, text_bodies USING masking;
    PERFORM custprofile.leave_source_reader(previous_role);
    UPDATE custprofile.segmentation g SET keywords = COALESCE(kw.keywords, '{}')
      FROM (SELECT r.segment,
                   custprofile.group_keywords(array_agg(r.body ORDER BY r.n), 5,
                                              (SELECT x.centre FROM custprofile.segmentation x WHERE x.segment = r.segment)) AS keywords
              FROM unnest(text_segments, text_bodies) WITH ORDINALITY AS r(segment, body, n)
             GROUP BY r.segment) kw
     WHERE kw.segment = g.segment;

    RETURN QUERY SELECT p.customer_key, p.segment FROM custprofile.profiles p
                  WHERE p.segment IS NOT NULL ORDER BY p.segment, p.customer_key;
END $$;
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
        ON CONFLICT (customer_key) DO UPDATE
            SET source_hash = EXCLUDED.source_hash, forced = q.forced OR EXCLUDED.forced)
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
