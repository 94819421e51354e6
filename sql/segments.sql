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

-- At most this many recent texts per segment feed its keywords.
CREATE FUNCTION custprofile.segment_keyword_texts() RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$ SELECT 200 $$;

CREATE FUNCTION custprofile.segment_customers(k int, options jsonb DEFAULT '{}')
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
COMMENT ON FUNCTION custprofile.segment_customers(int, jsonb) IS
    'k-means segments of the stored profiles (fixed seed); stores them in profiles.segment and custprofile.segments.';

-- A name for a segment from what describes it, in English ("price-sensitive electronics buyers,
-- mostly negative on delivery") or Chinese ("价格敏感的electronics买家，评价多为负面，主要不满物流"),
-- as `language` says (the segments view passes label_language()).
CREATE FUNCTION custprofile.segment_name(top_category text, main_need text, mean_monetary float8,
                                         mean_sentiment float8, negative_topic text, positive_topic text,
                                         language text DEFAULT 'en')
RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, custprofile, pg_temp AS $$
    SELECT CASE WHEN language = 'zh' THEN
               concat(CASE WHEN main_need IN ('price', '价格') THEN '价格敏感的'
                           WHEN mean_monetary >= 4 THEN '高消费的'
                           WHEN mean_monetary <= 2 THEN '低消费的' END,
                      CASE WHEN top_category IS NOT NULL THEN top_category || '买家' ELSE '未下单的客户' END)
               || CASE WHEN mean_sentiment IS NULL THEN '，没有评论'
                       WHEN mean_sentiment <= -0.25 THEN '，评价多为负面' || COALESCE('，主要不满' || neg, '')
                       WHEN mean_sentiment >= 0.25 THEN '，评价多为正面' || COALESCE('，尤其是' || pos, '')
                                                        || COALESCE('，但不满' || neg, '')
                       ELSE '，评价好坏参半' || COALESCE('，不满' || neg, '') END
           ELSE
               concat_ws(' ',
                   CASE WHEN main_need IN ('price', '价格') THEN 'price-sensitive'
                        WHEN mean_monetary >= 4 THEN 'high-spending'
                        WHEN mean_monetary <= 2 THEN 'low-spending' END,
                   CASE WHEN top_category IS NOT NULL THEN top_category || ' buyers' ELSE 'customers without orders' END)
               || CASE WHEN mean_sentiment IS NULL THEN ', no reviews'
                       WHEN mean_sentiment <= -0.25 THEN ', mostly negative' || COALESCE(' on ' || neg, '')
                       WHEN mean_sentiment >= 0.25 THEN ', mostly positive' || COALESCE(' about ' || pos, '')
                                                        || COALESCE(' but unhappy with ' || neg, '')
                       ELSE ', mixed feelings' || COALESCE(', unhappy with ' || neg, '') END
           END
      FROM (SELECT custprofile.topic_label(negative_topic, language) AS neg,
                   custprofile.topic_label(positive_topic, language) AS pos) t
$$;

CREATE VIEW custprofile.segments AS
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
                                s.mean_monetary, s.mean_sentiment, tt.negative, tt.positive,
                                custprofile.label_language()) AS name,
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
COMMENT ON VIEW custprofile.segments IS
    'Each segment of the last segment_customers run: size, mean sentiment and spend, top categories, topics, keywords and a name.';
