#!/usr/bin/env bash
# The product-category task of the Amazon multi-domain reviews (books, dvd, electronics,
# kitchen), through the installed extension's SQL functions:
#   zero-shot: custprofile.classify over the 1,200 dev reviews with the bare words as labels;
#   trained:   custprofile.train_classifier on the 6,800 train reviews, custprofile.predict on dev.
# Prints accuracies and the training time. Needs ../shared/data (scripts/sentiment/load_data.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
[[ "${1:-}" == "--no-build" ]] || ready_cluster
bash scripts/sentiment/load_data.sh
cluster_psql -q <<'SQL'
\timing off
CREATE TEMP TABLE dev AS
SELECT id, substr(source, 8) AS category, text FROM sentiment_data.heldout WHERE source LIKE 'amazon%';
\echo 'Zero-shot: custprofile.classify(review, ARRAY[''books'', ''dvd'', ''electronics'', ''kitchen''])'
SELECT count(*) AS reviews,
       round(100.0 * avg((custprofile.classify(text, ARRAY['books', 'dvd', 'electronics', 'kitchen']) = category)::int), 1) AS accuracy_pct
  FROM dev;
\echo 'Trained: custprofile.train_classifier on the 6,800 train reviews (MLP, 256 hidden units, 30 epochs, L2 1e-3)'
SELECT r ->> 'rows' AS rows, r ->> 'validation_accuracy' AS validation_accuracy,
       r ->> 'embedding_seconds' AS embedding_seconds, r ->> 'training_seconds' AS training_seconds
  FROM (SELECT custprofile.train_classifier('amazon_category',
          $$SELECT text, substr(source, 8) FROM sentiment_data.train WHERE source LIKE 'amazon%'$$,
          '{"model": "mlp", "hidden": 256, "epochs": 30, "l2": 1e-3}') AS r) t;
SELECT count(*) AS reviews, round(100.0 * avg((custprofile.predict('amazon_category', text) = category)::int), 1) AS dev_accuracy_pct
  FROM dev;
DELETE FROM custprofile.classifiers WHERE name = 'amazon_category';
SQL
