#!/usr/bin/env bash
# Exact search against pgvector's HNSW index at N synthetic stored profiles (default 100,000):
# recall@10 and latency of both in one run (bench/vector_search.sql says how the vectors are
# made). Builds pgvector from ../shared/vendor when needed (scripts/vendor.sh).
#   bash bench/vector_search.sh [N [QUERIES [VECTORS]]]   (100 query customers unless QUERIES;
#   VECTORS hierarchical (the default) or uniform, see there; KEEP=1 leaves the scratch database;
#   M and EF_CONSTRUCTION build the index with that graph instead of the default one)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$REPO_ROOT"
n="${1:-100000}"
queries="${2:-100}"
vectors="${3:-hierarchical}"
[[ "$vectors" == hierarchical || "$vectors" == uniform ]] || die "VECTORS is hierarchical or uniform, not $vectors"
bash scripts/vendor.sh pgvector
[[ -f "$("$(pg_config_path)" --sharedir)/extension/vector.control" ]] || die "pgvector is not installed and ../shared/vendor has no pgvector-0.8.6.tar.gz"
ready_cluster
cluster_psql -d postgres -q -c "DROP DATABASE IF EXISTS custprofile_vector_scale" -c "CREATE DATABASE custprofile_vector_scale"
cluster_psql -d custprofile_vector_scale -q -c "CREATE EXTENSION custprofile" -c "CREATE EXTENSION vector"
cluster_psql -d custprofile_vector_scale -v n="$n" -v queries="$queries" -v vectors="$vectors" ${M:+-v m="$M"} ${EF_CONSTRUCTION:+-v ef_construction="$EF_CONSTRUCTION"} -f bench/vector_search.sql
[ "${KEEP:-0}" = 1 ] || cluster_psql -d postgres -q -c "DROP DATABASE custprofile_vector_scale"
