#!/usr/bin/env bash
# The README's first command: installs everything, starts a private PostgreSQL cluster, creates
# the extension, loads the demo reviews and shows the model at work on them. The cluster keeps
# running afterwards; the last lines say how to connect and how to stop it.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

ready_cluster
cluster_psql -q -f demo/reviews.sql
cluster_psql -q <<'SQL'
\echo
\echo '== Sentiment of each demo review (custprofile.sentiment_label, custprofile.sentiment) =='
SELECT review_id AS id, customer_id AS customer, rating,
       custprofile.sentiment_label(body) AS label,
       round(custprofile.sentiment(body)::numeric, 2) AS score,
       left(body, 60) AS review
  FROM demo_reviews ORDER BY review_id;

\echo '== The most similar pair of reviews (custprofile.embed_texts + custprofile.cosine_similarity) =='
WITH texts AS (
  SELECT array_agg(review_id ORDER BY review_id) AS ids, array_agg(body ORDER BY review_id) AS bodies
    FROM demo_reviews WHERE body IS NOT NULL),
e AS (
  SELECT t.ids[v.ord] AS review_id, t.bodies[v.ord] AS body, v.embedding
    FROM texts t, custprofile.embed_texts(t.bodies) WITH ORDINALITY AS v(embedding, ord))
SELECT a.review_id AS a, b.review_id AS b,
       round(custprofile.cosine_similarity(a.embedding, b.embedding)::numeric, 3) AS similarity,
       left(a.body, 50) AS review_a, left(b.body, 50) AS review_b
  FROM e a JOIN e b ON a.review_id < b.review_id
 ORDER BY similarity DESC LIMIT 1;

\echo '== Models in this backend (custprofile.models) =='
SELECT name, task, dimensions, installed, loaded FROM custprofile.models;
SQL
eval "$(bash scripts/cluster.sh env)"
cat <<EOF2

The cluster is still running. Connect with:
  psql -h $PGHOST -p $PGPORT -U $PGUSER $PGDATABASE        (or: scripts/cluster.sh psql)
Stop it with:
  scripts/cluster.sh stop
EOF2
