#!/usr/bin/env bash
# Fits an encoder's multi-label calibration (the "multi_label" of its manifest's "zero_shot",
# read by custprofile.classify_multi) on TRAINING reviews only: Amazon multi-domain train reviews
# (labels books, dvd, electronics, kitchen) and the Chinese shopping reviews' training four
# fifths (ten category names), each as 150 reviews alone and 150 pairs of reviews of two
# categories written as one text (scripts/multilabel/pairs.sql); reviews short enough that a
# pair stays within the token limit. For every (example, label of its set): the cosine of the
# text to the label's vector (as zero_shot.rs builds it from the manifest's templates; this
# encoder's zero-shot calibration offset is 0) and whether the label applies; one logistic
# regression of "applies" on how far the cosine stands above the set's mean and below its best. Prints the JSON to put into models/ENCODER/manifest.json.
# Nothing here reads the evaluation sets of scripts/eval-multilabel.sh.
#   scripts/calibrate-multilabel.sh [ENCODER] [--no-build]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
encoder_and_cluster multilingual-e5-small "$@"
bash scripts/sentiment/load_data.sh
manifest="models/$encoder/manifest.json"
templates="$(python3 -c 'import json,sys; z=json.load(open(sys.argv[1]))["zero_shot"]; print("{" + ",".join(json.dumps(t) for t in z["templates"]) + "}")' "$manifest")"
cluster_psql -q -v n=150 <<SQL
\timing off
SET custprofile.encoder = '$encoder';
-- kept in a schema of its own after the run, for a look at the fit
DROP SCHEMA IF EXISTS multilabel_fit CASCADE;
CREATE SCHEMA multilabel_fit;
CREATE TABLE multilabel_fit.features (set text, example int, label text, to_label float8, applies boolean);
CREATE TEMP TABLE label_vectors (set text, label text, v real[]);

CREATE TEMP TABLE pool AS SELECT id, substr(source, 8) AS category, text FROM sentiment_data.train
 WHERE source LIKE 'amazon%' AND length(text) BETWEEN 40 AND 400;
\i scripts/multilabel/pairs.sql
INSERT INTO label_vectors SELECT 'amazon', l, custprofile.embedding_avg(custprofile.embed_text(replace(t, '{label}', l)))
  FROM unnest(ARRAY['books', 'dvd', 'electronics', 'kitchen']) l, unnest('$templates'::text[]) t GROUP BY l;
INSERT INTO multilabel_fit.features SELECT 'amazon', e.id, v.label, custprofile.cosine_similarity(e.x, v.v), v.label = ANY (e.labels)
  FROM (SELECT id, labels, custprofile.embed_text(text) AS x FROM examples) e, label_vectors v WHERE v.set = 'amazon';

DROP TABLE pool;
CREATE TEMP TABLE pool AS SELECT id, label AS category, text FROM sentiment_data.zh_category_train
 WHERE length(text) BETWEEN 10 AND 150;
\i scripts/multilabel/pairs.sql
INSERT INTO label_vectors SELECT 'zh', l, custprofile.embedding_avg(custprofile.embed_text(replace(t, '{label}', l)))
  FROM unnest(ARRAY['书籍', '平板', '手机', '水果', '洗发水', '热水器', '蒙牛', '衣服', '计算机', '酒店']) l,
       unnest('$templates'::text[]) t GROUP BY l;
INSERT INTO multilabel_fit.features SELECT 'zh', e.id, v.label, custprofile.cosine_similarity(e.x, v.v), v.label = ANY (e.labels)
  FROM (SELECT id, labels, custprofile.embed_text(text) AS x FROM examples) e, label_vectors v WHERE v.set = 'zh';

\echo 'training pairs (example, label) per set, and how many apply'
SELECT set, count(*) AS pairs, count(*) FILTER (WHERE applies) AS applying FROM multilabel_fit.features GROUP BY set ORDER BY set;
-- how far each label stands out from the others of its set
CREATE TEMP TABLE fit AS SELECT custprofile_internal.fit_logistic(
    array_agg(x ORDER BY set, example, label, k),
    (array_agg(applies ORDER BY set, example, label) FILTER (WHERE k = 1)),
    ARRAY['over_mean', 'below_best'], '{"epochs": 300, "l2": 0}') AS r
  FROM (SELECT set, example, label, applies,
               to_label - avg(to_label) OVER (PARTITION BY set, example) AS over_mean,
               to_label - max(to_label) OVER (PARTITION BY set, example) AS below_best
          FROM multilabel_fit.features) f,
       unnest(ARRAY[over_mean, below_best]) WITH ORDINALITY AS u(x, k);
\echo 'put into the manifest as zero_shot.multi_label:'
SELECT jsonb_build_object('bias', round((r #>> '{weights,bias}')::numeric, 3),
                          'over_mean', round((r #>> '{weights,over_mean}')::numeric, 3),
                          'below_best', round((r #>> '{weights,below_best}')::numeric, 3)) AS multi_label,
       r -> 'metrics' AS metrics FROM fit;
\echo 'precision, recall and F1 on these training pairs by threshold (classify_multi defaults to the best F1)'
WITH f AS (SELECT applies, 1 / (1 + exp(-((r #>> '{weights,bias}')::float8
                 + (r #>> '{weights,over_mean}')::float8 * (to_label - avg(to_label) OVER w)
                 + (r #>> '{weights,below_best}')::float8 * (to_label - max(to_label) OVER w)))) AS p
             FROM multilabel_fit.features, fit WINDOW w AS (PARTITION BY set, example))
SELECT th AS threshold,
       round(100.0 * count(*) FILTER (WHERE p >= th AND applies) / NULLIF(count(*) FILTER (WHERE p >= th), 0), 1) AS precision_pct,
       round(100.0 * count(*) FILTER (WHERE p >= th AND applies) / count(*) FILTER (WHERE applies), 1) AS recall_pct,
       round(200.0 * count(*) FILTER (WHERE p >= th AND applies) / (count(*) FILTER (WHERE p >= th) + count(*) FILTER (WHERE applies)), 1) AS f1_pct
  FROM f, generate_series(0.1, 0.6, 0.1) th GROUP BY th ORDER BY th;
SQL
