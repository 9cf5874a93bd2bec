//! A self-contained HTML report of a backtest: metrics, the equity curve with its drawdown
//! underneath (inline SVG, no scripts), monthly returns and the trade list. One file that opens
//! anywhere and can be mailed.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{DateTime, Datelike};

use crate::BacktestResult;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn day(t: i64) -> String {
    DateTime::from_timestamp(t, 0).map(|d| d.date_naive().to_string()).unwrap_or_default()
}

/// Monthly returns: (year, month) → return, from month-end equity.
pub fn monthly_returns(curve: &[(i64, f64)]) -> BTreeMap<(i32, u32), f64> {
    let mut month_end: BTreeMap<(i32, u32), f64> = BTreeMap::new();
    for &(t, e) in curve {
        if let Some(d) = DateTime::from_timestamp(t, 0) {
            month_end.insert((d.year(), d.month()), e);
        }
    }
    let mut out = BTreeMap::new();
    let mut prev = curve.first().map(|p| p.1);
    for (k, e) in month_end {
        if let Some(p) = prev
            && p != 0.0
        {
            out.insert(k, e / p - 1.0);
        }
        prev = Some(e);
    }
    out
}

/// The x and y ranges of every point of some curves together, so that they share one scale.
fn bounds<'a>(curves: impl IntoIterator<Item = &'a [(f64, f64)]>) -> Option<[f64; 4]> {
    let mut b: Option<[f64; 4]> = None;
    for p in curves.into_iter().flatten() {
        let [x0, x1, lo, hi] = b.get_or_insert([p.0, p.0, p.1, p.1]);
        (*x0, *x1, *lo, *hi) = (x0.min(p.0), x1.max(p.0), lo.min(p.1), hi.max(p.1));
    }
    b
}

fn polyline(points: &[(f64, f64)], [x0, x1, lo, hi]: [f64; 4], w: f64, h: f64, colour: &str, dash: bool) -> String {
    if points.is_empty() {
        return String::new();
    }
    let sx = |x: f64| if x1 > x0 { (x - x0) / (x1 - x0) * w } else { 0.0 };
    let sy = |y: f64| if hi > lo { h - (y - lo) / (hi - lo) * h } else { h / 2.0 };
    let mut s = String::new();
    for p in points {
        let _ = write!(s, "{:.1},{:.1} ", sx(p.0), sy(p.1));
    }
    let dash = if dash { r#" stroke-dasharray="4 3""# } else { "" };
    format!(r#"<polyline fill="none" stroke="{colour}" stroke-width="1.2"{dash} points="{s}"/>"#)
}

const EQUITY_COLOUR: &str = "#1971c2";
const BENCHMARK_COLOUR: &str = "#868e96";

/// Renders the report. `benchmark` is the benchmark's symbol and its curve on the equity scale
/// (`crate::benchmark_curve`); when given, the equity chart draws it too, with a legend.
pub fn html(r: &BacktestResult, title: &str, benchmark: Option<(&str, &[(i64, f64)])>) -> String {
    let m = &r.metrics;
    let curve: Vec<(f64, f64)> = r.equity_curve.iter().map(|(t, e)| (*t as f64, *e)).collect();
    let bench: Vec<(f64, f64)> =
        benchmark.map(|(_, c)| c.iter().map(|(t, v)| (*t as f64, *v)).collect()).unwrap_or_default();
    let mut peak = f64::MIN;
    let dd: Vec<(f64, f64)> = curve
        .iter()
        .map(|(t, e)| {
            peak = peak.max(*e);
            (*t, if peak > 0.0 { e / peak - 1.0 } else { 0.0 })
        })
        .collect();
    let pct = |x: f64| format!("{:.2} %", x * 100.0);
    let rows = [
        ("Final equity", format!("{:.2}", r.final_equity)),
        ("Total return", pct(m.total_return)),
        ("CAGR", pct(m.cagr)),
        ("Annual volatility", pct(m.annual_volatility)),
        ("Sharpe", format!("{:.3}", m.sharpe)),
        ("Sortino", format!("{:.3}", m.sortino)),
        ("Calmar", format!("{:.3}", m.calmar)),
        (
            "Max drawdown",
            format!(
                "{} ({} → {}, {:.0} days)",
                pct(m.max_drawdown.depth),
                day(m.max_drawdown.start),
                day(m.max_drawdown.trough),
                m.max_drawdown.duration_days
            ),
        ),
        ("Closed trades", m.trades.to_string()),
        ("Win rate", pct(m.win_rate)),
        ("Profit factor", crate::metrics::shown(m.profit_factor_value(), 3)),
        ("Exposure", pct(m.exposure)),
        ("VaR / CVaR 95 %", format!("{} / {}", pct(m.var_95), pct(m.cvar_95))),
        ("VaR / CVaR 99 %", format!("{} / {}", pct(m.var_99), pct(m.cvar_99))),
        (
            "Alpha / beta",
            match (m.alpha, m.beta) {
                (Some(a), Some(b)) => format!("{} / {:.3}", pct(a), b),
                _ => "no benchmark".into(),
            },
        ),
    ];
    let mut out = String::with_capacity(64 * 1024);
    let _ = write!(
        out,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{t}</title><style>
body{{font-family:system-ui,sans-serif;margin:2rem;color:#1f2328}}table{{border-collapse:collapse;margin:1rem 0}}
td,th{{border-bottom:1px solid #d0d7de;padding:.25rem .6rem;text-align:right;font-variant-numeric:tabular-nums}}
th:first-child,td:first-child{{text-align:left}}.up{{color:#e03131}}.down{{color:#2b8a3e}}svg{{background:#f6f8fa;border:1px solid #d0d7de}}
</style></head><body><h1>{t}</h1><p>{engine} · strategy <b>{s}</b> {p} · data fingerprint <code>{fp}</code></p>"#,
        t = esc(title),
        engine = esc(&r.engine_version),
        s = esc(&r.strategy),
        p = esc(&format!("{:?}", r.params)),
        fp = r.data_fingerprint
    );
    out.push_str("<h2>Equity and drawdown</h2>");
    if let Some((symbol, _)) = benchmark.filter(|_| !bench.is_empty()) {
        let _ = write!(
            out,
            r#"<p class="legend"><span style="color:{EQUITY_COLOUR}">━ Strategy</span> · <span style="color:{BENCHMARK_COLOUR}">┅ Benchmark {}</span></p>"#,
            esc(symbol)
        );
    }
    // One scale for the equity and the benchmark, so that the two compare.
    let scale = bounds([curve.as_slice(), bench.as_slice()]).unwrap_or([0.0; 4]);
    let _ = write!(
        out,
        r#"<svg width="900" height="260" viewBox="0 0 900 260">{}{}</svg><br>"#,
        polyline(&bench, scale, 900.0, 260.0, BENCHMARK_COLOUR, true),
        polyline(&curve, scale, 900.0, 260.0, EQUITY_COLOUR, false)
    );
    let _ = write!(
        out,
        r#"<svg width="900" height="90" viewBox="0 0 900 90">{}</svg>"#,
        polyline(&dd, bounds([dd.as_slice()]).unwrap_or([0.0; 4]), 900.0, 90.0, "#e03131", false)
    );
    out.push_str("<h2>Metrics</h2><table>");
    for (k, v) in rows {
        let _ = write!(out, "<tr><td>{k}</td><td>{}</td></tr>", esc(&v));
    }
    out.push_str("</table><h2>Monthly returns</h2><table><tr><th>Year</th>");
    for mo in 1..=12 {
        let _ = write!(out, "<th>{mo}</th>");
    }
    out.push_str("</tr>");
    let monthly = monthly_returns(&r.equity_curve);
    let years: std::collections::BTreeSet<i32> = monthly.keys().map(|k| k.0).collect();
    for y in years {
        let _ = write!(out, "<tr><td>{y}</td>");
        for mo in 1..=12 {
            match monthly.get(&(y, mo)) {
                Some(v) => {
                    // Coloured by the figure shown: a month that rounds to 0.0 % is neither.
                    let shown = crate::metrics::shown(v * 100.0, 1);
                    let class = if shown == "0.0" {
                        "flat"
                    } else if *v > 0.0 {
                        "up"
                    } else {
                        "down"
                    };
                    let _ = write!(out, r#"<td class="{class}">{shown}</td>"#);
                }
                None => out.push_str("<td></td>"),
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</table><h2>Trades</h2><table><tr><th>Symbol</th><th>Side</th><th>Entry</th><th>Price</th><th>Exit</th><th>Price</th><th>Quantity</th><th>Costs</th><th>P&amp;L</th></tr>");
    for t in &r.trades {
        let _ = write!(
            out,
            r#"<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td><td class="{}">{:.2}</td></tr>"#,
            esc(t.symbol.as_str()),
            if t.direction > 0 { "long" } else { "short" },
            day(t.entry_time),
            t.entry_price,
            t.exit_time.map(day).unwrap_or_else(|| "open".into()),
            t.exit_price.map(|p| p.to_string()).unwrap_or_default(),
            t.quantity,
            t.costs.to_f64(),
            if t.pnl.is_negative() { "down" } else { "up" },
            t.pnl.to_f64()
        );
    }
    out.push_str("</table></body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(curve: Vec<(i64, f64)>) -> BacktestResult {
        BacktestResult {
            engine_version: "test".into(),
            strategy: "sma_cross".into(),
            params: Default::default(),
            config: Default::default(),
            data_fingerprint: "0".into(),
            final_equity: curve.last().map(|c| c.1).unwrap_or(0.0),
            final_cash: crate::Money::ZERO,
            metrics: crate::metrics::compute(&curve, 100.0, &[], &[], 0, 252.0, 0.0),
            trades: vec![],
            equity_curve: curve,
        }
    }

    /// The `points` of each polyline of the equity chart (the first SVG).
    fn equity_lines(html: &str) -> Vec<Vec<(f64, f64)>> {
        let svg = &html[html.find("<svg").unwrap()..];
        let svg = &svg[..svg.find("</svg>").unwrap()];
        svg.split("points=\"")
            .skip(1)
            .map(|p| {
                p[..p.find('"').unwrap()]
                    .split_whitespace()
                    .map(|xy| {
                        let (x, y) = xy.split_once(',').unwrap();
                        (x.parse().unwrap(), y.parse().unwrap())
                    })
                    .collect()
            })
            .collect()
    }

    #[test]
    fn the_equity_chart_draws_the_benchmark_on_the_same_scale_with_a_legend() {
        let day = 86_400;
        let r = result(vec![(0, 100.0), (day, 110.0), (2 * day, 120.0)]);
        let alone = html(&r, "t", None);
        assert_eq!(equity_lines(&alone).len(), 1, "no benchmark, one line");
        assert!(!alone.contains("Benchmark"));
        // The benchmark ends at 140, above the strategy's best: the strategy's top is no longer
        // the top of the chart.
        let bench = [(0, 100.0), (day, 90.0), (2 * day, 140.0)];
        let both = html(&r, "t", Some(("000300.SH", &bench)));
        let lines = equity_lines(&both);
        assert_eq!(lines.len(), 2, "{both}");
        let (b, e) = (&lines[0], &lines[1]);
        assert_eq!(b.len(), 3);
        assert_eq!(b[2], (900.0, 0.0), "the benchmark's 140 is the top");
        assert_eq!(b[1], (450.0, 260.0), "its 90 the bottom");
        assert_eq!(e[0], (0.0, 260.0 - 10.0 / 50.0 * 260.0), "equity 100 on the shared scale");
        assert_eq!(e[2].1, 260.0 - 30.0 / 50.0 * 260.0, "equity 120 on the shared scale");
        assert!(both.contains("Benchmark 000300.SH"), "a legend names it");
        assert!(both.contains(r#"stroke-dasharray"#));
    }

    #[test]
    fn monthly_returns_by_hand() {
        let t = |s: &str| s.parse::<chrono::NaiveDate>().unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp();
        let curve =
            [(t("2024-01-02"), 100.0), (t("2024-01-31"), 110.0), (t("2024-02-15"), 99.0), (t("2024-03-01"), 99.0)];
        let m = monthly_returns(&curve);
        assert!((m[&(2024, 1)] - 0.1).abs() < 1e-12);
        assert!((m[&(2024, 2)] - (-0.1)).abs() < 1e-12);
        assert_eq!(m[&(2024, 3)], 0.0);
        assert_eq!(esc("<a&b>"), "&lt;a&amp;b&gt;");
    }
}
