#!/usr/bin/env bash
# Reproduces models/ENCODER/sentiment-head.json: trains the built-in sentiment head of an encoder
# with the extension's own custprofile.train_classifier, inside the private cluster, from
# ../shared/data. Then rebuild (scripts/test.sh or scripts/demo.sh) to compile the new head in,
# and run scripts/eval-sentiment.sh ENCODER for the held-out figures.
#   scripts/train-sentiment.sh [all-MiniLM-L6-v2 | multilingual-e5-small]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

ENCODER="${1:-all-MiniLM-L6-v2}"
case "$ENCODER" in
  # English sources only (scripts/sentiment/load_data.sh)
  all-MiniLM-L6-v2) HEAD_NAME="sentiment-minilm-v1"; ROWS="sentiment_data.training_rows" ;;
  # the English sources and four fifths of the Chinese reviews
  multilingual-e5-small) HEAD_NAME="sentiment-e5-v1"; ROWS="sentiment_data.training_rows_multilingual" ;;
  *) die "no sentiment head recipe for encoder $ENCODER" ;;
esac
# The head scores each text whole, in the same encoder pass as its embedding; the training rows
# and their weights are defined in scripts/sentiment/load_data.sh. Alternatives tried are in the
# docs/models.md.
OPTIONS='{"model": "mlp", "hidden": 128, "epochs": 4, "l2": 0.001, "batch_size": 64, "seed": 42, "average_weights": true, "pooling": "attention", "encoder_layers": 4, "heads": 4}'

[[ "${2:-}" == "--no-build" ]] || ready_cluster
bash scripts/sentiment/load_data.sh
log "training $HEAD_NAME on $ENCODER from $ROWS (encodes every training text: minutes)"
cluster_psql -q <<SQL
\timing on
SET custprofile.encoder = '$ENCODER';
-- attention pooling holds every training token as bfloat16: about 5.2 million tokens (4 GB) on
-- multilingual-e5-small, whose tokenizer splits Chinese finely
SET maintenance_work_mem = '6GB';
SELECT jsonb_pretty(custprofile.train_classifier('$HEAD_NAME', \$\$
    SELECT text, label, weight FROM $ROWS
\$\$, '$OPTIONS') - 'per_class');
SQL
out="models/$ENCODER/sentiment-head.json"
cluster_psql -Atc "SELECT head FROM custprofile.classifiers WHERE name = '$HEAD_NAME'" > "$out"
log "wrote $out ($(wc -c < "$out") bytes); name it in models/$ENCODER/manifest.json (heads.sentiment) and rebuild to compile it in"
