-- Aggregates. Both are parallel safe and combine partial results, so parallel query and
-- partitionwise aggregation give the same result (to 1e-5) as one serial pass.

-- embedding_avg(real[]): the normalised mean of embeddings (a customer's interest vector). Its
-- state is a plain float8[] ([count, sums...]), which PostgreSQL ships between processes as is:
-- serialise/deserialise functions exist only for internal states.
CREATE AGGREGATE custprofile.embedding_avg(real[]) (
    SFUNC = custprofile.embedding_avg_accum,
    STYPE = float8[],
    COMBINEFUNC = custprofile.embedding_avg_combine,
    FINALFUNC = custprofile.embedding_avg_final,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE custprofile.embedding_avg(real[]) IS
    'Normalised mean of embeddings; NULL embeddings are skipped; NULL for no rows.';

-- profile_agg(body [, rating [, written_at]]): the text part of a customer profile. The state
-- buffers texts and scores them in batches; SSPACE tells the planner that a state is large
-- (384 float8 sums, outside PostgreSQL's memory accounting), so that grouping by millions of
-- customers sorts rather than holding every group in one hash table. The support function's
-- COST tells it the rows are expensive, so that parallel plans aggregate in the workers.
CREATE AGGREGATE custprofile.profile_agg(body text) (
    SFUNC = custprofile.profile_agg_accum,
    STYPE = internal,
    SSPACE = 4096,
    COMBINEFUNC = custprofile.profile_agg_combine,
    SERIALFUNC = custprofile.profile_agg_serialize,
    DESERIALFUNC = custprofile.profile_agg_deserialize,
    FINALFUNC = custprofile.profile_agg_final,
    FINALFUNC_MODIFY = READ_WRITE,
    PARALLEL = SAFE
);
CREATE AGGREGATE custprofile.profile_agg(body text, rating real) (
    SFUNC = custprofile.profile_agg_accum,
    STYPE = internal,
    SSPACE = 4096,
    COMBINEFUNC = custprofile.profile_agg_combine,
    SERIALFUNC = custprofile.profile_agg_serialize,
    DESERIALFUNC = custprofile.profile_agg_deserialize,
    FINALFUNC = custprofile.profile_agg_final,
    FINALFUNC_MODIFY = READ_WRITE,
    PARALLEL = SAFE
);
CREATE AGGREGATE custprofile.profile_agg(body text, rating real, written_at timestamptz) (
    SFUNC = custprofile.profile_agg_accum,
    STYPE = internal,
    SSPACE = 4096,
    COMBINEFUNC = custprofile.profile_agg_combine,
    SERIALFUNC = custprofile.profile_agg_serialize,
    DESERIALFUNC = custprofile.profile_agg_deserialize,
    FINALFUNC = custprofile.profile_agg_final,
    FINALFUNC_MODIFY = READ_WRITE,
    PARALLEL = SAFE
);
COMMENT ON AGGREGATE custprofile.profile_agg(text, real, timestamptz) IS
    'Text part of a customer profile: counts, sentiment (mean, min, max, distribution, trend), '
    'ratings against sentiment (1 to 5 scale), interest vector, first and last seen, model.';
