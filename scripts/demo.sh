#!/usr/bin/env bash
# The README's first command: installs everything, starts a private PostgreSQL cluster, creates
# the extension, loads the demo shop (demo/shop.sql: 36 customers, their orders and reviews;
# demo/shop_zh.sql: six customers who write in Chinese),
# shows the model at work on the reviews, registers the shop's tables, builds the stored
# profiles and prints two of them and the top of the customer_profiles view, then acts on them:
# similar customers, recommendations, segments, churn risk and reply suggestions. The cluster keeps
# running afterwards; the last lines say how to connect and how to stop it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

ready_cluster
cluster_psql -q -f demo/shop.sql
cluster_psql -q -f demo/shop_zh.sql
cluster_psql -q <<'SQL'
\pset footer off
\echo
\echo '== Sentiment of the first reviews (custprofile.sentiment_label, custprofile.sentiment) =='
SELECT review_id AS id, customer_id AS customer, stars,
       custprofile.sentiment_label(body) AS label,
       round(custprofile.sentiment(body)::numeric, 2) AS score,
       left(body, 60) AS review
  FROM shop.reviews WHERE body IS NOT NULL ORDER BY review_id LIMIT 8;

\echo '== The most similar pair of different reviews (custprofile.embed_texts + custprofile.cosine_similarity) =='
WITH texts AS (
  SELECT array_agg(body ORDER BY body) AS bodies
    FROM (SELECT DISTINCT body FROM shop.reviews WHERE body IS NOT NULL) d),
e AS (
  SELECT t.bodies[v.ord] AS body, v.embedding
    FROM texts t, custprofile.embed_texts(t.bodies) WITH ORDINALITY AS v(embedding, ord))
SELECT round(custprofile.cosine_similarity(a.embedding, b.embedding)::numeric, 3) AS similarity,
       left(a.body, 55) AS review_a, left(b.body, 55) AS review_b
  FROM e a JOIN e b ON a.body < b.body
 ORDER BY similarity DESC LIMIT 1;

\echo '== Where the shop keeps its data (custprofile.register_source, custprofile.sources) =='
SET client_min_messages = warning;
SELECT custprofile.unregister_source(kind, relation) FROM custprofile.sources \g /dev/null
SELECT custprofile.register_source('customers', 'shop.customers',
         '{"key": "customer_id", "attributes": ["age", "city", "country", "signup_date", "segment"]}') \g /dev/null
SELECT custprofile.register_source('orders', 'shop.orders',
         '{"customer": "customer_id", "time": "ordered_at", "amount": "total", "item": "product", "category": "category"}') \g /dev/null
SELECT custprofile.register_source('texts', 'shop.reviews',
         '{"customer": "customer_id", "text": "body", "time": "written_at", "rating": "stars", "item": "product"}') \g /dev/null
SELECT custprofile.register_source('items', 'shop.items',
         '{"key": "item_id", "title": "title", "description": "description", "category": "category", "price": "price"}') \g /dev/null
SELECT custprofile.register_source('answers', 'shop.help_articles',
         '{"key": "article_id", "question": "question", "answer": "answer",
          "alternate_questions": "alternate_questions"}') \g /dev/null
SELECT kind, relation, columns FROM custprofile.sources;

\echo '== Building the stored profiles (CALL custprofile.refresh_profiles()) =='
SET client_min_messages = notice;
\timing on
CALL custprofile.refresh_profiles(batch_size => 12);
\timing off

\echo '== Two profiles (custprofile.profiles; the 384-value interest vector cut to 3 values here) =='
SELECT customer_key AS customer,
       jsonb_pretty(jsonb_set(profile, '{texts,interest_vector}',
         (SELECT jsonb_agg(v) FROM jsonb_array_elements(profile #> '{texts,interest_vector}') WITH ORDINALITY e(v, i)
           WHERE i <= 3) || '["... 381 more"]')) AS profile
  FROM custprofile.profiles WHERE customer_key IN ('1007', '1014') ORDER BY customer_key;

\echo '== Customers who write in Chinese (demo/shop_zh.sql): language, sentiment and keywords of their reviews =='
SELECT customer_id AS customer, stars, custprofile.detect_language(body) AS lang,
       custprofile.sentiment_label(body) AS label, round(custprofile.sentiment(body)::numeric, 2) AS score,
       array_to_string(custprofile.keywords(body, 3), ', ') AS keywords, body AS review
  FROM shop.reviews WHERE customer_id BETWEEN 2001 AND 2006 ORDER BY review_id;

\echo '== Their aspects (custprofile.aspect_sentiment, the retail aspects named in English) =='
SELECT customer_id AS customer, key AS aspect, value ->> 'label' AS label, left(body, 30) AS review
  FROM shop.reviews,
       jsonb_each(custprofile.aspect_sentiment(body, ARRAY['price', 'delivery', 'quality', 'customer service',
                                                           'returns and refunds', 'product features']))
 WHERE customer_id IN (2002, 2003) ORDER BY review_id, key;

\echo '== What their profiles say (texts part), with churn reasons for custprofile.label_language = zh =='
SET custprofile.label_language = 'zh';
SELECT customer_key AS customer, profile #> '{texts,languages}' AS languages,
       jsonb_path_query_array(profile, '$.texts.topics[*].topic') AS topics, profile #> '{texts,needs}' AS needs,
       profile #>> '{texts,sentiment,trend,direction}' AS trend, custprofile.churn_reasons(profile -> 'churn') AS churn_reasons
  FROM custprofile.profiles WHERE customer_key::int BETWEEN 2001 AND 2006 ORDER BY customer_key;
RESET custprofile.label_language;

\echo '== The top of custprofile.customer_profiles (what a BI tool reads), by spend =='
SELECT customer_key AS customer, text_count AS texts, round(mean_sentiment::numeric, 2) AS sentiment,
       round(negative_share::numeric, 2) AS negative, round(mean_rating::numeric, 1) AS rating,
       order_count AS orders, total_spend AS spend,
       recency_score AS r, frequency_score AS f, monetary_score AS m, favourite_category
  FROM custprofile.customer_profiles ORDER BY total_spend DESC NULLS LAST LIMIT 10;

\echo '== Customers most like 1007 (custprofile.similar_customers) =='
SELECT s.customer_id, round(s.similarity::numeric, 3) AS similarity, p.favourite_category, round(p.mean_sentiment::numeric, 2) AS sentiment
  FROM custprofile.similar_customers(1007, 3) s
  JOIN custprofile.customer_profiles p ON p.customer_key = s.customer_id::text
 ORDER BY s.similarity DESC;

\echo '== What to offer customer 1023 next, and why (custprofile.recommend) =='
SELECT r.item_id, i.price, round(r.score::numeric, 3) AS score, r.reason
  FROM custprofile.recommend(1023, 5) r JOIN shop.items i USING (item_id)
 ORDER BY r.score DESC;

\echo '== Segments (custprofile.segment_customers(5), then the custprofile.segments view) =='
SELECT custprofile.segment_customers(5) \g /dev/null
SELECT segment, name, customers, mean_sentiment AS sentiment, mean_spend AS spend,
       array_to_string(top_categories, ', ') AS categories, array_to_string(keywords, ', ') AS keywords
  FROM custprofile.segments;

\echo '== The same segments named for analysts who read Chinese (SET custprofile.label_language = zh) =='
SET custprofile.label_language = 'zh';
SELECT segment, name FROM custprofile.segments;
RESET custprofile.label_language;

\echo '== The five customers at highest churn risk (custprofile.churn_risk) and why =='
SELECT p.customer_key AS customer, round(custprofile.churn_risk(p.customer_key)::numeric, 2) AS risk,
       (SELECT string_agg(format('%s %s', e.key, round(e.value::text::numeric, 2)), ', ' ORDER BY e.value::text::numeric DESC)
          FROM jsonb_each(p.profile #> '{churn,contributions}') e WHERE e.value::text::numeric > 0) AS main_factors,
       c.last_activity::date AS last_active
  FROM custprofile.profiles p JOIN custprofile.customer_profiles c USING (customer_key)
 ORDER BY 2 DESC, 1 LIMIT 5;

\echo '== Suggested replies from the help desk (custprofile.suggest_replies) =='
SELECT m.message, s.answer_id AS article, round(s.score::numeric, 2) AS score, left(s.answer, 60) AS answer
  FROM (VALUES ('I sent the headphones back a month ago and still have not got my money'),
               ('the kettle came with a crack in it'),
               ('do you sell bicycles')) m(message)
  LEFT JOIN LATERAL custprofile.suggest_replies(m.message, 1) s ON true;

\echo '== Rows the profiles leave out (custprofile.check_sources) =='
SELECT kind, relation, check_name, rows FROM custprofile.check_sources() WHERE rows <> 0;
SQL
eval "$(bash scripts/cluster.sh env)"
cat <<EOF2

The cluster is still running. Connect with:
  psql -h $PGHOST -p $PGPORT -U $PGUSER $PGDATABASE        (or: scripts/cluster.sh psql)
Stop it with:
  scripts/cluster.sh stop
EOF2
