// The jobs pages: rows follow their job live (Server-Sent Events), and cancel/retry/delete act in
// place (delete only once the job has finished; on a job's own page it returns to the list).
function follow(row) {
  const id = row.dataset.job;
  if (['succeeded', 'failed', 'cancelled'].includes(row.dataset.state)) return;
  const events = new EventSource(`/api/v1/jobs/${id}/events`);
  events.addEventListener('job', (e) => update(row, JSON.parse(e.data)));
  events.addEventListener('end', () => events.close());
  events.onerror = () => events.close();
}

// States and progress phrases in the page's language (identifier → text).
const terms = JSON.parse(document.getElementById('terms')?.textContent || '{}');
const term = (v) => terms[v] ?? (v.startsWith('valued ') && terms.valued ? `${terms.valued} ${v.slice(7)}` : v);

function update(row, job) {
  row.dataset.state = job.state;
  row.querySelector('.state').textContent = term(job.state);
  const bar = row.querySelector('progress');
  bar.max = Math.max(job.progress.total, 1);
  bar.value = job.progress.done;
  row.querySelector('.msg').textContent = job.state === 'failed' && job.error ? job.error : term(job.progress.message);
  const final = ['succeeded', 'failed', 'cancelled'].includes(job.state);
  row.querySelector('[data-action="cancel"]').hidden = final;
  row.querySelector('[data-action="retry"]').hidden = !(job.state === 'failed' || job.state === 'cancelled');
  row.querySelector('[data-action="delete"]').hidden = !final;
}

for (const row of document.querySelectorAll('tr[data-job]')) {
  follow(row);
  row.addEventListener('click', async (e) => {
    const action = e.target.dataset && e.target.dataset.action;
    if (!action) return;
    if (action === 'delete') {
      const res = await fetch(`/api/v1/jobs/${row.dataset.job}`, { method: 'DELETE' });
      if (res.ok && row.closest('.job-page')) window.location.assign('/jobs');
      else if (res.ok) row.remove();
      return;
    }
    const res = await fetch(`/api/v1/jobs/${row.dataset.job}/${action}`, { method: 'POST' });
    if (res.ok) {
      const job = await res.json();
      update(row, job);
      if (action === 'retry') follow(row);
    }
  });
}

// The state filter applies as soon as it changes.
const filter = document.querySelector('.jobs-page .filters select');
if (filter) filter.addEventListener('change', () => filter.form.requestSubmit());

// Schedules: switch on and off, delete.
for (const row of document.querySelectorAll('tr[data-schedule]')) {
  const name = encodeURIComponent(row.dataset.schedule);
  row.addEventListener('change', async (e) => {
    if (e.target.dataset.action !== 'toggle') return;
    const s = JSON.parse(row.dataset.json);
    s.enabled = e.target.checked;
    const res = await fetch(`/api/v1/schedules/${name}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(s) });
    if (res.ok) row.dataset.json = JSON.stringify(await res.json()); else e.target.checked = !e.target.checked;
  });
  row.addEventListener('click', async (e) => {
    if (e.target.dataset.action !== 'delete') return;
    const res = await fetch(`/api/v1/schedules/${name}`, { method: 'DELETE' });
    if (res.ok) row.remove();
  });
}

// A new schedule (or one replaced by name) through the schedules API; on success the page comes
// back with it in the list, on refusal the API's reason shows next to the form.
const scheduleForm = document.getElementById('schedule-form');
if (scheduleForm) {
  scheduleForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const out = document.getElementById('schedule-error');
    out.textContent = '';
    const f = new FormData(scheduleForm);
    const name = String(f.get('name')).trim();
    let params = null;
    try { params = JSON.parse(String(f.get('params')).trim() || '{}'); } catch { /* shown below */ }
    if (!params || typeof params !== 'object' || Array.isArray(params)) { out.textContent = scheduleForm.dataset.badJson; return; }
    const body = { cron: String(f.get('cron')).trim(), kind: f.get('kind'), params, enabled: true, catch_up: f.get('catch_up') === 'on' };
    const zone = String(f.get('timezone')).trim();
    if (zone) body.timezone = zone;
    const button = scheduleForm.querySelector('button[type="submit"]');
    button.disabled = true;
    try {
      const res = await fetch(`/api/v1/schedules/${encodeURIComponent(name)}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      if (res.ok) { window.location.assign(`/jobs?saved=${encodeURIComponent(name)}#schedules`); return; }
      const err = await res.json().catch(() => null);
      out.textContent = `${scheduleForm.dataset.refused} ${(err && err.error && err.error.message) || `HTTP ${res.status}`}`;
    } finally {
      button.disabled = false;
    }
  });
}
