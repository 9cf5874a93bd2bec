// Runs first on every page: applies the saved theme (and one chosen later in another tab), and sends the session's CSRF token with
// every state-changing request the page's scripts make (the server refuses them without it).
const theme = localStorage.getItem('quantdesk.theme');
if (theme === 'dark' || theme === 'light') document.documentElement.dataset.theme = theme;
// A theme chosen in another tab applies here too (charts follow: chart-theme.js).
window.addEventListener('storage', (e) => {
  if (e.key === 'quantdesk.theme' && (e.newValue === 'dark' || e.newValue === 'light')) document.documentElement.dataset.theme = e.newValue;
});

const csrf = document.querySelector('meta[name="csrf-token"]')?.content || '';
const safe = new Set(['GET', 'HEAD', 'OPTIONS']);
const plainFetch = window.fetch.bind(window);
window.fetch = (input, init = {}) => {
  const method = (init.method || (input instanceof Request ? input.method : 'GET')).toUpperCase();
  const url = new URL(input instanceof Request ? input.url : String(input), location.href);
  if (csrf && !safe.has(method) && url.origin === location.origin) {
    const headers = new Headers(init.headers || (input instanceof Request ? input.headers : undefined));
    headers.set('x-csrf-token', csrf);
    init = { ...init, headers };
  }
  return plainFetch(input, init);
};
const plainOpen = XMLHttpRequest.prototype.open;
XMLHttpRequest.prototype.open = function (method, url, ...rest) {
  plainOpen.call(this, method, url, ...rest);
  const target = new URL(String(url), location.href);
  if (csrf && !safe.has(String(method).toUpperCase()) && target.origin === location.origin) {
    this.setRequestHeader('x-csrf-token', csrf);
  }
};
