-- Every model this installation can use: the built-in encoder and sentiment head, and each
-- classifier trained in SQL.
CREATE VIEW custprofile.models AS
SELECT name, task, dimensions, files, sha256, installed, loaded
  FROM custprofile.builtin_models()
UNION ALL
SELECT c.name,
       'classification',
       jsonb_array_length(c.head -> 'classes'),
       ARRAY['custprofile.classifiers'],
       ARRAY[encode(sha256(convert_to(c.head::text, 'UTF8')), 'hex')],
       true,
       false
  FROM custprofile.classifiers c;
COMMENT ON VIEW custprofile.models IS
    'Installed models: name, task, output dimensions, files with their sha256, and whether this backend has them loaded.';
