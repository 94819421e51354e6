-- The evaluation shop of scripts/eval-judgements.sh: the demo shop grown to 300 customers (uuid
-- keys) whose data ends on 2018-06-30, with orders from 2016 on, and messages whose intent is
-- known: each text is drawn from a labelled pool (eval_shop.pool: the shop messages written for
-- the intent evaluation, eval/intent/shop_messages.tsv, and the demo's reviews labelled by their
-- tone), so every text carries the intent it was written with (texts.intent_label). Nothing here
-- is used to train or tune anything. Needs shop.items (demo/shop.sql) and eval_shop.pool.
SELECT setseed(0.2018) \gset

-- who they are: a persona says what they write, a quarter stopped buying a year before the end
CREATE TABLE eval_shop.customers (
    id        uuid PRIMARY KEY,
    name      text NOT NULL,
    persona   text NOT NULL,
    lapsed    boolean NOT NULL,
    favourite text NOT NULL
);
INSERT INTO eval_shop.customers
SELECT md5('eval-shop-' || i)::uuid, 'customer ' || i,
       (ARRAY['happy', 'unhappy', 'asker', 'mixed', 'quiet'])[1 + i % 5],
       (i * 7) % 4 = 0,
       (ARRAY['kitchen', 'electronics', 'outdoor', 'books', 'home'])[1 + (i * 3) % 5]
  FROM generate_series(1, 300) i;

-- orders at each customer's own rhythm (20 to 120 days), back from their last order: within a
-- rhythm of the end for the active ones, a year and more before it for the lapsed
CREATE TABLE eval_shop.orders (id serial PRIMARY KEY, customer uuid NOT NULL, item text, ordered_at timestamptz NOT NULL,
                               total numeric(10, 2) NOT NULL, category text NOT NULL);
CREATE TEMP TABLE rhythm AS
SELECT c.id, c.favourite, 20 + (random() * 100)::int AS days, 2 + (random() * 10)::int AS orders,
       timestamptz '2018-06-30 12:00+00' - make_interval(days => CASE WHEN c.lapsed THEN 365 + (random() * 180)::int
                                                                    ELSE (random() * 20)::int END) AS last_order
  FROM eval_shop.customers c;
INSERT INTO eval_shop.orders (customer, ordered_at, total, category)
SELECT r.id, r.last_order - make_interval(days => n * r.days + (random() * 5)::int),
       round((15 + random() * 250)::numeric, 2),
       CASE WHEN random() < 0.7 THEN r.favourite
            ELSE (ARRAY['kitchen', 'electronics', 'outdoor', 'books', 'home'])[1 + floor(random() * 5)::int] END
  FROM rhythm r, generate_series(0, r.orders - 1) n;
UPDATE eval_shop.orders o SET item = (
    SELECT i.item_id FROM shop.items i WHERE i.category = o.category ORDER BY md5(i.item_id || o.id) LIMIT 1);

-- what they write: 2 to 8 texts over their time as customers (quiet ones one or none), each of
-- an intent their persona makes likely; mixed customers praise first and complain later
CREATE TABLE eval_shop.texts (id serial PRIMARY KEY, customer uuid NOT NULL, body text, written_at timestamptz NOT NULL,
                              stars int, intent_label text NOT NULL);
CREATE TEMP TABLE planned AS
SELECT r.id AS customer, n, k, r.last_order - make_interval(days => ((k - n) * r.days * r.orders / k)::int) AS written_at,
       c.persona, random() AS draw, random() AS pick
  FROM rhythm r JOIN eval_shop.customers c USING (id),
       LATERAL (SELECT CASE WHEN c.persona = 'quiet' THEN (random() * 1.4)::int ELSE 2 + (random() * 6)::int END AS k) kk,
       generate_series(1, kk.k) n;
CREATE TEMP TABLE intents AS
SELECT p.*, CASE p.persona
           WHEN 'happy'   THEN CASE WHEN p.draw < 0.6 THEN 'praise' WHEN p.draw < 0.8 THEN 'question' ELSE 'other' END
           WHEN 'unhappy' THEN CASE WHEN p.draw < 0.6 THEN 'complaint' WHEN p.draw < 0.8 THEN 'question' ELSE 'other' END
           WHEN 'asker'   THEN CASE WHEN p.draw < 0.6 THEN 'question' WHEN p.draw < 0.8 THEN 'praise' ELSE 'other' END
           WHEN 'mixed'   THEN CASE WHEN p.n <= p.k / 2 THEN 'praise' ELSE 'complaint' END
           ELSE 'other' END AS intent
  FROM planned p;
INSERT INTO eval_shop.texts (customer, body, written_at, stars, intent_label)
SELECT i.customer, x.text, i.written_at,
       CASE i.intent WHEN 'praise' THEN 4 + (i.pick < 0.7)::int WHEN 'complaint' THEN 1 + (i.pick < 0.3)::int END,
       i.intent
  FROM intents i,
       LATERAL (SELECT q.text FROM eval_shop.pool q WHERE q.intent = i.intent
                 ORDER BY q.id OFFSET (i.pick * (SELECT count(*) FROM eval_shop.pool q2 WHERE q2.intent = i.intent))::int
                                      % (SELECT count(*) FROM eval_shop.pool q2 WHERE q2.intent = i.intent)
                 LIMIT 1) x;
ANALYZE eval_shop.customers, eval_shop.orders, eval_shop.texts;
