-- Six Chinese-speaking customers of the demo shop (demo/shop.sql first), with orders and reviews
-- written in Chinese for the project (one of them mixes in English). Nothing here is random, so
-- loading this file leaves the rest of the shop as it was.
SET client_min_messages = warning;

INSERT INTO shop.customers VALUES
  (2001, '王芳', 29, 'Shanghai',  'CN', '2024-03-15', 'consumer'),
  (2002, '李伟', 41, 'Beijing',   'CN', '2023-08-02', 'consumer'),
  (2003, '张敏', 35, 'Shenzhen',  'CN', '2024-11-20', 'business'),
  (2004, '刘洋', 27, 'Hangzhou',  'CN', '2025-01-09', 'consumer'),
  (2005, '陈静', 52, 'Chengdu',   'CN', '2023-05-30', 'consumer'),
  (2006, '杨磊', 33, 'Guangzhou', 'CN', '2024-06-18', 'business');

-- (customer, product, stars, body): each customer's reviews in the order they wrote them
CREATE TEMP TABLE zh_reviews (customer_id bigint, n int, product text, stars int, body text);
INSERT INTO zh_reviews VALUES
  (2001, 1, 'headphones', 5, '降噪效果非常好，地铁上也很安静，电池能用一个星期。'),
  (2001, 2, 'charger', 5, '充电速度很快，手机和笔记本都能充，做工也很结实。'),
  (2001, 3, 'e-reader', 4, '屏幕看着很舒服，物流也快，第二天就到了，性价比很高。'),
  (2002, 1, 'kettle', 2, '用了一个月底座就开始漏水，申请退款两个星期了还没处理。'),
  (2002, 2, 'toaster', 1, '一面烤焦一面没熟，质量太差了，当天就退货了。'),
  (2002, 3, 'espresso machine', 1, '用了两周就坏了，给客服发了三封邮件都没人回复。'),
  (2003, 1, 'desk lamp', 5, '灯光很柔和，支架很稳，放在书桌上很好看。'),
  (2003, 2, 'bed linen', 4, '纯棉的，洗了很多次还是很软，质量不错。'),
  (2003, 3, 'vacuum cleaner', 1, '用了两个月吸力就不行了，退货流程太麻烦了。'),
  (2003, 4, 'office chair', 2, '第一周就坏了一个轮子，也没有安装说明书，客服态度也很差。'),
  (2004, 1, 'rain jacket', 5, '下大雨走了四个小时，衣服里面一点都没湿，帽子也能套在头盔上。'),
  (2004, 2, 'hiking boots', 5, 'Very comfortable boots. 走了二十公里脚也不疼，没有起泡。'),
  (2005, 1, 'cookbook', 1, '一半的菜谱用量都是错的，装订也散了。'),
  (2005, 2, 'travel guide', 2, '内容太旧了，推荐的好几家餐厅都已经关门了。'),
  (2005, 3, 'novel', 2, '故事又慢又老套，看到一半就看不下去了。'),
  (2006, 1, 'bluetooth speaker', 5, '这么小的音箱低音却很足，我走到哪带到哪。'),
  (2006, 2, 'smartwatch', 2, '表带一周就断了，手机应用还老是断开连接。'),
  (2006, 3, 'headphones', 1, '耳机退回去六个星期了，退款还没到账，对服务非常失望。');

INSERT INTO shop.reviews (review_id, customer_id, product, stars, body, written_at)
SELECT 3000 + row_number() OVER (ORDER BY customer_id, n), customer_id, product, stars, body,
       timestamptz '2026-11-01 12:00+00' - make_interval(days => 500 - n * 120 + (customer_id % 7)::int * 5)
  FROM zh_reviews;

-- orders: each reviewed item once, and a few more of the same categories
INSERT INTO shop.orders
SELECT 3000 + row_number() OVER (ORDER BY r.customer_id, r.n, k), r.customer_id,
       timestamptz '2026-11-01 12:00+00' - make_interval(days => 520 - r.n * 120 + k * 40 + (r.customer_id % 7)::int * 5),
       i.price, i.item_id, i.category
  FROM zh_reviews r JOIN shop.items i ON i.item_id = r.product, generate_series(0, (r.customer_id % 2)::int) k;
ANALYZE shop.customers, shop.orders, shop.reviews;
