// The screener panel of /valuation: the form → POST /api/v1/screener/stocks (theme.js adds the
// CSRF header to same-origin fetches), the results as a table of links to /valuation/{symbol}.
// Data only ever reaches the page through textContent.

const config = JSON.parse(document.getElementById('valuation-config')?.textContent || '{}');
const form = document.getElementById('screener-form');
const table = document.getElementById('screener-table');
const status = document.getElementById('screener-status');
const prev = document.getElementById('screener-prev');
const next = document.getElementById('screener-next');
let page = 1;
const PAGE_SIZE = 20;

function body() {
  const out = { page, page_size: PAGE_SIZE, sort_by: 'market_cap', sort_order: 'desc' };
  for (const el of form.elements) {
    if (!el.name || el.value.trim() === '') continue;
    if (el.type === 'number') out[el.name] = Number(el.value);
    else if (el.name === 'industry') {
      const list = el.value.split(/[,，]/).map((s) => s.trim()).filter(Boolean);
      out.industry = list.length === 1 ? list[0] : list;
    } else out[el.name] = el.value;
  }
  return out;
}

const fmt = (x, d = 2) => (x === null || x === undefined ? '—' : Number(x).toFixed(d));

async function run() {
  status.textContent = '…';
  let res;
  try {
    res = await fetch('/api/v1/screener/stocks', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body()),
    });
  } catch (e) {
    status.textContent = `${config.error || 'Error'} ${e}`;
    return;
  }
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    status.textContent = `${config.error || 'Error'} ${data?.error?.message || res.status}`;
    table.hidden = true;
    return;
  }
  const tbody = table.querySelector('tbody');
  tbody.replaceChildren();
  for (const s of data.results) {
    const tr = document.createElement('tr');
    const link = document.createElement('a');
    link.href = `/valuation/${encodeURIComponent(s.ts_code)}`;
    link.textContent = s.ts_code;
    const first = document.createElement('td');
    first.append(link);
    tr.append(first);
    for (const text of [s.name, s.industry, s.controller, fmt(s.latest_price), fmt(s.pe_ttm), fmt(s.pb), fmt(s.total_market_cap), s.trade_date]) {
      const td = document.createElement('td');
      td.textContent = text ?? '';
      tr.append(td);
    }
    tbody.append(tr);
  }
  table.hidden = data.results.length === 0;
  status.textContent = data.total === 0 ? config.no_results : `${data.total} ${config.total}`;
  prev.hidden = page <= 1;
  next.hidden = page * PAGE_SIZE >= data.total;
}

if (form) {
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    page = 1;
    run();
  });
  prev.addEventListener('click', () => { page = Math.max(1, page - 1); run(); });
  next.addEventListener('click', () => { page += 1; run(); });
}
