#!/usr/bin/env bash
# The judgements of issue 21 measured on a shop built for the evaluation (eval/shop/eval_shop.sql:
# 300 uuid-keyed customers whose data ends on 2018-06-30, texts of known intent) in a database of
# its own (custprofile_eval), with the demo's catalogue and help desk:
#   - churn as of the data's own time: which factors raise the risks, against the customers
#     who really stopped buying (the lapsed quarter), and the same risks as of today;
#   - complaint share and needs against the labelled intents (precision);
#   - segment names: distinct within the segmentation;
#   - reply suggestions on eval/replies/messages.tsv (67 messages over 18 articles, 23 needing no
#     answer): precision of the first suggestion, and messages without an answer that get none;
#     the same on eval/replies/tuning.tsv (66 messages written later, which chose the margin);
#     both again with the help desk registered without its alternate questions.
#   scripts/eval-judgements.sh [ENCODER] [--no-build]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
encoder_and_cluster multilingual-e5-small "$@"
db=custprofile_eval
cluster_psql -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
eval_psql() { cluster_psql -d "$db" "$@"; }
eval_psql -q -c "SET client_min_messages = warning" -c "CREATE EXTENSION custprofile"
eval_psql -q <<SQL
SET client_min_messages = warning;
\i demo/shop.sql
CREATE SCHEMA eval_shop;
CREATE TABLE eval_shop.pool (id serial PRIMARY KEY, intent text NOT NULL, text text NOT NULL);
\copy eval_shop.pool (intent, text) FROM 'eval/intent/shop_messages.tsv' WITH (FORMAT csv, HEADER, DELIMITER E'\t')
-- the demo's reviews by their tone: praise, complaints, and the neutral ones as other
INSERT INTO eval_shop.pool (intent, text)
SELECT CASE tone WHEN 'happy' THEN 'praise' WHEN 'unhappy' THEN 'complaint' ELSE 'other' END, body
  FROM review_pool WHERE tone IN ('happy', 'unhappy', 'neutral') ORDER BY body;
\i eval/shop/eval_shop.sql
CREATE TABLE eval_shop.reply_messages (id serial PRIMARY KEY, article text, message text NOT NULL);
\copy eval_shop.reply_messages (article, message) FROM 'eval/replies/messages.tsv' WITH (FORMAT csv, HEADER, DELIMITER E'\t')
SET custprofile.encoder = '$encoder';
SELECT custprofile.register_source('customers', 'eval_shop.customers', '{"key": "id"}') IS NOT NULL AS customers,
       custprofile.register_source('orders', 'eval_shop.orders', '{"customer": "customer", "time": "ordered_at", "amount": "total", "category": "category", "item": "item"}') IS NOT NULL AS orders,
       custprofile.register_source('texts', 'eval_shop.texts', '{"customer": "customer", "text": "body", "time": "written_at", "rating": "stars"}') IS NOT NULL AS texts,
       custprofile.register_source('items', 'shop.items', '{"key": "item_id", "title": "title", "description": "description", "category": "category", "price": "price"}') IS NOT NULL AS items,
       custprofile.register_source('answers', 'shop.help_articles', '{"key": "article_id", "question": "question", "answer": "answer", "alternate_questions": "alternate_questions"}') IS NOT NULL AS answers
\gset
SQL
log "building 300 profiles (refresh_profiles)"
eval_psql -q -c "SET custprofile.encoder = '$encoder'" -c "CALL custprofile.refresh_profiles()"
eval_psql -q -c "SET custprofile.encoder = '$encoder'" -c "SELECT count(*) FROM custprofile.segment_customers(5)" > /dev/null
eval_psql <<SQL
\pset footer off
SET custprofile.encoder = '$encoder';
SET client_min_messages = warning;
\echo '== Data set =='
SELECT (SELECT count(*) FROM eval_shop.customers) AS customers, (SELECT count(*) FROM eval_shop.orders) AS orders,
       (SELECT count(*) FROM eval_shop.texts) AS texts, custprofile.as_of() AS as_of;
SELECT intent_label, count(*) AS texts FROM eval_shop.texts GROUP BY 1 ORDER BY 1;

\echo '== Churn as of the data''s end (custprofile.as_of) against the lapsed customers =='
CREATE TEMP TABLE churn AS
SELECT c.lapsed, (p.profile #>> '{churn,risk}')::float8 AS risk, p.profile #> '{churn,factors}' AS f,
       custprofile.churn_risk(c.id, now()) AS risk_today
  FROM eval_shop.customers c JOIN custprofile.profiles p ON p.customer_key = c.id::text;
SELECT lapsed, count(*) AS customers, round(avg(risk)::numeric, 3) AS mean_risk,
       round(avg((f ->> 'recency')::float8)::numeric, 3) AS mean_recency_factor,
       count(*) FILTER (WHERE risk >= 0.5) AS risk_at_least_half,
       round(avg(risk_today)::numeric, 3) AS mean_risk_as_of_today
  FROM churn GROUP BY lapsed ORDER BY lapsed;
-- a risk from recency alone: recency the only factor above 0, while the customer is not lapsed
SELECT count(*) FILTER (WHERE NOT lapsed AND (f ->> 'recency')::float8 > 0) AS active_with_recency,
       count(*) FILTER (WHERE (f ->> 'recency')::float8 >= 0.5 AND lapsed)::float8
         / NULLIF(count(*) FILTER (WHERE (f ->> 'recency')::float8 >= 0.5), 0) AS recency_precision,
       count(*) FILTER (WHERE (f ->> 'recency')::float8 >= 0.5 AND lapsed)::float8
         / NULLIF(count(*) FILTER (WHERE lapsed), 0) AS recency_recall
  FROM churn;

\echo '== Intent: complaints and questions against the labels =='
CREATE TEMP TABLE read AS
SELECT t.id, t.customer, t.intent_label, i.intent
  FROM eval_shop.texts t JOIN custprofile.text_insights i
    ON i.customer_uuid = t.customer AND i.written_at = t.written_at AND i.body = t.body;
SELECT c AS intent, count(*) FILTER (WHERE intent = c) AS predicted,
       round(count(*) FILTER (WHERE intent = c AND intent_label = c)::numeric / NULLIF(count(*) FILTER (WHERE intent = c), 0), 3) AS precision,
       round(count(*) FILTER (WHERE intent = c AND intent_label = c)::numeric / NULLIF(count(*) FILTER (WHERE intent_label = c), 0), 3) AS recall
  FROM read, unnest(ARRAY['question', 'complaint', 'praise', 'other']) c GROUP BY c ORDER BY c;
-- each customer's complaint share in the profile against the share of their texts labelled complaint
SELECT round(avg(abs(p.complaint_share - l.share))::numeric, 3) AS mean_abs_error_of_complaint_share,
       round(corr(p.complaint_share, l.share)::numeric, 3) AS correlation
  FROM custprofile.customer_profiles p
  JOIN (SELECT customer, avg((intent_label = 'complaint')::int) AS share FROM eval_shop.texts GROUP BY customer) l
    ON l.customer = p.customer_uuid;
-- a need is right when the customer has a text labelled question or complaint that is about the
-- topic (each text's topics as profile_agg sorts it alone)
CREATE TEMP TABLE text_topics AS
SELECT t.id, t.customer, t.intent_label, x ->> 'topic' AS topic
  FROM (SELECT t.id, custprofile.profile_agg(t.body) AS d FROM eval_shop.texts t GROUP BY t.id) a
  JOIN eval_shop.texts t USING (id), jsonb_array_elements(a.d -> 'topics') x;
SELECT count(*) AS needs_listed,
       round(avg((EXISTS (SELECT FROM text_topics tt WHERE tt.customer::text = n.customer_key AND tt.topic = n.need
                          AND tt.intent_label IN ('question', 'complaint')))::int)::numeric, 3) AS needs_precision,
       round(avg((EXISTS (SELECT FROM text_topics tt WHERE tt.customer::text = n.customer_key AND tt.topic = n.need
                          AND tt.intent_label = 'complaint'))::int) FILTER (WHERE n.complaint)::numeric, 3) AS complaint_topics_precision
  FROM (SELECT p.customer_key, x AS need, false AS complaint FROM custprofile.profiles p, jsonb_array_elements_text(p.profile #> '{texts,needs}') x
        UNION ALL
        SELECT p.customer_key, x, true FROM custprofile.profiles p, jsonb_array_elements_text(p.profile #> '{texts,complaints}') x) n;

\echo '== Segment names =='
SELECT segment, customers, name, complaint_share FROM custprofile.segments ORDER BY segment;
SELECT count(*) AS segments, count(DISTINCT name) AS distinct_names FROM custprofile.segments;

\echo '== Reply suggestions (eval/replies/messages.tsv; tuning.tsv chose the margin, not the figures above it) =='
SELECT custprofile.reply_thresholds() ->> 'floor' AS floor,
       (SELECT string_agg(k || ': ' || v, ', ' ORDER BY v::text::float8 DESC) FROM jsonb_each(custprofile.reply_thresholds() -> 'answers') e(k, v)) AS per_article;
CREATE TEMP TABLE reply_messages (id serial PRIMARY KEY, messages text NOT NULL, article text, message text NOT NULL);
INSERT INTO reply_messages (messages, article, message) SELECT 'evaluation', article, message FROM eval_shop.reply_messages ORDER BY id;
CREATE TEMP TABLE tuning_messages (article text, message text NOT NULL);
\copy tuning_messages (article, message) FROM 'eval/replies/tuning.tsv' WITH (FORMAT csv, HEADER, DELIMITER E'\t')
INSERT INTO reply_messages (messages, article, message) SELECT 'tuning', article, message FROM tuning_messages;
-- the first suggestion for every message, and the figures of each set
CREATE FUNCTION pg_temp.first_replies() RETURNS TABLE (id int, messages text, article text, message text, first text, score real)
LANGUAGE sql AS \$\$
    SELECT m.id, m.messages, m.article, m.message, s.answer_id, s.score
      FROM reply_messages m LEFT JOIN LATERAL custprofile.suggest_replies(m.message, 1) s ON true
\$\$;
CREATE FUNCTION pg_temp.reply_figures(replies regclass) RETURNS TABLE (messages text, need_an_answer bigint, answered bigint,
    first_suggestion_precision numeric, need_none bigint, none_given_none numeric)
LANGUAGE plpgsql AS \$\$
BEGIN
    RETURN QUERY EXECUTE format('SELECT messages, count(*) FILTER (WHERE article IS NOT NULL),
           count(*) FILTER (WHERE article IS NOT NULL AND first IS NOT NULL),
           round(count(*) FILTER (WHERE first = article)::numeric / NULLIF(count(*) FILTER (WHERE first IS NOT NULL), 0), 3),
           count(*) FILTER (WHERE article IS NULL),
           round(count(*) FILTER (WHERE article IS NULL AND first IS NULL)::numeric / NULLIF(count(*) FILTER (WHERE article IS NULL), 0), 3)
      FROM %s GROUP BY messages ORDER BY messages', replies);
END \$\$;
CREATE TEMP TABLE replies AS SELECT * FROM pg_temp.first_replies();
SELECT * FROM pg_temp.reply_figures('replies');
\echo 'Wrong or missing first suggestions (eval/replies/messages.tsv)'
SELECT article, first, round(score::numeric, 3) AS score, message FROM replies
 WHERE messages = 'evaluation' AND first IS DISTINCT FROM article ORDER BY id;
\echo 'The same help desk without its alternate questions (registered with the questions only)'
SELECT custprofile.register_source('answers', 'shop.help_articles', '{"key": "article_id", "question": "question", "answer": "answer"}') IS NOT NULL AS registered;
SELECT kind, embedded FROM custprofile.refresh_catalogues() WHERE kind = 'answers';
CREATE TEMP TABLE replies_questions_only AS SELECT * FROM pg_temp.first_replies();
SELECT * FROM pg_temp.reply_figures('replies_questions_only');
SQL
