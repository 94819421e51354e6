#!/usr/bin/env bash
# Prints the built-in sentiment head's accuracy on held-out data that training never saw:
# SST-2 dev and the Amazon multi-domain dev sets (binary: the sign of custprofile.sentiment
# against the label) and the held-out fifth of the airline tweets (three-class macro-F1 of the
# label), and the held-out fifth of VADER's human-rated sentences (three classes, with the
# confusion matrix). Score and label come from custprofile.sentiment_detail, the same head as sentiment(). It goes through the installed extension's SQL functions.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
# usage: scripts/eval-sentiment.sh [ENCODER] [--no-build]; the held-out fifth of the Chinese
# reviews is scored too (an English encoder's figure there shows what it cannot read)
encoder_and_cluster all-MiniLM-L6-v2 "$@"
bash scripts/sentiment/load_data.sh
cluster_psql -q <<SQL
\timing off
SET custprofile.encoder = '$encoder';
CREATE TEMP TABLE scored AS
SELECT source, label, (d ->> 'score')::real AS score, d ->> 'label' AS predicted
  FROM (SELECT source, label, custprofile.sentiment_detail(text) AS d FROM sentiment_data.heldout) s;
\echo 'Binary accuracy (sign of custprofile.sentiment against the label)'
SELECT set, count(*) AS texts, round(100.0 * avg(((score > 0) = (label = 'positive'))::int), 1) AS accuracy_pct
  FROM (SELECT CASE WHEN source = 'sst2' THEN 'SST-2 dev'
                     WHEN source LIKE 'amazon%' THEN 'Amazon dev, ' || substr(source, 8)
                     ELSE 'Chinese held-out fifth, ' || substr(source, 4) END AS set, score, label
          FROM scored WHERE source = 'sst2' OR source LIKE 'amazon%' OR source LIKE 'zh%'
        UNION ALL
        SELECT 'Amazon dev, all four', score, label FROM scored WHERE source LIKE 'amazon%'
        UNION ALL
        SELECT 'Chinese held-out fifth, all three', score, label FROM scored WHERE source LIKE 'zh%') s
 GROUP BY set ORDER BY set;
-- three classes: the airline tweets, and the VADER sentences rated by people (each set and all)
CREATE TEMP VIEW three_class AS
SELECT CASE WHEN source = 'airline' THEN 'airline tweets' ELSE 'VADER, ' || substr(source, 7) END AS set, label, predicted
  FROM scored WHERE source = 'airline' OR source LIKE 'vader%'
UNION ALL
SELECT 'VADER, all four', label, predicted FROM scored WHERE source LIKE 'vader%';
\echo 'Three classes (held-out airline tweets and VADER sentences): macro-F1 of custprofile.sentiment_label'
WITH per_class AS (
  SELECT set, c AS class,
         count(*) FILTER (WHERE predicted = c AND label = c)::numeric AS tp,
         count(*) FILTER (WHERE predicted = c) AS predicted_n,
         count(*) FILTER (WHERE label = c) AS support
    FROM three_class, unnest(ARRAY['negative', 'neutral', 'positive']) AS c GROUP BY set, c)
SELECT set, class, support,
       round(100 * tp / nullif(predicted_n, 0), 1) AS precision_pct,
       round(100 * tp / nullif(support, 0), 1) AS recall_pct,
       round(100 * 2 * tp / nullif(predicted_n + support, 0), 1) AS f1_pct,
       round(100 * avg(2 * tp / nullif(predicted_n + support, 0)) OVER (PARTITION BY set), 1) AS macro_f1_pct
  FROM per_class ORDER BY set, class;
\echo 'Confusion matrix of the three-class sets (rows: the label; columns: what sentiment_label said)'
SELECT set, label,
       count(*) FILTER (WHERE predicted = 'negative') AS negative,
       count(*) FILTER (WHERE predicted = 'neutral') AS neutral,
       count(*) FILTER (WHERE predicted = 'positive') AS positive
  FROM three_class GROUP BY set, label ORDER BY set, label;
SQL
