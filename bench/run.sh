#!/usr/bin/env bash
# The benchmark, one command: installs what is missing (scripts/setup.sh, the baseline's Python
# packages by pinned version and sha256), builds and installs the extension, starts the private
# cluster and runs bench/bench.py. Options go to bench.py (--encoder NAME, --texts N, --customers N,
# --rounds N, --skip-refresh, --refresh-only for G alone, --memory-only for memory and first call with and without the preload, --results FILE instead of latest.json). Needs ../shared/data (or CUSTPROFILE_SHARED_DATA) for the review texts.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$REPO_ROOT"

ready_cluster

# the baseline: the same onnxruntime as the extension, the Python tokenizers matching the Rust
# crate's 0.22, numpy (pinned wheels, installed under target/ only)
install_python_packages

eval "$(bash scripts/cluster.sh env)"
export PGHOST PGPORT PGUSER
# --encoder NAME (default all-MiniLM-L6-v2) picks the encoder of the whole run; A runs on its
# plain graph: MiniLM's published model.onnx, or e5's dequantised fp32 graph derived here from
# the cached 4-bit file (scripts/e5_to_onnx.py, as the set-up does)
encoder=all-MiniLM-L6-v2
args=()
while (($#)); do
  if [[ "$1" == --encoder ]]; then encoder="$2"; shift 2; else args+=("$1"); shift; fi
done
model_dir="$("$(pg_config_path)" --sharedir)/extension/custprofile/models/$encoder"
plain=model.onnx
if [[ "$encoder" == multilingual-e5-small ]]; then
  plain="$REPO_ROOT/target/bench/e5.fp32.onnx"
  if [[ ! -f "$plain" ]]; then
    mkdir -p "$(dirname "$plain")"
    PYTHONPATH="$PYTHON_DIR" /usr/bin/python3 scripts/e5_to_onnx.py "$(cache_dir)/files/$E5_Q4_SHA256" "$plain"
  fi
fi
PYTHONPATH="$PYTHON_DIR" /usr/bin/python3 bench/bench.py --data "$(shared_data_dir)" --model-dir "$model_dir" \
  --encoder "$encoder" --plain-model "$plain" "${args[@]}"
