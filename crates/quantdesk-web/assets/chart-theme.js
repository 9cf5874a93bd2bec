// The colours of every lightweight-charts chart in the page's theme (`data-theme` on <html>,
// set by theme.js), and charts that follow the theme when it changes while the page is open
// (the chart page's switch, or the switch in another tab: theme.js hears it).
export function themeOptions() {
  const dark = document.documentElement.dataset.theme === 'dark';
  return {
    layout: { background: { color: dark ? '#0d1117' : '#ffffff' }, textColor: dark ? '#e6edf3' : '#1f2328', panes: { separatorColor: dark ? '#30363d' : '#d0d7de' } },
    grid: { vertLines: { color: dark ? '#1c2128' : '#f0f2f4' }, horzLines: { color: dark ? '#1c2128' : '#f0f2f4' } },
  };
}

/** Re-colours `chart` whenever the page's theme changes. */
export function followTheme(chart) {
  new MutationObserver(() => chart.applyOptions(themeOptions()))
    .observe(document.documentElement, { attributes: true, attributeFilter: ['data-theme'] });
  return chart;
}
