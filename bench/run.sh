#!/usr/bin/env bash
# The benchmark, one command: installs what is missing (scripts/setup.sh, the baseline's Python
# packages by pinned version and sha256), builds and installs the extension, starts the private
# cluster and runs bench/bench.py. Options go to bench.py (--texts N, --customers N,
# --skip-refresh). Needs ../shared/data (or CUSTPROFILE_SHARED_DATA) for the review texts.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$REPO_ROOT"

ready_cluster

# the baseline: the same onnxruntime as the extension, the Python tokenizers matching the Rust
# crate's 0.22, numpy; wheels cached with the set-up's, installed under target/ only
PY_DIR="$REPO_ROOT/target/bench-python"
WHEELS=(
  "onnxruntime-1.31.1-cp311-cp311-manylinux_2_28_x86_64.whl|5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f|onnxruntime==1.31.1|manylinux_2_28_x86_64"
  "tokenizers-0.22.1-cp39-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl|e2ef6063d7a84994129732b47e7915e8710f27f99f3a3260b8a38fc7ccd083f4|tokenizers==0.22.1|manylinux_2_17_x86_64"
  "numpy-2.2.6-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl|ba10f8411898fc418a521833e014a77d3ca01c15b0c6cdcce6a0d2897e6dbbdf|numpy==2.2.6|manylinux_2_17_x86_64"
)
cache="${XDG_CACHE_HOME:-$HOME/.cache}/custprofile/wheels"
mkdir -p "$cache"
if [[ ! -f "$PY_DIR/.complete" ]]; then
  files=()
  for w in "${WHEELS[@]}"; do
    IFS='|' read -r file sha spec plat <<<"$w"
    if [[ ! -f "$cache/$file" ]]; then
      log "downloading $spec"
      /usr/bin/python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.11 \
        --platform "$plat" --implementation cp -d "$cache" "$spec"
    fi
    echo "$sha  $cache/$file" | sha256sum -c --quiet - || die "sha256 mismatch for $file"
    files+=("$cache/$file")
  done
  rm -rf "$PY_DIR"
  /usr/bin/python3 -m pip install --quiet --no-deps --break-system-packages --target "$PY_DIR" "${files[@]}"
  touch "$PY_DIR/.complete"
fi

eval "$(bash scripts/cluster.sh env)"
export PGHOST PGPORT PGUSER
model_dir="$("$(pg_config_path)" --sharedir)/extension/custprofile/models/all-MiniLM-L6-v2"
PYTHONPATH="$PY_DIR" /usr/bin/python3 bench/bench.py --data "$(shared_data_dir)" --model-dir "$model_dir" "$@"
