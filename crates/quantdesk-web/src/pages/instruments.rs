//! `/instruments` (with its htmx partial) and `/import`.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use quantdesk_server::AppState;
use quantdesk_store::InstrumentQuery;
use serde::Deserialize;

use super::{PageCtx, ReqLang, error_page, html, json_island};

/// Filter choices with their labels in the reader's language.
fn labelled(lang: crate::i18n::Lang, ids: &[&'static str]) -> Vec<(&'static str, String)> {
    ids.iter().map(|&id| (id, lang.term(id))).collect()
}

/// One row of the instruments table.
pub struct Row {
    pub symbol: String,
    pub name: String,
    /// The kind and board in the reader's language.
    pub kind: String,
    pub exchange: String,
    pub board: String,
    pub list_date: String,
}

/// One page of the instruments table, shared by the full page and the htmx partial.
pub struct Results {
    pub items: Vec<Row>,
    pub total: u64,
    pub page_no: u64,
    pub pages: u64,
    pub prev_url: Option<String>,
    pub next_url: Option<String>,
}

#[derive(Template)]
#[template(path = "instruments.html")]
struct InstrumentsPage {
    page: PageCtx,
    q: String,
    kind: String,
    exchange: String,
    board: String,
    listed_from: String,
    listed_to: String,
    /// (identifier, label)
    kinds: Vec<(&'static str, String)>,
    exchanges: Vec<(&'static str, String)>,
    boards: Vec<(&'static str, String)>,
    results: Results,
}

#[derive(Template)]
#[template(path = "instruments_partial.html")]
struct InstrumentsPartial {
    page: PageCtx,
    results: Results,
}

#[derive(Deserialize, Default)]
pub struct InstrumentParams {
    q: Option<String>,
    kind: Option<String>,
    exchange: Option<String>,
    board: Option<String>,
    listed_from: Option<String>,
    listed_to: Option<String>,
    page: Option<u64>,
}

const PAGE_SIZE: u64 = 50;

fn query_string(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", quantdesk_server::percent_encode(v, b"")))
        .collect::<Vec<_>>()
        .join("&")
}

/// `/instruments`: the full page, or just the results when htmx asks.
pub async fn instruments(
    State(state): State<AppState>,
    lang: ReqLang,
    headers: HeaderMap,
    Query(p): Query<InstrumentParams>,
) -> Response {
    let t = lang.lang.strings();
    let clean = |v: &Option<String>| v.as_deref().map(str::trim).unwrap_or("").to_string();
    let (q, kind, exchange, board) = (clean(&p.q), clean(&p.kind), clean(&p.exchange), clean(&p.board));
    // Dates that do not parse are ignored rather than refused: this is a filter form.
    let date = |v: &Option<String>| v.as_deref().and_then(|d| d.trim().parse::<chrono::NaiveDate>().ok());
    let (listed_from, listed_to) = (date(&p.listed_from), date(&p.listed_to));
    let page_no = p.page.unwrap_or(1).max(1);
    let query = InstrumentQuery {
        text: Some(q.clone()).filter(|s| !s.is_empty()),
        kind: Some(kind.clone()).filter(|s| !s.is_empty()),
        exchange: Some(exchange.clone()).filter(|s| !s.is_empty()),
        board: Some(board.clone()).filter(|s| !s.is_empty()),
        listed_from,
        listed_to,
        limit: PAGE_SIZE as u32,
        offset: u32::try_from((page_no - 1) * PAGE_SIZE).unwrap_or(u32::MAX),
    };
    let (items, total) = match (state.store.list_instruments(&query).await, state.store.count_instruments(&query).await)
    {
        (Ok(i), Ok(n)) => (i, n),
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(error = %e, "instruments page failed");
            return error_page(&lang, StatusCode::INTERNAL_SERVER_ERROR, t.error_title, t.error_text);
        }
    };
    let pages = total.div_ceil(PAGE_SIZE).max(1);
    let (from_text, to_text) =
        (listed_from.map(|d| d.to_string()).unwrap_or_default(), listed_to.map(|d| d.to_string()).unwrap_or_default());
    let link = |n: u64| {
        let n = n.to_string();
        let pairs = [
            ("q", q.as_str()),
            ("kind", &kind),
            ("exchange", &exchange),
            ("board", &board),
            ("listed_from", &from_text),
            ("listed_to", &to_text),
            ("page", &n),
        ];
        format!("/instruments?{}", query_string(&pairs))
    };
    // A page past the last (an old link, a typed number) goes to the last one.
    if page_no > pages {
        return axum::response::IntoResponse::into_response(axum::response::Redirect::to(&link(pages)));
    }
    let prev_url = (page_no > 1).then(|| link(page_no - 1));
    let next_url = (page_no < pages).then(|| link(page_no + 1));
    let rows: Vec<Row> = items
        .iter()
        .map(|i| Row {
            symbol: i.symbol.to_string(),
            name: i.name.clone(),
            kind: lang.lang.term(i.kind.as_str()),
            exchange: lang.lang.term(&i.exchange),
            board: lang.lang.term(&i.board),
            list_date: i.list_date.map(|d| d.to_string()).unwrap_or_default(),
        })
        .collect();
    let results = Results { items: rows, total, page_no, pages, prev_url, next_url };
    let partial = headers.get("hx-request").is_some() && headers.get("hx-boosted").is_none();
    if partial {
        return html(StatusCode::OK, InstrumentsPartial { page: lang.ctx("instruments"), results }.render());
    }
    html(
        StatusCode::OK,
        InstrumentsPage {
            page: lang.ctx("instruments"),
            q,
            kind,
            exchange,
            board,
            listed_from: from_text,
            listed_to: to_text,
            kinds: labelled(lang.lang, &["stock", "index", "etf", "fund", "bond", "future", "crypto", "other"]),
            exchanges: labelled(lang.lang, &["SSE", "SZSE", "BSE", "OTHER"]),
            boards: labelled(lang.lang, &["main", "chinext", "star", "bse"]),
            results,
        }
        .render(),
    )
}

#[derive(Template)]
#[template(path = "import.html")]
struct ImportPage {
    page: PageCtx,
    config_json: String,
}

/// `/import`.
pub async fn import_page(lang: ReqLang) -> Response {
    let t = lang.lang.strings();
    let config = serde_json::json!({
        "strings": {
            "columnNone": t.column_none, "symbolColumn": t.symbol_column, "done": t.import_done,
            "failed": t.import_failed, "rows": t.rows, "bars": t.bars,
            "unchanged": t.import_unchanged, "changed": t.import_changed,
            "missing": t.import_missing, "needSymbol": t.import_need_symbol,
        }
    });
    html(StatusCode::OK, ImportPage { page: lang.ctx("import"), config_json: json_island(&config) }.render())
}
