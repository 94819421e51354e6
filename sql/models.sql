-- Every model this installation can use: each installed encoder and its built-in sentiment
-- head, and each classifier trained in SQL, with the encoder it belongs to; `active` marks
-- those of the encoder custprofile.encoder names, `memory_bytes` what loading an encoder added
-- to this backend's resident memory.
CREATE VIEW custprofile.models AS
SELECT name, task, encoder, dimensions, languages, description, files, sha256, installed, active, loaded, memory_bytes
  FROM custprofile_internal.builtin_models()
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
COMMENT ON COLUMN custprofile.models.name IS 'The model''s name (an encoder, a built-in head or a trained classifier).';
COMMENT ON COLUMN custprofile.models.task IS 'embedding, sentiment, intent or classification.';
COMMENT ON COLUMN custprofile.models.encoder IS 'The encoder it belongs to.';
COMMENT ON COLUMN custprofile.models.dimensions IS 'Output size: vector dimensions or number of classes.';
COMMENT ON COLUMN custprofile.models.languages IS 'Languages it was made for (encoders).';
COMMENT ON COLUMN custprofile.models.description IS 'What it is and where it comes from.';
COMMENT ON COLUMN custprofile.models.files IS 'Its files (or custprofile.classifiers for trained ones).';
COMMENT ON COLUMN custprofile.models.sha256 IS 'The sha256 of each file: the model by content.';
COMMENT ON COLUMN custprofile.models.installed IS 'Whether its files are present and readable.';
COMMENT ON COLUMN custprofile.models.active IS 'Whether it belongs to the encoder custprofile.encoder names.';
COMMENT ON COLUMN custprofile.models.loaded IS 'Whether this backend has it in memory.';
COMMENT ON COLUMN custprofile.models.memory_bytes IS 'Resident memory loading the encoder added to this backend.';
