-- The words of the labels the extension writes for people to read, in the language that
-- custprofile.label_language chooses (label_language(): 'en' or 'zh'): the names of the default
-- topics and the churn reasons here; segment names (sql/segments.sql) and recommendation reasons
-- (sql/recommendations.sql) are composed where they are made, from the same setting. Names that
-- come from the user's data (categories, their own topics, item titles) are shown as they are.

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
