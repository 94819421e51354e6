-- Who may use what. Every function is executable by PUBLIC (PostgreSQL's default), so analysts
-- need only USAGE on the schema to embed and score text. What could reveal customer data is not
-- granted: the stored profiles and their views, and writing the source registry, are for the
-- roles an administrator grants them to (see the README's Privileges section).
GRANT USAGE ON SCHEMA custprofile TO PUBLIC;
GRANT SELECT ON custprofile.source_registry, custprofile.sources, custprofile.models, custprofile.classifiers, custprofile.topics,
      custprofile.churn_model TO PUBLIC;
