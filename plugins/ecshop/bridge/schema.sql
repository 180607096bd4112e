-- The part of the ECShop 2.7 schema the Wharf bridge reads and writes.
--
-- Column names, types, defaults and the `ecs_` prefix are ECShop 2.7.3's own (install/data/
-- structure.sql), so the bridge's SQL runs unchanged against a real shop. This file is for
-- tests and development databases; a live shop already has the full tables.
--
-- Written so that SQLite accepts it as well as MySQL (`schema.mysql.sql` is ECShop's MySQL
-- definitions themselves):
-- - `UNSIGNED` is left out (SQLite cannot parse `mediumint(8) unsigned`); ECShop declares ids,
--   counts and Unix times unsigned.
-- - ECShop's `auto_increment` keys are plain primary keys here; callers give the ids. The
--   tables the bridge inserts into with ECShop's numbering (`ecs_order_action`, `ecs_goods`,
--   `ecs_delivery_order`, `ecs_delivery_goods`) have `INTEGER PRIMARY KEY` keys, which SQLite
--   numbers by itself (MySQL has ECShop's own `auto_increment` definitions).
-- - Secondary keys are separate `CREATE INDEX` statements, named `<table>_<column>` because
--   SQLite index names are per database, not per table.
-- - No `ENGINE=`: ECShop 2.7 creates MyISAM tables, which ignore transactions (see README.md).
--
-- Times (`add_time`, `log_time`, …) are Unix seconds as ECShop's gmtime() writes them; money is
-- decimal(10,2) yuan.

CREATE TABLE ecs_order_info (
    order_id mediumint(8) NOT NULL PRIMARY KEY,
    order_sn varchar(20) NOT NULL DEFAULT '',
    user_id mediumint(8) NOT NULL DEFAULT 0,
    order_status tinyint(1) NOT NULL DEFAULT 0,
    shipping_status tinyint(1) NOT NULL DEFAULT 0,
    pay_status tinyint(1) NOT NULL DEFAULT 0,
    consignee varchar(60) NOT NULL DEFAULT '',
    country smallint(5) NOT NULL DEFAULT 0,
    province smallint(5) NOT NULL DEFAULT 0,
    city smallint(5) NOT NULL DEFAULT 0,
    district smallint(5) NOT NULL DEFAULT 0,
    address varchar(255) NOT NULL DEFAULT '',
    zipcode varchar(60) NOT NULL DEFAULT '',
    tel varchar(60) NOT NULL DEFAULT '',
    mobile varchar(60) NOT NULL DEFAULT '',
    email varchar(60) NOT NULL DEFAULT '',
    best_time varchar(120) NOT NULL DEFAULT '',
    sign_building varchar(120) NOT NULL DEFAULT '',
    postscript varchar(255) NOT NULL DEFAULT '',
    shipping_id tinyint(3) NOT NULL DEFAULT 0,
    shipping_name varchar(120) NOT NULL DEFAULT '',
    pay_id tinyint(3) NOT NULL DEFAULT 0,
    pay_name varchar(120) NOT NULL DEFAULT '',
    how_oos varchar(120) NOT NULL DEFAULT '',
    how_surplus varchar(120) NOT NULL DEFAULT '',
    pack_name varchar(120) NOT NULL DEFAULT '',
    card_name varchar(120) NOT NULL DEFAULT '',
    card_message varchar(255) NOT NULL DEFAULT '',
    inv_payee varchar(120) NOT NULL DEFAULT '',
    inv_content varchar(120) NOT NULL DEFAULT '',
    goods_amount decimal(10,2) NOT NULL DEFAULT '0.00',
    shipping_fee decimal(10,2) NOT NULL DEFAULT '0.00',
    insure_fee decimal(10,2) NOT NULL DEFAULT '0.00',
    pay_fee decimal(10,2) NOT NULL DEFAULT '0.00',
    pack_fee decimal(10,2) NOT NULL DEFAULT '0.00',
    card_fee decimal(10,2) NOT NULL DEFAULT '0.00',
    money_paid decimal(10,2) NOT NULL DEFAULT '0.00',
    surplus decimal(10,2) NOT NULL DEFAULT '0.00',
    integral int(10) NOT NULL DEFAULT 0,
    integral_money decimal(10,2) NOT NULL DEFAULT '0.00',
    bonus decimal(10,2) NOT NULL DEFAULT '0.00',
    order_amount decimal(10,2) NOT NULL DEFAULT '0.00',
    from_ad smallint(5) NOT NULL DEFAULT 0,
    referer varchar(255) NOT NULL DEFAULT '',
    add_time int(10) NOT NULL DEFAULT 0,
    confirm_time int(10) NOT NULL DEFAULT 0,
    pay_time int(10) NOT NULL DEFAULT 0,
    shipping_time int(10) NOT NULL DEFAULT 0,
    pack_id tinyint(3) NOT NULL DEFAULT 0,
    card_id tinyint(3) NOT NULL DEFAULT 0,
    bonus_id mediumint(8) NOT NULL DEFAULT 0,
    invoice_no varchar(255) NOT NULL DEFAULT '',
    extension_code varchar(30) NOT NULL DEFAULT '',
    extension_id mediumint(8) NOT NULL DEFAULT 0,
    to_buyer varchar(255) NOT NULL DEFAULT '',
    pay_note varchar(255) NOT NULL DEFAULT '',
    agency_id smallint(5) NOT NULL DEFAULT 0,
    inv_type varchar(60) NOT NULL DEFAULT '',
    tax decimal(10,2) NOT NULL DEFAULT '0.00',
    is_separate tinyint(1) NOT NULL DEFAULT 0,
    parent_id mediumint(8) NOT NULL DEFAULT 0,
    discount decimal(10,2) NOT NULL DEFAULT '0.00'
);
CREATE UNIQUE INDEX ecs_order_info_order_sn ON ecs_order_info (order_sn);
CREATE INDEX ecs_order_info_user_id ON ecs_order_info (user_id);
CREATE INDEX ecs_order_info_order_status ON ecs_order_info (order_status);
CREATE INDEX ecs_order_info_shipping_status ON ecs_order_info (shipping_status);
CREATE INDEX ecs_order_info_pay_status ON ecs_order_info (pay_status);

CREATE TABLE ecs_order_goods (
    rec_id mediumint(8) NOT NULL PRIMARY KEY,
    order_id mediumint(8) NOT NULL DEFAULT 0,
    goods_id mediumint(8) NOT NULL DEFAULT 0,
    goods_name varchar(120) NOT NULL DEFAULT '',
    goods_sn varchar(60) NOT NULL DEFAULT '',
    product_id mediumint(8) NOT NULL DEFAULT 0,
    goods_number smallint(5) NOT NULL DEFAULT 1,
    market_price decimal(10,2) NOT NULL DEFAULT '0.00',
    goods_price decimal(10,2) NOT NULL DEFAULT '0.00',
    goods_attr text NOT NULL,
    send_number smallint(5) NOT NULL DEFAULT 0,
    is_real tinyint(1) NOT NULL DEFAULT 0,
    extension_code varchar(30) NOT NULL DEFAULT '',
    parent_id mediumint(8) NOT NULL DEFAULT 0,
    is_gift smallint(5) NOT NULL DEFAULT 0,
    goods_attr_id varchar(255) NOT NULL DEFAULT ''
);
CREATE INDEX ecs_order_goods_order_id ON ecs_order_goods (order_id);
CREATE INDEX ecs_order_goods_goods_id ON ecs_order_goods (goods_id);

-- region_type: 0 country, 1 province, 2 city, 3 district.
CREATE TABLE ecs_region (
    region_id smallint(5) NOT NULL PRIMARY KEY,
    parent_id smallint(5) NOT NULL DEFAULT 0,
    region_name varchar(120) NOT NULL DEFAULT '',
    region_type tinyint(1) NOT NULL DEFAULT 2,
    agency_id smallint(5) NOT NULL DEFAULT 0
);
CREATE INDEX ecs_region_parent_id ON ecs_region (parent_id);
CREATE INDEX ecs_region_region_type ON ecs_region (region_type);

-- ECShop's goods table has some 50 columns (descriptions, images, promotions…); these are the
-- ones the bridge reads or writes, plus the flags every query of ECShop's own filters on, and
-- goods_desc, NOT NULL without a default as in ECShop, which every INSERT must name
-- (schema.mysql.sql has them all).
CREATE TABLE ecs_goods (
    goods_id INTEGER PRIMARY KEY,
    cat_id smallint(5) NOT NULL DEFAULT 0,
    goods_sn varchar(60) NOT NULL DEFAULT '',
    goods_name varchar(120) NOT NULL DEFAULT '',
    goods_number smallint(5) NOT NULL DEFAULT 0,
    market_price decimal(10,2) NOT NULL DEFAULT '0.00',
    shop_price decimal(10,2) NOT NULL DEFAULT '0.00',
    goods_brief varchar(255) NOT NULL DEFAULT '',
    goods_desc text NOT NULL,
    is_real tinyint(3) NOT NULL DEFAULT 1,
    is_on_sale tinyint(1) NOT NULL DEFAULT 1,
    is_alone_sale tinyint(1) NOT NULL DEFAULT 1,
    add_time int(10) NOT NULL DEFAULT 0,
    is_delete tinyint(1) NOT NULL DEFAULT 0,
    last_update int(10) NOT NULL DEFAULT 0,
    goods_type smallint(5) NOT NULL DEFAULT 0
);
CREATE INDEX ecs_goods_goods_sn ON ecs_goods (goods_sn);
CREATE INDEX ecs_goods_cat_id ON ecs_goods (cat_id);
CREATE INDEX ecs_goods_last_update ON ecs_goods (last_update);
CREATE INDEX ecs_goods_goods_number ON ecs_goods (goods_number);

-- Products (货品): one row per attribute combination of a goods, with its own code and stock.
-- goods_attr is the '|'-joined ecs_goods_attr ids of the combination.
CREATE TABLE ecs_products (
    product_id mediumint(8) NOT NULL PRIMARY KEY,
    goods_id mediumint(8) NOT NULL DEFAULT 0,
    goods_attr varchar(50) DEFAULT NULL,
    product_sn varchar(60) DEFAULT NULL,
    product_number smallint(5) DEFAULT 0
);

-- One row per status change of an order (admin, front end, and the bridge's shipments).
CREATE TABLE ecs_order_action (
    action_id INTEGER PRIMARY KEY,
    order_id mediumint(8) NOT NULL DEFAULT 0,
    action_user varchar(30) NOT NULL DEFAULT '',
    order_status tinyint(1) NOT NULL DEFAULT 0,
    shipping_status tinyint(1) NOT NULL DEFAULT 0,
    pay_status tinyint(1) NOT NULL DEFAULT 0,
    action_place tinyint(1) NOT NULL DEFAULT 0,
    action_note varchar(255) NOT NULL DEFAULT '',
    log_time int(11) NOT NULL DEFAULT 0
);
CREATE INDEX ecs_order_action_order_id ON ecs_order_action (order_id);

-- Registered buyers (the columns the bridge reads, and those ECShop requires).
CREATE TABLE ecs_users (
    user_id mediumint(8) NOT NULL PRIMARY KEY,
    email varchar(60) NOT NULL DEFAULT '',
    user_name varchar(60) NOT NULL DEFAULT '',
    password varchar(32) NOT NULL DEFAULT '',
    reg_time int(10) NOT NULL DEFAULT 0,
    mobile_phone varchar(20) NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX ecs_users_user_name ON ecs_users (user_name);
CREATE INDEX ecs_users_email ON ecs_users (email);

-- Delivery orders (发货单): what ECShop's admin makes when it ships all or part of an order;
-- status 0 shipped, 1 returned, 2 made but not shipped.
CREATE TABLE ecs_delivery_order (
    delivery_id INTEGER PRIMARY KEY,
    delivery_sn varchar(20) NOT NULL,
    order_sn varchar(20) NOT NULL,
    order_id mediumint(8) NOT NULL DEFAULT 0,
    invoice_no varchar(50) DEFAULT NULL,
    add_time int(10) DEFAULT 0,
    shipping_id tinyint(3) DEFAULT 0,
    shipping_name varchar(120) DEFAULT NULL,
    user_id mediumint(8) DEFAULT 0,
    action_user varchar(30) DEFAULT NULL,
    consignee varchar(60) DEFAULT NULL,
    address varchar(250) DEFAULT NULL,
    country smallint(5) DEFAULT 0,
    province smallint(5) DEFAULT 0,
    city smallint(5) DEFAULT 0,
    district smallint(5) DEFAULT 0,
    sign_building varchar(120) DEFAULT NULL,
    email varchar(60) DEFAULT NULL,
    zipcode varchar(60) DEFAULT NULL,
    tel varchar(60) DEFAULT NULL,
    mobile varchar(60) DEFAULT NULL,
    best_time varchar(120) DEFAULT NULL,
    postscript varchar(255) DEFAULT NULL,
    how_oos varchar(120) DEFAULT NULL,
    insure_fee decimal(10,2) DEFAULT '0.00',
    shipping_fee decimal(10,2) DEFAULT '0.00',
    update_time int(10) DEFAULT 0,
    suppliers_id smallint(5) DEFAULT 0,
    status tinyint(1) NOT NULL DEFAULT 0,
    agency_id smallint(5) DEFAULT 0
);
CREATE INDEX ecs_delivery_order_user_id ON ecs_delivery_order (user_id);
CREATE INDEX ecs_delivery_order_order_id ON ecs_delivery_order (order_id);

CREATE TABLE ecs_delivery_goods (
    rec_id INTEGER PRIMARY KEY,
    delivery_id mediumint(8) NOT NULL DEFAULT 0,
    goods_id mediumint(8) NOT NULL DEFAULT 0,
    product_id mediumint(8) DEFAULT 0,
    product_sn varchar(60) DEFAULT NULL,
    goods_name varchar(120) DEFAULT NULL,
    brand_name varchar(60) DEFAULT NULL,
    goods_sn varchar(60) DEFAULT NULL,
    is_real tinyint(1) DEFAULT 0,
    extension_code varchar(30) DEFAULT NULL,
    parent_id mediumint(8) DEFAULT 0,
    send_number smallint(5) DEFAULT 0,
    goods_attr text
);
CREATE INDEX ecs_delivery_goods_delivery_id ON ecs_delivery_goods (delivery_id, goods_id);

-- Back orders (退货单): what ECShop's admin makes when it marks an order returned
-- (admin/order.php, operation `return`: the order becomes order_status 4, its money goes back,
-- and each delivery order still shipped is copied here with its goods). `add_time`,
-- `update_time` and `invoice_no` are the delivery's; `return_time` is when it came back.
CREATE TABLE ecs_back_order (
    back_id INTEGER PRIMARY KEY,
    delivery_sn varchar(20) NOT NULL,
    order_sn varchar(20) NOT NULL,
    order_id mediumint(8) NOT NULL DEFAULT 0,
    invoice_no varchar(50) DEFAULT NULL,
    add_time int(10) DEFAULT 0,
    shipping_id tinyint(3) DEFAULT 0,
    shipping_name varchar(120) DEFAULT NULL,
    user_id mediumint(8) DEFAULT 0,
    action_user varchar(30) DEFAULT NULL,
    consignee varchar(60) DEFAULT NULL,
    address varchar(250) DEFAULT NULL,
    country smallint(5) DEFAULT 0,
    province smallint(5) DEFAULT 0,
    city smallint(5) DEFAULT 0,
    district smallint(5) DEFAULT 0,
    sign_building varchar(120) DEFAULT NULL,
    email varchar(60) DEFAULT NULL,
    zipcode varchar(60) DEFAULT NULL,
    tel varchar(60) DEFAULT NULL,
    mobile varchar(60) DEFAULT NULL,
    best_time varchar(120) DEFAULT NULL,
    postscript varchar(255) DEFAULT NULL,
    how_oos varchar(120) DEFAULT NULL,
    insure_fee decimal(10,2) DEFAULT '0.00',
    shipping_fee decimal(10,2) DEFAULT '0.00',
    update_time int(10) DEFAULT 0,
    suppliers_id smallint(5) DEFAULT 0,
    status tinyint(1) NOT NULL DEFAULT 0,
    return_time int(10) DEFAULT 0,
    agency_id smallint(5) DEFAULT 0
);
CREATE INDEX ecs_back_order_user_id ON ecs_back_order (user_id);
CREATE INDEX ecs_back_order_order_id ON ecs_back_order (order_id);

CREATE TABLE ecs_back_goods (
    rec_id INTEGER PRIMARY KEY,
    back_id mediumint(8) DEFAULT 0,
    goods_id mediumint(8) NOT NULL DEFAULT 0,
    product_id mediumint(8) NOT NULL DEFAULT 0,
    product_sn varchar(60) DEFAULT NULL,
    goods_name varchar(120) DEFAULT NULL,
    brand_name varchar(60) DEFAULT NULL,
    goods_sn varchar(60) DEFAULT NULL,
    is_real tinyint(1) DEFAULT 0,
    send_number smallint(5) DEFAULT 0,
    goods_attr text
);
CREATE INDEX ecs_back_goods_back_id ON ecs_back_goods (back_id);
CREATE INDEX ecs_back_goods_goods_id ON ecs_back_goods (goods_id);

-- The bridge's own tables (not ECShop's; README.md, "The bridge's tables").
-- Lots: on sale (delivery_rec_id 0; push-lots replaces them per goods and product) and sent
-- (delivery_rec_id = the ecs_delivery_goods row they left with). product_id 0 = a goods
-- without products.
CREATE TABLE ecs_wharf_goods_lot (
    goods_id mediumint(8) NOT NULL,
    product_id mediumint(8) NOT NULL DEFAULT 0,
    batch_no varchar(60) NOT NULL,
    produced_on date DEFAULT NULL,
    expires_on date DEFAULT NULL,
    quantity smallint(5) NOT NULL DEFAULT 0,
    delivery_rec_id mediumint(8) NOT NULL DEFAULT 0
);
CREATE INDEX ecs_wharf_goods_lot_goods ON ecs_wharf_goods_lot (goods_id, product_id, delivery_rec_id);

-- ERP customers mapped to shop users: one row per user, one user per ERP code.
CREATE TABLE ecs_wharf_customer (
    user_id mediumint(8) NOT NULL PRIMARY KEY,
    erp_customer_code varchar(60) NOT NULL,
    credit_code varchar(60) NOT NULL DEFAULT '',
    name varchar(120) NOT NULL DEFAULT ''
);
CREATE UNIQUE INDEX ecs_wharf_customer_erp_customer_code ON ecs_wharf_customer (erp_customer_code);
