-- embed_text: 384 values of unit length; NULL in, NULL out; the empty string is embedded too.
SELECT array_length(custprofile.embed_text('hello world'), 1) AS dims;
SELECT round(sqrt(sum(x::float8 * x))::numeric, 4) AS norm FROM unnest(custprofile.embed_text('hello world')) AS x;
SELECT custprofile.embed_text(NULL) IS NULL AS null_gives_null;
SELECT array_length(custprofile.embed_text(''), 1) AS empty_dims;

-- every reference vector of an independent fp32 implementation of all-MiniLM-L6-v2: cosine at
-- least 0.98, 0.99 on average (multilingual-e5-small has its own in encoders.sql). With VNNI
-- every one is at 0.99 or more; on CPUs without it (AVX2 only) ONNX Runtime's u8 x s8 products
-- saturate in 16 bits and two of these texts fall to 0.986 (docs/settings-and-encoders.md, Encoders).
SET custprofile.encoder = 'all-MiniLM-L6-v2';
CREATE TEMP TABLE ref(line jsonb);
\copy ref FROM 'data/all-MiniLM-L6-v2.reference.jsonl' WITH (FORMAT csv, QUOTE e'\x01', DELIMITER e'\x02')
SELECT count(*) AS reference_texts,
       count(*) FILTER (WHERE cos >= 0.98) AS at_least_098, avg(cos) >= 0.99 AS mean_at_least_099
  FROM (SELECT custprofile.cosine_similarity(
                 custprofile.embed_text(line ->> 'text'),
                 ARRAY(SELECT jsonb_array_elements_text(line -> 'embedding')::real)) AS cos
          FROM ref) s;
RESET custprofile.encoder;

-- embed_texts: input order, NULL rows for NULL elements, same vectors as single calls
SELECT ord, e IS NULL AS is_null, array_length(e, 1) AS dims
  FROM custprofile.embed_texts(ARRAY['second text, longer than the first', 'first', NULL, '']) WITH ORDINALITY AS t(e, ord);
SELECT count(*) AS rows_for_empty_array FROM custprofile.embed_texts('{}'::text[]);
SELECT bool_and(abs(a - b) <= 1e-5) AS same_as_single
  FROM custprofile.embed_texts(ARRAY['The lid cracked.', 'Fast shipping, great price!', 'ok']) WITH ORDINALITY AS t(e, ord),
       LATERAL unnest(e, custprofile.embed_text((ARRAY['The lid cracked.', 'Fast shipping, great price!', 'ok'])[ord])) AS u(a, b);

-- similar texts are closer than unrelated ones
SELECT custprofile.cosine_similarity(custprofile.embed_text('The kettle broke after a week'),
                                     custprofile.embed_text('My kettle stopped working'))
     > custprofile.cosine_similarity(custprofile.embed_text('The kettle broke after a week'),
                                     custprofile.embed_text('Delivery to Berlin took three days')) AS closer;

-- cosine_similarity on plain arrays and its bad input
SELECT custprofile.cosine_similarity('{1,0}', '{1,0}') AS same, custprofile.cosine_similarity('{1,0}', '{0,1}') AS orthogonal;
SELECT custprofile.cosine_similarity('{0,0}', '{1,0}') IS NULL AS zero_vector_gives_null;
SELECT try($$SELECT custprofile.cosine_similarity('{1,2}', '{1,2,3}')$$);
SELECT try($$SELECT custprofile.cosine_similarity('{}', '{}')$$);
SELECT try($$SELECT custprofile.cosine_similarity('{1,NULL}', '{1,2}')$$);
SELECT try($$SELECT custprofile.cosine_similarity('{1,NaN}', '{1,2}')$$);
