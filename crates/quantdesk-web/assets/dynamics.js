// The dynamics-test page of a job that has not finished: follows the job and reloads the page
// (rendered by the server with the tables and the radar) once it has.
const page = document.querySelector('.dynamics-page');
const id = page.dataset.job;
const stateEl = document.getElementById('dyn-state');
const bar = document.getElementById('dyn-progress');
const terms = JSON.parse(document.getElementById('terms').textContent);
const events = new EventSource(`/api/v1/jobs/${id}/events`);
events.addEventListener('job', (e) => {
  const job = JSON.parse(e.data);
  stateEl.textContent = terms[job.state] || job.state;
  bar.max = Math.max(job.progress.total, 1);
  bar.value = job.progress.done;
  if (['succeeded', 'failed', 'cancelled'].includes(job.state)) { events.close(); location.reload(); }
});
events.addEventListener('end', () => events.close());
