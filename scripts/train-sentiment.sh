#!/usr/bin/env bash
# Reproduces models/all-MiniLM-L6-v2/sentiment-head.json: trains the built-in sentiment head with the extension's
# own custprofile.train_classifier, inside the private cluster, from ../shared/data.
# Then rebuild (scripts/test.sh or scripts/demo.sh) to compile the new head in, and run
# scripts/eval-sentiment.sh for the held-out figures.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

HEAD_NAME="sentiment-minilm-v1"
# The head scores each text whole, in the same encoder pass as its embedding; the training rows
# and their weights are defined in scripts/sentiment/load_data.sh. Alternatives tried are in the
# README.
OPTIONS='{"model": "mlp", "hidden": 128, "epochs": 4, "l2": 0.001, "batch_size": 64, "seed": 42, "average_weights": true, "pooling": "attention", "encoder_layers": 4, "heads": 4}'

ready_cluster
bash scripts/sentiment/load_data.sh
log "training $HEAD_NAME (encodes 88,888 texts: several minutes)"
cluster_psql -q <<SQL
\timing on
SELECT jsonb_pretty(custprofile.train_classifier('$HEAD_NAME', \$\$
    SELECT text, label, weight FROM sentiment_data.training_rows
\$\$, '$OPTIONS') - 'per_class');
SQL
cluster_psql -Atc "SELECT head FROM custprofile.classifiers WHERE name = '$HEAD_NAME'" > models/all-MiniLM-L6-v2/sentiment-head.json
log "wrote models/all-MiniLM-L6-v2/sentiment-head.json ($(wc -c < models/all-MiniLM-L6-v2/sentiment-head.json) bytes); rebuild to compile it in"
