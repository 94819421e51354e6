#!/usr/bin/env bash
# Several labels per text, through the installed extension, on held-out data only; precision
# and recall per label at the default thresholds (classify_multi 0.3, predict_multi 0.5):
#   1. zero-shot classify_multi on the 44 Chinese sentences written for the project
#      (scripts/aspects/zh_sentences.tsv: the aspects each mentions), the six retail aspects
#      named in English;
#   2. zero-shot classify_multi on held-out pairs (scripts/multilabel/pairs.sql: reviews alone
#      and two reviews of different categories as one text) from the Amazon multi-domain dev
#      reviews (books, dvd, electronics, kitchen) and the held-out fifth of the Chinese shopping
#      reviews (ten categories);
#   3. trained: train_classifier on a text[] label column of training pairs of the Chinese
#      shopping reviews' other four fifths, predict_multi on the held-out pairs.
# The calibration classify_multi uses was fitted on training reviews only
# (scripts/calibrate-multilabel.sh).
#   scripts/eval-multilabel.sh [ENCODER] [--no-build]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
encoder_and_cluster multilingual-e5-small "$@"
bash scripts/sentiment/load_data.sh
cluster_psql -q -v n=100 <<SQL
\timing off
SET custprofile.encoder = '$encoder';
-- (example id, expected labels, found labels) -> precision and recall per label
CREATE TEMP TABLE judged (task text, id int, label text, expected boolean, found boolean);
CREATE FUNCTION pg_temp.report(t text) RETURNS TABLE (label text, support bigint, predicted bigint, precision_pct numeric, recall_pct numeric)
LANGUAGE sql AS \$\$
    SELECT COALESCE(label, 'all (micro)'), count(*) FILTER (WHERE expected), count(*) FILTER (WHERE found),
           round(100.0 * count(*) FILTER (WHERE expected AND found) / NULLIF(count(*) FILTER (WHERE found), 0), 1),
           round(100.0 * count(*) FILTER (WHERE expected AND found) / NULLIF(count(*) FILTER (WHERE expected), 0), 1)
      FROM judged WHERE task = t GROUP BY ROLLUP (label) ORDER BY label IS NULL, label
\$\$;

CREATE TEMP TABLE sentences (id serial, text text, aspects text);
\copy sentences (text, aspects) FROM '$REPO_ROOT/scripts/aspects/zh_sentences.tsv' WITH (FORMAT text, HEADER)
INSERT INTO judged
SELECT 'aspects', s.id, a, a = ANY (ARRAY(SELECT split_part(p, ':', 1) FROM unnest(string_to_array(s.aspects, ',')) p)),
       found ? a
  FROM sentences s,
       LATERAL (SELECT custprofile.classify_multi(s.text, ARRAY['price', 'delivery', 'quality', 'customer service',
                                                               'returns and refunds', 'product features']) AS found) f,
       unnest(ARRAY['price', 'delivery', 'quality', 'customer service', 'returns and refunds', 'product features']) a;
\echo '1. classify_multi on the 44 Chinese aspect sentences (six aspects named in English), threshold 0.3'
SELECT * FROM pg_temp.report('aspects');

CREATE TEMP TABLE pool AS SELECT id, substr(source, 8) AS category, text FROM sentiment_data.heldout
 WHERE source LIKE 'amazon%' AND length(text) BETWEEN 40 AND 400;
\i scripts/multilabel/pairs.sql
INSERT INTO judged
SELECT 'amazon', e.id, a, a = ANY (e.labels),
       custprofile.classify_multi(e.text, ARRAY['books', 'dvd', 'electronics', 'kitchen']) ? a
  FROM examples e, unnest(ARRAY['books', 'dvd', 'electronics', 'kitchen']) a;
\echo '2a. classify_multi on held-out Amazon dev reviews: 100 alone, 100 pairs'
SELECT * FROM pg_temp.report('amazon');

DROP TABLE pool;
CREATE TEMP TABLE pool AS SELECT id, label AS category, text FROM sentiment_data.zh_category_heldout
 WHERE length(text) BETWEEN 10 AND 150;
\i scripts/multilabel/pairs.sql
CREATE TEMP TABLE zh_heldout AS SELECT * FROM examples;
INSERT INTO judged
SELECT 'zh', e.id, a, a = ANY (e.labels),
       custprofile.classify_multi(e.text, ARRAY['书籍', '平板', '手机', '水果', '洗发水', '热水器', '蒙牛', '衣服', '计算机', '酒店']) ? a
  FROM zh_heldout e, unnest(ARRAY['书籍', '平板', '手机', '水果', '洗发水', '热水器', '蒙牛', '衣服', '计算机', '酒店']) a;
\echo '2b. classify_multi on held-out Chinese shopping reviews: 100 alone, 100 pairs, ten categories'
SELECT * FROM pg_temp.report('zh');

DROP TABLE pool;
CREATE TEMP TABLE pool AS SELECT id, label AS category, text FROM sentiment_data.zh_category_train
 WHERE length(text) BETWEEN 10 AND 150;
\set n 1000
\i scripts/multilabel/pairs.sql
CREATE TABLE public.zh_multi_train AS SELECT text, labels FROM examples;
\echo '3. train_classifier on 1,000 training reviews alone and 1,000 training pairs (text[] labels)'
SELECT r ->> 'rows' AS rows, r -> 'per_label' -> '手机' AS validation_phone, r ->> 'embedding_seconds' AS embedding_seconds
  FROM (SELECT custprofile.train_classifier('zh_category_multi', 'SELECT text, labels FROM public.zh_multi_train') AS r) t;
DROP TABLE public.zh_multi_train;
INSERT INTO judged
SELECT 'trained', e.id, a, a = ANY (e.labels), custprofile.predict_multi('zh_category_multi', e.text) ? a
  FROM zh_heldout e, unnest(ARRAY['书籍', '平板', '手机', '水果', '洗发水', '热水器', '蒙牛', '衣服', '计算机', '酒店']) a;
\echo '3. predict_multi on the held-out pairs of 2b'
SELECT * FROM pg_temp.report('trained');
DELETE FROM custprofile.classifiers WHERE name = 'zh_category_multi';
SQL
