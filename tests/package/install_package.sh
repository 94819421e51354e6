#!/usr/bin/env bash
# Builds the Debian package (scripts/package.sh), installs it with dpkg on the machine's
# PostgreSQL, checks that dpkg owns and verifies every file the server needs (library, control
# file, install and upgrade scripts, models, runtime), and runs a smoke test through SQL in a new
# database. The files the package installs are the ones `cargo pgrx install` put there, so the
# rest of the suite is unaffected. Needs root (dpkg); scripts/test.sh runs it last.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib.sh"
cd "$REPO_ROOT"
PG_CONFIG="$(pg_config_path)"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
meta_version="$(/usr/bin/python3 -c 'import json; print(json.load(open("META.json"))["version"])')"
[[ "$meta_version" == "$version" ]] || die "META.json says version $meta_version, Cargo.toml $version"

deb="$(bash scripts/package.sh | tail -1)"
name="$(dpkg-deb -f "$deb" Package)"
bash scripts/cluster.sh stop >/dev/null
log "dpkg -i $deb"
dpkg -i "$deb" >/dev/null
share="$("$PG_CONFIG" --sharedir)"
pkglib="$("$PG_CONFIG" --pkglibdir)"
owned="$(dpkg -L "$name")"
for f in "$pkglib/custprofile.so" "$share/extension/custprofile.control" "$share/extension/custprofile--$version.sql" \
         "$share/extension/custprofile--0.4.0--$version.sql" \
         "$share/extension/custprofile/models/multilingual-e5-small/model.int8.onnx" \
         "$share/extension/custprofile/models/all-MiniLM-L6-v2/model.int8.onnx" \
         "$pkglib/custprofile/libonnxruntime.so.1.31.1"; do
  grep -qxF "$f" <<<"$owned" || die "the package does not install $f"
done
# every installed file is the package's own (no md5 mismatch)
dpkg -V "$name" || die "dpkg -V $name: installed files differ from the package"

bash scripts/cluster.sh start >/dev/null
cluster_psql -d postgres -q -c "DROP DATABASE IF EXISTS custprofile_package" -c "CREATE DATABASE custprofile_package"
smoke="$(CUSTPROFILE_DB=custprofile_package bash scripts/cluster.sh psql -qtA <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION custprofile;
SELECT extversion FROM pg_extension WHERE extname = 'custprofile';
SELECT custprofile.sentiment_label('I love this kettle, it works perfectly.');
SELECT custprofile.intent('Where is my parcel?');
SELECT array_length(custprofile.embed_text('包裹什么时候到？'), 1);
SELECT custprofile.detect_language('这个水壶很好用，我很喜欢。');
SQL
)"
cluster_psql -d postgres -q -c "DROP DATABASE custprofile_package"
expected="$(printf '%s\n' "$version" positive question 384 zh)"
[[ "$smoke" == "$expected" ]] || die "smoke test of the installed package: expected $(echo $expected), got $(echo $smoke)"
log "package $name $version: installed by dpkg, $(wc -l <<<"$owned") paths owned and verified, smoke test passed"
