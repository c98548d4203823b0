-- Switchboard warehouse, migration 3: the rows of an order or a customer below its root row keep
-- no foreign key to it.
--
-- A document's rows are only ever written by one statement per table of one transaction that
-- first deletes all of them and then inserts the document's new version (see the crate's
-- `apply_batch`), so a child row can never outlive or precede its root row; the foreign keys
-- only re-checked that, once per inserted row (an SPI lookup of the root row `FOR KEY SHARE`)
-- and once per deleted root row (the cascade), a third of the cost of writing an order's twenty
-- rows. Their deletion is now one `DELETE … WHERE order_id = ANY($1)` per table. The
-- configuration tables (call centers, the catalog: few rows, rarely written) keep theirs.
ALTER TABLE order_lines    DROP CONSTRAINT order_lines_order_id_fkey;
ALTER TABLE order_charges  DROP CONSTRAINT order_charges_order_id_fkey;
ALTER TABLE order_payments DROP CONSTRAINT order_payments_order_id_fkey;
ALTER TABLE order_holds    DROP CONSTRAINT order_holds_order_id_fkey;
ALTER TABLE order_coupons  DROP CONSTRAINT order_coupons_order_id_fkey;
ALTER TABLE order_notes    DROP CONSTRAINT order_notes_order_id_fkey;
ALTER TABLE order_history  DROP CONSTRAINT order_history_order_id_fkey;
ALTER TABLE customer_notes   DROP CONSTRAINT customer_notes_customer_id_fkey;
ALTER TABLE catalog_requests DROP CONSTRAINT catalog_requests_customer_id_fkey;
