-- Classifier heads trained with custprofile.train_classifier. One row per name; retraining
-- replaces the row in the training transaction. Each head belongs to the role that trained it:
-- any role may train (and read every head), but only the owner (a member of the owning role) or
-- a superuser replaces or deletes one. Row-level security enforces it, whatever the grants.
CREATE TABLE custprofile.classifiers (
    name        text PRIMARY KEY CHECK (name <> ''),
    head        jsonb NOT NULL,
    metrics     jsonb NOT NULL,
    trained_at  timestamptz NOT NULL DEFAULT now(),
    owner       name NOT NULL DEFAULT CURRENT_USER
);
COMMENT ON TABLE custprofile.classifiers IS
    'Classifier heads over the custprofile encoder, trained by custprofile.train_classifier.';
COMMENT ON COLUMN custprofile.classifiers.owner IS
    'The role that trained the head: only it (or its members, or a superuser) replaces or deletes it.';
SELECT pg_catalog.pg_extension_config_dump('custprofile.classifiers', '');

ALTER TABLE custprofile.classifiers ENABLE ROW LEVEL SECURITY;
CREATE POLICY read_every_head ON custprofile.classifiers FOR SELECT USING (true);
CREATE POLICY insert_own_heads ON custprofile.classifiers FOR INSERT
    WITH CHECK (owner OPERATOR(pg_catalog.=) CURRENT_USER);
CREATE POLICY replace_own_heads ON custprofile.classifiers FOR UPDATE
    USING (pg_catalog.pg_has_role(owner, 'MEMBER'))
    WITH CHECK (pg_catalog.pg_has_role(owner, 'MEMBER'));
CREATE POLICY delete_own_heads ON custprofile.classifiers FOR DELETE
    USING (pg_catalog.pg_has_role(owner, 'MEMBER'));
