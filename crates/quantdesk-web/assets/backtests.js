// The backtest form: submits a backtest job and goes to its page.
const form = document.getElementById('backtest-form');
const out = document.getElementById('backtest-error');
form.addEventListener('submit', async (e) => {
  e.preventDefault();
  const f = new FormData(form);
  const params = {};
  for (const kv of String(f.get('params') || '').split(/[\s,]+/).filter(Boolean)) {
    const [k, v] = kv.split('=');
    if (k && v !== undefined && !Number.isNaN(Number(v))) params[k] = Number(v);
  }
  const body = {
    kind: 'backtest',
    params: {
      symbols: String(f.get('symbols')).split(/[\s,]+/).filter(Boolean),
      strategy: f.get('strategy'),
      params,
      adjustment: f.get('adjustment'),
      from: f.get('from') || null,
      to: f.get('to') || null,
      benchmark: String(f.get('benchmark') || '').trim() || null,
      config: {
        cash: Number(f.get('cash')),
        fill: f.get('fill'),
        costs: { commission_rate: Number(f.get('commission')) },
        market: { profile: f.get('market') },
      },
    },
  };
  const res = await fetch('/api/v1/jobs', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const v = await res.json();
  if (res.ok) location.href = `/backtests/${v.id}`;
  else { out.innerHTML = ''; const p = document.createElement('p'); p.className = 'error'; p.textContent = v.error.message; out.append(p); }
});
