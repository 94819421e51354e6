-- Every model this installation can use: each installed encoder and its built-in sentiment
-- head, and each classifier trained in SQL, with the encoder it belongs to; `active` marks
-- those of the encoder custprofile.encoder names, `memory_bytes` what loading an encoder added
-- to this backend's resident memory.
CREATE VIEW custprofile.models AS
SELECT name, task, encoder, dimensions, languages, description, files, sha256, installed, active, loaded, memory_bytes
  FROM custprofile.builtin_models()
UNION ALL
SELECT c.name,
       'classification',
       c.head ->> 'encoder',
       jsonb_array_length(c.head -> 'classes'),
       NULL,
       'trained by ' || c.owner || ' at ' || c.trained_at,
       ARRAY['custprofile.classifiers'],
       ARRAY[encode(sha256(convert_to(c.head::text, 'UTF8')), 'hex')],
       true,
       c.head ->> 'encoder' IS NOT DISTINCT FROM pg_catalog.current_setting('custprofile.encoder', true),
       false,
       NULL
  FROM custprofile.classifiers c;
COMMENT ON VIEW custprofile.models IS
    'Installed models: name, task, output dimensions, files with their sha256, and whether this backend has them loaded.';
