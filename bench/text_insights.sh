#!/usr/bin/env bash
# Reading text_insights with the scores refresh_profiles stored (custprofile.text_scores) against
# the same read scoring every text on the fly (the stored scores deleted in a transaction that is
# rolled back), and one customer's texts from the view against the query the view was before it
# read a stored copy of the texts (every source row read, then filtered), side by side: ROUNDS alternating reads of
# each, every read in a new session.
# N real reviews (the first N of ../shared/data/chinese/waimai_10k.csv) of N/10 customers, in a
# database of their own on the private cluster, with the default encoder.
#   bash bench/text_insights.sh [N [ROUNDS [COPIES]]]   (default 2000 reviews, 3 rounds, 100 copies)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
cd "$REPO_ROOT"
n="${1:-2000}"
rounds="${2:-3}"
copies="${3:-100}"
ready_cluster
eval "$(bash scripts/cluster.sh env)"
export PGHOST PGPORT PGUSER
db=custprofile_bench_insights
q() { psql -X -q -v ON_ERROR_STOP=1 -d "$db" "$@"; }
psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
q -c "SET client_min_messages = warning" -c "CREATE EXTENSION custprofile" \
  -c "CREATE TABLE raw (label int, review text)" -c "CREATE TABLE customers (id int PRIMARY KEY)" \
  -c "CREATE TABLE reviews (id int PRIMARY KEY, customer_id int, body text)"
q -c "\\copy raw FROM '$(shared_data_dir)/chinese/waimai_10k.csv' WITH (FORMAT csv, HEADER true)"
q -c "INSERT INTO customers SELECT g FROM generate_series(0, greatest($n / 10, 1) - 1) g" \
  -c "INSERT INTO reviews SELECT n, n % greatest($n / 10, 1), review FROM (SELECT review, row_number() OVER () AS n FROM raw LIMIT $n) r" \
  -c "SELECT custprofile.register_source('customers', 'customers', '{\"key\": \"id\"}')" \
  -c "SELECT custprofile.register_source('texts', 'reviews', '{\"customer\": \"customer_id\", \"text\": \"body\"}')" >/dev/null
t0=$(date +%s.%N)
q -c "SET client_min_messages = warning" -c "CALL custprofile.refresh_profiles()"
log "refresh_profiles over $n reviews: $(python3 -c "print(f'{$(date +%s.%N) - $t0:.1f}')") s; $(q -tA -c "SELECT count(*) FROM custprofile.text_scores") texts stored"
# one read: seconds for a dashboard's query (the first argument) over the view, after the
# statement in the second argument, if any, in the same transaction, which is rolled back
read() {
  local first=()
  [[ -n "${2:-}" ]] && first=(-c "$2")
  q -tA -c "SET client_min_messages = warning" -c "BEGIN" "${first[@]}" -c "
    DO \$\$ DECLARE t0 timestamptz; c bigint; BEGIN
      -- the session's first look at the models and the language detector (loading the library,
      -- hashing the heads) is not the read's: a read of one row does it before the clock starts
      SELECT count(*) INTO c FROM ($1 LIMIT 1) s;
      t0 := clock_timestamp();
      SELECT count(*) INTO c FROM ($1) s;
      RAISE WARNING '%', round(extract(epoch FROM clock_timestamp() - t0)::numeric, 4);
    END \$\$" -c "ROLLBACK" 2>&1 | sed -n 's/.*WARNING:  //p'
}
# ROUNDS alternating reads of two queries (each after its statement, if any); prints the medians
compare() {
  local title="$1" query_a="$2" statement_a="$3" query_b="$4" statement_b="$5" label_a="$6" label_b="$7" a_times=() b_times=()
  log "$title, $rounds rounds (seconds)"
  for ((r = 1; r <= rounds; r++)); do
    a="$(read "$query_a" "$statement_a")"; b="$(read "$query_b" "$statement_b")"
    a_times+=("$a"); b_times+=("$b")
    printf 'round %s: %s %s s, %s %s s\n' "$r" "$label_a" "$a" "$label_b" "$b"
  done
  python3 - "${a_times[*]}" "${b_times[*]}" "$label_a" "$label_b" <<'PY'
import statistics, sys
a = [float(x) for x in sys.argv[1].split()]; b = [float(x) for x in sys.argv[2].split()]
m1, m2 = statistics.median(a), statistics.median(b)
print(f"median: {sys.argv[3]} {m1:.4f} s, {sys.argv[4]} {m2:.4f} s; {sys.argv[4]} / {sys.argv[3]} = {m2 / m1:.1f}")
PY
}
full="SELECT sentiment_label, count(*), avg(sentiment) FROM custprofile.text_insights GROUP BY 1"
compare "text_insights read in full" "$full" "" "$full" "DELETE FROM custprofile.text_scores" "stored scores" "scored on read"
# one customer's texts among many: an archive of COPIES times the reviews (their texts, so no
# new scores) of customers without a profile; the plain view takes the filter to the copy's index
q -c "CREATE TABLE archive AS SELECT 100000 + c * greatest($n / 10, 1) + r.customer_id AS customer_id, r.body
                               FROM reviews r, generate_series(1, $copies) c" \
  -c "SELECT custprofile.register_source('texts', 'archive', '{\"customer\": \"customer_id\", \"text\": \"body\"}')" >/dev/null
t0=$(date +%s.%N)
q -c "SET client_min_messages = warning" -c "CALL custprofile.refresh_profiles()"
log "refresh_profiles with the archive: $(python3 -c "print(f'{$(date +%s.%N) - $t0:.1f}')") s; $(q -tA -c "SELECT count(*) FROM custprofile.stored_texts") texts copied"
# the baseline is the query text_insights was before it was a plain view (every source row read
# through registered_texts, then filtered; its stored scores joined by text hash)
compare "one customer's texts from text_insights" \
  "SELECT * FROM custprofile.text_insights WHERE customer_key = '7'" "" \
  "SELECT r.source, r.customer_key, r.written_at, r.rating, r.body, s.sentiment_label, s.sentiment,
          custprofile.detect_language(r.body), s.intent
     FROM custprofile_internal.registered_texts() r
     LEFT JOIN custprofile.text_scores s ON s.text_hash = sha256(convert_to(r.body, 'UTF8'))
                                        AND s.scored_by = (SELECT custprofile_internal.text_scorer())
    WHERE r.customer_key = '7'" "" "plain view" "reading every source row"
psql -X -q -d postgres -c "DROP DATABASE $db"
