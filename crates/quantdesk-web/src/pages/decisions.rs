//! `/decisions`: today's voting decisions and their history.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use quantdesk_app::jobs::{DecideParams, read_result};
use quantdesk_backtest::voting::Action;
use quantdesk_server::AppState;

use super::backtests::recent_runs;
use super::{PageCtx, ReqLang, html};

/// One decision on the decisions page.
#[derive(Clone)]
pub struct DecisionRow {
    pub job: i64,
    pub symbol: String,
    pub date: String,
    /// BUY, SELL or HOLD.
    pub action: String,
    /// `up`, `down` or empty: the colour class of the action.
    pub class: &'static str,
    pub score: String,
    pub risk: String,
    pub votes: String,
}

#[derive(Template)]
#[template(path = "decisions.html")]
struct DecisionsPage {
    page: PageCtx,
    latest: Vec<DecisionRow>,
    history: Vec<DecisionRow>,
    default_symbols: String,
}

/// `/decisions?symbols=…`.
#[derive(serde::Deserialize)]
pub struct DecideQuery {
    symbols: Option<String>,
}

/// `/decisions`: the voting engine's latest BUY/SELL/HOLD per symbol with every model's vote, and
/// the history of earlier runs (each `decide` job's result, newest first).
pub async fn decisions(
    State(state): State<AppState>,
    lang: ReqLang,
    axum::extract::Query(q): axum::extract::Query<DecideQuery>,
) -> Response {
    let (jobs, busiest) =
        match recent_runs(&state, &lang, "decide", Some(quantdesk_store::jobs::JobState::Succeeded)).await {
            Ok(x) => x,
            Err(page) => return page,
        };
    let history = history_of(&jobs, &lang);
    let mut latest = latest_of(&history);
    latest.sort_by(|a, b| a.symbol.cmp(&b.symbol));
    let default_symbols = latest.iter().map(|r| r.symbol.clone()).collect::<Vec<_>>().join(", ");
    let default_symbols =
        if default_symbols.is_empty() { busiest.map(|s| s.to_string()).unwrap_or_default() } else { default_symbols };
    // `?symbols=` (the watchlists page's "Decide" link) fills the form.
    let default_symbols = q.symbols.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).unwrap_or(default_symbols);
    html(StatusCode::OK, DecisionsPage { page: lang.ctx("decisions"), latest, history, default_symbols }.render())
}

/// Every decision of `decide` jobs' results (newest job first), in the reader's language.
pub(super) fn history_of(jobs: &[quantdesk_store::jobs::Job], lang: &ReqLang) -> Vec<DecisionRow> {
    let mut history = Vec::new();
    for j in jobs {
        let Some(result) = read_result::<DecideParams>(j.result.as_deref()) else { continue };
        for d in result.decisions {
            let votes = d
                .decision
                .votes
                .iter()
                .map(|v| format!("{}: {} {:.2}", v.model, lang.lang.term(v.action.as_str()), v.confidence))
                .collect::<Vec<_>>()
                .join("; ");
            history.push(DecisionRow {
                job: j.id,
                symbol: d.symbol,
                date: d.date.unwrap_or_default(),
                class: match d.decision.action {
                    Action::Buy => "up",
                    Action::Sell => "down",
                    Action::Hold => "",
                },
                action: lang.lang.term(d.decision.action.as_str()),
                score: format!("{:.2}", d.decision.score),
                risk: lang.lang.term(d.risk_level.as_str()),
                votes,
            });
        }
    }
    history
}

/// The newest run's answer per symbol (`history` comes newest first).
pub(super) fn latest_of(history: &[DecisionRow]) -> Vec<DecisionRow> {
    let mut latest: Vec<DecisionRow> = Vec::new();
    for row in history {
        if !latest.iter().any(|r| r.symbol == row.symbol) {
            latest.push(row.clone());
        }
    }
    latest
}
