#!/usr/bin/env bash
# An encoder's `relatedness` (its manifest's offset and slope): the affine map that puts its
# cosines on all-MiniLM-L6-v2's scale, on which the SQL layer's thresholds and weights are set
# (suggest_replies' min_score 0.3, recommend's 0.35 and 0.6, customer_similarity's 0.7).
# Both encoders embed the same 1,200 English training texts (sentiment_data.training_rows: never
# an evaluation row); over the 24,000 pairs of texts that are neighbours in a hashed order
# (mostly unrelated reviews, tweets and sentences), the map is the least-squares line through
# the quantile pairs of the upper half (percentiles 50 to 99.9 of either encoder's cosines), where
# the thresholds sit. Prints the pair and, as a check, percentiles of both encoders' cosines
# with the mapped ones.
#   scripts/calibrate-similarity.sh [ENCODER] [--no-build]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
encoder_and_cluster multilingual-e5-small "$@"
bash scripts/sentiment/load_data.sh
cluster_psql -q <<SQL
\timing off
CREATE TEMP TABLE sample AS
SELECT row_number() OVER (ORDER BY hashtext(text), text) AS i, text
  FROM (SELECT DISTINCT text FROM sentiment_data.training_rows) t
 ORDER BY hashtext(text), text LIMIT 1200;
SET custprofile.encoder = 'all-MiniLM-L6-v2';
CREATE TEMP TABLE reference AS SELECT e.i, e.v FROM (SELECT array_agg(text ORDER BY i) AS texts FROM sample) s, custprofile.embed_texts(s.texts) WITH ORDINALITY e(v, i);
SET custprofile.encoder = '$encoder';
CREATE TEMP TABLE candidate AS SELECT e.i, e.v FROM (SELECT array_agg(text ORDER BY i) AS texts FROM sample) s, custprofile.embed_texts(s.texts) WITH ORDINALITY e(v, i);
CREATE TEMP TABLE pairs AS
SELECT custprofile.cosine_similarity(r1.v, r2.v) AS reference, custprofile.cosine_similarity(c1.v, c2.v) AS candidate
  FROM generate_series(1, 1200) a CROSS JOIN generate_series(1, 20) d
  JOIN reference r1 ON r1.i = a JOIN reference r2 ON r2.i = (a + d - 1) % 1200 + 1
  JOIN candidate c1 ON c1.i = a JOIN candidate c2 ON c2.i = (a + d - 1) % 1200 + 1;
CREATE TEMP TABLE quantiles AS
SELECT p, percentile_cont(p / 100.0) WITHIN GROUP (ORDER BY reference) AS reference,
          percentile_cont(p / 100.0) WITHIN GROUP (ORDER BY candidate) AS candidate
  FROM pairs, unnest(ARRAY(SELECT generate_series(50, 99)::float8) || ARRAY[99.5, 99.9]) p GROUP BY p;
CREATE TEMP TABLE fit AS
SELECT regr_slope(reference, candidate) AS slope, regr_intercept(reference, candidate) AS offset_ FROM quantiles;
\echo 'relatedness = offset + slope * cosine (for the manifest of $encoder):'
SELECT (SELECT count(*) FROM pairs) AS pairs, round(offset_::numeric, 3) AS "offset", round(slope::numeric, 3) AS slope FROM fit;
\echo 'the tail: percentiles of the reference cosines, the candidate cosines and the mapped ones'
SELECT p AS percentile,
       round(percentile_cont(p / 100.0) WITHIN GROUP (ORDER BY reference)::numeric, 3) AS reference,
       round(percentile_cont(p / 100.0) WITHIN GROUP (ORDER BY candidate)::numeric, 3) AS candidate,
       round(percentile_cont(p / 100.0) WITHIN GROUP (ORDER BY (SELECT offset_ FROM fit) + (SELECT slope FROM fit) * candidate)::numeric, 3) AS mapped
  FROM pairs, unnest(ARRAY[10, 50, 90, 95, 99, 99.9]) p GROUP BY p ORDER BY p;
SQL
