-- Switchboard warehouse, migration 1: the normalized schema.
--
-- Every row below comes from one Switchboard document (an order, a customer, a call center's
-- configuration or the catalog). A document's rows are replaced as a whole, in one transaction,
-- when its heads change; each table's primary key starts with the document (order_id and
-- customer_id are the document ids of orders and customers, call_center_id names the one
-- configuration document of a call center, doc_id the catalog document) followed by the item's
-- own id, so replaying a document can never duplicate a row. Money is numeric (exact, as the
-- node computes it), times are timestamptz (UTC instants), ids are uuid or the admin-chosen code.
-- There are no foreign keys between documents: an order may arrive before its call center.

-- The version of every document the warehouse holds: its automerge heads (hex change hashes).
CREATE TABLE documents (
    doc_id     uuid PRIMARY KEY,
    kind       text NOT NULL CHECK (kind IN ('order', 'customer', 'call_center', 'catalog')),
    heads      text[] NOT NULL,
    -- The node whose feed wrote this version.
    written_by uuid,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- How far each node's change feed has been applied, committed with the rows it covers.
CREATE TABLE feed_positions (
    node_id    uuid PRIMARY KEY,
    feed_epoch uuid NOT NULL,
    seq        bigint NOT NULL CHECK (seq >= 0),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- ---------------------------------------------------------------------------------------------
-- Call centers and their configuration (document kind 'call_center').

CREATE TABLE call_centers (
    call_center_id       text PRIMARY KEY,
    doc_id               uuid NOT NULL UNIQUE,
    name                 text NOT NULL,
    currency             text NOT NULL,
    order_completion     boolean NOT NULL,
    guided_sales         boolean NOT NULL,
    payment_tolerance    numeric NOT NULL,
    price_group_id       text,
    financial_dimensions jsonb NOT NULL
);

-- Users of a call center: no token, no token hash, no secret of any kind.
CREATE TABLE users (
    call_center_id text NOT NULL REFERENCES call_centers ON DELETE CASCADE,
    user_id        uuid NOT NULL,
    name           text NOT NULL,
    role           text NOT NULL CHECK (role IN ('agent', 'supervisor', 'admin')),
    PRIMARY KEY (call_center_id, user_id)
);

CREATE TABLE payment_methods (
    call_center_id    text NOT NULL REFERENCES call_centers ON DELETE CASCADE,
    payment_method_id text NOT NULL,
    kind              text NOT NULL,
    PRIMARY KEY (call_center_id, payment_method_id)
);

CREATE TABLE delivery_modes (
    call_center_id   text NOT NULL REFERENCES call_centers ON DELETE CASCADE,
    delivery_mode_id text NOT NULL,
    name             text NOT NULL,
    PRIMARY KEY (call_center_id, delivery_mode_id)
);

-- A delivery mode's automatic charge: orders whose amount after discounts is in
-- [amount_from, amount_to) pay `charge`; amount_to NULL is open-ended.
CREATE TABLE delivery_charge_tiers (
    call_center_id   text NOT NULL,
    delivery_mode_id text NOT NULL,
    tier             integer NOT NULL,
    amount_from      numeric NOT NULL,
    amount_to        numeric,
    charge           numeric NOT NULL,
    PRIMARY KEY (call_center_id, delivery_mode_id, tier),
    FOREIGN KEY (call_center_id, delivery_mode_id) REFERENCES delivery_modes ON DELETE CASCADE
);

CREATE TABLE hold_codes (
    call_center_id text NOT NULL REFERENCES call_centers ON DELETE CASCADE,
    hold_code      text NOT NULL,
    name           text NOT NULL,
    -- Roles that may clear holds with this code (admins always may).
    clear_roles    text[] NOT NULL,
    PRIMARY KEY (call_center_id, hold_code)
);

CREATE TABLE reason_codes (
    call_center_id text NOT NULL REFERENCES call_centers ON DELETE CASCADE,
    reason_code    text NOT NULL,
    name           text NOT NULL,
    PRIMARY KEY (call_center_id, reason_code)
);

-- Per role, the largest price override allowed, in percent below list price.
CREATE TABLE price_override_limits (
    call_center_id text NOT NULL REFERENCES call_centers ON DELETE CASCADE,
    role           text NOT NULL,
    max_percent    numeric NOT NULL,
    PRIMARY KEY (call_center_id, role)
);

-- ---------------------------------------------------------------------------------------------
-- The catalog (document kind 'catalog'; there is one).

CREATE TABLE catalogs (
    doc_id uuid PRIMARY KEY
);

CREATE TABLE products (
    doc_id                uuid NOT NULL REFERENCES catalogs ON DELETE CASCADE,
    product_id            text NOT NULL,
    name                  text NOT NULL,
    price                 numeric NOT NULL,
    allow_price_override  boolean NOT NULL,
    image_url             text,
    script                text,
    -- A continuity program: ships every N days, M times.
    continuity_every_days integer,
    continuity_times      integer,
    PRIMARY KEY (doc_id, product_id)
);

-- Upsell and cross-sell suggestions of a product, in the configured order.
CREATE TABLE product_suggestions (
    doc_id               uuid NOT NULL,
    product_id           text NOT NULL,
    kind                 text NOT NULL CHECK (kind IN ('upsell', 'cross_sell')),
    position             integer NOT NULL,
    suggested_product_id text NOT NULL,
    PRIMARY KEY (doc_id, product_id, kind, position),
    FOREIGN KEY (doc_id, product_id) REFERENCES products ON DELETE CASCADE
);

CREATE TABLE price_groups (
    doc_id         uuid NOT NULL REFERENCES catalogs ON DELETE CASCADE,
    price_group_id text NOT NULL,
    name           text NOT NULL,
    PRIMARY KEY (doc_id, price_group_id)
);

CREATE TABLE prices (
    doc_id         uuid NOT NULL,
    price_group_id text NOT NULL,
    product_id     text NOT NULL,
    price          numeric NOT NULL,
    PRIMARY KEY (doc_id, price_group_id, product_id),
    FOREIGN KEY (doc_id, price_group_id) REFERENCES price_groups ON DELETE CASCADE
);

CREATE TABLE source_codes (
    doc_id           uuid NOT NULL REFERENCES catalogs ON DELETE CASCADE,
    source_code      text NOT NULL,
    catalog_id       text NOT NULL,
    valid_from       timestamptz,
    valid_to         timestamptz,
    discount_percent numeric NOT NULL,
    free_shipping    boolean NOT NULL,
    script           text,
    price_group_id   text,
    PRIMARY KEY (doc_id, source_code)
);

CREATE TABLE coupons (
    doc_id      uuid NOT NULL REFERENCES catalogs ON DELETE CASCADE,
    coupon_code text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('percent', 'amount')),
    value       numeric NOT NULL,
    min_order   numeric NOT NULL,
    valid_from  timestamptz,
    valid_to    timestamptz,
    max_uses    integer,
    PRIMARY KEY (doc_id, coupon_code)
);

-- ---------------------------------------------------------------------------------------------
-- Customers (document kind 'customer'; customer_id is the document id).

-- name, phone, email and address are NULL when the warehouse is configured to leave that
-- contact field out.
CREATE TABLE customers (
    customer_id    uuid PRIMARY KEY,
    call_center_id text NOT NULL,
    name           text,
    phone          text,
    email          text,
    address        jsonb,
    created_at     timestamptz NOT NULL,
    created_by     uuid NOT NULL
);
CREATE INDEX customers_call_center ON customers (call_center_id);

CREATE TABLE customer_notes (
    customer_id uuid NOT NULL REFERENCES customers ON DELETE CASCADE,
    note_id     uuid NOT NULL,
    added_at    timestamptz NOT NULL,
    added_by    uuid NOT NULL,
    text        text NOT NULL,
    PRIMARY KEY (customer_id, note_id)
);

CREATE TABLE catalog_requests (
    customer_id  uuid NOT NULL REFERENCES customers ON DELETE CASCADE,
    request_id   uuid NOT NULL,
    source_code  text NOT NULL,
    catalog_id   text NOT NULL,
    quantity     integer NOT NULL,
    requested_at timestamptz NOT NULL,
    requested_by uuid NOT NULL,
    PRIMARY KEY (customer_id, request_id)
);

-- ---------------------------------------------------------------------------------------------
-- Orders (document kind 'order'; order_id is the document id).

CREATE TABLE orders (
    order_id             uuid PRIMARY KEY,
    call_center_id       text NOT NULL,
    customer_id          uuid NOT NULL,
    source_code          text,
    delivery_mode_id     text,
    -- NULL when the warehouse is configured to leave the ship-to address out.
    ship_to              jsonb,
    financial_dimensions jsonb NOT NULL,
    -- Derived as the node derives it: canceled, on_hold, released, submitted or open.
    status               text NOT NULL
        CHECK (status IN ('open', 'submitted', 'on_hold', 'released', 'canceled')),
    created_at           timestamptz NOT NULL,
    created_by           uuid NOT NULL,
    submitted_at         timestamptz,
    submitted_by         uuid,
    released_at          timestamptz,
    released_by          uuid,
    canceled_at          timestamptz,
    canceled_by          uuid,
    cancel_reason        text,
    -- For a continuity child order: its parent, the parent's line and which shipment.
    continuity_parent    uuid,
    continuity_line      uuid,
    continuity_index     integer,
    -- The latest stamp on the order (a lower bound of its last change).
    last_change_at       timestamptz NOT NULL,
    -- Totals as the node priced the order (with its call center and catalog) when it wrote this
    -- version; NULL with priced = false when the node could not price it.
    priced               boolean NOT NULL,
    subtotal             numeric,
    discount             numeric,
    source_discount      numeric,
    charges              numeric,
    total                numeric,
    paid                 numeric,
    balance              numeric
);
CREATE INDEX orders_call_center_submitted ON orders (call_center_id, submitted_at);
CREATE INDEX orders_customer ON orders (customer_id);
CREATE INDEX orders_source_code ON orders (source_code);

-- Every line, removed ones included (removed_at set).
CREATE TABLE order_lines (
    order_id             uuid NOT NULL REFERENCES orders ON DELETE CASCADE,
    line_id              uuid NOT NULL,
    product_id           text NOT NULL,
    quantity             integer NOT NULL,
    list_price           numeric NOT NULL,
    unit_price           numeric NOT NULL,
    -- unit_price × quantity.
    amount               numeric NOT NULL,
    override_reason_code text,
    override_by          uuid,
    added_at             timestamptz NOT NULL,
    added_by             uuid NOT NULL,
    removed_at           timestamptz,
    removed_by           uuid,
    PRIMARY KEY (order_id, line_id)
);
CREATE INDEX order_lines_product ON order_lines (product_id);

-- Manual charges (automatic = false, with reason and who added them) and the automatic delivery
-- charge the node priced (automatic = true, code = the delivery mode, charge_id derived from the
-- order and the delivery mode as the node derives it).
CREATE TABLE order_charges (
    order_id    uuid NOT NULL REFERENCES orders ON DELETE CASCADE,
    charge_id   uuid NOT NULL,
    automatic   boolean NOT NULL,
    code        text NOT NULL,
    amount      numeric NOT NULL,
    reason_code text,
    added_at    timestamptz,
    added_by    uuid,
    PRIMARY KEY (order_id, charge_id)
);

-- Every payment, voided ones included (status 'voided', voided_at set).
CREATE TABLE order_payments (
    order_id          uuid NOT NULL REFERENCES orders ON DELETE CASCADE,
    payment_id        uuid NOT NULL,
    payment_method_id text NOT NULL,
    amount            numeric NOT NULL,
    reference         text,
    status            text NOT NULL CHECK (status IN ('authorized', 'voided')),
    added_at          timestamptz NOT NULL,
    added_by          uuid NOT NULL,
    voided_at         timestamptz,
    voided_by         uuid,
    PRIMARY KEY (order_id, payment_id)
);

-- Every hold, cleared ones included. System holds (placed by merge-time invariant checks) have
-- system = true and placed_by = the nil uuid.
CREATE TABLE order_holds (
    order_id     uuid NOT NULL REFERENCES orders ON DELETE CASCADE,
    hold_id      uuid NOT NULL,
    hold_code    text NOT NULL,
    reason       text NOT NULL,
    system       boolean NOT NULL,
    placed_at    timestamptz NOT NULL,
    placed_by    uuid NOT NULL,
    cleared_at   timestamptz,
    cleared_by   uuid,
    clear_reason text,
    PRIMARY KEY (order_id, hold_id)
);
CREATE INDEX order_holds_open ON order_holds (hold_code, placed_at) WHERE cleared_at IS NULL;

-- Coupons applied, removed ones included; discount is what the coupon took off as priced (NULL
-- for a removed coupon or an unpriced order).
CREATE TABLE order_coupons (
    order_id    uuid NOT NULL REFERENCES orders ON DELETE CASCADE,
    coupon_code text NOT NULL,
    applied_at  timestamptz NOT NULL,
    applied_by  uuid NOT NULL,
    removed_at  timestamptz,
    removed_by  uuid,
    discount    numeric,
    PRIMARY KEY (order_id, coupon_code)
);
CREATE INDEX order_coupons_code ON order_coupons (coupon_code);

CREATE TABLE order_notes (
    order_id uuid NOT NULL REFERENCES orders ON DELETE CASCADE,
    note_id  uuid NOT NULL,
    added_at timestamptz NOT NULL,
    added_by uuid NOT NULL,
    text     text NOT NULL,
    PRIMARY KEY (order_id, note_id)
);

-- The order's history, oldest first (causal order, the same on every node); `at` has whole
-- seconds, as automerge stores change times.
CREATE TABLE order_history (
    order_id uuid NOT NULL REFERENCES orders ON DELETE CASCADE,
    seq      integer NOT NULL,
    at       timestamptz NOT NULL,
    user_id  uuid,
    node_id  uuid,
    summary  text NOT NULL,
    PRIMARY KEY (order_id, seq)
);
