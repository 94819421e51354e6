#!/usr/bin/env bash
# Language detection, through the installed extension: custprofile.detect_language over the
# mixed set of short reviews of scripts/language/prepare.py (Chinese, English and seven more
# languages, 20 to 200 characters), accuracy per language and overall (a NULL counts as wrong),
# among all 69 languages and among the nine of the set (custprofile.languages),
# then its speed in SQL over 20,000 rows (the set repeated), against count(*) of the same rows.
#   scripts/eval-language.sh [--no-build]
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"
encoder_and_cluster all-MiniLM-L6-v2 "$@"
out="$(server_dir language-data)"
mkdir -p "$out"
python3 scripts/language/prepare.py "$(shared_data_dir)" "$out/language.csv"
cluster_psql -q <<SQL
\timing off
CREATE TEMP TABLE reviews (id serial, language text, text text, source text);
\copy reviews (language, text, source) FROM '$out/language.csv' WITH (FORMAT csv, HEADER)
\echo 'Accuracy of custprofile.detect_language, per language and overall'
SELECT coalesce(language, 'all') AS language, count(*) AS texts,
       round(100.0 * avg((custprofile.detect_language(text) IS NOT DISTINCT FROM language)::int), 1) AS accuracy_pct
  FROM reviews GROUP BY ROLLUP (language) ORDER BY language NULLS FIRST;
\echo 'Mistakes'
SELECT language, custprofile.detect_language(text) AS detected, left(text, 60) AS text
  FROM reviews WHERE custprofile.detect_language(text) IS DISTINCT FROM language ORDER BY language, id;
\echo 'The same with custprofile.languages naming the nine languages of the set'
SET custprofile.languages = 'zh, en, fr, de, es, it, ja, ko, ru';
SELECT coalesce(language, 'all') AS language, count(*) AS texts,
       round(100.0 * avg((custprofile.detect_language(text) IS NOT DISTINCT FROM language)::int), 1) AS accuracy_pct
  FROM reviews GROUP BY ROLLUP (language) ORDER BY language NULLS FIRST;
SELECT language, custprofile.detect_language(text) AS detected, left(text, 60) AS text
  FROM reviews WHERE custprofile.detect_language(text) IS DISTINCT FROM language ORDER BY language, id;
RESET custprofile.languages;
CREATE TEMP TABLE repeated AS SELECT r.text FROM generate_series(1, 20000) g JOIN reviews r ON r.id = 1 + g % (SELECT count(*) FROM reviews);
ANALYZE repeated;
\echo 'Speed over 20,000 rows (three rounds; texts per second of detect_language, and of count(*) alone)'
DO \$\$
DECLARE t0 timestamptz; t1 timestamptz; t2 timestamptz; n bigint; r int;
BEGIN
  FOR r IN 1..3 LOOP
    t0 := clock_timestamp();
    SELECT count(custprofile.detect_language(text)) INTO n FROM repeated;
    t1 := clock_timestamp();
    SELECT count(text) INTO n FROM repeated;
    t2 := clock_timestamp();
    RAISE NOTICE 'round %: detect_language % texts/s, count alone % rows/s', r,
      round(20000 / extract(epoch FROM t1 - t0)), round(20000 / extract(epoch FROM t2 - t1));
  END LOOP;
END \$\$;
SQL
