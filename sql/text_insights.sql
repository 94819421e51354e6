-- The text_insights view (one row per registered text, for BI tools), the copy of the texts it
-- reads and the per-text scores it shows. refresh_profiles brings the copy up to date
-- (custprofile.stored_texts) and stores each text's sentiment and intent once, under the hash of
-- its content and the models that scored it (custprofile.text_scores): profile_agg records them
-- as it scores the texts of the profiles it builds (src/profiles/score_log.rs), so storing costs
-- no second encoder pass. The view reads the sources only for rows written since the last
-- refresh, and runs the encoder only for texts not scored yet.

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
CREATE VIEW custprofile.text_insights AS
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
