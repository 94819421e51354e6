-- Multi-label examples from single-label reviews, labelled by the data sets' own fields: from a
-- temp table pool(id, category, text), :n reviews alone (one label) and :n pairs of reviews of
-- two different categories written as one text (both labels). Deterministic: rows are taken in
-- md5 order of their ids. Leaves the temp table examples(id, text, labels text[]).
DROP TABLE IF EXISTS examples;
CREATE TEMP TABLE examples AS
WITH shuffled AS (
    SELECT id, category, text, row_number() OVER (ORDER BY md5(id::text)) AS k FROM pool),
singles AS (
    SELECT k AS id, text, ARRAY[category] AS labels FROM shuffled WHERE k <= :n),
firsts AS (
    SELECT row_number() OVER (ORDER BY k) AS m, category, text FROM shuffled WHERE k > :n),
pairs AS (
    SELECT :n + a.m AS id, a.text || ' ' || b.text AS text, ARRAY[a.category, b.category] AS labels
      FROM firsts a
      JOIN LATERAL (SELECT s.category, s.text FROM shuffled s
                     WHERE s.k > 3 * :n AND s.category <> a.category
                     ORDER BY md5(a.m::text || s.id::text) LIMIT 1) b ON true
     WHERE a.m <= :n)
SELECT * FROM singles UNION ALL SELECT * FROM pairs;
