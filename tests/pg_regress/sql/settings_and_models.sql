-- settings and their privileges. The settings exist once the library is loaded in a session
-- (by the first custprofile call, LOAD, or shared_preload_libraries).
LOAD 'custprofile';
SHOW custprofile.max_tokens;
SHOW custprofile.intra_threads;
SHOW custprofile.batch_size;
-- the prefix is reserved: a mistyped setting is an error, not a placeholder that does nothing
SELECT try($$SET custprofile.max_token = 128$$);
CREATE ROLE custprofile_analyst LOGIN;
GRANT USAGE ON SCHEMA custprofile TO custprofile_analyst;
SET ROLE custprofile_analyst;
SET custprofile.max_tokens = 128;
SHOW custprofile.max_tokens;
SELECT try($$SET custprofile.model_dir = '/tmp'$$);
SELECT try($$SET custprofile.runtime_library = '/tmp/libevil.so'$$);
SELECT try($$SET custprofile.intra_threads = 8$$);
SELECT try($$SET custprofile.max_tokens = 100000$$);
-- an analyst can use the model functions
SELECT custprofile.sentiment_label('I really enjoy this product') AS label;
RESET ROLE;
RESET custprofile.max_tokens;

-- the models view
SELECT name, task, dimensions, array_length(files, 1) AS files, installed,
       sha256[1] ~ '^[0-9a-f]{64}$' AS sha256_ok
  FROM custprofile.models ORDER BY task, name;
SELECT name, loaded FROM custprofile.models WHERE task = 'embedding';

-- a missing model directory: an ERROR naming the path and the set-up command; the backend stays usable
SET custprofile.model_dir = '/nonexistent/models';
SELECT try($$SELECT custprofile.embed_text('x')$$);
SELECT name, installed FROM custprofile.models WHERE task = 'embedding';
RESET custprofile.model_dir;
SELECT array_length(custprofile.embed_text('x'), 1) AS works_again;

-- warmup loads ahead of time
SELECT custprofile.warmup() >= 0 AS warmed;
DROP OWNED BY custprofile_analyst;
DROP ROLE custprofile_analyst;

-- model_version() names every model by content, so that a file changed under the same name
-- makes the stored profiles stale (their fingerprint includes it): the built-in heads as their
-- name and the start of their file's sha256 (the models view lists the whole), the manifest
-- as the start of the sha256 of manifest.json as installed
SELECT m.task, custprofile.model_version() ->> (m.task || '_identity') = m.name || '@' || left(m.sha256[1], 16) AS head_by_content
  FROM custprofile.models m WHERE m.task IN ('sentiment', 'intent') AND m.active ORDER BY m.task;
SELECT custprofile.model_version() ->> 'manifest_identity'
       = 'multilingual-e5-small@' || left(encode(sha256(pg_read_binary_file(
           (SELECT setting FROM pg_config WHERE name = 'SHAREDIR') || '/extension/custprofile/models/multilingual-e5-small/manifest.json')), 'hex'), 16)
       AS manifest_by_content;

-- self-describing: every function, aggregate, procedure, table, view and view column of the
-- extension has a comment (\df+, \d+ and BI tools show them); the functions' come from the
-- code's own descriptions (sql/function_comments.sql, scripts/function_comments.py)
WITH members AS (
  SELECT d.classid, d.objid FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid
   WHERE e.extname = 'custprofile' AND d.deptype = 'e'
)
SELECT kind, name FROM (
  SELECT 'function' AS kind, p.oid::regprocedure::text AS name
    FROM members m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
   WHERE obj_description(p.oid, 'pg_proc') IS NULL
  UNION ALL
  SELECT 'relation', c.oid::regclass::text
    FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid AND c.relkind IN ('r', 'v')
   WHERE obj_description(c.oid, 'pg_class') IS NULL
  UNION ALL
  SELECT 'view column', c.oid::regclass::text || '.' || a.attname
    FROM members m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid AND c.relkind = 'v'
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
   WHERE col_description(c.oid, a.attnum) IS NULL
) undescribed ORDER BY kind, name;
SELECT count(*) > 140 AS described_functions FROM pg_proc p
 WHERE p.pronamespace IN ('custprofile'::regnamespace, 'custprofile_internal'::regnamespace)
   AND obj_description(p.oid, 'pg_proc') IS NOT NULL;
-- custprofile holds what users call (docs/reference.md lists it); the helpers live in
-- custprofile_internal, so a new helper created in custprofile shows up here
SELECT string_agg(f.proname, ' ' ORDER BY f.proname) AS custprofile_functions
  FROM (SELECT DISTINCT p.proname FROM pg_proc p WHERE p.pronamespace = 'custprofile'::regnamespace) f
 GROUP BY left(f.proname, 1) ORDER BY left(f.proname, 1);
SELECT count(DISTINCT p.proname) AS internal_functions,
       count(*) FILTER (WHERE p.prosecdef) AS security_definer
  FROM pg_proc p WHERE p.pronamespace = 'custprofile_internal'::regnamespace;
