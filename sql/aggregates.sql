-- Aggregates. Their states are plain arrays, so parallel query and partitionwise aggregation
-- combine partial results without serialise/deserialise functions.

-- embedding_avg(real[]): the normalised mean of embeddings (a customer's interest vector).
CREATE AGGREGATE custprofile.embedding_avg(real[]) (
    SFUNC = custprofile.embedding_avg_accum,
    STYPE = float8[],
    COMBINEFUNC = custprofile.embedding_avg_combine,
    FINALFUNC = custprofile.embedding_avg_final,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE custprofile.embedding_avg(real[]) IS
    'Normalised mean of embeddings; NULL embeddings are skipped; NULL for no rows.';
