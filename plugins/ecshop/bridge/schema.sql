-- The part of the ECShop 2.7 schema the Wharf bridge reads and writes.
--
-- Column names, types, defaults and the `ecs_` prefix are ECShop 2.7.3's own (install/data/
-- structure.sql), so the bridge's SQL runs unchanged against a real shop. This file is for
-- tests and development databases; a live shop already has the full tables.
--
-- Written so that SQLite accepts it as well as MySQL:
-- - `UNSIGNED` is left out (SQLite cannot parse `mediumint(8) unsigned`); ECShop declares ids,
--   counts and Unix times unsigned.
-- - ECShop's `auto_increment` keys are plain primary keys here; callers give the ids. The one
--   table the bridge inserts into, `ecs_order_action`, has `action_id INTEGER PRIMARY KEY`,
--   which SQLite numbers by itself (MySQL needs ECShop's own `auto_increment` definition).
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
-- ones the bridge reads or writes, plus the flags every query of ECShop's own filters on.
CREATE TABLE ecs_goods (
    goods_id mediumint(8) NOT NULL PRIMARY KEY,
    cat_id smallint(5) NOT NULL DEFAULT 0,
    goods_sn varchar(60) NOT NULL DEFAULT '',
    goods_name varchar(120) NOT NULL DEFAULT '',
    goods_number smallint(5) NOT NULL DEFAULT 0,
    market_price decimal(10,2) NOT NULL DEFAULT '0.00',
    shop_price decimal(10,2) NOT NULL DEFAULT '0.00',
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
