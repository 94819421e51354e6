-- Churn risk: a logistic score over five factors read from a customer's profile, each in [0, 1]:
--   recency           how far past their own rhythm the customer is at the moment of judgement
--                     (custprofile.as_of, sql/clock.sql: by default the data's latest activity):
--                     clamp((days since last activity / rhythm_days - 1) / 2, 0, 1), where
--                     rhythm_days is the customer's mean time between orders (else the shop's
--                     median, else 91 days); 0 while within one rhythm, 1 at three rhythms
--   sentiment_decline clamp(-slope_per_month / 0.1, 0, 1) of the sentiment trend (the slope
--                     shrunk by its uncertainty, src/profiles/trend.rs; 0 without a trend)
--   complaints        1 when the customer complained (a text whose intent is complaint) about a
--                     topic marked complaint (custprofile.topics: returns and refunds, customer
--                     service), else 0; a question about refunds is a need, not a complaint
--   disagreement      the share of rated texts whose rating and text disagree
--   negative_share    the share of texts scored negative
-- risk = 1 / (1 + exp(-(bias + sum of weight * factor))). The default weights (churn_weights())
-- put a customer with no factor at 0.05 and one at three rhythms without a word at 0.5;
-- train_churn_model fits them to a labelled churn column instead.

CREATE TABLE custprofile.churn_model (
    only_row   boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    -- {"bias": ..., "recency": ..., "sentiment_decline": ..., "complaints": ..., ...}
    weights    jsonb NOT NULL,
    metrics    jsonb,
    trained_at timestamptz NOT NULL DEFAULT now(),
    trained_by name NOT NULL DEFAULT current_user
);
COMMENT ON TABLE custprofile.churn_model IS
    'Churn weights fitted by custprofile.train_churn_model; empty means the documented defaults.';
-- user state: pg_dump keeps the fitted weights
SELECT pg_catalog.pg_extension_config_dump('custprofile.churn_model', '');

-- The documented default weights (the top of this file), used while churn_model is empty.
CREATE FUNCTION custprofile_internal.default_churn_weights() RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT '{"bias": -3.0, "recency": 3.0, "sentiment_decline": 1.5, "complaints": 1.5,
             "disagreement": 1.0, "negative_share": 1.5}'::jsonb
$$;

-- The weights in use: the trained ones when there are, else the defaults.
CREATE FUNCTION custprofile_internal.churn_weights() RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT COALESCE((SELECT m.weights FROM custprofile.churn_model m), custprofile_internal.default_churn_weights())
$$;

-- x limited to [0, 1].
CREATE FUNCTION custprofile_internal.clamp01(x float8) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$ SELECT least(1.0, greatest(0.0, COALESCE(x, 0.0))) $$;

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

-- The five factors of a profile document as of a moment (see the top of this file).
CREATE FUNCTION custprofile.churn_factors(profile jsonb, rhythm_days float8, as_of timestamptz)
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

-- Risk, factors and each factor's contribution (weight * factor) for a profile document.
CREATE FUNCTION custprofile.churn_assessment(profile jsonb, rhythm_days float8, as_of timestamptz)
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

-- The churn section of a stored profile recomputed as of a moment, with the rhythm it stored.
CREATE FUNCTION custprofile_internal.stored_churn(profile jsonb, as_of timestamptz) RETURNS jsonb
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT custprofile.churn_assessment(profile, (custprofile.profile_row(profile)).rhythm_days, as_of)
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
CREATE FUNCTION custprofile.rescore_churn() RETURNS bigint
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

-- Back to the default weights, in the stored profiles too.
CREATE FUNCTION custprofile.reset_churn_model() RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, custprofile, pg_temp AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('custprofile.churn_model'));
    DELETE FROM custprofile.churn_model;
    PERFORM custprofile.rescore_churn();
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
CREATE FUNCTION custprofile.train_churn_model(training_query text, options jsonb DEFAULT '{}')
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
COMMENT ON FUNCTION custprofile.train_churn_model(text, jsonb) IS
    'Fits the churn weights to (customer key, churned) rows; custprofile.reset_churn_model() restores the defaults.';
