-- Segments: segment_customers(k) clusters the stored profiles with k-means (kmeans_segments in
-- src/api/segments.rs over src/segments: interest vectors plus scaled RFM scores, k-means++
-- with a fixed seed), stores each
-- customer's segment in custprofile.profiles.segment and each segment's keywords here; the
-- segments view describes them for people and BI tools.

-- One row per segment of the last segment_customers run.
CREATE TABLE custprofile.segmentation (
    segment      int PRIMARY KEY,
    -- normalised mean interest vector of the members with texts
    centre       real[],
    keywords     text[] NOT NULL DEFAULT '{}',
    k            int NOT NULL,
    options      jsonb NOT NULL,
    segmented_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE custprofile.segmentation IS
    'Segments of the last custprofile.segment_customers run: centre and keywords.';
-- pg_dump keeps the segments the stored profiles point to
SELECT pg_catalog.pg_extension_config_dump('custprofile.segmentation', '');

-- At most this many recent texts per segment feed its keywords.
CREATE FUNCTION custprofile_internal.segment_keyword_texts() RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$ SELECT 200 $$;

CREATE FUNCTION custprofile.segment_customers(k int, options jsonb DEFAULT '{}')
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
COMMENT ON FUNCTION custprofile.segment_customers(int, jsonb) IS
    'k-means segments of the stored profiles (fixed seed); stores them in profiles.segment and custprofile.segments.';

-- The segments view: each segment's figures, and a name for what sets it apart from the other
-- segments (segment_names in src/api/segments.rs over src/segments/naming.rs: categories bought
-- and topics written about more than the whole base, more complaints or questions, sentiment
-- or spend away from the base's), unique within the segmentation, in the label language, with
-- the evidence behind it.
CREATE VIEW custprofile.segments AS
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
