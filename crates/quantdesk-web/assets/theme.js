// Applies the saved theme on every page.
const theme = localStorage.getItem('quantdesk.theme');
if (theme === 'dark' || theme === 'light') document.documentElement.dataset.theme = theme;
