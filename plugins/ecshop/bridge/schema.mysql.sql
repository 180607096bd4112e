-- The part of the ECShop 2.7 schema the Wharf bridge reads and writes, in MySQL (MariaDB) as a
-- shop has it, plus the bridge's own two tables.
--
-- The ECShop tables are ECShop 2.7.3's own definitions from its install/data/structure.sql,
-- column for column, with the engine clause its installer writes: structure.sql says
-- `TYPE=MyISAM`, which the installer (includes/cls_sql_executor.php) turns into
-- `ENGINE=MyISAM DEFAULT CHARACTER SET utf8` on MySQL 4.1 and later. Only the spelling is
-- normalised (upper-case keywords, no blanks inside type parentheses). The quirks stay, since
-- the bridge must cope with them on a real shop: some columns are NOT NULL without a default
-- (ecs_goods.goods_desc, ecs_users.alias, ecs_order_info.tax…), which a strict sql_mode
-- (MariaDB 10.2.4 and later, MySQL 5.7 and later) refuses to leave out of an INSERT, and
-- `integral` has the default '0.00'. ECShop itself runs with sql_mode '' (its cls_mysql sets it
-- on connect); the bridge runs with whatever the server's default is.
--
-- For tests and development databases; a live shop already has the ECShop tables and needs
-- only the last two (README.md, "The bridge's tables"). Load it with
-- `mariadb ecshop < schema.mysql.sql` (or `mysql`). `schema.sql`, beside it, is the same in
-- SQL that SQLite accepts.
--
-- Times (`add_time`, `log_time`, …) are Unix seconds as ECShop's gmtime() writes them; money is
-- decimal(10,2) yuan.

CREATE TABLE `ecs_order_info` (
    `order_id` mediumint(8) unsigned NOT NULL AUTO_INCREMENT,
    `order_sn` varchar(20) NOT NULL DEFAULT '',
    `user_id` mediumint(8) unsigned NOT NULL DEFAULT '0',
    `order_status` tinyint(1) unsigned NOT NULL DEFAULT '0',
    `shipping_status` tinyint(1) unsigned NOT NULL DEFAULT '0',
    `pay_status` tinyint(1) unsigned NOT NULL DEFAULT '0',
    `consignee` varchar(60) NOT NULL DEFAULT '',
    `country` smallint(5) unsigned NOT NULL DEFAULT '0',
    `province` smallint(5) unsigned NOT NULL DEFAULT '0',
    `city` smallint(5) unsigned NOT NULL DEFAULT '0',
    `district` smallint(5) unsigned NOT NULL DEFAULT '0',
    `address` varchar(255) NOT NULL DEFAULT '',
    `zipcode` varchar(60) NOT NULL DEFAULT '',
    `tel` varchar(60) NOT NULL DEFAULT '',
    `mobile` varchar(60) NOT NULL DEFAULT '',
    `email` varchar(60) NOT NULL DEFAULT '',
    `best_time` varchar(120) NOT NULL DEFAULT '',
    `sign_building` varchar(120) NOT NULL DEFAULT '',
    `postscript` varchar(255) NOT NULL DEFAULT '',
    `shipping_id` tinyint(3) NOT NULL DEFAULT '0',
    `shipping_name` varchar(120) NOT NULL DEFAULT '',
    `pay_id` tinyint(3) NOT NULL DEFAULT '0',
    `pay_name` varchar(120) NOT NULL DEFAULT '',
    `how_oos` varchar(120) NOT NULL DEFAULT '',
    `how_surplus` varchar(120) NOT NULL DEFAULT '',
    `pack_name` varchar(120) NOT NULL DEFAULT '',
    `card_name` varchar(120) NOT NULL DEFAULT '',
    `card_message` varchar(255) NOT NULL DEFAULT '',
    `inv_payee` varchar(120) NOT NULL DEFAULT '',
    `inv_content` varchar(120) NOT NULL DEFAULT '',
    `goods_amount` decimal(10,2) NOT NULL DEFAULT '0.00',
    `shipping_fee` decimal(10,2) NOT NULL DEFAULT '0.00',
    `insure_fee` decimal(10,2) NOT NULL DEFAULT '0.00',
    `pay_fee` decimal(10,2) NOT NULL DEFAULT '0.00',
    `pack_fee` decimal(10,2) NOT NULL DEFAULT '0.00',
    `card_fee` decimal(10,2) NOT NULL DEFAULT '0.00',
    `money_paid` decimal(10,2) NOT NULL DEFAULT '0.00',
    `surplus` decimal(10,2) NOT NULL DEFAULT '0.00',
    `integral` int unsigned NOT NULL DEFAULT '0.00',
    `integral_money` decimal(10,2) NOT NULL DEFAULT '0.00',
    `bonus` decimal(10,2) NOT NULL DEFAULT '0.00',
    `order_amount` decimal(10,2) NOT NULL DEFAULT '0.00',
    `from_ad` smallint(5) NOT NULL DEFAULT '0',
    `referer` varchar(255) NOT NULL DEFAULT '',
    `add_time` int(10) unsigned NOT NULL DEFAULT '0',
    `confirm_time` int(10) unsigned NOT NULL DEFAULT '0',
    `pay_time` int(10) unsigned NOT NULL DEFAULT '0',
    `shipping_time` int(10) unsigned NOT NULL DEFAULT '0',
    `pack_id` tinyint(3) unsigned NOT NULL DEFAULT '0',
    `card_id` tinyint(3) unsigned NOT NULL DEFAULT '0',
    `bonus_id` mediumint(8) unsigned NOT NULL DEFAULT '0',
    `invoice_no` varchar(255) NOT NULL DEFAULT '',
    `extension_code` varchar(30) NOT NULL DEFAULT '',
    `extension_id` mediumint(8) unsigned NOT NULL DEFAULT '0',
    `to_buyer` varchar(255) NOT NULL DEFAULT '',
    `pay_note` varchar(255) NOT NULL DEFAULT '',
    `agency_id` smallint(5) unsigned NOT NULL,
    `inv_type` varchar(60) NOT NULL,
    `tax` decimal(10,2) NOT NULL,
    `is_separate` tinyint(1) NOT NULL DEFAULT '0',
    `parent_id` mediumint(8) unsigned NOT NULL DEFAULT '0',
    `discount` decimal(10,2) NOT NULL,
    PRIMARY KEY (`order_id`),
    UNIQUE KEY `order_sn` (`order_sn`),
    KEY `user_id` (`user_id`),
    KEY `order_status` (`order_status`),
    KEY `shipping_status` (`shipping_status`),
    KEY `pay_status` (`pay_status`),
    KEY `shipping_id` (`shipping_id`),
    KEY `pay_id` (`pay_id`),
    KEY `extension_code` (`extension_code`,`extension_id`),
    KEY `agency_id` (`agency_id`)
) ENGINE=MyISAM DEFAULT CHARSET=utf8;

CREATE TABLE `ecs_order_goods` (
    `rec_id` mediumint(8) unsigned NOT NULL AUTO_INCREMENT,
    `order_id` mediumint(8) unsigned NOT NULL DEFAULT '0',
    `goods_id` mediumint(8) unsigned NOT NULL DEFAULT '0',
    `goods_name` varchar(120) NOT NULL DEFAULT '',
    `goods_sn` varchar(60) NOT NULL DEFAULT '',
    `product_id` mediumint(8) unsigned NOT NULL DEFAULT '0',
    `goods_number` smallint(5) unsigned NOT NULL DEFAULT '1',
    `market_price` decimal(10,2) NOT NULL DEFAULT '0.00',
    `goods_price` decimal(10,2) NOT NULL DEFAULT '0.00',
    `goods_attr` text NOT NULL,
    `send_number` smallint(5) unsigned NOT NULL DEFAULT '0',
    `is_real` tinyint(1) unsigned NOT NULL DEFAULT '0',
    `extension_code` varchar(30) NOT NULL DEFAULT '',
    `parent_id` mediumint(8) unsigned NOT NULL DEFAULT '0',
    `is_gift` smallint unsigned NOT NULL DEFAULT '0',
    `goods_attr_id` varchar(255) NOT NULL DEFAULT '',
    PRIMARY KEY (`rec_id`),
    KEY `order_id` (`order_id`),
    KEY `goods_id` (`goods_id`)
) ENGINE=MyISAM DEFAULT CHARSET=utf8;

-- region_type: 0 country, 1 province, 2 city, 3 district.
CREATE TABLE `ecs_region` (
    `region_id` smallint(5) unsigned NOT NULL AUTO_INCREMENT,
    `parent_id` smallint(5) unsigned NOT NULL DEFAULT '0',
    `region_name` varchar(120) NOT NULL DEFAULT '',
    `region_type` tinyint(1) NOT NULL DEFAULT '2',
    `agency_id` smallint(5) unsigned NOT NULL DEFAULT '0',
    PRIMARY KEY (`region_id`),
    KEY `parent_id` (`parent_id`),
    KEY `region_type` (`region_type`),
    KEY `agency_id` (`agency_id`)
) ENGINE=MyISAM DEFAULT CHARSET=utf8;

-- Every goods column ECShop has; the bridge reads and writes a few of them.
CREATE TABLE `ecs_goods` (
    `goods_id` mediumint(8) unsigned NOT NULL AUTO_INCREMENT,
    `cat_id` smallint(5) unsigned NOT NULL DEFAULT '0',
    `goods_sn` varchar(60) NOT NULL DEFAULT '',
    `goods_name` varchar(120) NOT NULL DEFAULT '',
    `goods_name_style` varchar(60) NOT NULL DEFAULT '+',
    `click_count` int(10) unsigned NOT NULL DEFAULT '0',
    `brand_id` smallint(5) unsigned NOT NULL DEFAULT '0',
    `provider_name` varchar(100) NOT NULL DEFAULT '',
    `goods_number` smallint(5) unsigned NOT NULL DEFAULT '0',
    `goods_weight` decimal(10,3) unsigned NOT NULL DEFAULT '0.000',
    `market_price` decimal(10,2) unsigned NOT NULL DEFAULT '0.00',
    `shop_price` decimal(10,2) unsigned NOT NULL DEFAULT '0.00',
    `promote_price` decimal(10,2) unsigned NOT NULL DEFAULT '0.00',
    `promote_start_date` int(11) unsigned NOT NULL DEFAULT '0',
    `promote_end_date` int(11) unsigned NOT NULL DEFAULT '0',
    `warn_number` tinyint(3) unsigned NOT NULL DEFAULT '1',
    `keywords` varchar(255) NOT NULL DEFAULT '',
    `goods_brief` varchar(255) NOT NULL DEFAULT '',
    `goods_desc` text NOT NULL,
    `goods_thumb` varchar(255) NOT NULL DEFAULT '',
    `goods_img` varchar(255) NOT NULL DEFAULT '',
    `original_img` varchar(255) NOT NULL DEFAULT '',
    `is_real` tinyint(3) unsigned NOT NULL DEFAULT '1',
    `extension_code` varchar(30) NOT NULL DEFAULT '',
    `is_on_sale` tinyint(1) unsigned NOT NULL DEFAULT '1',
    `is_alone_sale` tinyint(1) unsigned NOT NULL DEFAULT '1',
    `is_shipping` tinyint(1) unsigned NOT NULL DEFAULT '0',
    `integral` int unsigned NOT NULL DEFAULT '0',
    `add_time` int(10) unsigned NOT NULL DEFAULT '0',
    `sort_order` smallint(4) unsigned NOT NULL DEFAULT '100',
    `is_delete` tinyint(1) unsigned NOT NULL DEFAULT '0',
    `is_best` tinyint(1) unsigned NOT NULL DEFAULT '0',
    `is_new` tinyint(1) unsigned NOT NULL DEFAULT '0',
    `is_hot` tinyint(1) unsigned NOT NULL DEFAULT '0',
    `is_promote` tinyint(1) unsigned NOT NULL DEFAULT '0',
    `bonus_type_id` tinyint(3) unsigned NOT NULL DEFAULT '0',
    `last_update` int(10) unsigned NOT NULL DEFAULT '0',
    `goods_type` smallint(5) unsigned NOT NULL DEFAULT '0',
    `seller_note` varchar(255) NOT NULL DEFAULT '',
    `give_integral` int NOT NULL DEFAULT '-1',
    `rank_integral` int NOT NULL DEFAULT '-1',
    `suppliers_id` smallint(5) unsigned DEFAULT NULL,
    `is_check` tinyint(1) unsigned DEFAULT NULL,
    PRIMARY KEY (`goods_id`),
    KEY `goods_sn` (`goods_sn`),
    KEY `cat_id` (`cat_id`),
    KEY `last_update` (`last_update`),
    KEY `brand_id` (`brand_id`),
    KEY `goods_weight` (`goods_weight`),
    KEY `promote_end_date` (`promote_end_date`),
    KEY `promote_start_date` (`promote_start_date`),
    KEY `goods_number` (`goods_number`),
    KEY `sort_order` (`sort_order`)
) ENGINE=MyISAM DEFAULT CHARSET=utf8;

-- Products (货品): one row per attribute combination of a goods, with its own code and stock.
-- goods_attr is the '|'-joined ecs_goods_attr ids of the combination.
CREATE TABLE `ecs_products` (
    `product_id` mediumint(8) unsigned NOT NULL AUTO_INCREMENT,
    `goods_id` mediumint(8) unsigned NOT NULL DEFAULT '0',
    `goods_attr` varchar(50) DEFAULT NULL,
    `product_sn` varchar(60) DEFAULT NULL,
    `product_number` smallint(5) unsigned DEFAULT '0',
    PRIMARY KEY (`product_id`)
) ENGINE=MyISAM DEFAULT CHARSET=utf8;

-- One row per status change of an order (admin, front end, and the bridge's shipments).
CREATE TABLE `ecs_order_action` (
    `action_id` mediumint(8) unsigned NOT NULL AUTO_INCREMENT,
    `order_id` mediumint(8) unsigned NOT NULL DEFAULT '0',
    `action_user` varchar(30) NOT NULL DEFAULT '',
    `order_status` tinyint(1) unsigned NOT NULL DEFAULT '0',
    `shipping_status` tinyint(1) unsigned NOT NULL DEFAULT '0',
    `pay_status` tinyint(1) unsigned NOT NULL DEFAULT '0',
    `action_place` tinyint(1) unsigned NOT NULL DEFAULT '0',
    `action_note` varchar(255) NOT NULL DEFAULT '',
    `log_time` int(11) unsigned NOT NULL DEFAULT '0',
    PRIMARY KEY (`action_id`),
    KEY `order_id` (`order_id`)
) ENGINE=MyISAM DEFAULT CHARSET=utf8;

-- Registered buyers.
CREATE TABLE `ecs_users` (
    `user_id` mediumint(8) unsigned NOT NULL AUTO_INCREMENT,
    `email` varchar(60) NOT NULL DEFAULT '',
    `user_name` varchar(60) NOT NULL DEFAULT '',
    `password` varchar(32) NOT NULL DEFAULT '',
    `question` varchar(255) NOT NULL DEFAULT '',
    `answer` varchar(255) NOT NULL DEFAULT '',
    `sex` tinyint(1) unsigned NOT NULL DEFAULT '0',
    `birthday` date NOT NULL DEFAULT '0000-00-00',
    `user_money` decimal(10,2) NOT NULL DEFAULT '0.00',
    `frozen_money` decimal(10,2) NOT NULL DEFAULT '0.00',
    `pay_points` int unsigned NOT NULL DEFAULT '0',
    `rank_points` int unsigned NOT NULL DEFAULT '0',
    `address_id` mediumint(8) unsigned NOT NULL DEFAULT '0',
    `reg_time` int(10) unsigned NOT NULL DEFAULT '0',
    `last_login` int(11) unsigned NOT NULL DEFAULT '0',
    `last_time` datetime NOT NULL DEFAULT '0000-00-00 00:00:00',
    `last_ip` varchar(15) NOT NULL DEFAULT '',
    `visit_count` smallint(5) unsigned NOT NULL DEFAULT '0',
    `user_rank` tinyint(3) unsigned NOT NULL DEFAULT '0',
    `is_special` tinyint(3) unsigned NOT NULL DEFAULT '0',
    `ec_salt` varchar(10) NULL,
    `salt` varchar(10) NOT NULL DEFAULT '0',
    `parent_id` mediumint(9) NOT NULL DEFAULT '0',
    `flag` tinyint unsigned NOT NULL DEFAULT '0',
    `alias` varchar(60) NOT NULL,
    `msn` varchar(60) NOT NULL,
    `qq` varchar(20) NOT NULL,
    `office_phone` varchar(20) NOT NULL,
    `home_phone` varchar(20) NOT NULL,
    `mobile_phone` varchar(20) NOT NULL,
    `is_validated` tinyint unsigned NOT NULL DEFAULT '0',
    `credit_line` decimal(10,2) unsigned NOT NULL,
    `passwd_question` varchar(50) NULL,
    `passwd_answer` varchar(255) NULL,
    PRIMARY KEY (`user_id`),
    KEY `email` (`email`),
    KEY `parent_id` (`parent_id`),
    KEY `flag` (`flag`),
    UNIQUE KEY `user_name` (`user_name`)
) ENGINE=MyISAM DEFAULT CHARSET=utf8;

-- Delivery orders (发货单): what ECShop's admin makes when it ships all or part of an order;
-- status 0 shipped, 1 returned, 2 made but not shipped.
CREATE TABLE `ecs_delivery_order` (
    `delivery_id` mediumint(8) unsigned NOT NULL AUTO_INCREMENT,
    `delivery_sn` varchar(20) NOT NULL,
    `order_sn` varchar(20) NOT NULL,
    `order_id` mediumint(8) unsigned NOT NULL DEFAULT '0',
    `invoice_no` varchar(50) DEFAULT NULL,
    `add_time` int(10) unsigned DEFAULT '0',
    `shipping_id` tinyint(3) unsigned DEFAULT '0',
    `shipping_name` varchar(120) DEFAULT NULL,
    `user_id` mediumint(8) unsigned DEFAULT '0',
    `action_user` varchar(30) DEFAULT NULL,
    `consignee` varchar(60) DEFAULT NULL,
    `address` varchar(250) DEFAULT NULL,
    `country` smallint(5) unsigned DEFAULT '0',
    `province` smallint(5) unsigned DEFAULT '0',
    `city` smallint(5) unsigned DEFAULT '0',
    `district` smallint(5) unsigned DEFAULT '0',
    `sign_building` varchar(120) DEFAULT NULL,
    `email` varchar(60) DEFAULT NULL,
    `zipcode` varchar(60) DEFAULT NULL,
    `tel` varchar(60) DEFAULT NULL,
    `mobile` varchar(60) DEFAULT NULL,
    `best_time` varchar(120) DEFAULT NULL,
    `postscript` varchar(255) DEFAULT NULL,
    `how_oos` varchar(120) DEFAULT NULL,
    `insure_fee` decimal(10,2) unsigned DEFAULT '0.00',
    `shipping_fee` decimal(10,2) unsigned DEFAULT '0.00',
    `update_time` int(10) unsigned DEFAULT '0',
    `suppliers_id` smallint(5) DEFAULT '0',
    `status` tinyint(1) unsigned NOT NULL DEFAULT '0',
    `agency_id` smallint(5) unsigned DEFAULT '0',
    PRIMARY KEY (`delivery_id`),
    KEY `user_id` (`user_id`),
    KEY `order_id` (`order_id`)
) ENGINE=MyISAM DEFAULT CHARSET=utf8;

CREATE TABLE `ecs_delivery_goods` (
    `rec_id` mediumint(8) unsigned NOT NULL AUTO_INCREMENT,
    `delivery_id` mediumint(8) unsigned NOT NULL DEFAULT '0',
    `goods_id` mediumint(8) unsigned NOT NULL DEFAULT '0',
    `product_id` mediumint(8) unsigned DEFAULT '0',
    `product_sn` varchar(60) DEFAULT NULL,
    `goods_name` varchar(120) DEFAULT NULL,
    `brand_name` varchar(60) DEFAULT NULL,
    `goods_sn` varchar(60) DEFAULT NULL,
    `is_real` tinyint(1) unsigned DEFAULT '0',
    `extension_code` varchar(30) DEFAULT NULL,
    `parent_id` mediumint(8) unsigned DEFAULT '0',
    `send_number` smallint(5) unsigned DEFAULT '0',
    `goods_attr` text,
    PRIMARY KEY (`rec_id`),
    KEY `delivery_id` (`delivery_id`,`goods_id`),
    KEY `goods_id` (`goods_id`)
) ENGINE=MyISAM DEFAULT CHARSET=utf8;

-- Back orders (退货单): what ECShop's admin makes when it marks an order returned
-- (admin/order.php, operation `return`: the order becomes order_status 4, its money goes back,
-- and each delivery order still shipped is copied here with its goods). `add_time`,
-- `update_time` and `invoice_no` are the delivery's; `return_time` is when it came back.
CREATE TABLE `ecs_back_order` (
    `back_id` mediumint(8) unsigned NOT NULL AUTO_INCREMENT,
    `delivery_sn` varchar(20) NOT NULL,
    `order_sn` varchar(20) NOT NULL,
    `order_id` mediumint(8) unsigned NOT NULL DEFAULT '0',
    `invoice_no` varchar(50) DEFAULT NULL,
    `add_time` int(10) unsigned DEFAULT '0',
    `shipping_id` tinyint(3) unsigned DEFAULT '0',
    `shipping_name` varchar(120) DEFAULT NULL,
    `user_id` mediumint(8) unsigned DEFAULT '0',
    `action_user` varchar(30) DEFAULT NULL,
    `consignee` varchar(60) DEFAULT NULL,
    `address` varchar(250) DEFAULT NULL,
    `country` smallint(5) unsigned DEFAULT '0',
    `province` smallint(5) unsigned DEFAULT '0',
    `city` smallint(5) unsigned DEFAULT '0',
    `district` smallint(5) unsigned DEFAULT '0',
    `sign_building` varchar(120) DEFAULT NULL,
    `email` varchar(60) DEFAULT NULL,
    `zipcode` varchar(60) DEFAULT NULL,
    `tel` varchar(60) DEFAULT NULL,
    `mobile` varchar(60) DEFAULT NULL,
    `best_time` varchar(120) DEFAULT NULL,
    `postscript` varchar(255) DEFAULT NULL,
    `how_oos` varchar(120) DEFAULT NULL,
    `insure_fee` decimal(10,2) unsigned DEFAULT '0.00',
    `shipping_fee` decimal(10,2) unsigned DEFAULT '0.00',
    `update_time` int(10) unsigned DEFAULT '0',
    `suppliers_id` smallint(5) DEFAULT '0',
    `status` tinyint(1) unsigned NOT NULL DEFAULT '0',
    `return_time` int(10) unsigned DEFAULT '0',
    `agency_id` smallint(5) unsigned DEFAULT '0',
    PRIMARY KEY (`back_id`),
    KEY `user_id` (`user_id`),
    KEY `order_id` (`order_id`)
) ENGINE=MyISAM DEFAULT CHARSET=utf8;

CREATE TABLE `ecs_back_goods` (
    `rec_id` mediumint(8) unsigned NOT NULL AUTO_INCREMENT,
    `back_id` mediumint(8) unsigned DEFAULT '0',
    `goods_id` mediumint(8) unsigned NOT NULL DEFAULT '0',
    `product_id` mediumint(8) unsigned NOT NULL DEFAULT '0',
    `product_sn` varchar(60) DEFAULT NULL,
    `goods_name` varchar(120) DEFAULT NULL,
    `brand_name` varchar(60) DEFAULT NULL,
    `goods_sn` varchar(60) DEFAULT NULL,
    `is_real` tinyint(1) unsigned DEFAULT '0',
    `send_number` smallint(5) unsigned DEFAULT '0',
    `goods_attr` text,
    PRIMARY KEY (`rec_id`),
    KEY `back_id` (`back_id`),
    KEY `goods_id` (`goods_id`)
) ENGINE=MyISAM DEFAULT CHARSET=utf8;

-- The bridge's own tables (not ECShop's; README.md, "The bridge's tables"), InnoDB so that a lot
-- sync's delete and insert are one transaction.
-- Lots: on sale (delivery_rec_id 0; a lot sync replaces them per goods and product) and sent
-- (delivery_rec_id = the ecs_delivery_goods row they left with). product_id 0 = a goods
-- without products.
CREATE TABLE `ecs_wharf_goods_lot` (
    `goods_id` mediumint(8) unsigned NOT NULL,
    `product_id` mediumint(8) unsigned NOT NULL DEFAULT '0',
    `batch_no` varchar(60) NOT NULL,
    `produced_on` date DEFAULT NULL,
    `expires_on` date DEFAULT NULL,
    `quantity` smallint(5) unsigned NOT NULL DEFAULT '0',
    `delivery_rec_id` mediumint(8) unsigned NOT NULL DEFAULT '0',
    KEY `goods` (`goods_id`,`product_id`,`delivery_rec_id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8;

-- ERP customers mapped to shop users: one row per user, one user per ERP code.
CREATE TABLE `ecs_wharf_customer` (
    `user_id` mediumint(8) unsigned NOT NULL,
    `erp_customer_code` varchar(60) NOT NULL,
    `credit_code` varchar(60) NOT NULL DEFAULT '',
    `name` varchar(120) NOT NULL DEFAULT '',
    PRIMARY KEY (`user_id`),
    UNIQUE KEY `erp_customer_code` (`erp_customer_code`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8;
