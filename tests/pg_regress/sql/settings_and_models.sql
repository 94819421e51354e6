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
