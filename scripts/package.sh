#!/usr/bin/env bash
# Builds a Debian package of the extension for the machine's PostgreSQL: the library and SQL
# scripts from `cargo pgrx package` (every upgrade script included), with the model files and the
# ONNX Runtime library that scripts/setup.sh installed (each checked by sha256 there), so that the
# package installs everything a server needs with no network.
# Usage: scripts/package.sh   -> target/debian/postgresql-15-custprofile_VERSION_ARCH.deb (path printed)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
bash scripts/setup.sh >/dev/null
PG_CONFIG="$(pg_config_path)"
major="$("$PG_CONFIG" --version | sed -n 's/^PostgreSQL \([0-9]*\).*/\1/p')"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)"
arch="$(dpkg --print-architecture)"
share="$("$PG_CONFIG" --sharedir)"
pkglib="$("$PG_CONFIG" --pkglibdir)"
name="postgresql-$major-custprofile"

log "cargo pgrx package (release)"
cargo pgrx package --pg-config "$PG_CONFIG" >/dev/null
built="target/release/custprofile-pg$major"
[[ -f "$built$pkglib/custprofile.so" ]] || die "cargo pgrx package left no $built$pkglib/custprofile.so"

root="target/debian/root"
rm -rf "$root"
mkdir -p "$root/DEBIAN"
cp -a "$built/." "$root/"
# the models and the runtime, as scripts/setup.sh installed and checked them
for dir in "$share/extension/custprofile" "$pkglib/custprofile"; do
  [[ -d "$dir" ]] || die "missing $dir: scripts/setup.sh installs it"
  mkdir -p "$root$dir"
  cp -a "$dir/." "$root$dir/"
done
find "$root" -path "$root/DEBIAN" -prune -o -type d -exec chmod 0755 {} + -o -type f -exec chmod 0644 {} +
chmod 0755 "$root$pkglib/custprofile.so"
size_kb="$(du -sk --exclude=DEBIAN "$root" | cut -f1)"
cat >"$root/DEBIAN/control" <<CONTROL
Package: $name
Version: $version
Architecture: $arch
Maintainer: custprofile developers <custprofile@localhost>
Depends: postgresql-$major
Installed-Size: $size_kb
Section: database
Priority: optional
Homepage: https://github.com/custprofile/custprofile
Description: customer profiles from what customers write, inside PostgreSQL
 The custprofile extension for PostgreSQL $major: embeddings, sentiment, intent, topics and
 customer profiles computed in each backend with local language models (ONNX Runtime), with
 the multilingual-e5-small and all-MiniLM-L6-v2 encoders. No text leaves the server.
CONTROL
deb="target/debian/${name}_${version}_${arch}.deb"
dpkg-deb --root-owner-group -Zgzip -z1 --build "$root" "$deb" >/dev/null
log "built $deb ($(du -h "$deb" | cut -f1))"
echo "$deb"
