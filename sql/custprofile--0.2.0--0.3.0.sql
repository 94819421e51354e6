-- custprofile 0.2.0 -> 0.3.0 (ALTER EXTENSION custprofile UPDATE TO '0.3.0').
--
-- What changed (issue 18, "one way through the code"):
-- * The profile document has one owner, sql/profile_document.sql: its field list
--   (profile_document_fields), its writers (profile_document, purchases_section, rfm_section,
--   with_churn) and its reader (profile_row, a composite of typed fields that the views, churn,
--   segments and recommendations read instead of JSON paths). Documents carry "version": 1;
--   stored profiles built before the update get it below (their shape is otherwise the same).
-- * The registered sources are checked once per statement: checked_sources(kinds) returns one
--   checked description that the query builders (texts_sql, orders_sql, customers_sql,
--   items_sql, answers_sql ...) take as their argument, instead of each re-reading and
--   re-checking the registry; the zero-argument builders are dropped.
-- * build_profiles runs one query, profiles_sql(sources), whose plan explain_build_profiles shows.
--
-- The definitions below are those of sql/*.sql at 0.3.0 (the Rust functions' definitions did
-- not change).
-- tests/upgrade/upgrade_from.sh checks that an updated database has exactly the objects of a
-- fresh 0.3.0 and keeps its state.

-- the profile document (sql/profile_document.sql)
CREATE FUNCTION custprofile.profile_document_version() RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$ SELECT 1 $$;


CREATE FUNCTION custprofile.profile_document_fields()
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

COMMENT ON FUNCTION custprofile.profile_document_fields() IS
    'Every field of the profile document: path, JSON type, meaning.';

CREATE FUNCTION custprofile.rfm_section(recency_days numeric, orders bigint, spend numeric, breakpoints jsonb)
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT CASE WHEN orders > 0 THEN jsonb_build_object(
        'recency', custprofile.quintile_score(recency_days, breakpoints -> 'recency_days', false),
        'frequency', custprofile.quintile_score(orders, breakpoints -> 'orders', true),
        'monetary', custprofile.quintile_score(spend, breakpoints -> 'spend', true)) END
$$;


CREATE FUNCTION custprofile.purchases_section(orders bigint, spend numeric, first_order timestamptz,
                                              last_order timestamptz, recency_days numeric, interval_days numeric,
                                              rfm jsonb, favourite_categories jsonb, orders_by_category jsonb)
RETURNS jsonb LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT jsonb_build_object(
        'orders', COALESCE(orders, 0),
        'total_spend', COALESCE(spend, 0),
        'average_spend', round(spend / orders, 2),
        'first_order', first_order,
        'last_order', last_order,
        'recency_days', floor(recency_days)::int,
        'rfm', rfm,
        'favourite_categories', COALESCE(favourite_categories, '[]'::jsonb),
        'orders_by_category', COALESCE(orders_by_category, '{}'::jsonb),
        'order_interval_days', round(interval_days, 1))
$$;


CREATE FUNCTION custprofile.profile_document(customer_id jsonb, demographics jsonb, purchases jsonb, texts jsonb)
RETURNS jsonb LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT jsonb_build_object(
        'version', custprofile.profile_document_version(),
        'customer_id', customer_id,
        'demographics', demographics,
        'purchases', purchases,
        'texts', texts,
        'generated_at', now(),
        'model', custprofile.model_version())
$$;


CREATE FUNCTION custprofile.with_churn(profile jsonb, churn jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT profile || jsonb_build_object('churn', churn)
$$;


CREATE FUNCTION custprofile.texts_interest_vector(texts jsonb) RETURNS real[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT CASE WHEN jsonb_typeof(texts -> 'interest_vector') = 'array'
                THEN ARRAY(SELECT v::real FROM jsonb_array_elements_text(texts -> 'interest_vector') v)
                ELSE '{}' END
$$;


CREATE TYPE custprofile.profile_row AS (
    version            int,
    customer_id        jsonb,
    generated_at       timestamptz,
    text_count         int,
    mean_sentiment     float8,
    negative_share     float8,
    sentiment_trend    float8,
    mean_rating        float8,
    rated_texts        int,
    conflicting_texts  int,
    topics             jsonb,
    main_topic         text,
    needs              jsonb,
    main_need          text,
    last_text_at       timestamptz,
    order_count        int,
    total_spend        numeric,
    average_spend      numeric,
    last_order_at      timestamptz,
    recency_score      int,
    frequency_score    int,
    monetary_score     int,
    favourite_category text,
    orders_by_category jsonb,
    churn              jsonb,
    rhythm_days        float8
);

CREATE FUNCTION custprofile.profile_row(profile pg_catalog.jsonb) RETURNS custprofile.profile_row
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
        (profile OPERATOR(pg_catalog.#>>) '{churn,rhythm_days}')::double precision
    )::custprofile.profile_row
$$;

COMMENT ON FUNCTION custprofile.profile_row(jsonb) IS
    'The main fields of a profile document as typed columns: (custprofile.profile_row(profile)).mean_sentiment.';

-- the sources, checked once per statement (sql/sources.sql, sql/catalogues.sql)
CREATE FUNCTION custprofile.checked_sources(VARIADIC kinds text[]) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    k text;
    entries jsonb;
    sources jsonb := '{}';
BEGIN
    FOREACH k IN ARRAY kinds LOOP
        SELECT jsonb_agg(jsonb_build_object('relid', s.relid, 'relation', s.relid::regclass::text, 'columns', s.columns)
                         ORDER BY s.relation_name)
          INTO entries FROM custprofile.registered(k) s;
        sources := sources || jsonb_build_object(k, CASE WHEN k = 'texts' THEN COALESCE(entries, '[]') ELSE entries -> 0 END);
        IF k = 'customers' THEN
            sources := sources || jsonb_build_object('key_type',
                (SELECT format_type(custprofile.column_type(r.relid, r.columns ->> 'key'), NULL)
                   FROM custprofile.source_registry r WHERE r.kind = 'customers'));
        END IF;
    END LOOP;
    RETURN sources;
END $$;


CREATE FUNCTION custprofile.checked_source(sources jsonb, kind text) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
BEGIN
    IF sources IS NULL OR NOT sources ? kind THEN
        RAISE EXCEPTION 'custprofile: the % source was not checked for this query', kind USING ERRCODE = 'internal_error';
    END IF;
    RETURN NULLIF(sources -> kind, 'null');
END $$;


CREATE FUNCTION custprofile.source_relation(source jsonb) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT ((source ->> 'relid')::oid)::regclass::text
$$;


CREATE FUNCTION custprofile.key_type(sources jsonb) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
BEGIN
    IF sources ->> 'key_type' IS NULL THEN
        RAISE EXCEPTION 'custprofile: the customers source was not checked for this query' USING ERRCODE = 'internal_error';
    END IF;
    RETURN format_type((sources ->> 'key_type')::regtype, NULL);
END $$;


CREATE FUNCTION custprofile.texts_sql(sources jsonb) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    kt text := custprofile.key_type(sources);
    parts text[] := '{}';
    s jsonb;
BEGIN
    FOR s IN SELECT e FROM jsonb_array_elements(custprofile.checked_source(sources, 'texts')) e LOOP
        parts := parts || format(
            'SELECT %L::text AS source, t.%I::%s AS customer_key, t.%I::text AS body, %s AS rating, %s AS written_at, %s AS item FROM %s t',
            custprofile.source_relation(s), s #>> '{columns,customer}', kt, s #>> '{columns,text}',
            custprofile.role_sql(s -> 'columns', 'rating', 't', 'real'),
            custprofile.role_sql(s -> 'columns', 'time', 't', 'timestamptz'),
            custprofile.role_sql(s -> 'columns', 'item', 't', 'text'),
            custprofile.source_relation(s));
    END LOOP;
    IF cardinality(parts) = 0 THEN
        RETURN format('SELECT NULL::text AS source, NULL::%s AS customer_key, NULL::text AS body, NULL::real AS rating, '
                      'NULL::timestamptz AS written_at, NULL::text AS item WHERE false', kt);
    END IF;
    RETURN array_to_string(parts, ' UNION ALL ');
END $$;


CREATE FUNCTION custprofile.orders_sql(sources jsonb) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    s jsonb := custprofile.checked_source(sources, 'orders');
BEGIN
    IF s IS NULL THEN
        RETURN NULL;
    END IF;
    RETURN format(
        'SELECT o.%I::%s AS customer_key, o.%I::timestamptz AS ordered_at, o.%I::numeric AS amount, %s AS item, %s AS category FROM %s o',
        s #>> '{columns,customer}', custprofile.key_type(sources), s #>> '{columns,time}', s #>> '{columns,amount}',
        custprofile.role_sql(s -> 'columns', 'item', 'o', 'text'),
        custprofile.role_sql(s -> 'columns', 'category', 'o', 'text'),
        custprofile.source_relation(s));
END $$;


CREATE FUNCTION custprofile.orders_or_none_sql(sources jsonb) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT COALESCE(custprofile.orders_sql(sources),
                    format('SELECT NULL::%s AS customer_key, NULL::timestamptz AS ordered_at, NULL::numeric AS amount, '
                           'NULL::text AS item, NULL::text AS category WHERE false', custprofile.key_type(sources)))
$$;


CREATE FUNCTION custprofile.customers_sql(sources jsonb) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    s jsonb := custprofile.checked_source(sources, 'customers');
    attrs text;
BEGIN
    SELECT string_agg(format('%L, c.%I', a, a), ', ') INTO attrs
      FROM jsonb_array_elements_text(COALESCE(s #> '{columns,attributes}', '[]')) a;
    RETURN format('SELECT c.%I AS customer_key, jsonb_build_object(%s) AS attributes FROM %s c',
                  s #>> '{columns,key}', COALESCE(attrs, ''), custprofile.source_relation(s));
END $$;


CREATE FUNCTION custprofile.items_sql(sources jsonb) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    s jsonb := custprofile.checked_source(sources, 'items');
    title text := custprofile.role_sql(s -> 'columns', 'title', 'i', 'text');
    category text := custprofile.role_sql(s -> 'columns', 'category', 'i', 'text');
BEGIN
    RETURN format(
        'SELECT i.%1$I::text AS key, '
        'concat_ws(''. '', NULLIF(btrim(%2$s), ''''), NULLIF(btrim(%3$s), ''''), NULLIF(btrim(%4$s), '''')) AS document, '
        '%2$s AS title, %3$s AS category, %5$s AS price FROM %6$s i',
        s #>> '{columns,key}', title, category, custprofile.role_sql(s -> 'columns', 'description', 'i', 'text'),
        custprofile.role_sql(s -> 'columns', 'price', 'i', 'numeric'), custprofile.source_relation(s));
END $$;


CREATE FUNCTION custprofile.answers_sql(sources jsonb) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT format('SELECT a.%I::text AS key, NULLIF(btrim(a.%I::text), '''') AS document, a.%I::text AS answer FROM %s a',
                  s #>> '{columns,key}', s #>> '{columns,question}', s #>> '{columns,answer}', custprofile.source_relation(s))
      FROM (SELECT custprofile.checked_source(sources, 'answers') AS s) x
$$;


CREATE FUNCTION custprofile.catalogue_rows_sql(kind text, sources jsonb) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT CASE kind WHEN 'items' THEN custprofile.items_sql(sources) ELSE custprofile.answers_sql(sources) END
$$;


CREATE FUNCTION custprofile.catalogue_similarity_sql(kind text, vector_sql text, sources jsonb) RETURNS text
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
BEGIN
    RETURN format(
        'SELECT c.*, CASE WHEN e.key IS NOT NULL THEN e.similarity '
        '                 WHEN (%2$s) IS NOT NULL THEN custprofile.cosine_similarity(custprofile.embed_text(c.document), %2$s) END AS similarity '
        'FROM (%1$s) c '
        'LEFT JOIN (SELECT x.key, x.text_hash, custprofile.cosine_similarity(x.embedding, %2$s) AS similarity '
        '             FROM custprofile.catalogue_embeddings x WHERE x.kind = %3$L OFFSET 0) e '
        '  ON e.key = c.key AND e.text_hash = custprofile.catalogue_hash(c.document, %4$L) '
        'WHERE c.document IS NOT NULL AND c.key IS NOT NULL',
        custprofile.catalogue_rows_sql(kind, sources), vector_sql, kind, custprofile.model_version());
END $$;


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
BEGIN
    -- the vectors of a kind that is no longer registered
    DELETE FROM custprofile.catalogue_embeddings e
     WHERE NOT EXISTS (SELECT FROM custprofile.source_registry r WHERE r.kind = e.kind);
    FOR k IN SELECT r.kind FROM custprofile.source_registry r WHERE r.kind IN ('items', 'answers') ORDER BY 1 LOOP
        sources := custprofile.checked_sources(k);
        kind := k;
        CREATE TEMP TABLE custprofile_catalogue (key text, document text) ON COMMIT DROP;
        -- filled as the sources' reader (sql/sources.sql), who may write just this table
        reader := custprofile.source_reader();
        IF reader IS NOT NULL THEN
            EXECUTE format('GRANT INSERT ON pg_temp.custprofile_catalogue TO %I', reader);
        END IF;
        previous_role := custprofile.enter_source_reader();
        EXECUTE format('INSERT INTO pg_temp.custprofile_catalogue SELECT DISTINCT ON (c.key) c.key, c.document FROM (%s) c '
                       'WHERE c.key IS NOT NULL AND c.document IS NOT NULL ORDER BY c.key',
                       custprofile.catalogue_rows_sql(k, sources));
        PERFORM custprofile.leave_source_reader(previous_role);
        DELETE FROM custprofile.catalogue_embeddings e
         WHERE e.kind = k AND NOT EXISTS (SELECT FROM pg_temp.custprofile_catalogue c WHERE c.key = e.key);
        GET DIAGNOSTICS removed = ROW_COUNT;
        embedded := 0;
        -- stale or missing rows, 256 texts per embed_texts call
        FOR chunk IN
            SELECT array_agg(s.key ORDER BY s.key) AS keys, array_agg(s.document ORDER BY s.key) AS documents
              FROM (SELECT c.key, c.document, (row_number() OVER (ORDER BY c.key) - 1) / 256 AS part
                      FROM pg_temp.custprofile_catalogue c
                      LEFT JOIN custprofile.catalogue_embeddings e ON e.kind = k AND e.key = c.key
                     WHERE e.text_hash IS DISTINCT FROM custprofile.catalogue_hash(c.document, model)) s
             GROUP BY s.part ORDER BY s.part
        LOOP
            INSERT INTO custprofile.catalogue_embeddings AS e (kind, key, text_hash, embedding, embedded_at)
            SELECT k, chunk.keys[v.n], custprofile.catalogue_hash(chunk.documents[v.n], model), v.embedding, now()
              FROM custprofile.embed_texts(chunk.documents) WITH ORDINALITY AS v(embedding, n)
            ON CONFLICT ON CONSTRAINT catalogue_embeddings_pkey DO UPDATE
                SET text_hash = EXCLUDED.text_hash, embedding = EXCLUDED.embedding, embedded_at = EXCLUDED.embedded_at;
            embedded := embedded + cardinality(chunk.keys);
        END LOOP;
        RETURN NEXT;
        DROP TABLE pg_temp.custprofile_catalogue;
    END LOOP;
END $$;

-- readers of the document and the sources (sql/churn.sql, sql/profiles.sql, sql/segments.sql, sql/recommendations.sql)
CREATE OR REPLACE FUNCTION custprofile.churn_factors(profile jsonb, rhythm_days float8, as_of timestamptz)
RETURNS jsonb LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT jsonb_build_object(
        'recency', round(custprofile.clamp01(
            (extract(epoch FROM as_of - greatest((custprofile.profile_row(profile)).last_order_at,
                                                 (custprofile.profile_row(profile)).last_text_at)) / 86400
             / greatest(COALESCE(rhythm_days, 91), 1) - 1) / 2)::numeric, 4),
        'sentiment_decline', round(custprofile.clamp01(
            -(custprofile.profile_row(profile)).sentiment_trend / 0.1)::numeric, 4),
        'complaints', CASE WHEN EXISTS (
            SELECT FROM jsonb_array_elements_text(COALESCE((custprofile.profile_row(profile)).needs, '[]')) n(topic)
              JOIN custprofile.topics t ON t.topic = n.topic AND t.complaint) THEN 1 ELSE 0 END,
        'disagreement', round(custprofile.clamp01(
            (custprofile.profile_row(profile)).conflicting_texts::float8
            / NULLIF((custprofile.profile_row(profile)).rated_texts::float8, 0))::numeric, 4),
        'negative_share', round(custprofile.clamp01(
            (custprofile.profile_row(profile)).negative_share)::numeric, 4))
$$;


CREATE OR REPLACE FUNCTION custprofile.stored_churn(profile jsonb, as_of timestamptz) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT custprofile.churn_assessment(profile, (custprofile.profile_row(profile)).rhythm_days, as_of)
$$;


CREATE OR REPLACE FUNCTION custprofile.rescore_churn() RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    n bigint;
BEGIN
    -- the whole table at once, before any row: row by row in the table's order would deadlock
    -- with a refresh writing the same rows in its own order
    LOCK TABLE custprofile.profiles IN SHARE ROW EXCLUSIVE MODE;
    UPDATE custprofile.profiles p
       SET profile = custprofile.with_churn(p.profile,
                               custprofile.stored_churn(p.profile, (custprofile.profile_row(p.profile)).generated_at))
     WHERE (custprofile.profile_row(p.profile)).churn IS NOT NULL;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;


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
    as_of := COALESCE((options ->> 'as_of')::timestamptz, now());
    IF training_query IS NULL OR btrim(btrim(training_query), ';') = '' THEN
        RAISE EXCEPTION 'train_churn_model needs a query returning (customer key, churned boolean) rows'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM custprofile.require_profiles();
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
    fitted := custprofile.fit_logistic(features, labels, names, options - 'as_of');
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

CREATE FUNCTION custprofile.rfm_breakpoints(sources jsonb) RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    orders_q text := custprofile.orders_sql(sources);
    result jsonb;
    previous_role text;
BEGIN
    IF orders_q IS NULL THEN
        RETURN NULL;
    END IF;
    previous_role := custprofile.enter_source_reader();
    EXECUTE format($q$
        SELECT jsonb_build_object(
            'recency_days', to_jsonb(percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY recency_days)),
            'orders',       to_jsonb(percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY orders)),
            'spend',        to_jsonb(percentile_cont(ARRAY[0.2, 0.4, 0.6, 0.8]) WITHIN GROUP (ORDER BY spend)),
            -- the usual time between two orders, for customers whose own rhythm is unknown
            'interval_days', percentile_cont(0.5) WITHIN GROUP (ORDER BY interval_days),
            'customers',    count(*),
            'as_of',        now())
          FROM (SELECT extract(epoch FROM now() - max(o.ordered_at)) / 86400 AS recency_days,
                       count(*) AS orders, sum(o.amount) AS spend,
                       extract(epoch FROM max(o.ordered_at) - min(o.ordered_at)) / 86400 / NULLIF(count(*) - 1, 0) AS interval_days
                  FROM (%s) o
                 WHERE o.customer_key IN (SELECT c.customer_key FROM (%s) c)
                 GROUP BY o.customer_key) per_customer
        $q$, orders_q, custprofile.customers_sql(sources)) INTO result;
    PERFORM custprofile.leave_source_reader(previous_role);
    RETURN result;
END $$;

CREATE OR REPLACE FUNCTION custprofile.rfm_breakpoints() RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT custprofile.rfm_breakpoints(custprofile.checked_sources('customers', 'orders'))
$$;

CREATE FUNCTION custprofile.profiles_sql(sources jsonb) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT format($q$
        WITH wanted AS (SELECT DISTINCT k::%1$s AS customer_key FROM unnest($1) AS k WHERE k IS NOT NULL),
        cust AS (SELECT c.customer_key, c.attributes FROM (%2$s) c WHERE c.customer_key IN (SELECT customer_key FROM wanted)),
        orders AS (SELECT o.* FROM (%3$s) o WHERE o.customer_key IN (SELECT customer_key FROM wanted)),
        per_customer AS (
            SELECT o.customer_key, count(*) AS orders, sum(o.amount) AS spend,
                   min(o.ordered_at) AS first_order, max(o.ordered_at) AS last_order,
                   extract(epoch FROM now() - max(o.ordered_at)) / 86400 AS recency_days,
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
        SELECT d.customer_key, custprofile.with_churn(d.profile, custprofile.churn_assessment(d.profile, d.rhythm_days, now())),
               d.interest_vector
          FROM (
        SELECT c.customer_key::text,
               custprofile.profile_document(
                   to_jsonb(c.customer_key),
                   c.attributes,
                   CASE WHEN $2 THEN custprofile.purchases_section(
                       p.orders, p.spend, p.first_order, p.last_order, p.recency_days::numeric, p.interval_days::numeric,
                       custprofile.rfm_section(p.recency_days::numeric, p.orders, p.spend, $3),
                       cat.favourite, cat.orders_by_category) END,
                   t.signals),
               custprofile.texts_interest_vector(t.signals),
               -- the customer's own rhythm, else the shop's usual one, else a quarter
               COALESCE(p.interval_days, ($3 ->> 'interval_days')::float8, 91) AS rhythm_days
          FROM cust c
          LEFT JOIN per_customer p ON p.customer_key = c.customer_key
          LEFT JOIN categories cat ON cat.customer_key = c.customer_key
          LEFT JOIN texts t ON t.customer_key = c.customer_key
          ) AS d(customer_key, profile, interest_vector, rhythm_days)
        $q$, custprofile.key_type(sources), custprofile.customers_sql(sources), custprofile.orders_or_none_sql(sources),
             custprofile.texts_sql(sources))
$$;


CREATE OR REPLACE FUNCTION custprofile.build_profiles(customer_keys text[], breakpoints jsonb DEFAULT NULL)
RETURNS TABLE (customer_key text, profile jsonb, interest_vector real[])
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    sources jsonb := custprofile.checked_sources('customers', 'orders', 'texts');
    has_orders boolean := custprofile.orders_sql(sources) IS NOT NULL;
    previous_role text;
BEGIN
    IF has_orders THEN
        breakpoints := COALESCE(breakpoints, custprofile.rfm_breakpoints(sources));
    END IF;
    previous_role := custprofile.enter_source_reader();
    RETURN QUERY EXECUTE custprofile.profiles_sql(sources) USING customer_keys, has_orders, breakpoints;
    PERFORM custprofile.leave_source_reader(previous_role);
END $$;


CREATE FUNCTION custprofile.explain_build_profiles(customer_keys text[], actual boolean DEFAULT false)
RETURNS SETOF text
-- volatile: PostgreSQL runs EXPLAIN only there
LANGUAGE plpgsql SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    sources jsonb := custprofile.checked_sources('customers', 'orders', 'texts');
    has_orders boolean := custprofile.orders_sql(sources) IS NOT NULL;
    breakpoints jsonb;
    previous_role text;
BEGIN
    IF has_orders THEN
        breakpoints := custprofile.rfm_breakpoints(sources);
    END IF;
    previous_role := custprofile.enter_source_reader();
    RETURN QUERY EXECUTE CASE WHEN actual THEN 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) ' ELSE 'EXPLAIN (COSTS OFF) ' END
                         || custprofile.profiles_sql(sources)
                 USING customer_keys, has_orders, breakpoints;
    PERFORM custprofile.leave_source_reader(previous_role);
END $$;

COMMENT ON FUNCTION custprofile.explain_build_profiles(text[], boolean) IS
    'The plan of the one query build_profile(s) runs for these customers.';

CREATE OR REPLACE FUNCTION custprofile.source_fingerprints() RETURNS TABLE (customer_key text, source_hash text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    sources jsonb := custprofile.checked_sources('customers', 'orders', 'texts');
    previous_role text := custprofile.enter_source_reader();
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
        $q$, custprofile.customers_sql(sources), custprofile.orders_or_none_sql(sources), custprofile.texts_sql(sources))
    USING (custprofile.model_version() - 'extension')::text
          || (SELECT COALESCE(string_agg(t.topic || ':' || t.description || ':' || t.complaint, ';' ORDER BY t.topic), '') FROM custprofile.topics t);
    PERFORM custprofile.leave_source_reader(previous_role);
END $$;


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
       (custprofile.stored_churn(p.profile, now()) ->> 'risk')::real     AS churn_risk,
       p.segment,
       greatest((custprofile.profile_row(p.profile)).last_order_at,
                (custprofile.profile_row(p.profile)).last_text_at)      AS last_activity,
       (custprofile.profile_row(p.profile)).generated_at                AS profile_time
  FROM custprofile.profiles p;

CREATE OR REPLACE FUNCTION custprofile.text_insight_rows()
RETURNS TABLE (source text, customer_key text, written_at timestamptz, rating real, body text,
               sentiment_label text, sentiment real)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    masking boolean;
    previous_role text;
BEGIN
    masking := custprofile.pii_masking();
    previous_role := custprofile.enter_source_reader();
    RETURN QUERY EXECUTE format($q$
        SELECT t.source, t.customer_key::text, t.written_at, t.rating,
               CASE WHEN %L::boolean THEN custprofile.mask_pii(t.body) ELSE t.body END,
               d ->> 'label', (d ->> 'score')::real
          FROM (SELECT t.*, CASE WHEN t.body IS NOT NULL THEN custprofile.sentiment_detail(t.body) END AS d
                  FROM (%s) t) t
        $q$, masking, custprofile.texts_sql(custprofile.checked_sources('customers', 'texts')));
    PERFORM custprofile.leave_source_reader(previous_role);
END $$;

CREATE OR REPLACE FUNCTION custprofile.check_sources()
RETURNS TABLE (kind text, relation text, check_name text, rows bigint, detail text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    s custprofile.source_registry;
    rel text;
    n bigint;
    customers jsonb;
    previous_role text := custprofile.enter_source_reader();
BEGIN
    FOR s IN SELECT * FROM custprofile.source_registry r
              ORDER BY array_position(ARRAY['customers', 'orders', 'texts', 'items', 'answers'], r.kind), r.relation_name LOOP
        kind := s.kind;
        rel := CASE WHEN EXISTS (SELECT FROM pg_catalog.pg_class c WHERE c.oid = s.relid)
                    THEN s.relid::regclass::text ELSE s.relation_name END;
        relation := rel;
        BEGIN
            PERFORM custprofile.check_registration(s.kind, s.relid, s.relation_name, s.columns);
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
        customers := custprofile.checked_sources('customers');
        EXECUTE format('SELECT count(*) FROM %s x WHERE x.%I IS NOT NULL AND x.%I::%s NOT IN (SELECT c.customer_key FROM (%s) c WHERE c.customer_key IS NOT NULL)',
                       s.relid::regclass, s.columns ->> 'customer', s.columns ->> 'customer', custprofile.key_type(customers),
                       custprofile.customers_sql(customers)) INTO n;
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
        END IF;
    END LOOP;
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

CREATE OR REPLACE VIEW custprofile.segments AS
WITH members AS (
    SELECT p.segment, f.mean_sentiment, f.total_spend, f.monetary_score, f.orders_by_category, f.topics, f.needs
      FROM custprofile.profiles p, LATERAL (SELECT (custprofile.profile_row(p.profile)).*) f
     WHERE p.segment IS NOT NULL),
stats AS (
    SELECT m.segment, count(*) AS customers,
           avg(m.mean_sentiment) AS mean_sentiment,
           avg(COALESCE(m.total_spend, 0)) AS mean_spend,
           avg(m.monetary_score::float8) AS mean_monetary
      FROM members m GROUP BY m.segment),
categories AS (
    SELECT c.segment, array_agg(c.category ORDER BY c.orders DESC, c.category) AS top
      FROM (SELECT m.segment, e.key AS category, sum(e.value::text::int) AS orders,
                   row_number() OVER (PARTITION BY m.segment ORDER BY sum(e.value::text::int) DESC, e.key) AS rank
              FROM members m, jsonb_each(COALESCE(m.orders_by_category, '{}')) e
             GROUP BY m.segment, e.key) c
     WHERE c.rank <= 3 GROUP BY c.segment),
topics AS (
    SELECT m.segment, t ->> 'topic' AS topic, sum((t ->> 'texts')::int) AS texts,
           sum((t ->> 'texts')::int * (t ->> 'sentiment')::float8) / sum((t ->> 'texts')::int) AS sentiment
      FROM members m, jsonb_array_elements(COALESCE(m.topics, '[]')) t
     GROUP BY m.segment, t ->> 'topic'),
top_topics AS (
    SELECT t.segment, (array_agg(t.topic ORDER BY t.texts DESC, t.topic))[1:3] AS top,
           (array_agg(t.topic ORDER BY t.texts DESC, t.topic) FILTER (WHERE t.sentiment <= -0.25))[1] AS negative,
           (array_agg(t.topic ORDER BY t.texts DESC, t.topic) FILTER (WHERE t.sentiment >= 0.25))[1] AS positive
      FROM topics t GROUP BY t.segment),
needs AS (
    SELECT n.segment, (array_agg(n.need ORDER BY n.customers DESC, n.need))[1] AS main, max(n.customers) AS customers
      FROM (SELECT m.segment, x.need, count(*) AS customers
              FROM members m, jsonb_array_elements_text(COALESCE(m.needs, '[]')) x(need)
             GROUP BY m.segment, x.need) n
     GROUP BY n.segment)
SELECT s.segment,
       custprofile.segment_name(c.top[1], CASE WHEN n.customers * 3 >= s.customers THEN n.main END,
                                s.mean_monetary, s.mean_sentiment, tt.negative, tt.positive) AS name,
       s.customers,
       round(s.mean_sentiment::numeric, 3) AS mean_sentiment,
       round(s.mean_spend, 2) AS mean_spend,
       COALESCE(c.top, '{}') AS top_categories,
       COALESCE(tt.top, '{}') AS top_topics,
       COALESCE(g.keywords, '{}') AS keywords
  FROM stats s
  LEFT JOIN categories c USING (segment)
  LEFT JOIN top_topics tt USING (segment)
  LEFT JOIN needs n USING (segment)
  LEFT JOIN custprofile.segmentation g USING (segment)
 ORDER BY s.segment;

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

CREATE OR REPLACE FUNCTION custprofile.suggest_replies(message text, k int DEFAULT 3, min_score real DEFAULT 0.3)
RETURNS TABLE (answer_id text, answer text, score real)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    sources jsonb;
    m real[];
    previous_role text;
BEGIN
    PERFORM custprofile.check_k(k, 100);
    IF min_score IS NULL OR NOT (min_score BETWEEN -1 AND 1) THEN
        RAISE EXCEPTION 'min_score must be between -1 and 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    sources := custprofile.checked_sources('answers');
    IF message IS NULL OR btrim(message) = '' THEN
        RETURN;
    END IF;
    m := custprofile.embed_text(message);
    previous_role := custprofile.enter_source_reader();
    RETURN QUERY EXECUTE format(
        'SELECT c.key, c.answer, c.similarity FROM (%s) c WHERE c.similarity >= $2 ORDER BY c.similarity DESC, c.key LIMIT $3',
        custprofile.catalogue_similarity_sql('answers', '$1', sources))
    USING m, min_score, k;
    PERFORM custprofile.leave_source_reader(previous_role);
END $$;

-- the builders that read the registry themselves
DROP FUNCTION custprofile.key_type();
DROP FUNCTION custprofile.texts_sql();
DROP FUNCTION custprofile.orders_sql();
DROP FUNCTION custprofile.no_orders_sql();
DROP FUNCTION custprofile.customers_sql();
DROP FUNCTION custprofile.catalogue_similarity_sql(text, text);
DROP FUNCTION custprofile.catalogue_rows_sql(text);
DROP FUNCTION custprofile.items_sql();
DROP FUNCTION custprofile.answers_sql();

-- stored documents built by 0.2.0 have the shape of version 1
UPDATE custprofile.profiles SET profile = profile || '{"version": 1}' WHERE NOT profile ? 'version';
