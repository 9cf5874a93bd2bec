//! `/backtests`, `/backtests/{id}`, `/backtests/compare` and `/sweeps/{id}`.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use quantdesk_app::jobs::{BacktestOutcome, BacktestParams, SweepParams, read_params, read_result};
use quantdesk_backtest::Market;
use quantdesk_server::AppState;

use super::{JobRow, PageCtx, ReqLang, error_page, html, json_island};

/// A run in the list of recent backtests.
pub struct RunRow {
    pub id: i64,
    pub state: &'static str,
    pub state_label: String,
    pub symbols: String,
    pub strategy_label: String,
    /// The strategy's parameters as `k=v`, space-separated.
    pub params: String,
    /// Why a failed run failed.
    pub error: String,
    pub total_return: String,
    pub sharpe: String,
    pub created: String,
}

#[derive(Template)]
#[template(path = "backtests.html")]
struct BacktestsPage {
    page: PageCtx,
    /// (identifier, label)
    strategies: Vec<(&'static str, String)>,
    markets: Vec<(&'static str, String)>,
    fills: Vec<(&'static str, String)>,
    param_sets: Vec<ParamSet>,
    default_symbol: String,
    runs: Vec<RunRow>,
}

/// One strategy's parameter fields on the backtest form.
struct ParamSet {
    strategy: &'static str,
    label: String,
    fields: Vec<ParamField>,
}

/// One declared parameter as a form field: its label, default, range and step.
struct ParamField {
    name: &'static str,
    label: &'static str,
    default: String,
    min: String,
    max: String,
    step: &'static str,
    range: String,
}

/// The form's fields of every strategy, from the strategies' declarations.
fn param_sets(lang: crate::i18n::Lang, strategies: &[&'static str]) -> Vec<ParamSet> {
    use quantdesk_backtest::strategy::{ParamKind, parameters};
    strategies
        .iter()
        .map(|&strategy| ParamSet {
            strategy,
            label: lang.term(strategy),
            fields: parameters(strategy)
                .unwrap_or(&[])
                .iter()
                .map(|p| ParamField {
                    name: p.name,
                    label: lang.strategy_param(p.name),
                    default: p.default.to_string(),
                    min: p.min.to_string(),
                    max: p.max.to_string(),
                    step: if p.kind == ParamKind::Integer { "1" } else { "any" },
                    range: format!("{} – {}", p.min, p.max),
                })
                .collect(),
        })
        .collect()
}

/// `/backtests`: the form that starts a backtest job, and the recent runs.
/// The caller's latest 50 jobs of `kind` (only those in `state` when given), and the symbol a
/// form should offer first; an error page when the store fails.
pub(super) async fn recent_runs(
    state: &AppState,
    lang: &ReqLang,
    kind: &str,
    job_state: Option<quantdesk_store::jobs::JobState>,
) -> Result<(Vec<quantdesk_store::jobs::Job>, Option<quantdesk_core::Symbol>), Response> {
    let filter = quantdesk_store::jobs::JobFilter {
        kind: Some(kind.into()),
        owner: lang.owner_filter(),
        state: job_state,
        limit: 50,
        ..Default::default()
    };
    let found = async {
        Ok::<_, quantdesk_store::StoreError>((
            state.store.list_jobs(&filter).await?,
            state.store.busiest_symbol().await?,
        ))
    }
    .await;
    found.map_err(|e| {
        tracing::error!(error = %e, kind, "a runs page failed");
        let t = lang.lang.strings();
        error_page(lang, StatusCode::INTERNAL_SERVER_ERROR, t.error_title, t.error_text)
    })
}

/// The strategies the form offers, in its order.
const STRATEGIES: [&str; 6] = ["sma_cross", "macd", "rsi", "bollinger", "voting", "buy_and_hold"];

pub async fn backtests(State(state): State<AppState>, lang: ReqLang) -> Response {
    let (jobs, busiest) = match recent_runs(&state, &lang, "backtest", None).await {
        Ok(x) => x,
        Err(page) => return page,
    };
    let runs = jobs
        .iter()
        .map(|j| {
            let params = read_params::<BacktestParams>(&j.params);
            let result = read_result::<BacktestParams>(j.result.as_deref());
            let num = |v: Option<f64>, scale: f64, digits: usize| {
                v.filter(|x| x.is_finite()).map(|x| format!("{:.*}", digits, x * scale)).unwrap_or_default()
            };
            RunRow {
                id: j.id,
                state: j.state.as_str(),
                state_label: lang.lang.term(j.state.as_str()),
                symbols: params.as_ref().map(|p| p.symbols.join(", ")).unwrap_or_default(),
                params: params
                    .as_ref()
                    .map(|p| p.params.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" "))
                    .unwrap_or_default(),
                error: if j.state == quantdesk_store::jobs::JobState::Failed {
                    j.error.clone().unwrap_or_default()
                } else {
                    String::new()
                },
                strategy_label: lang.lang.term(params.as_ref().map_or("sma_cross", |p| p.strategy.as_str())),
                total_return: num(result.as_ref().map(|r| r.metrics.total_return), 100.0, 2),
                sharpe: num(result.as_ref().map(|r| r.metrics.sharpe), 1.0, 3),
                created: JobRow::new(j, lang.lang).created,
            }
        })
        .collect();
    html(
        StatusCode::OK,
        BacktestsPage {
            page: lang.ctx("backtests"),
            strategies: STRATEGIES.iter().map(|&s| (s, lang.lang.term(s))).collect(),
            markets: ["cn-a", "generic"].into_iter().map(|m| (m, lang.lang.term(m))).collect(),
            fills: ["next_open", "close"].into_iter().map(|f| (f, lang.lang.term(f))).collect(),
            param_sets: param_sets(lang.lang, &STRATEGIES),
            default_symbol: busiest.map(|s| s.to_string()).unwrap_or_default(),
            runs,
        }
        .render(),
    )
}

#[derive(Template)]
#[template(path = "sweep.html")]
struct SweepPage {
    page: PageCtx,
    id: i64,
    metric: String,
    config_json: String,
}

/// `/sweeps/{id}`: a finished sweep's runs as a sortable table and a heat map of a metric over two
/// parameters (drawn by sweep.js from the job's `sweep.json`).
pub async fn sweep(State(state): State<AppState>, lang: ReqLang, Path(id): Path<i64>) -> Response {
    let t = lang.lang.strings();
    match state.store.job(id).await {
        Ok(Some(job))
            if job.kind == "sweep"
                && lang.sees(&job.owner)
                && job.state == quantdesk_store::jobs::JobState::Succeeded =>
        {
            let metric = read_params::<SweepParams>(&job.params).map(|p| p.metric);
            let config = serde_json::json!({
                "strings": {
                    "finalEquity": t.bt_final_equity, "totalReturn": t.bt_return, "maxDrawdown": t.bt_max_drawdown,
                    "trades": t.bt_trades, "winRate": t.bt_win_rate,
                    "cagr": t.bt_cagr, "sharpe": t.bt_sharpe, "sortino": t.bt_sortino, "calmar": t.bt_calmar,
                    "profitFactor": t.bt_profit_factor,
                }
            });
            html(
                StatusCode::OK,
                SweepPage {
                    page: lang.ctx("jobs"),
                    id,
                    metric: metric.unwrap_or_else(|| "sharpe".into()),
                    config_json: json_island(&config),
                }
                .render(),
            )
        }
        Ok(_) => error_page(&lang, StatusCode::NOT_FOUND, t.not_found_title, t.job_not_found),
        Err(e) => {
            tracing::error!(error = %e, "sweep page failed");
            error_page(&lang, StatusCode::INTERNAL_SERVER_ERROR, t.error_title, t.error_text)
        }
    }
}

/// One row of the comparison: a label and one cell per run, the best marked.
pub struct CompareRow {
    pub label: String,
    pub cells: Vec<(String, bool)>,
}

#[derive(Template)]
#[template(path = "compare.html")]
struct ComparePage {
    page: PageCtx,
    ids: Vec<i64>,
    rows: Vec<CompareRow>,
}

/// The most runs one comparison shows.
const COMPARE_MAX: usize = 6;

/// `/backtests/compare?ids=1&ids=2` (or `ids=1,2`): finished runs side by side: their settings,
/// every metric with the best marked, and (drawn by compare.js) their equity rebased to 100.
/// Runs that are not the caller's, not backtests or not finished are left out.
pub async fn compare_backtests(
    State(state): State<AppState>,
    lang: ReqLang,
    axum::extract::Query(pairs): axum::extract::Query<Vec<(String, String)>>,
) -> Response {
    let t = lang.lang.strings();
    let mut ids: Vec<i64> = Vec::new();
    for (k, v) in pairs {
        if k == "ids" {
            for id in v.split(',').filter_map(|s| s.trim().parse::<i64>().ok()) {
                if !ids.contains(&id) && ids.len() < COMPARE_MAX {
                    ids.push(id);
                }
            }
        }
    }
    let mut runs = Vec::new();
    for id in ids {
        match state.store.job(id).await {
            Ok(Some(j))
                if j.kind == "backtest"
                    && lang.sees(&j.owner)
                    && j.state == quantdesk_store::jobs::JobState::Succeeded =>
            {
                runs.push(j)
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %e, "compare page failed");
                return error_page(&lang, StatusCode::INTERNAL_SERVER_ERROR, t.error_title, t.error_text);
            }
        }
    }
    let parsed: Vec<(Option<BacktestParams>, Option<BacktestOutcome>)> = runs
        .iter()
        .map(|j| (read_params::<BacktestParams>(&j.params), read_result::<BacktestParams>(j.result.as_deref())))
        .collect();
    let text_row = |label: &str, f: &dyn Fn(&BacktestParams) -> String| CompareRow {
        label: label.to_string(),
        cells: parsed.iter().map(|(p, _)| (p.as_ref().map(f).unwrap_or_default(), false)).collect(),
    };
    let mut rows = vec![
        text_row(t.symbol, &|p| p.symbols.join(", ")),
        text_row(t.bt_strategy, &|p| lang.lang.term(&p.strategy)),
        text_row(t.bt_params, &|p| p.params.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(" ")),
        text_row(t.bt_market, &|p| match p.config.as_ref().map(|c| c.market) {
            Some(Market::CnA(_)) => lang.lang.term("cn-a"),
            _ => lang.lang.term("generic"),
        }),
    ];
    let (cagr, volatility, exposure) =
        (format!("{} %", t.bt_cagr), format!("{} %", t.bt_volatility), format!("{} %", t.bt_exposure));
    // (label, the run's value, scale, digits, larger is better)
    type Pick = fn(&BacktestOutcome) -> f64;
    let metrics: [(&str, Pick, f64, usize, bool); 12] = [
        (t.bt_final_equity, |r| r.final_equity, 1.0, 2, true),
        (t.bt_return, |r| r.metrics.total_return, 100.0, 2, true),
        (&cagr, |r| r.metrics.cagr, 100.0, 2, true),
        (t.bt_sharpe, |r| r.metrics.sharpe, 1.0, 3, true),
        (t.bt_sortino, |r| r.metrics.sortino, 1.0, 3, true),
        (t.bt_calmar, |r| r.metrics.calmar, 1.0, 3, true),
        (t.bt_max_drawdown, |r| r.metrics.max_drawdown.depth, 100.0, 2, true),
        (&volatility, |r| r.metrics.annual_volatility, 100.0, 2, false),
        (t.bt_trades, |r| r.metrics.trades as f64, 1.0, 0, true),
        (t.bt_win_rate, |r| r.metrics.win_rate, 100.0, 1, true),
        (t.bt_profit_factor, |r| r.metrics.profit_factor_value(), 1.0, 3, true),
        (&exposure, |r| r.metrics.exposure, 100.0, 1, false),
    ];
    for (label, pick, scale, digits, larger_better) in metrics {
        // NaN is undefined ("—"); an infinite profit factor (no losing trade) is shown as ∞.
        let values: Vec<Option<f64>> =
            parsed.iter().map(|(_, r)| r.as_ref().map(pick).filter(|x| !x.is_nan())).collect();
        let best = values.iter().flatten().copied().reduce(|a, b| if (b > a) == larger_better { b } else { a });
        // Trades count has no better direction, and a tie has no best: mark nothing.
        let all_equal = values.iter().flatten().all(|v| Some(*v) == best);
        let mark = label != t.bt_trades && values.iter().flatten().count() > 1 && !all_equal;
        rows.push(CompareRow {
            label: label.to_string(),
            cells: values
                .iter()
                .map(|v| match v {
                    Some(x) => (quantdesk_backtest::metrics::shown(x * scale, digits), mark && Some(*x) == best),
                    None => ("—".to_string(), false),
                })
                .collect(),
        });
    }
    html(
        StatusCode::OK,
        ComparePage { page: lang.ctx("backtests"), ids: runs.iter().map(|j| j.id).collect(), rows }.render(),
    )
}

#[derive(Template)]
#[template(path = "backtest.html")]
struct BacktestPage {
    page: PageCtx,
    rs: &'static crate::i18n::RegimeStrings,
    id: i64,
    /// The run's state in the reader's language.
    state_label: String,
    config_json: String,
    /// The split by regime of a finished run.
    regimes: Option<SplitView>,
    /// What the dynamics-test button says it does; absent when the run's parameters are unknown.
    dynamics_note: Option<String>,
}

/// One row of the split by regime, formatted.
pub struct SplitRowView {
    /// `all` for the whole period, else the label's number.
    pub key: String,
    pub label: String,
    pub bars: String,
    pub total_return: String,
    pub sharpe: String,
    pub max_drawdown: String,
    /// `up` or `down` for the return's colour.
    pub sign: &'static str,
}

/// The split by regime of a finished run, as the page shows it.
pub struct SplitView {
    /// The run came before the split existed.
    pub older: bool,
    pub note: String,
    pub multi: Option<String>,
    /// Why there is no split: (the reader's words, the code).
    pub refused: Option<(String, String)>,
    /// The whole period first, then one row per state.
    pub rows: Vec<SplitRowView>,
    pub unlabeled: Option<String>,
}

/// A regime label's name: the chart's names of the three states, else "State n".
pub(super) fn state_name(t: &crate::i18n::Strings, label: usize, dynamics: usize) -> String {
    match t.regime_names3.get(label) {
        Some(name) if dynamics == 3 => name.to_string(),
        _ => t.regime_state.replace("{n}", &(label + 1).to_string()),
    }
}

fn split_view(lang: crate::i18n::Lang, outcome: &BacktestOutcome) -> SplitView {
    use quantdesk_backtest::metrics::shown;
    let (t, rs) = (lang.strings(), lang.regimes());
    let pct = |x: Option<f64>| x.map_or_else(|| "—".to_string(), |v| shown(v * 100.0, 2));
    let sign = |x: Option<f64>| match x {
        Some(v) if v > 0.0 => "up",
        Some(v) if v < 0.0 => "down",
        _ => "",
    };
    let Some(split) = &outcome.regimes else {
        return SplitView {
            older: true,
            note: String::new(),
            multi: None,
            refused: None,
            rows: Vec::new(),
            unlabeled: None,
        };
    };
    let mut rows = Vec::new();
    let mut unlabeled = None;
    if let Some(f) = &split.figures {
        let m = &outcome.metrics;
        let finite = |x: f64| x.is_finite().then_some(x);
        let total = f.rows.iter().map(|r| r.bars).sum::<usize>() + f.unlabeled_bars;
        rows.push(SplitRowView {
            key: "all".into(),
            label: rs.whole_period.to_string(),
            bars: total.to_string(),
            total_return: pct(finite(m.total_return)),
            sharpe: shown(m.sharpe, 3),
            max_drawdown: pct(finite(m.max_drawdown.depth)),
            sign: sign(finite(m.total_return)),
        });
        for r in &f.rows {
            rows.push(SplitRowView {
                key: r.label.to_string(),
                label: state_name(t, r.label, split.dynamics),
                bars: r.bars.to_string(),
                total_return: pct(r.total_return),
                sharpe: r.sharpe.map_or_else(|| "—".to_string(), |v| shown(v, 3)),
                max_drawdown: pct(r.max_drawdown),
                sign: sign(r.total_return),
            });
        }
        if f.unlabeled_bars > 0 {
            unlabeled = Some(rs.unlabeled.replace("{n}", &f.unlabeled_bars.to_string()));
        }
    }
    SplitView {
        older: false,
        note: rs.split_note.replace("{symbol}", &split.symbol),
        multi: (split.symbols > 1)
            .then(|| rs.split_multi.replace("{n}", &split.symbols.to_string()).replace("{symbol}", &split.symbol)),
        refused: split.refused.as_ref().map(|x| {
            let text = match x.code.as_str() {
                "too_few_bars" => rs.refused_too_few_bars,
                "unsuitable_series" => rs.refused_unsuitable,
                _ => rs.refused_other,
            };
            (text.to_string(), x.code.clone())
        }),
        rows,
        unlabeled,
    }
}

/// `/backtests/{id}`: a run's progress, then its equity, drawdown, metrics, its split by regime
/// and trades, and a button that starts the dynamics test of its strategy.
pub async fn backtest(State(state): State<AppState>, lang: ReqLang, Path(id): Path<i64>) -> Response {
    let t = lang.lang.strings();
    let rs = lang.lang.regimes();
    match state.store.job(id).await {
        Ok(Some(job)) if job.kind == "backtest" && lang.sees(&job.owner) => {
            // The chart link shows the run's bars as the run saw them: its resolution and adjustment.
            let run = read_params::<BacktestParams>(&job.params);
            // The dynamics test of the run's strategy, parameters and (first) symbol.
            let dynamics = run.as_ref().and_then(|p| {
                let symbol = p.symbols.first()?;
                Some(serde_json::json!({
                    "symbol": symbol, "resolution": p.resolution, "adjustment": p.adjustment,
                    "agent": p.strategy, "params": p.params,
                }))
            });
            let dynamics_note = dynamics
                .as_ref()
                .and_then(|d| d["symbol"].as_str().map(|s| rs.run_dynamics_note.replace("{symbol}", s)));
            let config = serde_json::json!({
                "state": job.state.as_str(),
                "resolution": run.as_ref().map(|p| p.resolution.as_str()).unwrap_or("1D"),
                "adjustment": run.as_ref().map(|p| p.adjustment.as_str()).unwrap_or("qfq"),
                "dynamics": dynamics,
                "terms": lang.lang.terms(),
                "strings": {
                    "finalEquity": t.bt_final_equity, "totalReturn": t.bt_return, "maxDrawdown": t.bt_max_drawdown,
                    "benchmark": t.bt_benchmark, "monthly": t.bt_monthly,
                    "trades": t.bt_trades, "winRate": t.bt_win_rate, "tradeColumns": t.bt_trade_columns,
                    "cagr": t.bt_cagr, "sharpe": t.bt_sharpe, "sortino": t.bt_sortino, "calmar": t.bt_calmar,
                    "profitFactor": t.bt_profit_factor,
                }
            });
            let regimes = (job.state == quantdesk_store::jobs::JobState::Succeeded)
                .then(|| read_result::<BacktestParams>(job.result.as_deref()))
                .flatten()
                .map(|outcome| split_view(lang.lang, &outcome));
            html(
                StatusCode::OK,
                BacktestPage {
                    page: lang.ctx("backtests"),
                    rs,
                    id,
                    state_label: lang.lang.term(job.state.as_str()),
                    config_json: json_island(&config),
                    regimes,
                    dynamics_note,
                }
                .render(),
            )
        }
        Ok(_) => error_page(&lang, StatusCode::NOT_FOUND, t.not_found_title, t.job_not_found),
        Err(e) => {
            tracing::error!(error = %e, "backtest page failed");
            error_page(&lang, StatusCode::INTERNAL_SERVER_ERROR, t.error_title, t.error_text)
        }
    }
}
