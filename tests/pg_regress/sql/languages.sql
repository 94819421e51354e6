-- Chinese and multilingual text: language detection, sentences, words, keywords, aspects

-- detect_language: ISO 639-1 codes; NULL when too short to tell (under three letters, none at all)
SELECT t AS text, custprofile.detect_language(t) AS language
  FROM unnest(ARRAY['物流很快，质量不错，就是价格有点贵。', '物流很快，品質不錯，價格有點貴。',
                    'The kettle broke after two weeks, I want my money back.',
                    'Livraison rapide, produit conforme à la description.',
                    'Sehr gute Qualität, schnelle Lieferung, gerne wieder!',
                    'Llegó a tiempo y funciona perfectamente, muy recomendable.',
                    '配送が遅かったですが、品質はとても良いです。', '배송이 빠르고 품질도 좋아요.',
                    'Доставка быстрая, качество отличное, спасибо!',
                    '好', 'ok', '👍👍👍', '！！！？？', '12345', '']) AS t;
SELECT custprofile.detect_language(NULL) IS NULL AS null_in_null_out;
-- the scores: the language, its script, the detector's confidence and its candidates, best first
SELECT custprofile.detect_language_scores('质量很好') AS chinese;
SELECT d ->> 'language' AS language, d ->> 'script' AS script, (d -> 'scores' ->> 'fr')::float8 > 0 AS french_scored,
       (SELECT array_agg(key) FROM jsonb_each(d -> 'scores')) @> ARRAY['fr'] AS listed
  FROM custprofile.detect_language_scores('Livraison rapide, produit conforme à la description.') AS d;
SELECT custprofile.detect_language_scores('🙂') AS too_short;
-- custprofile.languages narrows the choice to the languages a shop's customers write in
SELECT custprofile.detect_language('Service stinks here!') = 'en' AS english_among_all;
SET custprofile.languages = 'en, zh';
SELECT custprofile.detect_language('Service stinks here!') AS english_among_two,
       custprofile.detect_language('质量很好') AS chinese_among_two;
SELECT jsonb_object_keys(custprofile.detect_language_scores('Service stinks here!') -> 'scores') AS candidates ORDER BY 1;
SET custprofile.languages = 'en, xx';
SELECT try($$SELECT custprofile.detect_language('text')$$);
RESET custprofile.languages;

-- split_sentences: Chinese and Japanese end sentences without spaces, at 。！？；… too;
-- quotations and decimal numbers stay whole in every language
SELECT custprofile.split_sentences('物流很快。质量不错！价格3.5元，有点贵？再也不买了；差评……下次再说');
SELECT custprofile.split_sentences('客服说“明天一定发货。放心！”结果三天都没发。');
SELECT custprofile.split_sentences('He said "it broke. Again." and left. It cost 3.50 dollars, e.g. the lid.');
SELECT custprofile.split_sentences('配送が遅い。でも品質は良い！');
SELECT count(*) AS pieces FROM custprofile.split_sentences('！？。…');

-- split_words: jieba's segmentation for Chinese, spaces and punctuation elsewhere
SELECT array_agg(w) AS words FROM custprofile.split_words('物流很快，质量不错，就是价格有点贵') AS w;
SELECT array_agg(w) AS words FROM custprofile.split_words('iPhone 15的电池续航很好 👍 Don''t worry') AS w;
SELECT count(*) AS words FROM custprofile.split_words('！？。👍');

-- keywords of Chinese texts are whole words or runs of them, never a stop word alone
SELECT custprofile.keywords('快递员态度很差，包裹还破损了，客服一直不回复，退款到现在也没到账。', 3) AS keywords;
-- and 50 real Chinese shopping reviews (online_shopping_10_cats from ../shared/data, copied by
-- scripts/test.sh: five of 20 to 200 characters from each of its ten categories)
CREATE TEMP TABLE shopping (cat text, label int, review text);
\copy shopping FROM 'data/online_shopping_10_cats.half.csv' WITH (FORMAT csv, HEADER)
CREATE TEMP TABLE kw_texts (source text, n bigint, t text);
INSERT INTO kw_texts
SELECT 'written', n, t FROM unnest(ARRAY['物流很快，质量也不错！就是价格有点贵。', '耳机音质很好，电池续航一般，充电有点慢。',
                                         '酒店位置方便，早餐种类少，服务员态度热情。', '外卖送到的时候已经凉了，味道一般，分量还可以。',
                                         '买了两次了，这次的包装很好 and delivery was fast.']) WITH ORDINALITY AS x(t, n);
INSERT INTO kw_texts
SELECT 'online_shopping', n, review FROM (
  SELECT n, review, row_number() OVER (PARTITION BY cat ORDER BY n) AS k
    FROM (SELECT row_number() OVER () AS n, cat, review FROM shopping) numbered
   WHERE length(review) BETWEEN 20 AND 200 AND n % 7 = 0) picked
 WHERE k <= 5;
WITH kw AS (SELECT source, n, k FROM kw_texts, unnest(custprofile.keywords(t, 5)) AS k),
     words AS (SELECT source, n, lower(w) AS w, i FROM kw_texts, custprofile.split_words(t) WITH ORDINALITY AS x(w, i)),
     runs AS (  -- every run of one to three consecutive words of the text, joined without spaces
       SELECT w1.source, w1.n, string_agg(w2.w, '' ORDER BY w2.i) AS run
         FROM words w1, generate_series(0, 2) AS len, words w2
        WHERE w2.source = w1.source AND w2.n = w1.n AND w2.i BETWEEN w1.i AND w1.i + len
        GROUP BY w1.source, w1.n, w1.i, len)
SELECT source, count(DISTINCT n) AS texts, count(DISTINCT n) FILTER (WHERE k IS NOT NULL) AS with_keywords,
       count(k) >= 4 * count(DISTINCT n) AS most_have_several,
       count(k) FILTER (WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.source = kw.source AND r.n = kw.n
                                                                 AND r.run = replace(k, ' ', ''))) AS not_whole_words,
       count(k) FILTER (WHERE k IN ('的', '了', '是', '也', '就是', '还', '很', '有点', '已经', '这次', '我们', '我', '你',
                                    '他', '这', '那', '和', '都', '就', '在', '不', '没有', '一个', '可以', '还是')) AS stop_words
  FROM kw_texts LEFT JOIN kw USING (source, n) GROUP BY source ORDER BY source;

-- aspect_sentiment: the retail aspects know Chinese, in either language of the aspect's name;
-- clauses cut at Chinese commas name the aspects, read within their turn (up to 但是)
SELECT key AS aspect, value ->> 'label' AS label
  FROM jsonb_each(custprofile.aspect_sentiment('物流很快，第二天就到了，但是质量太差了，价格也贵。',
                                               ARRAY['delivery', 'quality', 'price', 'customer service'])) ORDER BY key;
-- (alone, the sentiment head reads "退款也很快就到账了" as negative; within its sentence, positive)
SELECT key AS aspect, value ->> 'label' AS label
  FROM jsonb_each(custprofile.aspect_sentiment('客服态度很好，退款也很快就到账了。',
                                               ARRAY['客服', '退货退款', '物流'])) ORDER BY key;
SELECT custprofile.aspect_sentiment('安装说明书完全看不懂。', ARRAY['安装: 说明书, 安装步骤']) ? '安装' AS own_chinese_aspect;

-- a profile's texts section gives the share of each language; a text too short to tell counts
-- in the total only
SELECT p -> 'languages' AS languages, p -> 'texts' AS texts
  FROM (SELECT custprofile.profile_agg(t) AS p
          FROM unnest(ARRAY['物流很快，质量不错。', '质量太差了，再也不买了', 'Great price and fast delivery.', 'ok']) AS t) x;
-- and a text about two topics counts towards both (the default topics)
SELECT jsonb_path_query_array(p, '$.topics[*].topic') AS topics
  FROM (SELECT custprofile.profile_agg('快递很慢，价格也太贵了。') AS p) x;

-- the demo shop's customers who write in Chinese (demo/shop_zh.sql): their profiles give the
-- languages they write in, their topics and needs from Chinese reviews
\set ECHO none
\i ../../demo/shop.sql
\i ../../demo/shop_zh.sql
\o /dev/null
SELECT custprofile.unregister_source(kind, relation) FROM custprofile.sources;
SELECT custprofile.register_source('customers', 'shop.customers', '{"key": "customer_id"}');
SELECT custprofile.register_source('orders', 'shop.orders',
         '{"customer": "customer_id", "time": "ordered_at", "amount": "total", "item": "product", "category": "category"}');
SELECT custprofile.register_source('texts', 'shop.reviews',
         '{"customer": "customer_id", "text": "body", "time": "written_at", "rating": "stars", "item": "product"}');
\o
\set ECHO all
SELECT c AS customer, p #> '{texts,languages}' AS languages, jsonb_path_query_array(p, '$.texts.topics[*].topic') AS topics,
       p #> '{texts,needs}' AS needs, p #>> '{texts,sentiment,trend,direction}' AS trend
  FROM unnest(ARRAY[2001, 2002, 2003, 2004]) c, LATERAL (SELECT custprofile.build_profile(c::bigint) AS p) x ORDER BY c;
SELECT count(custprofile.unregister_source(kind, relation)) AS unregistered FROM custprofile.sources;

-- labels for people in English or Chinese: custprofile.label_language takes en or zh only
SELECT custprofile.label_language();
\set VERBOSITY default
SET custprofile.label_language = 'fr';
\set VERBOSITY terse
SET custprofile.label_language = 'zh';
SELECT custprofile.label_language(), custprofile_internal.topic_label('delivery', 'zh') AS delivery,
       custprofile_internal.topic_label('gift wrapping', 'zh') AS own_topic;
SELECT custprofile.segment_names('[{"segment": 1, "customers": 5, "mean_sentiment": -0.5, "mean_monetary": 2, "texts": 10,
                                   "categories": {"electronics": 9, "books": 1}, "topics": {"物流": {"texts": 8, "sentiment": -0.6}}},
                                  {"segment": 2, "customers": 5, "mean_sentiment": 0.6, "mean_monetary": 4, "texts": 10,
                                   "categories": {"books": 9, "electronics": 1}, "topics": {"质量": {"texts": 8, "sentiment": 0.7}}}]', 'zh') AS zh;
-- churn reasons: the factors of at least 0.5 with a positive weight, strongest contribution first
CREATE TEMP TABLE churn AS SELECT '{"risk": 0.7, "factors": {"recency": 1, "sentiment_decline": 0.2, "complaints": 0.6,
   "disagreement": 0.5, "negative_share": 0.9}, "contributions": {"recency": 2.0, "sentiment_decline": 0.3,
   "complaints": 0.9, "disagreement": 0, "negative_share": 1.1}}'::jsonb AS c;
SELECT custprofile.churn_reasons(c) FROM churn;
RESET custprofile.label_language;
SELECT custprofile.churn_reasons(c), custprofile.churn_reasons(NULL) AS no_section,
       custprofile.churn_reasons('{"factors": {}, "contributions": {}}') AS none FROM churn;

-- clean_text and mask_pii on Chinese: full-width digits and punctuation become plain; mobile
-- numbers and resident ID numbers inside sentences are masked, addresses left alone
SELECT custprofile.clean_text('价格１２３元！！！质量ＯＫ？？？') AS cleaned;
SELECT custprofile.mask_pii('我的电话是13812345678，身份证号11010519491231002X，地址是北京市朝阳区建国路88号。') AS masked;
SELECT custprofile.mask_pii('联系我：+86 138 1234 5678 或 138-1234-5678，订单号20231201001。') AS masked;
SELECT custprofile.mask_pii('身份证号11010519491231002Y') AS wrong_check_digit_kept;
