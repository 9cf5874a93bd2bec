// The backtest form: one field per declared parameter of the chosen strategy; submits a
// backtest job and goes to its page. A refused field gets its message next to it.
const form = document.getElementById('backtest-form');
const out = document.getElementById('backtest-error');
const select = form.querySelector('select[name="strategy"]');
const sets = [...form.querySelectorAll('fieldset.strategy-params')];

const current = () => sets.find((s) => s.dataset.strategy === select.value);
const showSet = () => { for (const s of sets) s.hidden = s !== current(); };
select.addEventListener('change', showSet);
showSet();

const clearErrors = () => {
  out.innerHTML = '';
  for (const e of form.querySelectorAll('.field-error')) e.textContent = '';
};
// The message next to the field it names, else above the form's result.
const showError = (message, field) => {
  const slot = field && form.querySelector(`[data-error-for="${CSS.escape(field)}"]`);
  if (slot) { slot.textContent = message; return; }
  const p = document.createElement('p'); p.className = 'error'; p.textContent = message; out.append(p);
};

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  clearErrors();
  const f = new FormData(form);
  const params = {};
  let bad = false;
  for (const input of current()?.querySelectorAll('input[data-param]') || []) {
    const name = input.dataset.param;
    // "abc" in a number field reads as "" with validity.badInput: refused, never the default.
    if (input.validity.badInput || (input.value.trim() !== '' && Number.isNaN(Number(input.value)))) {
      showError(`${input.value || '?'}: ${form.dataset.notNumber}`, `params.${name}`); bad = true; continue;
    }
    if (input.value.trim() !== '') params[name] = Number(input.value);
  }
  if (bad) return;
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
  else showError(v.error.message, v.error.field);
});
