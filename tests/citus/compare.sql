-- The largest difference between two JSON documents (profile_agg results, stored profiles):
-- between numbers at the same path their absolute difference; Infinity when a path is on one
-- side only or a string, boolean or null differs. For tests/citus/distributed.sh.
-- (a temporary function: Citus warns that it stays on the coordinator, as it should)
SET client_min_messages = error;
CREATE FUNCTION pg_temp.max_difference(a jsonb, b jsonb) RETURNS float8 LANGUAGE sql AS $$
    WITH RECURSIVE t(side, path, value) AS (
        SELECT 'a', '', a UNION ALL SELECT 'b', '', b
        UNION ALL
        SELECT t.side, t.path || '/' || COALESCE(o.key, x.n::text), COALESCE(o.value, x.value)
          FROM t
          LEFT JOIN LATERAL jsonb_each(CASE WHEN jsonb_typeof(t.value) = 'object' THEN t.value END) o ON true
          LEFT JOIN LATERAL jsonb_array_elements(CASE WHEN jsonb_typeof(t.value) = 'array' THEN t.value END)
                    WITH ORDINALITY x(value, n) ON true
         WHERE jsonb_typeof(t.value) IN ('object', 'array') AND (o.key IS NOT NULL OR x.n IS NOT NULL)),
    leaves AS (SELECT * FROM t WHERE jsonb_typeof(value) NOT IN ('object', 'array'))
    SELECT max(CASE WHEN l.path IS NULL OR r.path IS NULL THEN 'Infinity'::float8
                    WHEN jsonb_typeof(l.value) = 'number' AND jsonb_typeof(r.value) = 'number'
                        THEN abs(l.value::text::float8 - r.value::text::float8)
                    WHEN l.value = r.value THEN 0 ELSE 'Infinity' END)
      FROM (SELECT * FROM leaves WHERE side = 'a') l FULL JOIN (SELECT * FROM leaves WHERE side = 'b') r ON l.path = r.path
$$;
RESET client_min_messages;
