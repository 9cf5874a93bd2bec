// The chart's watchlist side panel: the caller's default watchlist (from /api/v1/watchlists) with
// each symbol's last price and change, in the site's colours (red up for A-shares); a click on a
// symbol switches the chart to it; buttons add the chart's symbol to the list or remove it. The
// panel is collapsible and remembers whether it was open.

const OPEN_KEY = 'quantdesk.watchPanel';

export function setupWatchPanel({ strings, symbol, setSymbol }) {
  const panel = document.getElementById('watch-panel');
  if (!panel) return { symbolChanged() {}, refresh() {} };
  const toggle = document.getElementById('watch-toggle');
  const body = document.getElementById('watch-body');
  const items = document.getElementById('watch-items');
  const status = document.getElementById('watch-status');
  const addBtn = document.getElementById('watch-add');
  const removeBtn = document.getElementById('watch-remove');
  let list = null; // { list: {id, …}, items: [...] }
  const say = (text) => { status.textContent = text || ''; };

  function messageOf(v) {
    const code = v && v.error && v.error.code;
    if (code === 'watchlist_full') return strings.watchFull;
    if (code === 'already_in_watchlist') return strings.watchDuplicate;
    return (v && v.error && v.error.message) || strings.watchFailed;
  }

  function render() {
    items.innerHTML = '';
    const entries = list ? list.items : [];
    panel.dataset.listId = list ? String(list.list.id) : '';
    panel.dataset.count = String(entries.length);
    if (!entries.length) {
      const li = document.createElement('li');
      li.className = 'empty';
      li.textContent = strings.watchEmpty;
      items.append(li);
    }
    for (const it of entries) {
      const li = document.createElement('li');
      li.dataset.symbol = it.symbol;
      if (it.symbol === symbol()) li.setAttribute('aria-current', 'true');
      const pick = document.createElement('button');
      pick.type = 'button';
      pick.className = 'watch-pick';
      const code = document.createElement('b'); code.textContent = it.symbol;
      const name = document.createElement('span'); name.className = 'name'; name.textContent = it.name;
      const price = document.createElement('span'); price.className = 'price';
      const chg = document.createElement('span'); chg.className = 'chg';
      if (it.quote) {
        const cls = it.quote.change > 0 ? 'up' : it.quote.change < 0 ? 'down' : '';
        price.textContent = it.quote.price.toFixed(2);
        chg.textContent = `${it.quote.change_pct > 0 ? '+' : ''}${it.quote.change_pct.toFixed(2)}%`;
        price.className += ` ${cls}`; chg.className += ` ${cls}`;
      } else { price.textContent = '—'; chg.textContent = ''; }
      pick.append(code, name, price, chg);
      pick.addEventListener('click', () => setSymbol(it.symbol));
      const rm = document.createElement('button');
      rm.type = 'button';
      rm.className = 'link watch-rm';
      rm.textContent = '×';
      rm.title = `${strings.watchRemove} ${it.symbol}`;
      rm.setAttribute('aria-label', rm.title);
      rm.addEventListener('click', () => removeSymbol(it.symbol));
      li.append(pick, rm);
      items.append(li);
    }
    const inList = entries.some((it) => it.symbol === symbol());
    addBtn.hidden = inList;
    removeBtn.hidden = !inList;
  }

  async function refresh() {
    try {
      const lists = await (await fetch('/api/v1/watchlists')).json();
      const d = Array.isArray(lists) ? lists.find((l) => l.is_default) : null;
      if (!d) { say(strings.watchFailed); return; }
      const res = await fetch(`/api/v1/watchlists/${d.id}`);
      if (!res.ok) { say(messageOf(await res.json())); return; }
      list = await res.json();
      render();
    } catch (e) { say(String(e.message || e)); }
  }

  async function addSymbol() {
    if (!list) await refresh();
    if (!list) return;
    const res = await fetch(`/api/v1/watchlists/${list.list.id}/items`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ symbol: symbol() }),
    });
    const v = await res.json();
    if (res.ok) { list = v; say(strings.watchAdded); render(); } else say(messageOf(v));
  }

  async function removeSymbol(sym) {
    if (!list) return;
    const res = await fetch(`/api/v1/watchlists/${list.list.id}/items/${encodeURIComponent(sym)}`, { method: 'DELETE' });
    if (res.ok || res.status === 404) { say(res.ok ? strings.watchRemoved : ''); await refresh(); } else say(messageOf(await res.json()));
  }

  function setOpen(open) {
    panel.dataset.open = String(open);
    toggle.setAttribute('aria-expanded', String(open));
    body.hidden = !open;
    localStorage.setItem(OPEN_KEY, open ? '1' : '0');
    if (open) refresh();
  }
  toggle.addEventListener('click', () => setOpen(panel.dataset.open !== 'true'));
  addBtn.addEventListener('click', addSymbol);
  removeBtn.addEventListener('click', () => removeSymbol(symbol()));
  setOpen(localStorage.getItem(OPEN_KEY) === '1');

  return {
    refresh,
    symbolChanged() { if (list) render(); },
  };
}
