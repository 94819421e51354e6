-- The text_insights view (one row per registered text, for BI tools) and the per-text scores it
-- reads. refresh_profiles stores each text's sentiment and intent once, under the hash of its
-- content and the models that scored it (custprofile.text_scores): profile_agg records them as it
-- scores the texts of the profiles it builds (src/profiles/score_log.rs), so storing costs no
-- second encoder pass. The view runs the encoder only for texts not stored yet (written since
-- the last refresh, or scored by other models). The language is told on read: it is cheap and
-- follows the session's custprofile.languages.

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
-- texts no source holds any more. Returns how many rows went.
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
    IF everything AND EXISTS (SELECT FROM custprofile.source_registry r WHERE r.kind = 'texts') THEN
        WITH held AS MATERIALIZED (
            SELECT DISTINCT sha256(convert_to(t.body, 'UTF8')) AS text_hash
              FROM custprofile_internal.registered_texts() t WHERE t.body IS NOT NULL)
        DELETE FROM custprofile.text_scores s
         WHERE NOT EXISTS (SELECT FROM held WHERE held.text_hash = s.text_hash);
        GET DIAGNOSTICS orphans = ROW_COUNT;
    ELSIF everything THEN
        DELETE FROM custprofile.text_scores;
        GET DIAGNOSTICS orphans = ROW_COUNT;
    END IF;
    RETURN n + orphans;
END $$;

-- The registered texts as their sources hold them, read as the sources' registrant: those of
-- `customer_keys` (NULL: every customer) written at or after `since` (NULL: any time). The
-- filters are compared in the sources' own types inside the query over them, so that the
-- sources' indexes (on the customer column, on the time column) find the rows.
CREATE FUNCTION custprofile_internal.registered_texts(customer_keys text[] DEFAULT NULL, since timestamptz DEFAULT NULL)
RETURNS TABLE (source text, customer_key text, written_at timestamptz, rating real, body text)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
DECLARE
    previous_role text;
    sources jsonb;
BEGIN
    previous_role := custprofile_internal.enter_source_reader();
    sources := custprofile_internal.checked_sources('customers', 'texts');
    RETURN QUERY EXECUTE format($q$
        SELECT t.source, t.customer_key::text, t.written_at, t.rating, t.body FROM (%s) t
         WHERE ($1 IS NULL OR t.customer_key = ANY ($1::%s[])) AND ($2 IS NULL OR t.written_at >= $2)
        $q$, custprofile_internal.texts_sql(sources), custprofile_internal.key_type(sources))
        USING customer_keys, since;
    PERFORM custprofile_internal.leave_source_reader(previous_role);
END $$;

-- The rows of text_insights for some customers and a time (as registered_texts takes them):
-- stored scores where there are, the encoder for the rest (one pass for sentiment and intent).
-- The body is shown PII-masked when custprofile.mask_pii is on, and its language is told from
-- the body as shown (a masked e-mail address does not change it). A dashboard over a few
-- customers or recent texts calls this rather than filtering the view, which reads every text.
CREATE FUNCTION custprofile.text_insights_of(customer_keys text[] DEFAULT NULL, since timestamptz DEFAULT NULL)
RETURNS TABLE (source text, customer_key text, written_at timestamptz, rating real, body text,
               sentiment_label text, sentiment real, language text, customer_uuid uuid, customer_bigint bigint,
               intent text)
LANGUAGE sql STABLE SET search_path = pg_catalog, custprofile, pg_temp AS $$
SELECT r.source, r.customer_key, r.written_at, r.rating, shown.body,
       COALESCE(s.sentiment_label, f.signals ->> 'sentiment'),
       COALESCE(s.sentiment, (f.signals ->> 'score')::real),
       custprofile.detect_language(shown.body),
       custprofile_internal.key_as_uuid(r.customer_key, k.key_type),
       custprofile_internal.key_as_bigint(r.customer_key, k.key_type),
       CASE WHEN s.text_hash IS NOT NULL THEN s.intent ELSE f.signals ->> 'intent' END
  FROM custprofile_internal.registered_texts(customer_keys, since) r
 CROSS JOIN (SELECT custprofile_internal.customer_key_type() AS key_type) k
 -- OFFSET 0: evaluated once per row, not once per reference
 CROSS JOIN LATERAL (SELECT CASE WHEN (SELECT custprofile_internal.pii_masking()) THEN custprofile.mask_pii(r.body)
                                 ELSE r.body END AS body OFFSET 0) shown
  LEFT JOIN custprofile.text_scores s
         ON s.text_hash = sha256(convert_to(r.body, 'UTF8')) AND s.scored_by = (SELECT custprofile_internal.text_scorer())
  LEFT JOIN LATERAL (SELECT custprofile.text_signals(r.body) AS signals
                      WHERE s.text_hash IS NULL AND r.body IS NOT NULL OFFSET 0) f ON true
$$;

-- Every registered text. Columns added after 0.4.0 come at the end, so that an update replaces
-- the view in place and the user's views over it stay.
CREATE VIEW custprofile.text_insights AS
SELECT i.source, i.customer_key, i.written_at, i.rating, i.body, i.sentiment_label, i.sentiment, i.language,
       i.customer_uuid, i.customer_bigint, i.intent
  FROM custprofile.text_insights_of() i;
COMMENT ON VIEW custprofile.text_insights IS
    'Every registered text with its sentiment label and score, its intent and its language (stored by refresh_profiles, scored on read when not stored yet).';
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
