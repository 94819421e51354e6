#!/usr/bin/env bash
# Loads the intent head's training and held-out sets (scripts/intent/prepare_data.py, with the
# shop messages written for training, training/intent/shop_messages.tsv) and the
# shop messages written for its evaluation (eval/intent/shop_messages.tsv) into the schema
# intent_data of the private cluster (idempotent).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
cd "$REPO_ROOT"
out="$(server_dir intent-data)"
python3 scripts/intent/prepare_data.py "$(shared_data_dir)" "$out" "$(vader_ground_truth)"
cp eval/intent/shop_messages.tsv "$out/shop_messages.tsv"
cluster_psql -q <<SQL
DROP SCHEMA IF EXISTS intent_data CASCADE;
CREATE SCHEMA intent_data;
CREATE TABLE intent_data.train (id serial PRIMARY KEY, source text, text text, label text);
CREATE TABLE intent_data.heldout (id serial PRIMARY KEY, source text, text text, label text);
CREATE TABLE intent_data.shop_messages (id serial PRIMARY KEY, label text, text text);
\copy intent_data.train (source, text, label) FROM '$out/intent_train.csv' WITH (FORMAT csv, HEADER)
\copy intent_data.heldout (source, text, label) FROM '$out/intent_heldout.csv' WITH (FORMAT csv, HEADER)
\copy intent_data.shop_messages (label, text) FROM '$out/shop_messages.tsv' WITH (FORMAT csv, HEADER, DELIMITER E'\t')
-- each class weighs the same in total: questions are few beside complaints. Within a class the
-- written shop messages (a few hundred) weigh a fifth, the registry sets (thousands) the rest,
-- a share fixed before training. The head of all-MiniLM-L6-v2 (intent-minilm-v1) trained
-- before the VADER sentences and the written messages were added.
CREATE VIEW intent_data.training_rows AS
SELECT text, label,
       (count(*) OVER () / 4.0 * CASE WHEN source = 'written' THEN 0.2 ELSE 0.8 END
        / count(*) OVER (PARTITION BY label, source = 'written'))::real AS weight
  FROM intent_data.train;
CREATE VIEW intent_data.training_rows_without_vader AS
SELECT text, label, (count(*) OVER () / (4.0 * count(*) OVER (PARTITION BY label)))::real AS weight
  FROM intent_data.train WHERE source NOT LIKE 'vader%' AND source <> 'written';
SQL
