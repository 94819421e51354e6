#!/usr/bin/env bash
# Prints the built-in intent head's figures on data that training never saw: the shop messages
# written for the evaluation (eval/intent/shop_messages.tsv: 120 messages, 30 per intent, a fifth of
# them Chinese; never trained or tuned on) and the held-out split of the training sources
# (airline tweets whose id is divisible by 5, the Amazon dev sets, every fifth Chinese shopping
# review, every fifth of the shop messages written for training in training/intent; labels from
# the sets' own fields, scripts/intent/prepare_data.py). Per class:
# precision and recall of custprofile.intent, and the confusion matrix.
#   scripts/eval-intent.sh [ENCODER] [--no-build]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
encoder_and_cluster multilingual-e5-small "$@"
bash scripts/intent/load_data.sh
cluster_psql -q <<SQL
\timing off
SET custprofile.encoder = '$encoder';
CREATE TEMP TABLE scored AS
SELECT 'shop messages' AS set, label, custprofile.intent(text) AS predicted FROM intent_data.shop_messages
UNION ALL
SELECT 'shop messages, Chinese', label, custprofile.intent(text) FROM intent_data.shop_messages WHERE text ~ '[\u4e00-\u9fff]'
UNION ALL
-- every third Chinese review of the held-out fifth keeps the run to minutes
SELECT 'held-out ' || CASE WHEN source LIKE 'amazon%' THEN 'Amazon reviews' WHEN source LIKE 'zh%' THEN 'Chinese reviews'
                            WHEN source = 'written' THEN 'written shop messages' ELSE 'airline tweets' END,
       label, custprofile.intent(text)
  FROM intent_data.heldout WHERE source NOT LIKE 'zh%' OR id % 3 = 0;
\echo 'Intent: precision and recall per class (custprofile.intent against the label)'
WITH per_class AS (
  SELECT set, c AS class,
         count(*) FILTER (WHERE predicted = c AND label = c)::numeric AS tp,
         count(*) FILTER (WHERE predicted = c) AS predicted_n,
         count(*) FILTER (WHERE label = c) AS support
    FROM scored, unnest(ARRAY['question', 'complaint', 'praise', 'other']) AS c GROUP BY set, c)
SELECT set, class, support, predicted_n AS predicted,
       round(100 * tp / nullif(predicted_n, 0), 1) AS precision_pct,
       round(100 * tp / nullif(support, 0), 1) AS recall_pct
  FROM per_class WHERE support > 0 OR predicted_n > 0 ORDER BY set, class;
\echo 'Accuracy per set'
SELECT set, count(*) AS texts, round(100.0 * avg((predicted = label)::int), 1) AS accuracy_pct
  FROM scored GROUP BY set ORDER BY set;
\echo 'Confusion matrix (rows: the label; columns: what custprofile.intent said)'
SELECT set, label,
       count(*) FILTER (WHERE predicted = 'question') AS question,
       count(*) FILTER (WHERE predicted = 'complaint') AS complaint,
       count(*) FILTER (WHERE predicted = 'praise') AS praise,
       count(*) FILTER (WHERE predicted = 'other') AS other
  FROM scored GROUP BY set, label ORDER BY set, label;
SQL
