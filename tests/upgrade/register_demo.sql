-- The demo shop's sources, as tests/upgrade/upgrade_from.sh registers them.
SELECT custprofile.register_source('customers', 'shop.customers', '{"key": "customer_id", "attributes": ["city", "country"]}');
SELECT custprofile.register_source('orders', 'shop.orders', '{"customer": "customer_id", "time": "ordered_at", "amount": "total", "item": "product", "category": "category"}');
SELECT custprofile.register_source('texts', 'shop.reviews', '{"customer": "customer_id", "text": "body", "time": "written_at", "rating": "stars", "item": "product"}');
