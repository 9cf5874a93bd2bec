// The decisions page: "Decide now" submits a decide job for the symbols, follows it, then reloads.
const form = document.getElementById('decide-form');
const out = document.getElementById('decide-error');
const bar = document.getElementById('decide-progress');
form.addEventListener('submit', async (e) => {
  e.preventDefault();
  const symbols = String(new FormData(form).get('symbols')).split(/[\s,]+/).filter(Boolean);
  const res = await fetch('/api/v1/jobs', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ kind: 'decide', params: { symbols } }),
  });
  const v = await res.json();
  if (!res.ok) { out.textContent = v.error.message; return; }
  bar.hidden = false;
  const events = new EventSource(`/api/v1/jobs/${v.id}/events`);
  events.addEventListener('job', (ev) => {
    const job = JSON.parse(ev.data);
    bar.max = Math.max(job.progress.total, 1);
    bar.value = job.progress.done;
    if (job.state === 'succeeded') { events.close(); location.reload(); }
    if (job.state === 'failed' || job.state === 'cancelled') { events.close(); bar.hidden = true; out.textContent = job.error || job.state; }
  });
});
