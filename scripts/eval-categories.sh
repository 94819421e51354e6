#!/usr/bin/env bash
# Product categories, through the installed extension's SQL functions:
#   Amazon multi-domain reviews (books, dvd, electronics, kitchen):
#     zero-shot: custprofile.classify over the 1,200 dev reviews with the bare words as labels;
#     trained:   custprofile.train_classifier on the 6,800 train reviews, custprofile.predict on dev.
#   Chinese shopping reviews (online_shopping_10_cats, ten categories; held out: every fifth row):
#     zero-shot: the ten category names as bare Chinese words;
#     trained:   train_classifier on the other four fifths.
# Prints accuracies and the training time. Needs ../shared/data (scripts/sentiment/load_data.sh).
#   scripts/eval-categories.sh [ENCODER] [--no-build]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
encoder_and_cluster all-MiniLM-L6-v2 "$@"
bash scripts/sentiment/load_data.sh
cluster_psql -q <<SQL
\timing off
SET custprofile.encoder = '$encoder';
CREATE TEMP TABLE dev AS
SELECT id, substr(source, 8) AS category, text FROM sentiment_data.heldout WHERE source LIKE 'amazon%';
\echo 'Amazon, zero-shot: custprofile.classify(review, ARRAY[''books'', ''dvd'', ''electronics'', ''kitchen''])'
SELECT count(*) AS reviews,
       round(100.0 * avg((custprofile.classify(text, ARRAY['books', 'dvd', 'electronics', 'kitchen']) = category)::int), 1) AS accuracy_pct
  FROM dev;
\echo 'Amazon, trained: custprofile.train_classifier on the 6,800 train reviews (MLP, 256 hidden units, 30 epochs, L2 1e-3)'
SELECT r ->> 'rows' AS rows, r ->> 'validation_accuracy' AS validation_accuracy,
       r ->> 'embedding_seconds' AS embedding_seconds, r ->> 'training_seconds' AS training_seconds
  FROM (SELECT custprofile.train_classifier('amazon_category',
          \$\$SELECT text, substr(source, 8) FROM sentiment_data.train WHERE source LIKE 'amazon%'\$\$,
          '{"model": "mlp", "hidden": 256, "epochs": 30, "l2": 1e-3}') AS r) t;
SELECT count(*) AS reviews, round(100.0 * avg((custprofile.predict('amazon_category', text) = category)::int), 1) AS dev_accuracy_pct
  FROM dev;
DELETE FROM custprofile.classifiers WHERE name = 'amazon_category';

\echo 'Chinese shopping reviews, zero-shot: the ten category names as bare Chinese words'
SELECT label AS category, count(*) AS reviews,
       round(100.0 * avg((custprofile.classify(text, ARRAY['书籍', '平板', '手机', '水果', '洗发水', '热水器', '蒙牛', '衣服', '计算机', '酒店']) = label)::int), 1) AS accuracy_pct
  FROM sentiment_data.zh_category_heldout GROUP BY ROLLUP (label) ORDER BY label NULLS FIRST;
\echo 'Chinese shopping reviews, trained: train_classifier on the other four fifths (MLP, 256 hidden units, 30 epochs, L2 1e-3)'
SELECT r ->> 'rows' AS rows, r ->> 'validation_accuracy' AS validation_accuracy,
       r ->> 'embedding_seconds' AS embedding_seconds, r ->> 'training_seconds' AS training_seconds
  FROM (SELECT custprofile.train_classifier('zh_shopping_category',
          \$\$SELECT text, label FROM sentiment_data.zh_category_train\$\$,
          '{"model": "mlp", "hidden": 256, "epochs": 30, "l2": 1e-3}') AS r) t;
SELECT count(*) AS reviews,
       round(100.0 * avg((custprofile.predict('zh_shopping_category', text) = label)::int), 1) AS heldout_accuracy_pct
  FROM sentiment_data.zh_category_heldout;
DELETE FROM custprofile.classifiers WHERE name = 'zh_shopping_category';
SQL
