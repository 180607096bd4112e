// Wharf console: one page over the HTTP API (see runtime/src/console/mod.rs).
//
// The token the visitor signs in with stays in this tab (sessionStorage) and goes with every
// request; the API decides what it may see. Pages are functions of the route in the URL's
// hash (#/orders, #/after-sales, …); each reads the API, renders, and wires its buttons.
'use strict';

// Shops' time zone: China Standard Time unless configured per shop.
const TIME_ZONE = 'Asia/Shanghai';
// How often the live view asks for figures, and how much history its chart keeps.
const LIVE_EVERY_MS = 2000;
const LIVE_HISTORY_MS = 60 * 60 * 1000;
const XLSX = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';

const state = {
  token: sessionStorage.getItem('wharf.token'),
  who: null,
  tenant: sessionStorage.getItem('wharf.tenant'),
  modules: [],
  skuModules: [],
  statuses: [],
  erpStatuses: ['accepted', 'picking', 'packed', 'out_of_stock', 'shipped', 'signed', 'cancelled'],
  sheets: ['stock', 'prices', 'lots', 'products', 'customers', 'invoices', 'after_sales'],
  timer: null,
  live: {},
};

// ---- small helpers -------------------------------------------------------------------

const $ = (sel, root = document) => root.querySelector(sel);

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const dateTime = new Intl.DateTimeFormat('zh-CN', {
  timeZone: TIME_ZONE, year: 'numeric', month: '2-digit', day: '2-digit',
  hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false,
});
function when(t) {
  if (!t) return '';
  const d = new Date(typeof t === 'number' ? t : t);
  return isNaN(d) ? String(t) : dateTime.format(d);
}
function money(fen, currency = 'CNY') {
  if (fen === undefined || fen === null) return '';
  const sign = fen < 0 ? '-' : '';
  const abs = Math.abs(fen);
  const yuan = `${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
  return `${sign}${currency === 'CNY' ? '¥' : currency + ' '}${yuan}`;
}
function remaining(until) {
  const ms = new Date(until) - Date.now();
  if (ms <= 0) return 'ended';
  const m = Math.floor(ms / 60000);
  return m >= 60 ? `${Math.floor(m / 60)} h ${m % 60} min left` : `${m} min left`;
}

function toast(text, error = false) {
  const box = el('div', { class: error ? 'error' : '' }, text);
  $('#toast').append(box);
  setTimeout(() => box.remove(), error ? 8000 : 3000);
}

class ApiError extends Error {
  constructor(status, body) {
    super(body && body.message ? body.message : `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

// One API call; JSON in and out unless told. Throws ApiError with the server's message.
async function api(method, path, body, opts = {}) {
  const headers = { Authorization: `Bearer ${state.token}` };
  let payload = body;
  if (body !== undefined && !(body instanceof Blob) && !(body instanceof ArrayBuffer)) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  } else if (body !== undefined) {
    headers['Content-Type'] = opts.type || 'application/octet-stream';
  }
  const res = await fetch(path, { method, headers, body: payload });
  if (opts.blob && res.ok) return res.blob();
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!res.ok && !opts.keep) throw new ApiError(res.status, data);
  return opts.keep ? { status: res.status, data } : data;
}

const t = (path) => `/v1/tenants/${encodeURIComponent(state.tenant)}${path}`;

async function download(path, name) {
  const blob = await api('GET', path, undefined, { blob: true });
  const a = el('a', { href: URL.createObjectURL(blob), download: name });
  document.body.append(a);
  a.click();
  a.remove();
}

// A table of `rows` by `columns`: [header, row => cell, {num}], with an optional click.
function table(rows, columns, onRow) {
  const head = el('tr', {}, columns.map(([h]) => el('th', {}, h)));
  const body = rows.map((r) =>
    el('tr', { class: onRow ? 'clickable' : '', onclick: onRow ? () => onRow(r) : null },
      columns.map(([, f, o]) => el('td', { class: o && o.num ? 'num' : '' }, f(r)))));
  if (!rows.length) body.push(el('tr', {}, el('td', { colspan: columns.length, class: 'muted' }, 'Nothing here.')));
  return el('table', {}, el('thead', {}, head), el('tbody', {}, body));
}

function form(fields, submit, label) {
  const f = el('form', { class: 'inline' });
  for (const field of fields) f.append(field);
  f.append(el('button', { type: 'submit' }, label));
  f.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const data = Object.fromEntries(new FormData(f).entries());
    try { await submit(data, f); } catch (e) { toast(e.message, true); }
  });
  return f;
}
const input = (name, label, attrs = {}) => el('label', {}, label, el('input', { name, ...attrs }));
const select = (name, label, options, attrs = {}) =>
  el('label', {}, label, el('select', { name, ...attrs }, options.map((o) => {
    const [value, text] = Array.isArray(o) ? o : [o, o];
    return el('option', { value }, text);
  })));
const button = (text, onclick, cls = 'secondary', attrs = {}) =>
  el('button', { type: 'button', class: cls, ...attrs, onclick: async (ev) => {
    ev.stopPropagation();
    const b = ev.currentTarget;
    b.disabled = true;
    try { await onclick(); } catch (e) { toast(e.message, true); } finally { b.disabled = false; }
  } }, text);

function pairs(text) {
  const out = {};
  for (const line of (text || '').split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}

// ---- pages ---------------------------------------------------------------------------

const TENANT_PAGES = [
  ['orders', 'Orders'], ['after-sales', 'After-sales'], ['by-hand', 'By hand'], ['imports', 'Imports'], ['switches', 'Stock & switches'],
  ['dead-letters', 'Dead letters'], ['quarantine', 'Quarantine'], ['live', 'Live'],
];
const OPERATOR_PAGES = [['tenants', 'Tenants & shops'], ['plugins', 'Plugins'], ['tokens', 'Tokens']];

const pages = {
  async orders(main, params) {
    main.append(el('h1', {}, 'Orders'));
    const q = new URLSearchParams({ limit: '100' });
    if (params.sync === 'any' || !params.sync) q.set('any_sync', 'true'); else q.set('sync', params.sync);
    for (const k of ['status', 'shop_id', 'order_id']) if (params[k]) q.set(k, params[k]);
    if (params.from) q.set('updated_from', new Date(params.from).toISOString());
    if (params.to) q.set('updated_to', new Date(params.to).toISOString());
    const filters = form([
      input('shop_id', 'Shop', { value: params.shop_id || '' }),
      select('status', 'Status', ['', ...state.statuses].map((s) => [s, s || 'any'])),
      select('sync', 'Sync', [['any', 'any'], ['unsynced', 'unsynced'], ['synced', 'synced']]),
      input('from', 'Updated from', { type: 'datetime-local' }), input('to', 'Updated to', { type: 'datetime-local' }),
    ], (data) => go('orders', data), 'Filter');
    if (params.status) filters.status.value = params.status;
    if (params.sync) filters.sync.value = params.sync;
    main.append(filters);
    main.append(button('Download as .xlsx', () => download(t(`/orders.xlsx?${q}`), `${state.tenant}-orders.xlsx`), 'secondary', { id: 'orders-xlsx' }));
    const page = await api('GET', t(`/orders?${q}`));
    const detail = el('div', { id: 'order-detail' });
    main.append(el('section', { class: 'card' }, table(page.orders, [
      ['Order', (o) => o.order.order_id], ['Shop', (o) => o.order.shop_id], ['Status', (o) => o.order.status],
      ['Refund', (o) => o.order.refund_status], ['Paid', (o) => money(o.order.paid_total, o.order.currency), { num: true }],
      ['Updated', (o) => when(o.order.updated_at)], ['Sync', (o) => o.sync], ['Version', (o) => o.version, { num: true }],
    ], (o) => showOrder(detail, o).catch((e) => toast(e.message, true)))), detail);
  },

  async 'after-sales'(main) {
    main.append(el('h1', {}, 'After-sales'));
    main.append(button('Download as .xlsx', () => download(t('/after-sales.xlsx?any_sync=true'), `${state.tenant}-after-sales.xlsx`)));
    const page = await api('GET', t('/after-sales?any_sync=true&limit=500'));
    const answer = async (a, decision) => {
      let reason;
      if (decision.startsWith('refuse')) {
        reason = prompt('Why (shown to the buyer)?');
        if (!reason) return;
      }
      const body = [{ after_sale_id: a.after_sale.after_sale_id, order_id: a.after_sale.order_id, decision, reason, refund_version: a.after_sale.refund_version }];
      const report = await api('POST', t('/updates/after_sales'), body);
      toast(`${decision.replace('_', ' ')}: queued ${report.queued}`);
    };
    main.append(el('section', { class: 'card' }, table(page.after_sales, [
      ['After-sale', (a) => a.after_sale.after_sale_id], ['Order', (a) => a.after_sale.order_id], ['Shop', (a) => a.after_sale.shop_id],
      ['Kind', (a) => a.after_sale.kind], ['Status', (a) => a.after_sale.status],
      ['Stop parcel', (a) => (a.intercept ? el('span', { class: 'pill off' }, 'intercept') : '')],
      ['Refund', (a) => money(a.after_sale.refund_amount + a.after_sale.shipping_refund, a.after_sale.currency), { num: true }],
      ['Reason', (a) => a.after_sale.reason || ''], ['Updated', (a) => when(a.after_sale.updated_at)],
      ['Answer', (a) => (a.after_sale.status === 'requested' ? [
        button('Agree', () => answer(a, a.after_sale.kind.startsWith('refund') ? 'agree_refund' : 'agree_return')),
        ' ', button('Refuse', () => answer(a, a.after_sale.kind.startsWith('refund') ? 'refuse_refund' : 'refuse_return'), 'danger'),
      ] : '')],
    ])));
  },

  // What the sync does, by hand: list or delist SKUs in bulk, ship an order with its tracking
  // number, move an order's ERP status. Each goes through the same queue as the ERP's updates.
  async 'by-hand'(main) {
    main.append(el('h1', {}, 'By hand'));
    const answer = el('div', { id: 'by-hand-report' });
    const submit = async (kind, records) => {
      const report = await api('POST', t(`/updates/${kind}`), records);
      const refused = report.rejected || [];
      answer.replaceChildren(el('p', { class: refused.length ? 'bad' : 'good' },
        `${kind}: ${report.queued} queued, ${report.unchanged} unchanged, ${report.unsupported} not taken by the shop's platform` +
        (refused.length ? `, ${refused.length} refused: ${refused.map((r) => r.reason).join('; ')}` : '')));
    };
    const listing = form([
      el('label', {}, 'SKUs (outer_sku_id), one per line', el('textarea', { name: 'skus', required: true })),
      select('listed', 'Action', [['true', 'list (上架)'], ['false', 'delist (下架)']]),
    ], (d) => submit('listing', d.skus.split(/\s+/).filter(Boolean).map((sku) => ({ outer_sku_id: sku, listed: d.listed === 'true' }))), 'Send');
    listing.id = 'listing-form';
    const shipped = form([
      input('order_id', 'Order', { required: true }), input('carrier_code', 'Carrier (ERP code)', { required: true }),
      input('tracking_no', 'Tracking number', { required: true }),
    ], (d) => submit('logistics', [{ order_id: d.order_id, carrier_code: d.carrier_code, tracking_no: d.tracking_no, shipped_at: new Date().toISOString() }]), 'Ship');
    shipped.id = 'logistics-form';
    const status = form([
      input('order_id', 'Order', { required: true }),
      select('erp_status', 'ERP status', state.erpStatuses),
      input('note', 'Note'),
    ], (d) => submit('erp_status', [{ order_id: d.order_id, erp_status: d.erp_status, at: new Date().toISOString(), note: d.note || undefined }]), 'Send');
    status.id = 'erp-status-form';
    main.append(
      el('section', { class: 'card' }, el('h2', {}, 'List or delist in bulk'), listing),
      el('section', { class: 'card' }, el('h2', {}, 'Ship an order (tracking number)'), shipped),
      el('section', { class: 'card' }, el('h2', {}, "An order's ERP status"), status),
      answer);
  },

  async imports(main) {
    main.append(el('h1', {}, 'Imports'));
    const report = el('div', { id: 'import-report' });
    const bar = el('div', { class: 'progress', hidden: true }, el('div'));
    const f = form([
      select('kind', 'Kind', state.sheets),
      el('label', {}, 'Workbook (.xlsx)', el('input', { name: 'file', type: 'file', accept: '.xlsx', id: 'import-file' })),
    ], async (data) => {
      const file = data.file;
      if (!file || !file.size) { toast('Choose an .xlsx file first', true); return; }
      report.replaceChildren(el('p', { class: 'muted' }, `Importing ${file.name}…`));
      bar.hidden = false;
      const { status, data: answer } = await upload(t(`/imports/${data.kind}`), file, bar.firstChild);
      bar.hidden = true;
      renderImport(report, status, answer);
    }, 'Import');
    f.id = 'import-form';
    main.append(el('section', { class: 'card' }, f,
      button('Download the template', () => download(t(`/imports/${f.kind.value}/template.xlsx`), `${f.kind.value}-template.xlsx`)),
      bar, report));
  },

  async switches(main) {
    main.append(el('h1', {}, 'Stock & switches'));
    const [list, shops] = await Promise.all([api('GET', t('/switches')), api('GET', t('/shops'))]);
    const off = new Set(list.modules_off.map((m) => `${m.shop}/${m.module}`));
    const modules = el('section', { class: 'card' }, el('h2', {}, 'Modules per shop'));
    modules.append(table(shops, [
      ['Shop', (s) => s.id],
      ...state.modules.map((m) => [m, (s) => {
        const on = !off.has(`${s.id}/${m}`);
        return button(on ? 'on' : 'off', async () => {
          await api('PUT', t(`/shops/${encodeURIComponent(s.id)}/modules/${m}`), { on: !on });
          toast(`${s.id} ${m}: ${on ? 'off' : 'on'}`);
          route();
        }, `pill ${on ? 'on' : 'off'}`, { 'data-switch': `${s.id}/${m}` });
      }]),
    ]));
    const skus = el('section', { class: 'card' }, el('h2', {}, 'SKUs switched off'));
    skus.append(form([input('sku', 'SKU (outer_sku_id)', { required: true }), select('kind', 'Kind', state.skuModules),
      select('on', 'State', [['false', 'off'], ['true', 'on']])], async (d) => {
      await api('PUT', t(`/skus/${encodeURIComponent(d.sku)}/${d.kind}`), { on: d.on === 'true' });
      toast(`${d.sku} ${d.kind}: ${d.on === 'true' ? 'on' : 'off'}`);
      route();
    }, 'Switch'));
    skus.lastChild.id = 'sku-form';
    skus.append(table(list.skus_off, [['SKU', (s) => s.sku], ['Kind', (s) => s.kind],
      ['', (s) => button('Switch on', async () => { await api('PUT', t(`/skus/${encodeURIComponent(s.sku)}/${s.kind}`), { on: true }); route(); })]]));
    const holds = el('section', { class: 'card' }, el('h2', {}, 'Stock held by hand'));
    holds.append(form([input('sku', 'SKU', { required: true }), input('quantity', 'Quantity', { type: 'number', min: 0, required: true }),
      input('hours', 'For hours', { type: 'number', min: 1, value: 24 }), input('note', 'Note')], async (d) => {
      const until = new Date(Date.now() + Number(d.hours || 24) * 3600e3).toISOString();
      await api('PUT', t(`/holds/${encodeURIComponent(d.sku)}`), { quantity: Number(d.quantity), until, note: d.note || undefined });
      toast(`${d.sku} held at ${d.quantity}`);
      route();
    }, 'Hold'));
    holds.lastChild.id = 'hold-form';
    holds.append(table(list.holds, [['SKU', (h) => h.sku], ['Quantity', (h) => h.quantity, { num: true }],
      ['Until', (h) => when(h.until)], ['Remaining', (h) => remaining(h.until)], ['Note', (h) => h.note || ''],
      ['', (h) => button('Release', async () => { await api('DELETE', t(`/holds/${encodeURIComponent(h.sku)}`)); toast(`${h.sku} released`); route(); }, 'danger', { 'data-release': h.sku })]]));
    main.append(modules, skus, holds);
  },

  async 'dead-letters'(main) {
    main.append(el('h1', {}, 'Dead letters'));
    const letters = await api('GET', t('/dead-letters'));
    const bar = el('div', { class: 'progress', hidden: true }, el('div'));
    const all = [...letters.deliveries.map((l) => ['deliveries', l.delivery.id]), ...letters.pushes.map((l) => ['pushes', l.push.id])];
    main.append(button(`Replay all (${all.length})`, async () => {
      bar.hidden = false;
      let done = 0;
      for (const [queue, id] of all) {
        await api('POST', t(`/dead-letters/${queue}/${id}/replay`));
        done += 1;
        bar.firstChild.style.width = `${(100 * done) / all.length}%`;
      }
      toast(`Replayed ${done}`);
      route();
    }, 'secondary', { id: 'replay-all', disabled: !all.length }), bar);
    const actions = (queue, id) => [
      button('Replay', async () => { await api('POST', t(`/dead-letters/${queue}/${id}/replay`)); toast('Replayed'); route(); }, 'secondary', { 'data-replay': `${queue}/${id}` }),
      ' ', button('Discard', async () => { if (confirm('Discard for good?')) { await api('POST', t(`/dead-letters/${queue}/${id}/discard`)); route(); } }, 'danger'),
    ];
    main.append(el('section', { class: 'card' }, el('h2', {}, 'Deliveries to the ERP'), table(letters.deliveries, [
      ['What', (l) => `${l.delivery.carries} ${l.delivery.key.order_id} v${l.delivery.version}`], ['Shop', (l) => l.delivery.key.shop_id],
      ['Route', (l) => l.delivery.route], ['Reason', (l) => el('span', { class: 'bad' }, l.reason)], ['At', (l) => when(l.at)],
      ['', (l) => actions('deliveries', l.delivery.id)]])));
    main.append(el('section', { class: 'card' }, el('h2', {}, 'Updates to shops'), table(letters.pushes, [
      ['Module', (l) => l.push.module], ['Item', (l) => l.push.item], ['Shop', (l) => l.push.shop],
      ['Reason', (l) => el('span', { class: 'bad' }, l.reason)], ['At', (l) => when(l.at)], ['', (l) => actions('pushes', l.push.id)]])));
  },

  async quarantine(main) {
    main.append(el('h1', {}, 'Quarantine'));
    const list = await api('GET', t('/quarantine'));
    const path = (r) => t(`/quarantine/${encodeURIComponent(r.shop_id)}/${encodeURIComponent(r.stream)}/${encodeURIComponent(r.id)}`);
    main.append(el('section', { class: 'card' }, table(list.records, [
      ['Record', (r) => r.id], ['Shop', (r) => r.shop_id], ['From', (r) => r.stream], ['Field', (r) => r.field],
      ['Reason', (r) => el('span', { class: 'bad' }, r.reason)], ['Plugin', (r) => r.plugin],
      ['', (r) => [button('Retry', async () => { await api('POST', `${path(r)}/retry`); toast('Will be fetched again'); route(); }),
        ' ', button('Discard', async () => { if (confirm('Discard for good?')) { await api('POST', `${path(r)}/discard`); route(); } }, 'danger')]],
    ])));
  },

  async live(main) {
    main.append(el('h1', {}, 'Live'));
    const box = el('div', { class: 'grid', id: 'live' });
    main.append(el('p', { class: 'muted' }, `Every ${LIVE_EVERY_MS / 1000} s; the charts show orders delivered to the ERP over the last hour this page has watched.`), box);
    const tick = async () => {
      const progress = await api('GET', t('/progress'));
      const now = Date.now();
      box.replaceChildren(...progress.shops.map((s) => {
        const key = `${state.tenant}/${s.shop}`;
        const h = (state.live[key] = (state.live[key] || []).filter(([at]) => now - at < LIVE_HISTORY_MS));
        h.push([now, s.delivered]);
        return el('section', { class: 'card', 'data-shop': s.shop },
          el('h2', {}, s.shop, ' ', el('span', { class: `pill ${s.state === 'ok' ? 'on' : 'off'}` }, s.state)),
          table([s], [['Pulled', (x) => x.pulled, { num: true }], ['Delivered', (x) => x.delivered, { num: true }],
            ['Pushed', (x) => x.pushed, { num: true }], ['Pending', (x) => x.pending, { num: true }],
            ['Dead', (x) => x.dead_lettered, { num: true }], ['Quarantined', (x) => x.quarantined, { num: true }]]),
          chart(h), s.last_error ? el('p', { class: 'bad' }, s.last_error) : null);
      }));
    };
    await tick();
    state.timer = setInterval(() => tick().catch((e) => toast(e.message, true)), LIVE_EVERY_MS);
  },

  async tenants(main) {
    main.append(el('h1', {}, 'Tenants & shops'));
    const tenants = await api('GET', '/v1/tenants');
    for (const tenant of tenants) {
      const shops = await api('GET', `/v1/tenants/${encodeURIComponent(tenant.id)}/shops`);
      main.append(el('section', { class: 'card' }, el('h2', {}, tenant.id),
        table(shops, [['Shop', (s) => s.id], ['Platform', (s) => s.platform], ['Plugin', (s) => s.plugin],
          ['Credentials', (s) => (Array.isArray(s.credentials) ? s.credentials : Object.keys(s.credentials || {})).join(', ')], ['Enabled', (s) => String(s.enabled !== false)]])));
    }
    const f = form([
      select('tenant', 'Tenant', tenants.map((x) => x.id)), input('id', 'Shop id', { required: true }),
      input('platform', 'Platform', { required: true }), input('plugin', 'Plugin', { required: true }),
      el('label', {}, 'Config (key=value per line)', el('textarea', { name: 'config' })),
      el('label', {}, 'Credentials (key=value per line; never shown again)', el('textarea', { name: 'credentials', autocomplete: 'off' })),
      input('grants', 'Hosts granted (comma-separated)'),
    ], async (d) => {
      const shop = { id: d.id, platform: d.platform, plugin: d.plugin, config: pairs(d.config), credentials: pairs(d.credentials),
        grants: (d.grants || '').split(',').map((g) => g.trim()).filter(Boolean) };
      await api('POST', `/v1/tenants/${encodeURIComponent(d.tenant)}/shops`, shop);
      toast(`Shop ${d.id} added`);
      route();
    }, 'Add shop');
    main.append(el('section', { class: 'card' }, el('h2', {}, 'Add a shop'), f));
  },

  async plugins(main) {
    main.append(el('h1', {}, 'Plugins'));
    const plugins = await api('GET', '/v1/plugins');
    main.append(el('section', { class: 'card' }, table(plugins, [
      ['Plugin', (p) => p.name], ['Active', (p) => el('strong', { 'data-active': p.name }, p.active)], ['Previous', (p) => p.previous || ''],
      ['Versions', (p) => p.versions.join(', ')], ['Pins', (p) => Object.entries(p.pins).map(([k, v]) => `${k}→${v}`).join(', ')],
      ['Grants', (p) => p.grants.join(', ')],
      ['', (p) => [
        el('select', { 'data-version': p.name }, p.versions.map((v) => el('option', { value: v, selected: v === p.active }, v))),
        ' ', button('Activate', async () => {
          const version = $(`select[data-version="${p.name}"]`).value;
          await api('POST', `/v1/plugins/${encodeURIComponent(p.name)}/activate`, { version });
          toast(`${p.name} ${version} active`); route();
        }, 'secondary', { 'data-activate': p.name }),
        ' ', button('Roll back', async () => { await api('POST', `/v1/plugins/${encodeURIComponent(p.name)}/rollback`); toast(`${p.name} rolled back`); route(); }, 'danger', { 'data-rollback': p.name, disabled: !p.previous }),
      ]],
    ])));
    const names = plugins.map((p) => p.name);
    const tenants = (await api('GET', '/v1/tenants')).map((x) => x.id);
    const pin = form([select('name', 'Plugin', names), select('tenant', 'Tenant', tenants), input('version', 'Version', { required: true })], async (d) => {
      await api('PUT', `/v1/plugins/${encodeURIComponent(d.name)}/pins/${encodeURIComponent(d.tenant)}`, { version: d.version });
      toast(`${d.tenant} pinned to ${d.name} ${d.version}`); route();
    }, 'Pin');
    const unpin = form([select('name', 'Plugin', names), select('tenant', 'Tenant', tenants)], async (d) => {
      await api('DELETE', `/v1/plugins/${encodeURIComponent(d.name)}/pins/${encodeURIComponent(d.tenant)}`);
      toast(`${d.tenant} follows ${d.name}'s active version again`); route();
    }, 'Unpin');
    const grants = form([select('name', 'Plugin', names), input('hosts', 'Hosts it may reach (comma-separated)', { required: true })], async (d) => {
      const hosts = d.hosts.split(',').map((h) => h.trim()).filter(Boolean);
      await api('PUT', `/v1/plugins/${encodeURIComponent(d.name)}/grants`, { hosts });
      toast(`${d.name} may reach ${hosts.join(', ')}`); route();
    }, 'Grant');
    main.append(el('section', { class: 'card' }, el('h2', {}, 'Pin a tenant to a version (a canary)'), pin, unpin),
      el('section', { class: 'card' }, el('h2', {}, 'Hosts granted'), grants));
    const f = form([
      el('label', {}, 'Component (.wasm)', el('input', { name: 'file', type: 'file', accept: '.wasm', id: 'plugin-file' })),
      input('grant', 'Grant hosts (comma-separated)'), input('signature', 'Signature (base64 ed25519, when required)'),
      el('label', {}, 'Activate', el('input', { name: 'activate', type: 'checkbox', value: 'true' })),
    ], async (d) => {
      const q = new URLSearchParams();
      if (d.grant) q.set('grant', d.grant);
      if (d.activate) q.set('activate', 'true');
      const headers = d.signature ? { 'X-Wharf-Signature': d.signature.trim() } : {};
      const { status, data } = await upload(`/v1/plugins?${q}`, d.file, null, 'application/wasm', headers);
      if (status >= 400) throw new ApiError(status, data);
      toast(`${data.name} ${data.version} admitted${data.active ? ' and active' : ''}`);
      route();
    }, 'Upload');
    f.id = 'plugin-form';
    main.append(el('section', { class: 'card' }, el('h2', {}, 'Upload a version'), f));
  },

  async tokens(main) {
    main.append(el('h1', {}, 'Tokens'));
    const tenants = await api('GET', '/v1/tenants');
    for (const tenant of tenants) {
      const tokens = await api('GET', `/v1/tenants/${encodeURIComponent(tenant.id)}/tokens`);
      main.append(el('section', { class: 'card' }, el('h2', {}, tenant.id), table(tokens, [
        ['Name', (x) => x.name], ['Id', (x) => x.id], ['Decrypt', (x) => (x.decrypt ? 'yes' : '')],
        ['', (x) => button('Revoke', async () => {
          if (!confirm(`Revoke ${x.name}? It stops working at once.`)) return;
          await api('DELETE', `/v1/tenants/${encodeURIComponent(tenant.id)}/tokens/${x.id}`); route();
        }, 'danger', { 'data-revoke': x.id })],
      ])));
    }
    const shown = el('pre', { id: 'new-token', hidden: true });
    const f = form([select('tenant', 'Tenant', tenants.map((x) => x.id)), input('name', 'Name', { required: true }),
      el('label', {}, 'May decrypt receivers', el('input', { name: 'decrypt', type: 'checkbox', value: 'true' }))], async (d) => {
      const made = await api('POST', `/v1/tenants/${encodeURIComponent(d.tenant)}/tokens`, { name: d.name, decrypt: !!d.decrypt });
      shown.hidden = false;
      shown.textContent = `${made.token}\n(shown once: copy it now)`;
    }, 'Create');
    main.append(el('section', { class: 'card' }, el('h2', {}, 'New token'), f, shown));
  },
};

async function showOrder(box, o) {
  const r = o.order.receiver || {};
  const path = ['orders', o.order.platform, o.order.shop_id, o.order.order_id].map(encodeURIComponent).join('/');
  const versions = await api('GET', t(`/${path}/versions`)).catch(() => []);
  box.replaceChildren(el('section', { class: 'card' },
    el('h2', {}, `Order ${o.order.order_id} (version ${o.version})`),
    el('p', {}, `${o.order.platform} · ${o.order.shop_id} · ${o.order.status} · created ${when(o.order.created_at)}`),
    el('p', {}, 'Receiver (masked): ', [r.name, r.phone, r.province, r.city, r.district, r.address].filter(Boolean).join(' ')),
    table(o.order.lines, [['Line', (l) => l.line_id], ['SKU', (l) => l.outer_sku_id || ''], ['Title', (l) => l.title],
      ['Qty', (l) => l.quantity, { num: true }], ['Unit', (l) => money(l.unit_price, o.order.currency), { num: true }],
      ['Total', (l) => money(l.line_total, o.order.currency), { num: true }], ['Refund', (l) => l.refund_status]]),
    el('h2', {}, 'Every version'),
    table(versions, [['Version', (v) => v.version, { num: true }], ['Status', (v) => v.order.status],
      ['Refund', (v) => v.order.refund_status], ['Paid', (v) => money(v.order.paid_total, v.order.currency), { num: true }],
      ['Updated on the platform', (v) => when(v.order.updated_at)], ['Stored', (v) => when(v.stored_at)]])));
}

const SVG = 'http://www.w3.org/2000/svg';

function chart(history) {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', 'chart');
  svg.setAttribute('viewBox', '0 0 300 60');
  svg.setAttribute('preserveAspectRatio', 'none');
  if (history.length > 1) {
    const [t0, v0] = history[0];
    const span = Math.max(1, history[history.length - 1][0] - t0);
    const top = Math.max(1, ...history.map(([, v]) => v - v0));
    const line = document.createElementNS(SVG, 'polyline');
    line.setAttribute('points', history.map(([at, v]) => `${(300 * (at - t0)) / span},${58 - (56 * (v - v0)) / top}`).join(' '));
    svg.append(line);
  }
  return svg;
}

function renderImport(box, status, answer) {
  if (!answer || !answer.rows) {
    box.replaceChildren(el('p', { class: 'bad' }, answer && answer.message ? answer.message : `HTTP ${status}`));
    return;
  }
  const refused = answer.rows.filter((r) => !r.accepted).length;
  box.replaceChildren(
    el('p', { class: refused ? 'bad' : 'good', id: 'import-summary' }, refused
      ? `${refused} of ${answer.rows.length} rows refused: nothing was applied. Fix them and import the file again.`
      : `All ${answer.rows.length} rows applied.`),
    table(answer.rows, [['Row', (r) => r.row, { num: true }], ['Accepted', (r) => (r.accepted ? 'yes' : 'no')],
      ['Column', (r) => (r.errors && r.errors.length ? r.errors.map((e) => e.column).join('\n') : r.column || '')],
      ['Reason', (r) => (r.errors && r.errors.length ? r.errors.map((e) => e.reason).join('\n') : r.reason || '')]]));
  for (const [i, r] of answer.rows.entries()) if (!r.accepted) box.querySelectorAll('tbody tr')[i].classList.add('rejected');
}

// An upload with progress (fetch has none): the answer's status and JSON.
function upload(path, file, bar, type = XLSX, headers = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    xhr.setRequestHeader('Authorization', `Bearer ${state.token}`);
    xhr.setRequestHeader('Content-Type', type);
    for (const [k, v] of Object.entries(headers)) xhr.setRequestHeader(k, v);
    if (bar) xhr.upload.onprogress = (e) => { if (e.lengthComputable) bar.style.width = `${(100 * e.loaded) / e.total}%`; };
    xhr.onload = () => { let data = null; try { data = JSON.parse(xhr.responseText); } catch { data = xhr.responseText; } resolve({ status: xhr.status, data }); };
    xhr.onerror = () => reject(new Error('the upload failed'));
    xhr.send(file);
  });
}

// ---- sign-in, navigation, routing ----------------------------------------------------

function go(page, params = {}) {
  const q = new URLSearchParams(Object.entries(params).filter(([, v]) => v)).toString();
  location.hash = `#/${page}${q ? `?${q}` : ''}`;
}

function signIn() {
  $('#nav').replaceChildren();
  $('#who').textContent = '';
  $('#sign-out').hidden = true;
  const f = form([input('token', 'API token', { type: 'password', required: true, id: 'token', autocomplete: 'off' })], async (d) => {
    state.token = d.token.trim();
    try {
      await whoAmI();
    } catch (e) {
      state.token = null;
      throw e;
    }
    sessionStorage.setItem('wharf.token', state.token);
    go(state.who.operator ? 'tenants' : 'orders');
    route();
  }, 'Sign in');
  f.id = 'sign-in';
  $('#app').replaceChildren(el('section', { class: 'card signin' }, el('h1', {}, 'Sign in'),
    el('p', { class: 'muted' }, 'With a tenant token (its own tenant) or the operator token (every tenant).'), f));
}

async function whoAmI() {
  state.who = await api('GET', '/v1/whoami');
  if (!state.who.operator) state.tenant = state.who.tenant;
  const doc = await fetch('/openapi.json').then((r) => r.json());
  // The module names come from the API's own document (the host's module table), so the
  // pages speak the vocabulary the config, the CLI and the sheets speak.
  const enumOf = (schema) => {
    if (!schema) return [];
    if (schema.enum) return schema.enum.filter((v) => v !== null);
    if (schema.$ref) return enumOf((doc.components.schemas || {})[schema.$ref.split('/').pop()]);
    for (const alt of schema.oneOf || schema.anyOf || []) {
      const found = enumOf(alt);
      if (found.length) return found;
    }
    return [];
  };
  const names = (path, method, name) => {
    const op = (doc.paths[path] || {})[method] || {};
    const p = (op.parameters || []).find((x) => x.name === name);
    return enumOf(p && p.schema);
  };
  state.modules = names('/v1/tenants/{tenant}/shops/{shop}/modules/{module}', 'put', 'module');
  state.skuModules = names('/v1/tenants/{tenant}/skus/{sku}/{kind}', 'put', 'kind');
  state.statuses = names('/v1/tenants/{tenant}/orders', 'get', 'status');
  const erpStatuses = enumOf({ $ref: '#/components/schemas/ErpStatusCode' });
  if (erpStatuses.length) state.erpStatuses = erpStatuses;
  const sheets = names('/v1/tenants/{tenant}/imports/{kind}', 'post', 'kind');
  if (sheets.length) state.sheets = sheets;
  if (state.who.operator && !state.tenant) {
    const tenants = await api('GET', '/v1/tenants');
    state.tenant = tenants.length ? tenants[0].id : null;
  }
}

function nav(current) {
  const links = [...(state.who.operator ? OPERATOR_PAGES : []), ...(state.tenant ? TENANT_PAGES : [])];
  $('#nav').replaceChildren(...links.map(([p, label]) => el('a', { href: `#/${p}`, class: p === current ? 'active' : '', 'data-page': p }, label)));
  const who = state.who.operator ? 'operator' : `tenant ${state.tenant}`;
  $('#who').replaceChildren(who);
  if (state.who.operator && state.tenant) {
    const pick = el('select', { id: 'tenant-pick', onchange: (e) => { state.tenant = e.target.value; sessionStorage.setItem('wharf.tenant', state.tenant); route(); } });
    api('GET', '/v1/tenants').then((ts) => {
      for (const x of ts) pick.append(el('option', { value: x.id, selected: x.id === state.tenant }, x.id));
    });
    $('#who').append(' · ', pick);
  }
  $('#sign-out').hidden = false;
}

async function route() {
  if (state.timer) { clearInterval(state.timer); state.timer = null; }
  if (!state.token) return signIn();
  if (!state.who) {
    try { await whoAmI(); } catch (e) { sessionStorage.removeItem('wharf.token'); state.token = null; toast(e.message, true); return signIn(); }
  }
  const [path, query] = location.hash.replace(/^#\//, '').split('?');
  const page = pages[path] ? path : state.who.operator ? 'tenants' : 'orders';
  nav(page);
  const main = el('div', { 'data-page': page });
  $('#app').replaceChildren(main);
  try {
    await pages[page](main, Object.fromEntries(new URLSearchParams(query || '')));
  } catch (e) {
    main.append(el('p', { class: 'bad', id: 'page-error' }, e.status === 404 ? `Not found: ${e.message}` : e.message));
  }
}

document.addEventListener('DOMContentLoaded', () => {
  $('#sign-out').addEventListener('click', () => {
    sessionStorage.clear();
    Object.assign(state, { token: null, who: null, tenant: null });
    location.hash = '';
    signIn();
  });
  window.addEventListener('hashchange', route);
  route();
});
