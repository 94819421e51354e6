-- The topics profiles sort a customer's texts into (zero-shot, by similarity to
-- "This review is about <topic>: <description>."). Edit the rows to use your own; the next
-- refresh_profiles rebuilds every profile with them.
CREATE TABLE custprofile.topics (
    topic       text PRIMARY KEY CHECK (topic <> '' AND strpos(topic, ':') = 0),
    description text NOT NULL DEFAULT '',
    -- a complaint about this topic signals churn (churn_assessment's complaints factor)
    complaint   boolean NOT NULL DEFAULT false
);
INSERT INTO custprofile.topics VALUES
    ('price', 'cost, expensive, cheap, value for money', false),
    ('delivery', 'shipping, courier, parcel, arrived late', false),
    ('quality', 'broken, defective, durable, well made', false),
    ('customer service', 'support, staff, help, replies to emails', true),
    ('returns and refunds', 'return, refund, exchange, money back', true),
    ('product features', 'features, functions, design, battery, size', false);
COMMENT ON TABLE custprofile.topics IS
    'Topics of the profiles (texts.topics, texts.needs, texts.complaints); edit to use your own.';
