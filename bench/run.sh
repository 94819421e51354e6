#!/usr/bin/env bash
# The benchmark, one command: installs what is missing (scripts/setup.sh, the baseline's Python
# packages by pinned version and sha256), builds and installs the extension, starts the private
# cluster and runs bench/bench.py. Options go to bench.py (--texts N, --customers N,
# --rounds N, --skip-refresh, --refresh-only for G alone, --results FILE instead of latest.json). Needs ../shared/data (or CUSTPROFILE_SHARED_DATA) for the review texts.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$REPO_ROOT"

ready_cluster

# the baseline: the same onnxruntime as the extension, the Python tokenizers matching the Rust
# crate's 0.22, numpy (pinned wheels, installed under target/ only)
install_python_packages

eval "$(bash scripts/cluster.sh env)"
export PGHOST PGPORT PGUSER
model_dir="$("$(pg_config_path)" --sharedir)/extension/custprofile/models/all-MiniLM-L6-v2"
PYTHONPATH="$PYTHON_DIR" /usr/bin/python3 bench/bench.py --data "$(shared_data_dir)" --model-dir "$model_dir" "$@"
