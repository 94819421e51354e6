-- Customer profiles: build_profile joins the registered sources (sql/sources.sql) into one JSONB
-- document per customer; the profiles table stores them and refresh_profiles keeps it fresh;
-- customer_profiles is the view BI tools read (text_insights, over the texts: sql/text_insights.sql). The document itself (its
-- fields, writers and readers) is sql/profile_document.sql.

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
CREATE FUNCTION custprofile_internal.profiles_sql(sources jsonb) RETURNS text
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
CREATE FUNCTION custprofile.explain_build_profiles(customer_keys text[], actual boolean DEFAULT false)
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

-- Stored profiles, one row per customer, kept by refresh_profiles.
CREATE TABLE custprofile.profiles (
    customer_key    text PRIMARY KEY,
    profile         jsonb NOT NULL,
    interest_vector real[],
    -- the customer's segment from the last segment_customers run (NULL until then)
    segment         int,
    -- a small copy for similar_customers, which reads it for every customer: reading it from
    -- the document would decompress the whole document each time
    orders_by_category jsonb GENERATED ALWAYS AS (profile #> '{purchases,orders_by_category}') STORED,
    -- fingerprint of the customer's source rows and the model when it was built
    source_hash     text NOT NULL,
    refreshed_at    timestamptz NOT NULL DEFAULT now(),
    -- the encoder's vector space (vector_space()) the interest vector is in: only vectors of
    -- one space are compared
    vector_space    text,
    -- the customer's latest order or text, written with the profile: custprofile.as_of() takes
    -- the latest of them (an index lookup), BI tools filter on it
    last_activity   timestamptz,
    -- the churn risk and the moments it holds for (judge_stored_churn); a row not judged yet
    -- holds for none
    churn_risk        real,
    churn_valid_from  timestamptz NOT NULL DEFAULT 'infinity',
    churn_valid_until timestamptz NOT NULL DEFAULT '-infinity',
    -- what else the risk was judged with: the weights and the complaint topics (churn_basis())
    churn_basis       text NOT NULL DEFAULT ''
);
CREATE INDEX profiles_last_activity ON custprofile.profiles (last_activity);
CREATE INDEX profiles_segment ON custprofile.profiles (segment);
-- the customers similar_customers compares by orders alone when it searches by pgvector's index
CREATE INDEX profiles_without_interest ON custprofile.profiles (vector_space) WHERE interest_vector IS NULL;
CREATE INDEX profiles_churn_risk ON custprofile.profiles (churn_risk);
-- stored_churn_holds reads the latest start and the earliest end of the spans
CREATE INDEX profiles_churn_valid_from ON custprofile.profiles (churn_valid_from);
CREATE INDEX profiles_churn_valid_until ON custprofile.profiles (churn_valid_until);
CREATE INDEX profiles_churn_basis ON custprofile.profiles (churn_basis);
COMMENT ON TABLE custprofile.profiles IS
    'Stored customer profiles (build_profile documents) and interest vectors, kept by CALL custprofile.refresh_profiles().';
-- pg_dump keeps the stored profiles: a restored database answers at once and refreshes only what
-- changed (custprofile.refresh_queue is work in progress, rebuilt from the fingerprints, not kept)
SELECT pg_catalog.pg_extension_config_dump('custprofile.profiles', '');

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

-- Raises the ERROR that tells the user to build profiles first.
CREATE FUNCTION custprofile_internal.require_profiles() RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
BEGIN
    PERFORM custprofile_internal.require_local_tables();
    IF NOT EXISTS (SELECT FROM custprofile.profiles) THEN
        RAISE EXCEPTION 'no customer profiles have been built yet'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Register your sources with custprofile.register_source(...), then run CALL custprofile.refresh_profiles();';
    END IF;
END $$;

-- Raises the ERROR that tells the user to rebuild the profiles when the customer's stored
-- interest vector is in another encoder's vector space than custprofile.encoder's (after the
-- setting changed, until refresh_profiles has rebuilt it). No customer, no error.
CREATE FUNCTION custprofile_internal.require_vector_space(customer_key text) RETURNS void
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
CREATE FUNCTION custprofile_internal.require_one_vector_space() RETURNS void
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

-- Raises ERROR 22023 unless 1 <= k <= maximum.
CREATE FUNCTION custprofile_internal.check_k(k int, maximum int) RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
BEGIN
    IF k IS NULL OR k < 1 OR k > maximum THEN
        RAISE EXCEPTION 'k must be between 1 and %, not %', maximum, COALESCE(k::text, 'NULL')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END $$;

-- Customers whose profile is to be (re)built: filled from the fingerprints, emptied batch by
-- batch. Rows left by a cancelled or failed refresh are picked up by the next one.
CREATE TABLE custprofile.refresh_queue (
    customer_key text PRIMARY KEY,
    source_hash  text NOT NULL,
    -- queued by full_rebuild: built even when the stored profile is up to date
    forced       boolean NOT NULL DEFAULT false,
    queued_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE custprofile.refresh_queue IS
    'Customers waiting for refresh_profiles to rebuild their profile (work in progress; not dumped).';

-- A fingerprint of each customer's rows in every source (order-independent sums of row
-- hashes), of the model and of the topics: when it differs from the stored one, the profile is
-- stale.
-- Times are hashed as epochs, so the session's TimeZone does not matter.
CREATE FUNCTION custprofile_internal.source_fingerprints() RETURNS TABLE (customer_key text, source_hash text)
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
CREATE PROCEDURE custprofile.refresh_profiles(batch_size int DEFAULT 200, full_rebuild boolean DEFAULT false)
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
COMMENT ON PROCEDURE custprofile.refresh_profiles(int, boolean) IS
    'Rebuilds stale profiles in committed batches; safe to cancel, resume and run concurrently.';

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

-- For BI tools: the main fields as plain typed columns, no JSON functions needed.
CREATE VIEW custprofile.customer_profiles AS
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
COMMENT ON VIEW custprofile.customer_profiles IS
    'One row per stored profile with its main fields as typed columns (for BI tools).';
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

-- Whether custprofile.mask_pii is on. The setting exists once the library is loaded, which a
-- new session has not necessarily done yet: model_version() loads it.
CREATE FUNCTION custprofile_internal.pii_masking() RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
BEGIN
    PERFORM custprofile.model_version();
    RETURN current_setting('custprofile.mask_pii')::boolean;
END $$;

-- Data checks over the registered sources: a registration that no longer matches the
-- catalogue, rows whose customer is not in the customers source (never merged into a profile),
-- NULL keys, NULL and blank texts. One row per check; rows = 0 means fine.
CREATE FUNCTION custprofile.check_sources()
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
