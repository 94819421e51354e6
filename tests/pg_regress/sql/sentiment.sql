-- sentiment, sentiment_label, sentiment_detail on clear cases
CREATE TEMP TABLE reviews(id int, body text);
INSERT INTO reviews VALUES
  (1, 'Absolutely love this coffee grinder, it is quiet and the grind is perfectly even.'),
  (2, 'The blender broke after two days and customer service never answered my emails.'),
  (3, 'Terrible. Waste of money.'),
  (4, 'Best purchase I made this year, highly recommended!'),
  (5, 'The package was delivered on Tuesday.');
SELECT id, custprofile.sentiment_label(body) AS label,
       custprofile.sentiment(body) BETWEEN -1 AND 1 AS in_range,
       sign(round(custprofile.sentiment(body)::numeric, 1)) AS sign
  FROM reviews WHERE id <> 5 ORDER BY id;

-- the detail document: label, score, three probabilities summing to 1, the model
SELECT d ->> 'label' AS label,
       jsonb_object_keys(d -> 'probabilities') AS class
  FROM (SELECT custprofile.sentiment_detail(body) AS d FROM reviews WHERE id = 1) s ORDER BY class;
SELECT round(((d -> 'probabilities' ->> 'negative')::numeric + (d -> 'probabilities' ->> 'neutral')::numeric
             + (d -> 'probabilities' ->> 'positive')::numeric), 2) AS total,
       abs((d ->> 'score')::numeric - ((d -> 'probabilities' ->> 'positive')::numeric - (d -> 'probabilities' ->> 'negative')::numeric)) <= 0.0002 AS score_is_difference,
       d ->> 'model' IS NOT NULL AS has_model
  FROM (SELECT custprofile.sentiment_detail(body) AS d FROM reviews WHERE id = 2) s;

-- NULL in, NULL out; empty and blank text are neutral
SELECT custprofile.sentiment(NULL) IS NULL AS null_score, custprofile.sentiment_label(NULL) IS NULL AS null_label;
SELECT custprofile.sentiment('') AS empty_score, custprofile.sentiment_label('   ') AS blank_label,
       custprofile.sentiment_detail('') AS empty_detail;

-- multilingual-e5-small reads Chinese reviews, simplified and traditional, with its own head
SET custprofile.encoder = 'multilingual-e5-small';
CREATE TEMP TABLE zh_reviews(id int, body text);
INSERT INTO zh_reviews VALUES
  (1, '房间干净，服务周到，早餐也很丰富，下次还会再来。'),
  (2, '外卖送到的时候已经凉了，而且少了一份米饭，太失望了。'),
  (3, '手机用了三天就黑屏，客服一直推脱，再也不买了。'),
  (4, '衣服质量很好，尺码标准，物流也快，五星好评！'),
  (5, '這家餐廳的菜很好吃，服務也很親切。'),
  (6, '包裝破損，商品有刮痕，非常不滿意。');
SELECT id, custprofile.sentiment_label(body) AS label, sign(round(custprofile.sentiment(body)::numeric, 1)) AS sign
  FROM zh_reviews ORDER BY id;

-- and the English clear cases the same way as MiniLM's head
SELECT id, custprofile.sentiment_label(body) AS label, sign(round(custprofile.sentiment(body)::numeric, 1)) AS sign
  FROM reviews WHERE id <> 5 ORDER BY id;
SELECT custprofile.sentiment_detail('') ->> 'model' AS e5_head;
RESET custprofile.encoder;
