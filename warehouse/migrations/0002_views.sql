-- Switchboard warehouse, migration 2: views for the questions HQ asks.
--
-- An order counts as revenue once submitted and as long as it is not canceled (an order on hold
-- still counts: it was submitted). Days are UTC days. Totals are the node's own pricing of the
-- order (orders.priced = false rows have none and are counted apart).

-- Revenue per call center per day of submission.
CREATE VIEW revenue_per_call_center_day AS
SELECT o.call_center_id,
       (o.submitted_at AT TIME ZONE 'UTC')::date             AS day,
       cc.currency,
       count(*)                                              AS orders,
       count(*) FILTER (WHERE NOT o.priced)                  AS unpriced_orders,
       coalesce(sum(o.subtotal), 0)                          AS subtotal,
       coalesce(sum(o.discount), 0)                          AS discount,
       coalesce(sum(o.charges), 0)                           AS charges,
       coalesce(sum(o.total), 0)                             AS revenue,
       coalesce(sum(o.paid), 0)                              AS paid,
       coalesce(sum(o.balance), 0)                           AS balance
FROM orders o
LEFT JOIN call_centers cc USING (call_center_id)
WHERE o.submitted_at IS NOT NULL
  AND o.canceled_at IS NULL
GROUP BY o.call_center_id, (o.submitted_at AT TIME ZONE 'UTC')::date, cc.currency;

-- Every hold still blocking an order that is not canceled, with its age.
CREATE VIEW open_holds AS
SELECT h.order_id,
       o.call_center_id,
       h.hold_id,
       h.hold_code,
       h.system,
       h.reason,
       h.placed_at,
       h.placed_by,
       now() - h.placed_at AS age,
       CASE
           WHEN now() - h.placed_at < interval '1 hour' THEN 1
           WHEN now() - h.placed_at < interval '1 day'  THEN 2
           WHEN now() - h.placed_at < interval '7 days' THEN 3
           ELSE 4
       END                 AS age_rank,
       CASE
           WHEN now() - h.placed_at < interval '1 hour' THEN 'under 1 hour'
           WHEN now() - h.placed_at < interval '1 day'  THEN '1 hour to 1 day'
           WHEN now() - h.placed_at < interval '7 days' THEN '1 to 7 days'
           ELSE 'over 7 days'
       END                 AS age_bucket
FROM order_holds h
JOIN orders o USING (order_id)
WHERE h.cleared_at IS NULL
  AND o.canceled_at IS NULL;

-- Open holds counted per call center, hold code and age bucket.
CREATE VIEW open_holds_by_code_and_age AS
SELECT call_center_id,
       hold_code,
       system,
       age_rank,
       age_bucket,
       count(*)       AS holds,
       min(placed_at) AS oldest_placed_at
FROM open_holds
GROUP BY call_center_id, hold_code, system, age_rank, age_bucket;

-- Per order that is not canceled: what the authorized payments cover of its total. `covered`
-- applies the call center's payment tolerance, as the submit rule does.
CREATE VIEW payment_coverage AS
SELECT o.order_id,
       o.call_center_id,
       o.status,
       cc.currency,
       o.total,
       coalesce(p.paid, 0)                       AS paid,
       coalesce(p.payments, 0)                   AS payments,
       coalesce(p.voided_payments, 0)            AS voided_payments,
       o.total - coalesce(p.paid, 0)             AS balance,
       CASE WHEN o.total > 0 THEN round(coalesce(p.paid, 0) / o.total, 4) END AS coverage,
       o.total - coalesce(p.paid, 0) <= coalesce(cc.payment_tolerance, 0)     AS covered
FROM orders o
LEFT JOIN call_centers cc USING (call_center_id)
LEFT JOIN LATERAL (
    SELECT sum(amount) FILTER (WHERE voided_at IS NULL)   AS paid,
           count(*) FILTER (WHERE voided_at IS NULL)      AS payments,
           count(*) FILTER (WHERE voided_at IS NOT NULL)  AS voided_payments
    FROM order_payments
    WHERE order_payments.order_id = o.order_id
) p ON true
WHERE o.canceled_at IS NULL;

-- Per call center: submitted orders fully covered or not, and what is still owed.
CREATE VIEW payment_coverage_per_call_center AS
SELECT call_center_id,
       currency,
       count(*)                                  AS orders,
       count(*) FILTER (WHERE covered)           AS covered_orders,
       count(*) FILTER (WHERE NOT covered)       AS uncovered_orders,
       coalesce(sum(total), 0)                   AS total,
       coalesce(sum(paid), 0)                    AS paid,
       coalesce(sum(balance) FILTER (WHERE balance > 0), 0) AS outstanding
FROM payment_coverage
WHERE status <> 'open'
GROUP BY call_center_id, currency;

-- Per coupon of the catalog (and per coupon applied but no longer in the catalog): how many
-- orders that are not canceled carry it, what it took off, and how many uses are left.
CREATE VIEW coupon_use AS
WITH used AS (
    SELECT c.coupon_code,
           count(*)                                          AS orders,
           count(*) FILTER (WHERE o.submitted_at IS NOT NULL) AS submitted_orders,
           coalesce(sum(c.discount), 0)                      AS discount,
           min(c.applied_at)                                 AS first_applied_at,
           max(c.applied_at)                                 AS last_applied_at
    FROM order_coupons c
    JOIN orders o USING (order_id)
    WHERE c.removed_at IS NULL
      AND o.canceled_at IS NULL
    GROUP BY c.coupon_code
)
SELECT coalesce(k.coupon_code, u.coupon_code) AS coupon_code,
       k.kind,
       k.value,
       k.max_uses,
       coalesce(u.orders, 0)                  AS orders,
       coalesce(u.submitted_orders, 0)        AS submitted_orders,
       coalesce(u.discount, 0)                AS discount,
       u.first_applied_at,
       u.last_applied_at,
       CASE WHEN k.max_uses IS NOT NULL
            THEN greatest(k.max_uses - coalesce(u.orders, 0), 0) END AS uses_left
FROM coupons k
FULL JOIN used u ON u.coupon_code = k.coupon_code;

-- Orders per call center and source code (NULL: taken without a source code).
CREATE VIEW orders_per_source_code AS
SELECT o.call_center_id,
       o.source_code,
       sc.catalog_id,
       count(*)                                                                  AS orders,
       count(*) FILTER (WHERE o.submitted_at IS NOT NULL AND o.canceled_at IS NULL) AS submitted_orders,
       count(*) FILTER (WHERE o.canceled_at IS NOT NULL)                         AS canceled_orders,
       coalesce(sum(o.total) FILTER (WHERE o.submitted_at IS NOT NULL
                                       AND o.canceled_at IS NULL), 0)            AS revenue
FROM orders o
LEFT JOIN source_codes sc ON sc.source_code = o.source_code
GROUP BY o.call_center_id, o.source_code, sc.catalog_id;
