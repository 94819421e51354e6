#!/usr/bin/env bash
# Chinese aspect sentiment, through the installed extension: custprofile.aspect_sentiment over
# the 44 Chinese sentences written for the project in scripts/aspects/zh_sentences.tsv, each with
# the aspects it mentions and their polarity, the six retail aspects named in English. Prints
# the share of (aspect, polarity) pairs found with the right label, the aspects found that the
# sentence does not mention, and every miss. Nothing here trains anything.
#   scripts/eval-aspects.sh [ENCODER] [--no-build]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
encoder_and_cluster multilingual-e5-small "$@"
cluster_psql -q <<SQL
\timing off
SET custprofile.encoder = '$encoder';
CREATE TEMP TABLE sentences (id serial, text text, aspects text);
\copy sentences (text, aspects) FROM '$REPO_ROOT/scripts/aspects/zh_sentences.tsv' WITH (FORMAT text, HEADER)
CREATE TEMP TABLE gold AS
SELECT id, split_part(pair, ':', 1) AS aspect, split_part(pair, ':', 2) AS label
  FROM sentences, unnest(string_to_array(aspects, ',')) AS pair;
CREATE TEMP TABLE found AS
SELECT id, key AS aspect, value ->> 'label' AS label
  FROM sentences, jsonb_each(custprofile.aspect_sentiment(text,
         ARRAY['price', 'delivery', 'quality', 'customer service', 'returns and refunds', 'product features']));
\echo 'Chinese aspect sentiment: (aspect, polarity) pairs right, and aspects found that the sentence does not mention'
SELECT (SELECT count(*) FROM sentences) AS sentences,
       count(*) AS pairs,
       round(100.0 * avg((f.label IS NOT DISTINCT FROM g.label)::int), 1) AS pairs_right_pct,
       round(100.0 * avg((f.aspect IS NOT NULL)::int), 1) AS aspects_found_pct,
       (SELECT count(*) FROM found f2 WHERE NOT EXISTS
          (SELECT 1 FROM gold g2 WHERE g2.id = f2.id AND g2.aspect = f2.aspect)) AS spurious_aspects
  FROM gold g LEFT JOIN found f USING (id, aspect);
\echo 'Misses: wrong or missing label, and spurious aspects'
SELECT s.id, coalesce(g.aspect, f.aspect) AS aspect, g.label AS expected, f.label AS found, s.text
  FROM gold g FULL JOIN found f USING (id, aspect) JOIN sentences s USING (id)
 WHERE g.label IS DISTINCT FROM f.label ORDER BY s.id, 2;
SQL
