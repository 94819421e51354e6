-- The customer profile document, in one place. This file owns every field of it:
--   profile_document_fields()  lists each field: its path, JSON type and meaning
--                              (schema/profile.schema.json is tested against it field by field);
--   profile_document(), purchases_section(), rfm_section(), with_churn()
--                              write the document (its texts section is written by the
--                              profile_agg aggregate, src/profiles/text_summary.rs, and listed here);
--   profile_row()              reads it: typed columns for the views, churn, segments,
--                              recommendations and k-means, so that their readers spell no path
--                              (what is left: the generated column profiles.orders_by_category,
--                              which needs an immutable expression, the fields of each
--                              texts.topics entry in the segments view, the churn section's own
--                              "risk" and "as_of", read where churn_assessment's result is used, and the RFM
--                              scores kmeans_segments reads in Rust, which also serves databases
--                              not yet updated to a version with profile_row).
-- Why SQL and not a Rust type: the readers are SQL views and queries over many profiles, and
-- profile_row() is inlined by the planner, so reading a field through it costs what the literal
-- JSON path costs; a Rust accessor would parse the whole document on every call.
--
-- Versions: 1 is the shape of custprofile 0.2.0 with "version" added; 2 (0.5.0) adds
-- texts.languages, a text counts towards every topic it names, and the sentiment trend is
-- shrunk by its uncertainty, with its raw slope, standard error and span; a customer without
-- orders has RFM scores 1, 1, 1 (null before), and recency is counted to churn.as_of. A later shape raises
-- profile_document_version(), and profile_row() reads every version it knows (a stored
-- document without "version" is version 1).

-- The version of the document's shape this installation writes (its "version" field).
CREATE FUNCTION custprofile.profile_document_version() RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$ SELECT 2 $$;

-- Every field of the document. json_type as JSON Schema names them, '|' between the types a
-- field may have.
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

-- A score from 1 to 5: how many breakpoints the value exceeds (reversed when lower is better).
CREATE FUNCTION custprofile_internal.quintile_score(x float8, breakpoints jsonb, higher_is_better boolean)
RETURNS int LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT CASE WHEN x IS NULL OR breakpoints IS NULL OR jsonb_typeof(breakpoints) <> 'array' THEN NULL
                WHEN higher_is_better THEN 1 + e.exceeded
                ELSE 5 - e.exceeded END
      FROM (SELECT count(*)::int AS exceeded FROM jsonb_array_elements_text(breakpoints) AS b(v)
             WHERE x > b.v::float8) e
$$;

-- The RFM scores of one customer against the breakpoints of rfm_breakpoints(). A customer
-- without orders scores the lowest on all three, so that every customer has scores.
CREATE FUNCTION custprofile_internal.rfm_section(recency_days numeric, orders bigint, spend numeric, breakpoints jsonb)
RETURNS jsonb LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT CASE WHEN orders > 0 THEN jsonb_build_object(
        'recency', custprofile_internal.quintile_score(recency_days, breakpoints -> 'recency_days', false),
        'frequency', custprofile_internal.quintile_score(orders, breakpoints -> 'orders', true),
        'monetary', custprofile_internal.quintile_score(spend, breakpoints -> 'spend', true))
        ELSE '{"recency": 1, "frequency": 1, "monetary": 1}' END
$$;

-- The purchases section from a customer's order statistics (NULL counts as no orders).
CREATE FUNCTION custprofile_internal.purchases_section(orders bigint, spend numeric, first_order timestamptz,
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

-- The document of one customer, without its churn section (with_churn adds it).
CREATE FUNCTION custprofile_internal.profile_document(customer_id jsonb, demographics jsonb, purchases jsonb, texts jsonb)
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

-- The document with its churn section set (or replaced).
CREATE FUNCTION custprofile_internal.with_churn(profile jsonb, churn jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT profile || jsonb_build_object('churn', churn)
$$;

-- The texts section's interest vector as real[]; empty without one (no texts, or only NULL and
-- blank ones: the section then says "interest_vector": null).
CREATE FUNCTION custprofile_internal.texts_interest_vector(texts jsonb) RETURNS real[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT CASE WHEN jsonb_typeof(texts -> 'interest_vector') = 'array'
                THEN ARRAY(SELECT v::real FROM jsonb_array_elements_text(texts -> 'interest_vector') v)
                ELSE '{}' END
$$;

-- The fields the readers use, typed. Numbers are float8 and numeric as written, so that readers
-- compute exactly as from the JSON; views cast them for display.
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
    rhythm_days        float8,
    question_share     float8,
    complaint_share    float8,
    complaints         jsonb
);

-- Reads a document. No SET clause, so that the planner inlines it and keeps only the fields a
-- query selects; every name in it is schema-qualified instead.
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
        (profile OPERATOR(pg_catalog.#>>) '{churn,rhythm_days}')::double precision,
        (profile OPERATOR(pg_catalog.#>>) '{texts,intent,question}')::double precision,
        (profile OPERATOR(pg_catalog.#>>) '{texts,intent,complaint}')::double precision,
        profile OPERATOR(pg_catalog.#>) '{texts,complaints}'
    )::custprofile.profile_row
$$;
COMMENT ON FUNCTION custprofile.profile_row(jsonb) IS
    'The main fields of a profile document as typed columns: (custprofile.profile_row(profile)).mean_sentiment.';
