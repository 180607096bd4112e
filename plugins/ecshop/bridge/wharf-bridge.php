<?php
/**
 * Wharf bridge for ECShop 2.7: the order and goods API that ECShop does not ship.
 *
 * ECShop's own api/client/api.php covers goods only, so ERP connectors install a small script
 * that reads orders from the shop's database. This is Wharf's. It answers JSON over HTTP:
 *
 *   GET  ?action=ping                                  checks token and database
 *   GET  ?action=orders&since=S&until=U[&page=P&page_size=N]
 *                                                      orders changed in [S, U] (Unix seconds)
 *   GET  ?action=order&order_sn=SN                     one order
 *   GET  ?action=back_orders&since=S&until=U[&page=P&page_size=N]
 *                                                      back orders (returns) changed in [S, U]
 *   GET  ?action=back_order&back_id=N                  one back order
 *   POST ?action=stock    {"sn": "...", "quantity": 5}
 *   POST ?action=price    {"sn": "...", "shop_price": "19.90"}
 *   POST ?action=listing  {"goods_id": 12 | "sn": "...", "on_sale": true}
 *   POST ?action=ship     {"order_sn": "...", "invoice_no": "...", "shipping_name": "..."}
 *   POST ?action=lots     {"sn": "...", "lots": [{"batch_no", "produced_on", "expires_on", "quantity"}]}
 *   POST ?action=product  {"goods_sn", "goods_name", "shop_price", "market_price", "goods_number", "is_on_sale", ...}
 *   POST ?action=customer {"erp_customer_code", "name", "credit_code"?, "user_id"?}
 *   POST ?action=shipment {"order_sn": "...", "lines": [{"sn", "quantity", "batch_no"?, ...}]}
 *   POST ?action=erp_status {"order_sn", "erp_status", "at", "note"?, "move"?: {...}}
 *
 * Every request carries the header `X-Wharf-Token`, compared in constant time with the token
 * configured next to this file (wharf-bridge.config.php) or in the environment
 * (WHARF_BRIDGE_TOKEN). Errors answer {"error": {"code", "message", "field"?}} with an HTTP
 * status that says whether to retry: 400 bad input, 401 token, 404 unknown order or goods,
 * 405 wrong method, 409 refused by the shop's rules, 413 body too large, 500 bridge
 * misconfigured or failed, 503 database unreachable. See README.md.
 *
 * When an order changed: ECShop 2.7 has no modification column. An order's change time here is
 * the latest of add_time, confirm_time, pay_time, shipping_time and the log_time of its newest
 * ecs_order_action row: ECShop writes an action row on every status change made in the admin
 * or the front end (pay, confirm, ship, cancel, return), so that covers everything that moves
 * an order. Edits that write no action row (changing an address in the admin, say) are not
 * seen until the order's next action.
 *
 * Runs on PHP 5.6 and later (ECShop 2.7 sites often run old PHP): no scalar type hints, no
 * `??`, no Throwable-only code paths.
 */

define('WHARF_BRIDGE_VERSION', '0.1.0');
/** Tokens shorter than this are refused: 32 hex characters carry 128 bits. */
define('WHARF_MIN_TOKEN_LENGTH', 32);
define('WHARF_DEFAULT_PAGE_SIZE', 50);
/** About 2 KB of JSON per order: a full page stays far below PHP's usual 128 MB memory_limit. */
define('WHARF_MAX_PAGE_SIZE', 100);
/** One write is one small JSON object. */
define('WHARF_MAX_BODY_BYTES', 65536);
/** ecs_goods.goods_number and ecs_products.product_number are smallint(5) unsigned. */
define('WHARF_MAX_STOCK', 65535);
/** decimal(10,2): eight integer digits. */
define('WHARF_MAX_PRICE_PATTERN', '/^[0-9]{1,8}(\.[0-9]{1,2})?$/');
/** ecs_order_action.action_user is varchar(30). */
define('WHARF_ACTION_USER', 'wharf');
/** ecs_order_action.action_note is varchar(255). */
define('WHARF_MAX_NOTE_CHARS', 255);
/** ecs_goods.goods_name is varchar(120), goods_brief varchar(255). */
define('WHARF_MAX_GOODS_NAME_CHARS', 120);
define('WHARF_MAX_GOODS_BRIEF_CHARS', 255);
/** ecs_wharf_goods_lot.batch_no is varchar(60), like ECShop's codes. */
define('WHARF_MAX_BATCH_NO_CHARS', 60);
/** The bridge's own tables (see README.md, "The bridge's tables"). */
define('WHARF_LOT_TABLE', 'wharf_goods_lot');
define('WHARF_CUSTOMER_TABLE', 'wharf_customer');
/** ECShop's timezone setting spans UTC-12..UTC+14; a larger offset is a typo. */
define('WHARF_MAX_TIME_OFFSET', 14 * 3600);
/** ECShop's times are int(10) unsigned (log_time int(11) unsigned): stored seconds fit 0..2^32-1. */
define('WHARF_MAX_STORED_TIME', 4294967295);
/** ecs_delivery_order.address is varchar(250); the order's address it copies is varchar(255). */
define('WHARF_MAX_DELIVERY_ADDRESS_CHARS', 250);

/** What the request gets instead of a result. */
class WharfHttpError extends Exception
{
    public $status;
    public $errorCode;
    public $field;
    /** Extra response headers, e.g. `Allow` on a 405. */
    public $headers;

    public function __construct($status, $errorCode, $message, $field = null, array $headers = array())
    {
        parent::__construct($message);
        $this->status = $status;
        $this->errorCode = $errorCode;
        $this->field = $field;
        $this->headers = $headers;
    }
}

function wharf_bad_input($field, $message)
{
    return new WharfHttpError(400, 'invalid_input', $message, $field);
}

/* ---------------------------------------------------------------- configuration */

/**
 * Reads wharf-bridge.config.php (or the file WHARF_BRIDGE_CONFIG names). It is PHP returning an
 * array, so a web server that serves this directory runs it instead of showing the token.
 */
function wharf_load_config()
{
    $path = getenv('WHARF_BRIDGE_CONFIG');
    $explicit = $path !== false && $path !== '';
    if (!$explicit) {
        $path = __DIR__ . '/wharf-bridge.config.php';
    }
    $config = array();
    if (is_file($path)) {
        $loaded = include $path;
        if (!is_array($loaded)) {
            throw new WharfHttpError(500, 'not_configured', 'the bridge config file must return an array (see README.md)');
        }
        $config = $loaded;
    } elseif ($explicit) {
        throw new WharfHttpError(500, 'not_configured', 'WHARF_BRIDGE_CONFIG names a file that does not exist');
    }
    $env_token = getenv('WHARF_BRIDGE_TOKEN');
    if ($env_token !== false && $env_token !== '') {
        $config['token'] = $env_token;
    }
    $defaults = array('token' => '', 'dsn' => '', 'user' => null, 'password' => null, 'prefix' => 'ecs_', 'time_offset' => 0);
    $config = array_merge($defaults, $config);
    if (!is_string($config['token']) || strlen($config['token']) < WHARF_MIN_TOKEN_LENGTH) {
        throw new WharfHttpError(500, 'not_configured', 'the bridge token is missing or shorter than ' . WHARF_MIN_TOKEN_LENGTH . ' characters (see README.md)');
    }
    if (!is_string($config['dsn']) || $config['dsn'] === '') {
        throw new WharfHttpError(500, 'not_configured', 'the bridge has no database dsn configured (see README.md)');
    }
    if (!is_string($config['prefix']) || !preg_match('/^[A-Za-z0-9_]{0,30}$/', $config['prefix'])) {
        throw new WharfHttpError(500, 'not_configured', 'the table prefix may only hold letters, digits and _');
    }
    if (!is_int($config['time_offset']) || abs($config['time_offset']) > WHARF_MAX_TIME_OFFSET) {
        throw new WharfHttpError(500, 'not_configured', 'time_offset must be an integer number of seconds within +-' . WHARF_MAX_TIME_OFFSET);
    }
    return $config;
}

/** The token comes in a header only: query strings end up in access logs. */
function wharf_authenticate($config)
{
    $given = isset($_SERVER['HTTP_X_WHARF_TOKEN']) ? (string) $_SERVER['HTTP_X_WHARF_TOKEN'] : '';
    if ($given === '') {
        throw new WharfHttpError(401, 'unauthorized', 'missing X-Wharf-Token header');
    }
    if (!hash_equals($config['token'], $given)) {
        throw new WharfHttpError(401, 'unauthorized', 'wrong X-Wharf-Token');
    }
}

/* ---------------------------------------------------------------- database */

/** The connection, the table names and the dialect differences between MySQL and SQLite. */
class WharfDb
{
    public $pdo;
    public $driver;
    /** Seconds ECShop's stored times lag Unix time (see README.md, "Times"). */
    public $offset;
    private $prefix;

    public function __construct($config)
    {
        try {
            $this->pdo = new PDO($config['dsn'], $config['user'], $config['password'], array(
                PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION,
                PDO::ATTR_DEFAULT_FETCH_MODE => PDO::FETCH_ASSOC,
                // Connect timeout on MySQL, busy timeout on SQLite.
                PDO::ATTR_TIMEOUT => 5,
                // Every value comes back as a string (or null), as pdo_mysql hands them out
                // before PHP 8.1: one behaviour on every PHP version and driver, which the
                // code below casts where it needs numbers.
                PDO::ATTR_STRINGIFY_FETCHES => true,
            ));
        } catch (PDOException $e) {
            throw new WharfHttpError(503, 'database_unavailable', 'cannot connect to the shop database (SQLSTATE ' . $e->getCode() . ')');
        }
        $this->driver = $this->pdo->getAttribute(PDO::ATTR_DRIVER_NAME);
        $this->prefix = $config['prefix'];
        $this->offset = $config['time_offset'];
    }

    public function table($name)
    {
        return $this->prefix . $name;
    }

    /** The largest of several values: MySQL's GREATEST, SQLite's many-argument MAX. */
    public function greatest(array $expressions)
    {
        return ($this->driver === 'sqlite' ? 'MAX(' : 'GREATEST(') . implode(', ', $expressions) . ')';
    }

    /**
     * Locks the order a shipment reads, so two shipments of one order cannot interleave (InnoDB;
     * SQLite locks the whole database, MyISAM whole tables).
     */
    public function forUpdate()
    {
        return $this->driver === 'mysql' ? ' FOR UPDATE' : '';
    }

    /**
     * Runs $sql with positional parameters. Integers are bound as integers: SQLite compares an
     * expression without a column type against a text parameter as text.
     */
    public function run($sql, array $params = array())
    {
        $statement = $this->pdo->prepare($sql);
        $i = 1;
        foreach ($params as $value) {
            if (is_int($value)) {
                $type = PDO::PARAM_INT;
            } elseif ($value === null) {
                $type = PDO::PARAM_NULL;
            } else {
                $type = PDO::PARAM_STR;
            }
            $statement->bindValue($i++, $value, $type);
        }
        $statement->execute();
        return $statement;
    }

    public function rows($sql, array $params = array())
    {
        return $this->run($sql, $params)->fetchAll(PDO::FETCH_ASSOC);
    }

    /**
     * Runs $work inside a transaction: all of it or none of it. (MyISAM tables ignore
     * transactions; the writers check everything before their first write for that reason.)
     */
    public function transaction($work)
    {
        $this->pdo->beginTransaction();
        try {
            $result = call_user_func($work, $this);
            $this->pdo->commit();
            return $result;
        } catch (Exception $e) {
            if ($this->pdo->inTransaction()) {
                $this->pdo->rollBack();
            }
            throw $e;
        }
    }

    /** Now, as ECShop stores it. */
    public function now()
    {
        return time() - $this->offset;
    }

    /** A stored time as Unix seconds; 0 (never happened) stays 0. */
    public function unixTime($stored)
    {
        $stored = (int) $stored;
        return $stored > 0 ? $stored + $this->offset : 0;
    }

    /** Unix seconds as ECShop stores them. */
    public function storedTime($unix)
    {
        return $unix - $this->offset;
    }
}

/* ---------------------------------------------------------------- JSON shapes */

/** The ecs_order_info columns the bridge hands out, by how they are typed in JSON. */
function wharf_order_columns()
{
    return array(
        'int' => array('order_id', 'user_id', 'order_status', 'shipping_status', 'pay_status',
            'country', 'province', 'city', 'district'),
        'time' => array('add_time', 'confirm_time', 'pay_time', 'shipping_time'),
        'money' => array('goods_amount', 'shipping_fee', 'insure_fee', 'pay_fee', 'pack_fee',
            'card_fee', 'tax', 'discount', 'bonus', 'integral_money', 'surplus', 'money_paid',
            'order_amount'),
        'text' => array('order_sn', 'consignee', 'address', 'zipcode', 'tel', 'mobile',
            'postscript', 'shipping_name', 'pay_name', 'inv_type', 'inv_payee', 'inv_content',
            'invoice_no'),
    );
}

function wharf_goods_columns()
{
    return array(
        'int' => array('rec_id', 'goods_id', 'product_id', 'goods_number', 'send_number',
            'is_real', 'parent_id', 'is_gift'),
        'time' => array(),
        'money' => array('goods_price', 'market_price'),
        'text' => array('goods_name', 'goods_sn', 'goods_attr', 'extension_code'),
    );
}

/**
 * Money as a decimal string with two places, whatever the driver returned: MySQL gives
 * "12.30", SQLite "12.3" (a float, stringified; exact enough for decimal(10,2) values).
 */
function wharf_money($value)
{
    if ($value === null) {
        return '0.00';
    }
    if (is_int($value) || is_float($value)) {
        return number_format($value, 2, '.', '');
    }
    $text = trim((string) $value);
    if (preg_match('/^-?[0-9]+$/', $text)) {
        return $text . '.00';
    }
    if (preg_match('/^-?[0-9]+\.[0-9]$/', $text)) {
        return $text . '0';
    }
    // A float SQLite stored for decimal(10,2) may print with noise ("0.30000000000000004").
    if (preg_match('/^-?[0-9]+\.[0-9]{3,}$/', $text)) {
        return number_format((float) $text, 2, '.', '');
    }
    return $text;
}

/** A row with each column typed as $columns says (the connection hands every value out as a string). */
function wharf_typed(WharfDb $db, array $row, array $columns)
{
    $out = array();
    foreach ($columns['int'] as $c) {
        $out[$c] = (int) $row[$c];
    }
    foreach ($columns['time'] as $c) {
        $out[$c] = $db->unixTime($row[$c]);
    }
    foreach ($columns['money'] as $c) {
        $out[$c] = wharf_money($row[$c]);
    }
    foreach ($columns['text'] as $c) {
        $out[$c] = $row[$c] === null ? '' : (string) $row[$c];
    }
    return $out;
}

function wharf_select_list($alias, array $columns)
{
    $names = array();
    foreach ($columns as $group) {
        foreach ($group as $c) {
            $names[] = $alias . '.' . $c;
        }
    }
    return implode(', ', $names);
}

/** SQL for an order's change time (see the file comment), over ecs_order_info aliased `o`. */
function wharf_changed_at(WharfDb $db)
{
    return $db->greatest(array('o.add_time', 'o.confirm_time', 'o.pay_time', 'o.shipping_time',
        'COALESCE((SELECT MAX(a.log_time) FROM ' . $db->table('order_action') . ' a WHERE a.order_id = o.order_id), 0)'));
}

/** Orders with their goods and region names, in the order of $order_ids. */
function wharf_load_orders(WharfDb $db, array $order_ids)
{
    if (!$order_ids) {
        return array();
    }
    $marks = implode(', ', array_fill(0, count($order_ids), '?'));
    $sql = 'SELECT ' . wharf_select_list('o', wharf_order_columns())
        . ', ' . wharf_changed_at($db) . ' AS changed_at'
        . ', rp.region_name AS province_name, rc.region_name AS city_name, rd.region_name AS district_name'
        . ' FROM ' . $db->table('order_info') . ' o'
        . ' LEFT JOIN ' . $db->table('region') . ' rp ON rp.region_id = o.province'
        . ' LEFT JOIN ' . $db->table('region') . ' rc ON rc.region_id = o.city'
        . ' LEFT JOIN ' . $db->table('region') . ' rd ON rd.region_id = o.district'
        . ' WHERE o.order_id IN (' . $marks . ')';
    $by_id = array();
    foreach ($db->rows($sql, $order_ids) as $row) {
        $order = wharf_typed($db, $row, wharf_order_columns());
        foreach (array('province_name', 'city_name', 'district_name') as $c) {
            $order[$c] = $row[$c] === null ? null : (string) $row[$c];
        }
        $order['updated_at'] = $db->unixTime($row['changed_at']);
        $order['goods'] = array();
        $by_id[$order['order_id']] = $order;
    }
    $sql = 'SELECT g.order_id, ' . wharf_select_list('g', wharf_goods_columns()) . ', p.product_sn'
        . ' FROM ' . $db->table('order_goods') . ' g'
        . ' LEFT JOIN ' . $db->table('products') . ' p ON p.product_id = g.product_id'
        . ' WHERE g.order_id IN (' . $marks . ') ORDER BY g.order_id, g.rec_id';
    foreach ($db->rows($sql, $order_ids) as $row) {
        $line = wharf_typed($db, $row, wharf_goods_columns());
        $line['product_sn'] = $row['product_sn'] === null ? null : (string) $row['product_sn'];
        $by_id[(int) $row['order_id']]['goods'][] = $line;
    }
    $orders = array();
    foreach ($order_ids as $id) {
        if (isset($by_id[$id])) {
            $orders[] = $by_id[$id];
        }
    }
    return $orders;
}

/* ---------------------------------------------------------------- request input */

/** A query parameter of decimal digits, as an int within [$min, $max]; $default when absent. */
function wharf_query_int($name, $min, $max, $default = null)
{
    if (!isset($_GET[$name]) || $_GET[$name] === '') {
        if ($default === null) {
            throw wharf_bad_input($name, "expected the query parameter $name, got none");
        }
        return $default;
    }
    $text = $_GET[$name];
    if (!is_string($text) || !preg_match('/^[0-9]{1,10}$/', $text) || (int) $text < $min || (int) $text > $max) {
        throw wharf_bad_input($name, "expected an integer in $min..$max, got " . wharf_quote($text));
    }
    return (int) $text;
}

function wharf_query_string($name, $max_chars)
{
    $text = isset($_GET[$name]) ? $_GET[$name] : '';
    if (!is_string($text) || $text === '') {
        throw wharf_bad_input($name, "expected the query parameter $name, got none");
    }
    wharf_check_text($name, $text, $max_chars);
    return $text;
}

/** The POST body: one JSON object. */
function wharf_json_body()
{
    $length = isset($_SERVER['CONTENT_LENGTH']) ? (int) $_SERVER['CONTENT_LENGTH'] : 0;
    if ($length > WHARF_MAX_BODY_BYTES) {
        throw new WharfHttpError(413, 'too_large', 'the body may hold at most ' . WHARF_MAX_BODY_BYTES . ' bytes');
    }
    $raw = file_get_contents('php://input', false, null, 0, WHARF_MAX_BODY_BYTES + 1);
    if ($raw === false || strlen($raw) > WHARF_MAX_BODY_BYTES) {
        throw new WharfHttpError(413, 'too_large', 'the body may hold at most ' . WHARF_MAX_BODY_BYTES . ' bytes');
    }
    $shape = json_decode($raw);
    if (!is_object($shape)) {
        throw wharf_bad_input('body', 'expected a JSON object, got ' . ($raw === '' ? 'an empty body' : wharf_quote($raw)));
    }
    return json_decode($raw, true);
}

/** What came, for error messages: strings quoted, other JSON values as JSON, both shortened. */
function wharf_quote($value)
{
    $text = is_string($value) ? $value : json_encode($value);
    // Cut at 60 characters, not bytes, so the excerpt stays valid UTF-8.
    if (preg_match('/^.{61}/su', $text) && preg_match('/^.{60}/su', $text, $head)) {
        $text = $head[0] . '...';
    }
    return is_string($value) ? '"' . $text . '"' : $text;
}

/**
 * Valid UTF-8 of at most $max_chars characters (MySQL counts varchar lengths in characters),
 * without characters beyond U+FFFF (emoji and the like): ECShop's tables are MySQL `utf8`,
 * three bytes a character, which a strict server refuses them in and a lax one cuts the text
 * at. Refused on SQLite too, so a shop answers the same whatever the bridge runs on.
 */
function wharf_check_text($field, $text, $max_chars)
{
    $count = preg_match_all('/./su', $text);
    if ($count === false) {
        throw wharf_bad_input($field, 'expected UTF-8 text, got invalid bytes');
    }
    if ($count > $max_chars) {
        throw wharf_bad_input($field, "expected at most $max_chars characters, got $count");
    }
    if (preg_match('/[\x{10000}-\x{10FFFF}]/u', $text, $wide)) {
        throw wharf_bad_input($field, 'ECShop\'s utf8 tables cannot hold ' . sprintf('U+%X', wharf_code_point($wide[0])) . ' (characters beyond U+FFFF, such as emoji)');
    }
}

/** The code point of one UTF-8 character of four bytes. */
function wharf_code_point($char)
{
    return ((ord($char[0]) & 0x07) << 18) | ((ord($char[1]) & 0x3F) << 12) | ((ord($char[2]) & 0x3F) << 6) | (ord($char[3]) & 0x3F);
}

/** $text cut to $max_chars characters (for text the bridge composes or copies into a column). */
function wharf_truncate($text, $max_chars)
{
    return preg_match('/^.{0,' . (int) $max_chars . '}/su', $text, $head) ? $head[0] : $text;
}

function wharf_body_string(array $body, $field, $max_chars)
{
    if (!isset($body[$field]) || !is_string($body[$field]) || trim($body[$field]) === '') {
        $got = array_key_exists($field, $body) ? wharf_quote($body[$field]) : 'nothing';
        throw wharf_bad_input($field, "expected a non-empty string, got $got");
    }
    wharf_check_text($field, $body[$field], $max_chars);
    return $body[$field];
}

function wharf_body_int(array $body, $field, $min, $max)
{
    $value = isset($body[$field]) ? $body[$field] : null;
    if (!is_int($value) || $value < $min || $value > $max) {
        $got = array_key_exists($field, $body) ? wharf_quote($body[$field]) : 'nothing';
        throw wharf_bad_input($field, "expected an integer in $min..$max, got $got");
    }
    return $value;
}

function wharf_body_bool(array $body, $field)
{
    if (!isset($body[$field]) || !is_bool($body[$field])) {
        $got = array_key_exists($field, $body) ? wharf_quote($body[$field]) : 'nothing';
        throw wharf_bad_input($field, "expected true or false, got $got");
    }
    return $body[$field];
}

/* ---------------------------------------------------------------- reads */

function wharf_ping(WharfDb $db)
{
    $db->rows('SELECT COUNT(*) AS n FROM ' . $db->table('order_info'));
    return array('bridge' => 'wharf-ecshop', 'version' => WHARF_BRIDGE_VERSION, 'driver' => $db->driver, 'time' => time());
}

/** Orders whose change time is in [since, until], newest first, one page. */
function wharf_orders(WharfDb $db)
{
    $since = wharf_query_int('since', 0, 9999999999);
    $until = wharf_query_int('until', 0, 9999999999);
    if ($since > $until) {
        throw wharf_bad_input('since', "expected since <= until, got $since > $until");
    }
    $page = wharf_query_int('page', 1, 1000000, 1);
    $page_size = wharf_query_int('page_size', 1, WHARF_MAX_PAGE_SIZE, WHARF_DEFAULT_PAGE_SIZE);
    $from = $db->storedTime($since);
    $to = $db->storedTime($until);

    // Candidates: an order whose latest time is in the range has some time in the range, so
    // this filter loses nothing, and it lets MySQL use indexes when the merchant added them.
    $candidates = 'SELECT o.order_id, ' . wharf_changed_at($db) . ' AS changed_at'
        . ' FROM ' . $db->table('order_info') . ' o'
        . ' WHERE o.add_time BETWEEN ? AND ? OR o.confirm_time BETWEEN ? AND ?'
        . ' OR o.pay_time BETWEEN ? AND ? OR o.shipping_time BETWEEN ? AND ?'
        . ' OR o.order_id IN (SELECT l.order_id FROM ' . $db->table('order_action') . ' l WHERE l.log_time BETWEEN ? AND ?)';
    $params = array($from, $to, $from, $to, $from, $to, $from, $to, $from, $to, $from, $to);
    $changed = ' FROM (' . $candidates . ') c WHERE c.changed_at BETWEEN ? AND ?';

    return $db->transaction(function (WharfDb $db) use ($changed, $params, $page, $page_size, $since, $until) {
        $total = $db->rows('SELECT COUNT(*) AS n' . $changed, $params);
        $offset = ($page - 1) * $page_size;
        $ids = array();
        $rows = $db->rows('SELECT c.order_id' . $changed
            . ' ORDER BY c.changed_at DESC, c.order_id ASC LIMIT ' . $page_size . ' OFFSET ' . $offset, $params);
        foreach ($rows as $row) {
            $ids[] = (int) $row['order_id'];
        }
        return array(
            'since' => $since,
            'until' => $until,
            'page' => $page,
            'page_size' => $page_size,
            'total' => (int) $total[0]['n'],
            'orders' => wharf_load_orders($db, $ids),
        );
    });
}

function wharf_order(WharfDb $db)
{
    $order_sn = wharf_query_string('order_sn', 20);
    return $db->transaction(function (WharfDb $db) use ($order_sn) {
        $rows = $db->rows('SELECT order_id FROM ' . $db->table('order_info') . ' WHERE order_sn = ?', array($order_sn));
        if (!$rows) {
            throw new WharfHttpError(404, 'not_found', 'no order with order_sn ' . wharf_quote($order_sn));
        }
        $orders = wharf_load_orders($db, array((int) $rows[0]['order_id']));
        return array('order' => $orders[0]);
    });
}

/* ---------------------------------------------------------------- back orders (returns) */

/** The ecs_back_order columns the bridge hands out (the receiver copy stays in the shop). */
function wharf_back_order_columns()
{
    return array(
        'int' => array('back_id', 'order_id', 'status'),
        'time' => array('add_time', 'update_time', 'return_time'),
        'money' => array('shipping_fee', 'insure_fee'),
        'text' => array('delivery_sn', 'order_sn', 'invoice_no', 'shipping_name', 'action_user'),
    );
}

function wharf_back_goods_columns()
{
    return array(
        'int' => array('rec_id', 'goods_id', 'product_id', 'send_number', 'is_real'),
        'time' => array(),
        'money' => array(),
        'text' => array('goods_name', 'goods_sn', 'product_sn', 'goods_attr'),
    );
}

/**
 * SQL for a back order's change time, over ecs_back_order aliased `b`: the latest of its own
 * times (ECShop writes `return_time` when it makes one; the others are the delivery's) and of
 * its order's action rows, since what becomes of the return is the order's status.
 */
function wharf_back_changed_at(WharfDb $db)
{
    return $db->greatest(array('b.add_time', 'b.update_time', 'b.return_time',
        'COALESCE((SELECT MAX(a.log_time) FROM ' . $db->table('order_action') . ' a WHERE a.order_id = b.order_id), 0)'));
}

/** Back orders with their goods and their whole order, in the order of $back_ids. */
function wharf_load_back_orders(WharfDb $db, array $back_ids)
{
    if (!$back_ids) {
        return array();
    }
    $marks = implode(', ', array_fill(0, count($back_ids), '?'));
    $rows = $db->rows('SELECT ' . wharf_select_list('b', wharf_back_order_columns())
        . ', ' . wharf_back_changed_at($db) . ' AS changed_at'
        . ' FROM ' . $db->table('back_order') . ' b WHERE b.back_id IN (' . $marks . ')', $back_ids);
    $by_id = array();
    $order_ids = array();
    foreach ($rows as $row) {
        $back = wharf_typed($db, $row, wharf_back_order_columns());
        $back['updated_at'] = $db->unixTime($row['changed_at']);
        $back['goods'] = array();
        $back['order'] = null;
        $by_id[$back['back_id']] = $back;
        $order_ids[$back['order_id']] = true;
    }
    $goods = $db->rows('SELECT g.back_id, ' . wharf_select_list('g', wharf_back_goods_columns())
        . ' FROM ' . $db->table('back_goods') . ' g WHERE g.back_id IN (' . $marks . ') ORDER BY g.back_id, g.rec_id', $back_ids);
    foreach ($goods as $row) {
        $by_id[(int) $row['back_id']]['goods'][] = wharf_typed($db, $row, wharf_back_goods_columns());
    }
    $orders = array();
    foreach (wharf_load_orders($db, array_keys($order_ids)) as $order) {
        $orders[$order['order_id']] = $order;
    }
    $backs = array();
    foreach ($back_ids as $id) {
        if (isset($by_id[$id])) {
            $back = $by_id[$id];
            if (isset($orders[$back['order_id']])) {
                $back['order'] = $orders[$back['order_id']];
            }
            $backs[] = $back;
        }
    }
    return $backs;
}

/** Back orders whose change time is in [since, until], newest first, one page. */
function wharf_back_orders(WharfDb $db)
{
    $since = wharf_query_int('since', 0, 9999999999);
    $until = wharf_query_int('until', 0, 9999999999);
    if ($since > $until) {
        throw wharf_bad_input('since', "expected since <= until, got $since > $until");
    }
    $page = wharf_query_int('page', 1, 1000000, 1);
    $page_size = wharf_query_int('page_size', 1, WHARF_MAX_PAGE_SIZE, WHARF_DEFAULT_PAGE_SIZE);
    $from = $db->storedTime($since);
    $to = $db->storedTime($until);
    $candidates = 'SELECT b.back_id, ' . wharf_back_changed_at($db) . ' AS changed_at'
        . ' FROM ' . $db->table('back_order') . ' b'
        . ' WHERE b.add_time BETWEEN ? AND ? OR b.update_time BETWEEN ? AND ? OR b.return_time BETWEEN ? AND ?'
        . ' OR b.order_id IN (SELECT l.order_id FROM ' . $db->table('order_action') . ' l WHERE l.log_time BETWEEN ? AND ?)';
    $params = array($from, $to, $from, $to, $from, $to, $from, $to, $from, $to);
    $changed = ' FROM (' . $candidates . ') c WHERE c.changed_at BETWEEN ? AND ?';

    return $db->transaction(function (WharfDb $db) use ($changed, $params, $page, $page_size, $since, $until) {
        $total = $db->rows('SELECT COUNT(*) AS n' . $changed, $params);
        $offset = ($page - 1) * $page_size;
        $ids = array();
        $rows = $db->rows('SELECT c.back_id' . $changed
            . ' ORDER BY c.changed_at DESC, c.back_id ASC LIMIT ' . $page_size . ' OFFSET ' . $offset, $params);
        foreach ($rows as $row) {
            $ids[] = (int) $row['back_id'];
        }
        return array(
            'since' => $since,
            'until' => $until,
            'page' => $page,
            'page_size' => $page_size,
            'total' => (int) $total[0]['n'],
            'back_orders' => wharf_load_back_orders($db, $ids),
        );
    });
}

function wharf_back_order(WharfDb $db)
{
    $back_id = wharf_query_int('back_id', 1, 16777215);
    return $db->transaction(function (WharfDb $db) use ($back_id) {
        $backs = wharf_load_back_orders($db, array($back_id));
        if (!$backs) {
            throw new WharfHttpError(404, 'not_found', "no back order with back_id $back_id");
        }
        return array('back_order' => $backs[0]);
    });
}

/* ---------------------------------------------------------------- writes */

/**
 * What a merchant code names: a product (货品, one attribute combination, by product_sn) or a
 * goods without products (by goods_sn). Product codes win: they are the more specific.
 */
function wharf_find_sn(WharfDb $db, $sn)
{
    $products = $db->rows('SELECT p.product_id, p.goods_id FROM ' . $db->table('products') . ' p'
        . ' JOIN ' . $db->table('goods') . ' g ON g.goods_id = p.goods_id'
        . ' WHERE p.product_sn = ? AND g.is_delete = 0', array($sn));
    if (count($products) > 1) {
        throw new WharfHttpError(409, 'ambiguous_sn', 'product_sn ' . wharf_quote($sn) . ' names ' . count($products) . ' products; make it unique in the ECShop admin');
    }
    if ($products) {
        return array('kind' => 'product', 'product_id' => (int) $products[0]['product_id'], 'goods_id' => (int) $products[0]['goods_id']);
    }
    $goods = $db->rows('SELECT goods_id FROM ' . $db->table('goods') . ' WHERE goods_sn = ? AND is_delete = 0', array($sn));
    if (count($goods) > 1) {
        throw new WharfHttpError(409, 'ambiguous_sn', 'goods_sn ' . wharf_quote($sn) . ' names ' . count($goods) . ' goods; make it unique in the ECShop admin');
    }
    if (!$goods) {
        throw new WharfHttpError(404, 'not_found', 'no goods_sn or product_sn ' . wharf_quote($sn));
    }
    return array('kind' => 'goods', 'product_id' => null, 'goods_id' => (int) $goods[0]['goods_id']);
}

/** A goods-level change (price, listing) cannot target one product of a goods. */
function wharf_require_goods($found, $sn, $what)
{
    if ($found['kind'] === 'product') {
        throw new WharfHttpError(409, 'product_sn', wharf_quote($sn) . " is a product (attribute combination) of goods {$found['goods_id']}; ECShop keeps $what per goods: send the goods' goods_sn or goods_id");
    }
}

function wharf_product_count(WharfDb $db, $goods_id)
{
    $rows = $db->rows('SELECT COUNT(*) AS n FROM ' . $db->table('products') . ' WHERE goods_id = ?', array($goods_id));
    return (int) $rows[0]['n'];
}

/**
 * Sets the stock of a product or of a goods without products. A goods with products keeps
 * the sum of its products' stock in goods_number, as ECShop's admin does.
 */
function wharf_stock(WharfDb $db, array $body)
{
    $sn = wharf_body_string($body, 'sn', 60);
    $quantity = wharf_body_int($body, 'quantity', 0, WHARF_MAX_STOCK);
    return $db->transaction(function (WharfDb $db) use ($sn, $quantity) {
        $found = wharf_find_sn($db, $sn);
        $now = $db->now();
        if ($found['kind'] === 'product') {
            $others = $db->rows('SELECT COALESCE(SUM(product_number), 0) AS n FROM ' . $db->table('products')
                . ' WHERE goods_id = ? AND product_id <> ?', array($found['goods_id'], $found['product_id']));
            $goods_number = (int) $others[0]['n'] + $quantity;
            if ($goods_number > WHARF_MAX_STOCK) {
                throw new WharfHttpError(409, 'stock_overflow', "goods {$found['goods_id']} would hold $goods_number in all, more than ECShop's goods_number can (" . WHARF_MAX_STOCK . ')');
            }
            $db->run('UPDATE ' . $db->table('products') . ' SET product_number = ? WHERE product_id = ?', array($quantity, $found['product_id']));
        } else {
            if (wharf_product_count($db, $found['goods_id']) > 0) {
                throw new WharfHttpError(409, 'has_products', 'goods_sn ' . wharf_quote($sn) . ' has products (attribute combinations) that hold its stock; send their product_sn');
            }
            $goods_number = $quantity;
        }
        $db->run('UPDATE ' . $db->table('goods') . ' SET goods_number = ?, last_update = ? WHERE goods_id = ?', array($goods_number, $now, $found['goods_id']));
        return array('sn' => $sn, 'goods_id' => $found['goods_id'], 'product_id' => $found['product_id'], 'quantity' => $quantity, 'goods_number' => $goods_number);
    });
}

/** Sets a goods' shop_price (ECShop's selling price; products add attribute prices to it). */
function wharf_price(WharfDb $db, array $body)
{
    $sn = wharf_body_string($body, 'sn', 60);
    $price = isset($body['shop_price']) ? $body['shop_price'] : null;
    if (!is_string($price) || !preg_match(WHARF_MAX_PRICE_PATTERN, $price)) {
        $got = array_key_exists('shop_price', $body) ? wharf_quote($body['shop_price']) : 'nothing';
        throw wharf_bad_input('shop_price', "expected yuan as a decimal string like \"19.90\" (at most 8 digits before the point, 2 after), got $got");
    }
    return $db->transaction(function (WharfDb $db) use ($sn, $price) {
        $found = wharf_find_sn($db, $sn);
        wharf_require_goods($found, $sn, 'prices');
        $db->run('UPDATE ' . $db->table('goods') . ' SET shop_price = ?, last_update = ? WHERE goods_id = ?', array($price, $db->now(), $found['goods_id']));
        return array('sn' => $sn, 'goods_id' => $found['goods_id'], 'shop_price' => wharf_money($price));
    });
}

/** Puts a goods on sale or takes it off (is_on_sale), by goods_id or goods_sn. */
function wharf_listing(WharfDb $db, array $body)
{
    $on_sale = wharf_body_bool($body, 'on_sale');
    $by_id = array_key_exists('goods_id', $body);
    if ($by_id) {
        $goods_id = wharf_body_int($body, 'goods_id', 1, 16777215);
    } else {
        $sn = wharf_body_string($body, 'sn', 60);
    }
    return $db->transaction(function (WharfDb $db) use ($by_id, &$goods_id, &$sn, $on_sale) {
        if ($by_id) {
            $rows = $db->rows('SELECT goods_id, goods_sn FROM ' . $db->table('goods') . ' WHERE goods_id = ? AND is_delete = 0', array($goods_id));
            if (!$rows) {
                throw new WharfHttpError(404, 'not_found', "no goods with goods_id $goods_id");
            }
            $sn = (string) $rows[0]['goods_sn'];
        } else {
            $found = wharf_find_sn($db, $sn);
            wharf_require_goods($found, $sn, 'is_on_sale');
            $goods_id = $found['goods_id'];
        }
        $db->run('UPDATE ' . $db->table('goods') . ' SET is_on_sale = ?, last_update = ? WHERE goods_id = ?', array($on_sale ? 1 : 0, $db->now(), $goods_id));
        return array('goods_id' => $goods_id, 'goods_sn' => $sn, 'is_on_sale' => $on_sale);
    });
}

/**
 * Marks an order shipped with its waybill (invoice_no, as ECShop calls it) and carrier, sends
 * all its goods, and logs an ecs_order_action row so the order's change time moves. Sending
 * the same waybill again changes nothing.
 */
function wharf_ship(WharfDb $db, array $body)
{
    $order_sn = wharf_body_string($body, 'order_sn', 20);
    $invoice_no = wharf_body_string($body, 'invoice_no', 255);
    $shipping_name = wharf_body_string($body, 'shipping_name', 120);
    return $db->transaction(function (WharfDb $db) use ($order_sn, $invoice_no, $shipping_name) {
        $rows = $db->rows('SELECT order_id, order_status, shipping_status, pay_status, confirm_time, invoice_no FROM '
            . $db->table('order_info') . ' WHERE order_sn = ?' . $db->forUpdate(), array($order_sn));
        if (!$rows) {
            throw new WharfHttpError(404, 'not_found', 'no order with order_sn ' . wharf_quote($order_sn));
        }
        $order = $rows[0];
        $order_id = (int) $order['order_id'];
        $order_status = (int) $order['order_status'];
        $shipping_status = (int) $order['shipping_status'];
        // 2 cancelled, 3 invalid, 4 returned: nothing to ship.
        if (in_array($order_status, array(2, 3, 4), true)) {
            throw new WharfHttpError(409, 'order_closed', "order $order_sn has order_status $order_status (cancelled, invalid or returned); it cannot ship");
        }
        $same_waybill = (string) $order['invoice_no'] === $invoice_no;
        // 1 shipped, 2 received.
        if (in_array($shipping_status, array(1, 2), true) && $same_waybill) {
            $loaded = wharf_load_orders($db, array($order_id));
            return array('order' => $loaded[0], 'changed' => false);
        }
        if ($shipping_status === 2) {
            throw new WharfHttpError(409, 'already_received', "order $order_sn was received by the buyer with waybill " . wharf_quote($order['invoice_no']));
        }
        $now = $db->now();
        // ECShop ships confirmed orders only; an unconfirmed one is confirmed by shipping it.
        if ($order_status === 0) {
            $order_status = 1;
            $db->run('UPDATE ' . $db->table('order_info') . ' SET order_status = 1, confirm_time = ? WHERE order_id = ?', array($now, $order_id));
        }
        $db->run('UPDATE ' . $db->table('order_info') . ' SET shipping_status = 1, shipping_time = ?, invoice_no = ?, shipping_name = ? WHERE order_id = ?',
            array($now, $invoice_no, $shipping_name, $order_id));
        $db->run('UPDATE ' . $db->table('order_goods') . ' SET send_number = goods_number WHERE order_id = ?', array($order_id));
        $db->run('INSERT INTO ' . $db->table('order_action')
            . ' (order_id, action_user, order_status, shipping_status, pay_status, action_place, action_note, log_time) VALUES (?, ?, ?, 1, ?, 0, ?, ?)',
            array($order_id, WHARF_ACTION_USER, $order_status, (int) $order['pay_status'],
                wharf_truncate('shipped via Wharf: ' . $shipping_name . ' ' . $invoice_no, WHARF_MAX_NOTE_CHARS), $now));
        $loaded = wharf_load_orders($db, array($order_id));
        return array('order' => $loaded[0], 'changed' => true);
    });
}

/** An optional `YYYY-MM-DD` date of $item (null when absent or null). */
function wharf_body_date(array $item, $key, $field)
{
    if (!isset($item[$key])) {
        return null;
    }
    $text = $item[$key];
    if (!is_string($text) || !preg_match('/^([0-9]{4})-([0-9]{2})-([0-9]{2})$/', $text, $m) || !checkdate((int) $m[2], (int) $m[3], (int) $m[1])) {
        throw wharf_bad_input($field, 'expected a calendar date YYYY-MM-DD, got ' . wharf_quote($text));
    }
    return $text;
}

/** A list of objects under $key. */
function wharf_body_list(array $body, $key)
{
    if (!isset($body[$key]) || !is_array($body[$key]) || array_values($body[$key]) !== $body[$key]) {
        $got = array_key_exists($key, $body) ? wharf_quote($body[$key]) : 'nothing';
        throw wharf_bad_input($key, "expected a list, got $got");
    }
    foreach ($body[$key] as $i => $item) {
        if (!is_array($item)) {
            throw wharf_bad_input("{$key}[$i]", 'expected an object, got ' . wharf_quote($item));
        }
    }
    return $body[$key];
}

/** An ECShop decimal(10,2) price string. */
function wharf_body_price(array $body, $field)
{
    $price = isset($body[$field]) ? $body[$field] : null;
    if (!is_string($price) || !preg_match(WHARF_MAX_PRICE_PATTERN, $price)) {
        $got = array_key_exists($field, $body) ? wharf_quote($body[$field]) : 'nothing';
        throw wharf_bad_input($field, "expected yuan as a decimal string like \"19.90\" (at most 8 digits before the point, 2 after), got $got");
    }
    return $price;
}

/**
 * Replaces the lots on sale of a product or of a goods without products: the lots the ERP
 * sends are all there is afterwards (delete and insert in one transaction). Lots of
 * shipments (delivery_rec_id > 0) stay.
 */
function wharf_lots(WharfDb $db, array $body)
{
    $sn = wharf_body_string($body, 'sn', 60);
    $lots = array();
    $seen = array();
    foreach (wharf_body_list($body, 'lots') as $i => $lot) {
        $batch_no = wharf_body_string($lot, 'batch_no', WHARF_MAX_BATCH_NO_CHARS);
        if (isset($seen[$batch_no])) {
            throw wharf_bad_input("lots[$i].batch_no", 'expected each lot once, got ' . wharf_quote($batch_no) . ' again');
        }
        $seen[$batch_no] = true;
        $produced = wharf_body_date($lot, 'produced_on', "lots[$i].produced_on");
        $expires = wharf_body_date($lot, 'expires_on', "lots[$i].expires_on");
        if ($produced !== null && $expires !== null && $produced > $expires) {
            throw wharf_bad_input("lots[$i].expires_on", "expected a date on or after produced_on $produced, got $expires");
        }
        $quantity = wharf_body_int($lot, 'quantity', 0, WHARF_MAX_STOCK);
        $lots[] = array($batch_no, $produced, $expires, $quantity);
    }
    return $db->transaction(function (WharfDb $db) use ($sn, $lots) {
        $found = wharf_find_sn($db, $sn);
        if ($found['kind'] === 'goods' && wharf_product_count($db, $found['goods_id']) > 0) {
            throw new WharfHttpError(409, 'has_products', 'goods_sn ' . wharf_quote($sn) . ' has products (attribute combinations) that hold its lots; send their product_sn');
        }
        $product_id = $found['product_id'] === null ? 0 : $found['product_id'];
        $table = $db->table(WHARF_LOT_TABLE);
        $db->run("DELETE FROM $table WHERE goods_id = ? AND product_id = ? AND delivery_rec_id = 0", array($found['goods_id'], $product_id));
        foreach ($lots as $lot) {
            $db->run("INSERT INTO $table (goods_id, product_id, batch_no, produced_on, expires_on, quantity, delivery_rec_id) VALUES (?, ?, ?, ?, ?, ?, 0)",
                array($found['goods_id'], $product_id, $lot[0], $lot[1], $lot[2], $lot[3]));
        }
        return array('sn' => $sn, 'goods_id' => $found['goods_id'], 'product_id' => $found['product_id'], 'lots' => count($lots));
    });
}

/**
 * Creates a goods from the ERP's product, or updates the goods with that goods_sn (so a
 * re-sent product never makes a second goods).
 */
function wharf_product(WharfDb $db, array $body)
{
    $goods_sn = wharf_body_string($body, 'goods_sn', 60);
    $values = array(
        'goods_name' => wharf_body_string($body, 'goods_name', WHARF_MAX_GOODS_NAME_CHARS),
        'shop_price' => wharf_body_price($body, 'shop_price'),
        'market_price' => wharf_body_price($body, 'market_price'),
        'goods_number' => wharf_body_int($body, 'goods_number', 0, WHARF_MAX_STOCK),
        'is_on_sale' => wharf_body_bool($body, 'is_on_sale') ? 1 : 0,
        'cat_id' => wharf_body_int($body, 'cat_id', 0, 65535),
        'goods_brief' => isset($body['goods_brief']) ? (string) $body['goods_brief'] : '',
    );
    wharf_check_text('goods_brief', $values['goods_brief'], WHARF_MAX_GOODS_BRIEF_CHARS);
    return $db->transaction(function (WharfDb $db) use ($goods_sn, $values) {
        $table = $db->table('goods');
        $rows = $db->rows("SELECT goods_id FROM $table WHERE goods_sn = ? AND is_delete = 0", array($goods_sn));
        if (count($rows) > 1) {
            throw new WharfHttpError(409, 'ambiguous_sn', 'goods_sn ' . wharf_quote($goods_sn) . ' names ' . count($rows) . ' goods; make it unique in the ECShop admin');
        }
        $now = $db->now();
        $names = array_keys($values);
        $params = array_values($values);
        if ($rows) {
            $goods_id = (int) $rows[0]['goods_id'];
            if (wharf_product_count($db, $goods_id) > 0) {
                throw new WharfHttpError(409, 'has_products', 'goods_sn ' . wharf_quote($goods_sn) . ' has products (attribute combinations); edit it in the ECShop admin');
            }
            $sets = implode(' = ?, ', $names) . ' = ?, last_update = ?';
            $params[] = $now;
            $params[] = $goods_id;
            $db->run("UPDATE $table SET $sets WHERE goods_id = ?", $params);
            return array('goods_id' => $goods_id, 'goods_sn' => $goods_sn, 'created' => false);
        }
        $params[] = $goods_sn;
        $params[] = $now;
        $params[] = $now;
        // goods_desc is text NOT NULL without a default in ECShop's schema: a strict MySQL
        // refuses an INSERT that leaves it out.
        $db->run("INSERT INTO $table (" . implode(', ', $names) . ', goods_sn, add_time, last_update, goods_desc, is_real, is_alone_sale, is_delete)'
            . ' VALUES (' . implode(', ', array_fill(0, count($params), '?')) . ", '', 1, 1, 0)", $params);
        return array('goods_id' => (int) $db->pdo->lastInsertId(), 'goods_sn' => $goods_sn, 'created' => true);
    });
}

/**
 * The shop user an ERP customer is, or a 404 naming what was looked for. UNSURE, and decided
 * here only: ECShop 2.7 users have no company or credit-code column, so a given user_id is
 * taken as is (after checking it exists), and otherwise the credit code must be the user's
 * login name (user_name), as B2B shops register companies under their 统一社会信用代码.
 */
function wharf_match_customer(WharfDb $db, $user_id, $credit_code)
{
    $users = $db->table('users');
    if ($user_id !== null) {
        $rows = $db->rows("SELECT user_id, user_name FROM $users WHERE user_id = ?", array($user_id));
        if (!$rows) {
            throw new WharfHttpError(404, 'not_found', "no user with user_id $user_id");
        }
        return $rows[0];
    }
    $rows = $db->rows("SELECT user_id, user_name FROM $users WHERE user_name = ?", array($credit_code));
    if (!$rows) {
        throw new WharfHttpError(404, 'not_found', 'no user whose user_name is the credit code ' . wharf_quote($credit_code));
    }
    return $rows[0];
}

/** Maps an ERP customer to a shop user, in the bridge's own table (one row per user and ERP code). */
function wharf_customer(WharfDb $db, array $body)
{
    $code = wharf_body_string($body, 'erp_customer_code', 60);
    $name = wharf_body_string($body, 'name', 120);
    $credit_code = isset($body['credit_code']) ? wharf_body_string($body, 'credit_code', 60) : null;
    $user_id = isset($body['user_id']) ? wharf_body_int($body, 'user_id', 1, 16777215) : null;
    if ($user_id === null && $credit_code === null) {
        throw wharf_bad_input('credit_code', 'expected a credit code (or a user_id) to match the user by, got neither');
    }
    return $db->transaction(function (WharfDb $db) use ($code, $name, $credit_code, $user_id) {
        $user = wharf_match_customer($db, $user_id, $credit_code);
        $table = $db->table(WHARF_CUSTOMER_TABLE);
        $db->run("DELETE FROM $table WHERE user_id = ? OR erp_customer_code = ?", array((int) $user['user_id'], $code));
        $db->run("INSERT INTO $table (user_id, erp_customer_code, credit_code, name) VALUES (?, ?, ?, ?)",
            array((int) $user['user_id'], $code, $credit_code === null ? '' : $credit_code, $name));
        return array('user_id' => (int) $user['user_id'], 'user_name' => (string) $user['user_name'], 'erp_customer_code' => $code);
    });
}

/** Locks and reads an order by order_sn, or a 404; cancelled, invalid and returned orders get a 409 when $open. */
function wharf_lock_order(WharfDb $db, $order_sn, $open)
{
    $rows = $db->rows('SELECT * FROM ' . $db->table('order_info') . ' WHERE order_sn = ?' . $db->forUpdate(), array($order_sn));
    if (!$rows) {
        throw new WharfHttpError(404, 'not_found', 'no order with order_sn ' . wharf_quote($order_sn));
    }
    $status = (int) $rows[0]['order_status'];
    if ($open && in_array($status, array(2, 3, 4), true)) {
        throw new WharfHttpError(409, 'order_closed', "order $order_sn has order_status $status (cancelled, invalid or returned); it cannot ship");
    }
    return $rows[0];
}

function wharf_log_action(WharfDb $db, $order_id, array $codes, $note, $log_time)
{
    $db->run('INSERT INTO ' . $db->table('order_action')
        . ' (order_id, action_user, order_status, shipping_status, pay_status, action_place, action_note, log_time) VALUES (?, ?, ?, ?, ?, 0, ?, ?)',
        array($order_id, WHARF_ACTION_USER, $codes[0], $codes[1], $codes[2], $note, $log_time));
}

/**
 * Records goods sent, as ECShop's admin does when it ships part of an order: a delivery order
 * (ecs_delivery_order, status 0 = shipped) with its goods (ecs_delivery_goods, one row per
 * order line and lot), send_number moved on, and the order partly shipped (shipping_status 4,
 * order_status 6 "partly split") or, once every line is sent, shipped (1, order_status 5
 * "split"). ECShop has no lot column: each delivery line's lot goes into the bridge's lot
 * table under its delivery_rec_id.
 */
function wharf_shipment(WharfDb $db, array $body)
{
    $order_sn = wharf_body_string($body, 'order_sn', 20);
    $lines = array();
    foreach (wharf_body_list($body, 'lines') as $i => $line) {
        $lines[] = array(
            'sn' => wharf_body_string($line, 'sn', 60),
            'quantity' => wharf_body_int($line, 'quantity', 1, WHARF_MAX_STOCK),
            'batch_no' => isset($line['batch_no']) ? wharf_body_string($line, 'batch_no', WHARF_MAX_BATCH_NO_CHARS) : null,
            'produced_on' => wharf_body_date($line, 'produced_on', "lines[$i].produced_on"),
            'expires_on' => wharf_body_date($line, 'expires_on', "lines[$i].expires_on"),
            'field' => "lines[$i].sn",
        );
    }
    if (!$lines) {
        throw wharf_bad_input('lines', 'expected at least one line sent, got none');
    }
    return $db->transaction(function (WharfDb $db) use ($order_sn, $lines) {
        $order = wharf_lock_order($db, $order_sn, true);
        $order_id = (int) $order['order_id'];
        $goods = $db->rows('SELECT g.*, p.product_sn FROM ' . $db->table('order_goods') . ' g'
            . ' LEFT JOIN ' . $db->table('products') . ' p ON p.product_id = g.product_id'
            . ' WHERE g.order_id = ? ORDER BY g.rec_id', array($order_id));
        // Check everything first: each piece is (order line index, line, quantity). What is
        // left is counted from earlier delivery orders, not send_number: a tracking-number
        // upload marks every line sent without saying which lots, and the shipment detail
        // that follows must still be recorded.
        $delivered = array();
        foreach ($db->rows('SELECT dg.goods_id, dg.product_id, SUM(dg.send_number) AS sent FROM ' . $db->table('delivery_goods') . ' dg'
            . ' JOIN ' . $db->table('delivery_order') . ' d ON d.delivery_id = dg.delivery_id WHERE d.order_id = ?'
            . ' GROUP BY dg.goods_id, dg.product_id', array($order_id)) as $row) {
            $delivered[$row['goods_id'] . ':' . $row['product_id']] = (int) $row['sent'];
        }
        $left = array();
        foreach ($goods as $k => $g) {
            $gk = $g['goods_id'] . ':' . $g['product_id'];
            $already = isset($delivered[$gk]) ? min($delivered[$gk], (int) $g['goods_number']) : 0;
            if (isset($delivered[$gk])) {
                $delivered[$gk] -= $already;
            }
            $left[$k] = (int) $g['goods_number'] - $already;
        }
        $pieces = array();
        foreach ($lines as $line) {
            $wanted = $line['quantity'];
            $known = false;
            foreach ($goods as $k => $g) {
                $code = ((int) $g['product_id'] > 0 && $g['product_sn'] !== null) ? (string) $g['product_sn'] : (string) $g['goods_sn'];
                if ($code !== $line['sn']) {
                    continue;
                }
                $known = true;
                $take = min($wanted, $left[$k]);
                if ($take > 0) {
                    $pieces[] = array($k, $line, $take);
                    $left[$k] -= $take;
                    $wanted -= $take;
                }
            }
            if (!$known) {
                throw wharf_bad_input($line['field'], 'order ' . $order_sn . ' has no line with code ' . wharf_quote($line['sn']));
            }
            if ($wanted > 0) {
                $left_to_send = $line['quantity'] - $wanted;
                throw new WharfHttpError(409, 'over_shipped', "order $order_sn has $left_to_send of " . wharf_quote($line['sn']) . " left to send, fewer than the {$line['quantity']} this shipment holds");
            }
        }
        $now = $db->now();
        $delivery_sn = gmdate('YmdHis', $db->unixTime($now)) . sprintf('%06d', mt_rand(0, 999999));
        $copied = array('order_id', 'order_sn', 'user_id', 'shipping_id', 'shipping_name', 'consignee', 'address', 'country', 'province',
            'city', 'district', 'sign_building', 'email', 'zipcode', 'tel', 'mobile', 'best_time', 'postscript', 'how_oos',
            'insure_fee', 'shipping_fee', 'agency_id');
        $params = array($delivery_sn, $now, $now, WHARF_ACTION_USER);
        foreach ($copied as $c) {
            // The delivery order's address column is five characters shorter than the
            // order's: ECShop's admin (on sql_mode '') has MySQL cut it; a strict server
            // would refuse it.
            $params[] = $c === 'address' ? wharf_truncate((string) $order[$c], WHARF_MAX_DELIVERY_ADDRESS_CHARS) : $order[$c];
        }
        $db->run('INSERT INTO ' . $db->table('delivery_order') . ' (delivery_sn, add_time, update_time, action_user, ' . implode(', ', $copied)
            . ', invoice_no, status) VALUES (' . implode(', ', array_fill(0, count($params), '?')) . ", '', 0)", $params);
        $delivery_id = (int) $db->pdo->lastInsertId();
        foreach ($pieces as $piece) {
            list($k, $line, $take) = $piece;
            $g = $goods[$k];
            $db->run('INSERT INTO ' . $db->table('delivery_goods')
                . ' (delivery_id, goods_id, product_id, product_sn, goods_name, brand_name, goods_sn, is_real, extension_code, parent_id, send_number, goods_attr)'
                . " VALUES (?, ?, ?, ?, ?, '', ?, ?, ?, ?, ?, ?)",
                array($delivery_id, (int) $g['goods_id'], (int) $g['product_id'], $g['product_sn'], $g['goods_name'], $g['goods_sn'],
                    (int) $g['is_real'], $g['extension_code'], (int) $g['parent_id'], $take, $g['goods_attr']));
            $rec_id = (int) $db->pdo->lastInsertId();
            if ($line['batch_no'] !== null) {
                $db->run('INSERT INTO ' . $db->table(WHARF_LOT_TABLE)
                    . ' (goods_id, product_id, batch_no, produced_on, expires_on, quantity, delivery_rec_id) VALUES (?, ?, ?, ?, ?, ?, ?)',
                    array((int) $g['goods_id'], (int) $g['product_id'], $line['batch_no'], $line['produced_on'], $line['expires_on'], $take, $rec_id));
            }
            $db->run('UPDATE ' . $db->table('order_goods') . ' SET send_number = CASE WHEN send_number + ? > goods_number THEN goods_number ELSE send_number + ? END WHERE rec_id = ?',
                array($take, $take, (int) $g['rec_id']));
        }
        $complete = array_sum($left) === 0;
        $codes = array($complete ? 5 : 6, $complete ? 1 : 4, (int) $order['pay_status']);
        $db->run('UPDATE ' . $db->table('order_info') . ' SET order_status = ?, shipping_status = ?, shipping_time = ?,'
            . ' confirm_time = CASE WHEN confirm_time = 0 THEN ? ELSE confirm_time END WHERE order_id = ?',
            array($codes[0], $codes[1], $now, $now, $order_id));
        wharf_log_action($db, $order_id, $codes, ($complete ? 'shipped' : 'partly shipped') . " via Wharf: delivery $delivery_sn", $now);
        $loaded = wharf_load_orders($db, array($order_id));
        return array('order' => $loaded[0], 'delivery_id' => $delivery_id, 'delivery_sn' => $delivery_sn, 'complete' => $complete);
    });
}

/**
 * An ERP status: a tracking line (an ecs_order_action row at the ERP's time, with the order's
 * statuses), and with `move` also new status codes (null keeps a column).
 */
function wharf_erp_status(WharfDb $db, array $body)
{
    $order_sn = wharf_body_string($body, 'order_sn', 20);
    $erp_status = wharf_body_string($body, 'erp_status', 30);
    $at = wharf_body_int($body, 'at', 0, 9999999999);
    $note = $erp_status;
    if (isset($body['note'])) {
        $note .= ': ' . wharf_body_string($body, 'note', WHARF_MAX_NOTE_CHARS);
    }
    wharf_check_text('note', $note, WHARF_MAX_NOTE_CHARS);
    $move = null;
    if (isset($body['move'])) {
        if (!is_array($body['move'])) {
            throw wharf_bad_input('move', 'expected an object of status codes, got ' . wharf_quote($body['move']));
        }
        $move = array();
        foreach (array('order_status' => 6, 'shipping_status' => 4, 'pay_status' => 2) as $column => $max) {
            $move[$column] = isset($body['move'][$column]) ? wharf_body_int($body['move'], $column, 0, $max) : null;
        }
    }
    $log_time = $db->storedTime($at);
    if ($log_time < 0 || $log_time > WHARF_MAX_STORED_TIME) {
        throw wharf_bad_input('at', "expected a time ECShop can store (log_time is int(11) unsigned, less time_offset), got $at");
    }
    return $db->transaction(function (WharfDb $db) use ($order_sn, $erp_status, $log_time, $note, $move) {
        $order = wharf_lock_order($db, $order_sn, false);
        $order_id = (int) $order['order_id'];
        $codes = array((int) $order['order_status'], (int) $order['shipping_status'], (int) $order['pay_status']);
        if ($move !== null) {
            $i = 0;
            foreach ($move as $value) {
                if ($value !== null) {
                    $codes[$i] = $value;
                }
                $i++;
            }
            $db->run('UPDATE ' . $db->table('order_info') . ' SET order_status = ?, shipping_status = ?, pay_status = ?,'
                . ' confirm_time = CASE WHEN confirm_time = 0 AND ? IN (1, 5, 6) THEN ? ELSE confirm_time END,'
                . ' shipping_time = CASE WHEN shipping_time = 0 AND ? IN (1, 2, 4) THEN ? ELSE shipping_time END WHERE order_id = ?',
                array($codes[0], $codes[1], $codes[2], $codes[0], $log_time, $codes[1], $log_time, $order_id));
        }
        wharf_log_action($db, $order_id, $codes, $note, $log_time);
        $loaded = wharf_load_orders($db, array($order_id));
        return array('order' => $loaded[0], 'moved' => $move !== null);
    });
}

/* ---------------------------------------------------------------- HTTP */

function wharf_send($status, $body, array $headers = array())
{
    if (!headers_sent()) {
        http_response_code($status);
        header('Content-Type: application/json; charset=utf-8');
        header('Cache-Control: no-store');
        header('X-Content-Type-Options: nosniff');
        foreach ($headers as $header) {
            header($header);
        }
    }
    $flags = JSON_UNESCAPED_UNICODE | JSON_UNESCAPED_SLASHES;
    if (defined('JSON_INVALID_UTF8_SUBSTITUTE')) {
        $flags |= JSON_INVALID_UTF8_SUBSTITUTE;
    }
    $json = json_encode($body, $flags);
    if ($json === false) {
        if (!headers_sent()) {
            http_response_code(500);
        }
        $json = json_encode(array('error' => array('code' => 'encoding', 'message' => 'cannot encode the answer as JSON: ' . json_last_error_msg())));
    }
    echo $json;
}

function wharf_send_error(WharfHttpError $e)
{
    $error = array('code' => $e->errorCode, 'message' => $e->getMessage());
    if ($e->field !== null) {
        $error['field'] = $e->field;
    }
    wharf_send($e->status, array('error' => $error), $e->headers);
}

/** action => [HTTP method, handler]. */
function wharf_routes()
{
    return array(
        'ping' => array('GET', 'wharf_ping'),
        'orders' => array('GET', 'wharf_orders'),
        'order' => array('GET', 'wharf_order'),
        'back_orders' => array('GET', 'wharf_back_orders'),
        'back_order' => array('GET', 'wharf_back_order'),
        'stock' => array('POST', 'wharf_stock'),
        'price' => array('POST', 'wharf_price'),
        'listing' => array('POST', 'wharf_listing'),
        'ship' => array('POST', 'wharf_ship'),
        'lots' => array('POST', 'wharf_lots'),
        'product' => array('POST', 'wharf_product'),
        'customer' => array('POST', 'wharf_customer'),
        'shipment' => array('POST', 'wharf_shipment'),
        'erp_status' => array('POST', 'wharf_erp_status'),
    );
}

function wharf_handle()
{
    $config = wharf_load_config();
    wharf_authenticate($config);
    $routes = wharf_routes();
    $action = isset($_GET['action']) ? $_GET['action'] : '';
    if (!is_string($action) || !isset($routes[$action])) {
        throw wharf_bad_input('action', 'expected one of ' . implode(', ', array_keys($routes)) . ', got ' . wharf_quote($action));
    }
    list($method, $handler) = $routes[$action];
    $request_method = isset($_SERVER['REQUEST_METHOD']) ? $_SERVER['REQUEST_METHOD'] : 'GET';
    if ($request_method !== $method) {
        throw new WharfHttpError(405, 'method_not_allowed', "action $action takes $method, got $request_method", null, array('Allow: ' . $method));
    }
    $body = $method === 'POST' ? wharf_json_body() : null;
    $db = new WharfDb($config);
    return $method === 'POST' ? call_user_func($handler, $db, $body) : call_user_func($handler, $db);
}

function wharf_main()
{
    try {
        wharf_send(200, wharf_handle());
    } catch (WharfHttpError $e) {
        wharf_send_error($e);
    } catch (PDOException $e) {
        // After authentication only: the caller holds the token.
        wharf_send_error(new WharfHttpError(500, 'database_error', 'the shop database refused a query: ' . $e->getMessage()));
    } catch (Exception $e) {
        wharf_send_error(new WharfHttpError(500, 'bridge_error', get_class($e) . ': ' . $e->getMessage()));
    } catch (Throwable $e) {
        wharf_send_error(new WharfHttpError(500, 'bridge_error', get_class($e) . ': ' . $e->getMessage()));
    }
}

wharf_main();
