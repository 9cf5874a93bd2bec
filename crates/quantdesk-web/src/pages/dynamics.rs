//! `/dynamics/{id}`: a `dynamics_test` job as a page: per market state, the agent's and the
//! baselines' TradeMaster metrics with σ, TradeMaster's scores, the radar chart (the application
//! layer's SVG, in the reader's words) and the textbook metrics apart. A job that has not finished
//! shows its progress and reloads when it has (dynamics.js).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use quantdesk_app::jobs::{read_params, read_result};
use quantdesk_app::regimes::{self, DynamicsRow, DynamicsTestJobParams, Filter};
use quantdesk_backtest::metrics::shown;
use quantdesk_server::AppState;
use quantdesk_store::jobs::JobState;

use super::backtests::state_name;
use super::{PageCtx, ReqLang, error_page, html, json_island};
use crate::i18n::{Lang, RegimeStrings};

/// One metric's row, formatted.
pub struct RowView {
    pub name: String,
    pub id: String,
    pub agent: String,
    pub blind_buy: String,
    pub do_nothing: String,
    pub sigma: String,
}

/// One state's section.
pub struct LabelView {
    pub label: usize,
    pub title: String,
    pub runs: String,
    /// Why the state was not tested (the code and the engine's message).
    pub refused: Option<String>,
    /// The radar chart (inline SVG, escaped by the application layer).
    pub svg: String,
    pub trademaster: Vec<RowView>,
    pub scores: Vec<RowView>,
    pub textbook: Vec<RowView>,
    /// A result of an older run, without tables.
    pub older: bool,
}

#[derive(Template)]
#[template(path = "dynamics.html")]
struct DynamicsPage {
    page: PageCtx,
    rs: &'static RegimeStrings,
    id: i64,
    state: &'static str,
    state_label: String,
    done: i64,
    total: i64,
    finished: bool,
    failed: bool,
    intro: String,
    filter_note: &'static str,
    labels: Vec<LabelView>,
    terms: String,
}

fn rows(rs: &RegimeStrings, rows: &[DynamicsRow]) -> Vec<RowView> {
    let cell = |x: Option<f64>| x.map_or_else(|| "—".to_string(), |v| shown(v, 4));
    rows.iter()
        .map(|r| RowView {
            name: rs.metric(&r.metric),
            id: r.metric.clone(),
            agent: cell(r.agent),
            blind_buy: cell(r.blind_buy),
            do_nothing: cell(r.do_nothing),
            sigma: cell(r.sigma),
        })
        .collect()
}

fn label_views(lang: Lang, result: &regimes::DynamicsTestJobResult, dynamics: usize) -> Vec<LabelView> {
    let (t, rs) = (lang.strings(), lang.regimes());
    result
        .labels
        .iter()
        .map(|l| {
            let title = format!("{} ({})", state_name(t, l.label, dynamics), l.label);
            let mut v = LabelView {
                label: l.label,
                title: title.clone(),
                runs: String::new(),
                refused: l.refused.clone(),
                svg: String::new(),
                trademaster: Vec::new(),
                scores: Vec::new(),
                textbook: Vec::new(),
                older: l.refused.is_none() && l.tables.is_none(),
            };
            if let Some(tb) = &l.tables {
                v.runs = rs
                    .dyn_runs
                    .replace("{runs}", &tb.runs.to_string())
                    .replace("{tested}", &tb.tested_runs.to_string());
                v.svg = regimes::radar_svg_with(
                    &format!("{} · {title}", result.symbol),
                    &tb.radar_plot(),
                    &rs.radar_axes,
                    rs.radar_bars,
                );
                v.trademaster = rows(rs, &tb.trademaster);
                v.scores = rows(rs, &tb.scores);
                v.textbook = rows(rs, &tb.textbook);
            }
            v
        })
        .collect()
}

/// `/dynamics/{id}`.
pub async fn dynamics(State(state): State<AppState>, lang: ReqLang, Path(id): Path<i64>) -> Response {
    let t = lang.lang.strings();
    let rs = lang.lang.regimes();
    match state.store.job(id).await {
        Ok(Some(job)) if job.kind == "dynamics_test" && lang.sees(&job.owner) => {
            let params = read_params::<DynamicsTestJobParams>(&job.params);
            let result = (job.state == JobState::Succeeded)
                .then(|| read_result::<DynamicsTestJobParams>(job.result.as_deref()))
                .flatten();
            let dynamics = params.as_ref().map_or(3, |p| p.options.dynamics);
            let agent = result.as_ref().map(|r| r.agent.clone()).or_else(|| params.as_ref().map(|p| p.agent.clone()));
            let intro = rs
                .dyn_intro
                .replace("{agent}", &lang.lang.term(agent.as_deref().unwrap_or("ma")))
                .replace("{symbol}", params.as_ref().map_or("", |p| p.symbol.as_str()))
                .replace("{resolution}", params.as_ref().map_or("1D", |p| p.resolution.as_str()));
            let filter_note = match result.as_ref().map(|r| r.filter) {
                Some(Filter::Causal) => rs.dyn_causal,
                _ if params.as_ref().is_some_and(|p| p.options.causal) => rs.dyn_causal,
                _ => rs.dyn_ex_post,
            };
            html(
                StatusCode::OK,
                DynamicsPage {
                    page: lang.ctx("jobs"),
                    rs,
                    id,
                    state: job.state.as_str(),
                    state_label: lang.lang.term(job.state.as_str()),
                    done: job.progress_done,
                    total: job.progress_total.max(1),
                    finished: job.state.is_final(),
                    failed: job.state.is_final() && job.state != JobState::Succeeded,
                    intro,
                    filter_note,
                    labels: result.as_ref().map(|r| label_views(lang.lang, r, dynamics)).unwrap_or_default(),
                    terms: json_island(&lang.lang.terms()),
                }
                .render(),
            )
        }
        Ok(_) => error_page(&lang, StatusCode::NOT_FOUND, t.not_found_title, t.job_not_found),
        Err(e) => {
            tracing::error!(error = %e, "dynamics page failed");
            error_page(&lang, StatusCode::INTERNAL_SERVER_ERROR, t.error_title, t.error_text)
        }
    }
}
