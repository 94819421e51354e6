-- Classifier heads trained with custprofile.train_classifier. One row per name; retraining
-- replaces the row in the training transaction.
CREATE TABLE custprofile.classifiers (
    name        text PRIMARY KEY CHECK (name <> ''),
    head        jsonb NOT NULL,
    metrics     jsonb NOT NULL,
    trained_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE custprofile.classifiers IS
    'Classifier heads over the custprofile encoder, trained by custprofile.train_classifier.';
SELECT pg_catalog.pg_extension_config_dump('custprofile.classifiers', '');
