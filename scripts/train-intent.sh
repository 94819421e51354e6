#!/usr/bin/env bash
# Reproduces models/ENCODER/intent-head.json: trains the built-in intent head of an encoder
# (question, complaint, praise, other) with the extension's own custprofile.train_classifier,
# inside the private cluster, from ../shared/data with labels taken from the sets' own fields
# (scripts/intent/prepare_data.py says how). Then rebuild to compile the new head in, and run
# scripts/eval-intent.sh ENCODER for the held-out figures.
#   scripts/train-intent.sh [multilingual-e5-small | all-MiniLM-L6-v2] [--no-build]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

ENCODER="${1:-multilingual-e5-small}"
case "$ENCODER" in
  multilingual-e5-small) HEAD_NAME="intent-e5-v2"; ROWS="intent_data.training_rows" ;;
  # trained before the VADER sentences were added (scripts/intent/load_data.sh)
  all-MiniLM-L6-v2) HEAD_NAME="intent-minilm-v1"; ROWS="intent_data.training_rows_without_vader" ;;
  *) die "no intent head recipe for encoder $ENCODER" ;;
esac
# Mean pooling of the last layer only: the head's input is then the sentence embedding that the
# sentiment pass computes anyway, so intent costs no second encoder pass (src/heads/intent.rs).
OPTIONS='{"model": "mlp", "hidden": 128, "epochs": 40, "l2": 0.0001, "batch_size": 64, "seed": 42, "pooling": "mean", "encoder_layers": 1, "calibrate": true}'

[[ "${2:-}" == "--no-build" ]] || ready_cluster
bash scripts/intent/load_data.sh
log "training $HEAD_NAME on $ENCODER from $ROWS (encodes every training text: minutes)"
cluster_psql -q <<SQL
\timing on
SET custprofile.encoder = '$ENCODER';
SELECT jsonb_pretty(custprofile.train_classifier('$HEAD_NAME', \$\$
    SELECT text, label, weight FROM $ROWS
\$\$, '$OPTIONS') - 'per_class');
SQL
out="models/$ENCODER/intent-head.json"
cluster_psql -Atc "SELECT head FROM custprofile.classifiers WHERE name = '$HEAD_NAME'" > "$out"
log "wrote $out ($(wc -c < "$out") bytes); name it in models/$ENCODER/manifest.json (heads.intent) and rebuild to compile it in"
