//! `/valuation` and `/valuation/{symbol}`: the DCF of a stored company. The assumptions form is a
//! GET of this page (so a valuation is a link); the handler calls
//! `quantdesk_app::valuation::valuate` and renders the headline, the equity bridge (an inline
//! SVG waterfall), the forecast, the WACC and terminal-value build-ups, guardrails, warnings and
//! the WACC × growth (or × exit multiple) sensitivity heat map, whose cells are links to the page
//! with those assumptions. `/valuation/{symbol}/export?format=csv|md|html` downloads the tables.
//! The screener panel is `valuation.js` over `POST /api/v1/screener/stocks`.
//!
//! The caller's own things sit beside it: saved scenarios (`quantdesk_app::scenarios`; saved from
//! the assumptions shown by `POST /valuation/scenarios`, applied with `?scenario_id=`, deleted by
//! `POST /valuation/scenarios/{id}/delete`), the side-by-side comparison of up to four
//! scenarios (`?cmp=form`, `cmp=preset:bull`, `cmp=saved:ID`: each valued by the same service over
//! the form's request), the history of saved valuations (`?load=ID` reloads one's request), and
//! the margin of safety against the chart's last close beside the `daily_basic` close the model
//! uses (`quantdesk_app::valuation::price_check`).

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use quantdesk_server::AppState;
use quantdesk_valuation::{
    ForecastMode, Profile, Request, SensitivityAxis, SensitivityRequest, TerminalMethod, Valuation, WeightMode,
};

use super::{PageCtx, ReqLang, html, json_island};
use crate::i18n::{Lang, ValuationStrings};
use quantdesk_valuation::Lang as TextLang;

/// The page's query: every form field by name, as typed.
type Params = Vec<(String, String)>;

fn get<'a>(p: &'a Params, key: &str) -> Option<&'a str> {
    p.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.trim()).filter(|v| !v.is_empty())
}

/// The number fields of the form (name in the query = the request's field).
const NUMBER_FIELDS: &[&str] = &[
    "exit_multiple",
    "perpetual_growth_rate",
    "risk_free_rate",
    "beta",
    "market_risk_premium",
    "size_premium",
    "cost_of_debt",
    "target_debt_ratio",
    "discount_rate",
    "cagr_decay_rate",
    "target_operating_margin",
    "target_sga_rd_to_revenue_ratio",
    "target_da_to_revenue_ratio",
    "target_capex_to_revenue_ratio",
    "target_accounts_receivable_days",
    "target_inventory_days",
    "target_accounts_payable_days",
];

/// Driver mode fields.
const MODE_FIELDS: &[&str] = &[
    "op_margin_forecast_mode",
    "sga_rd_ratio_forecast_mode",
    "da_ratio_forecast_mode",
    "capex_ratio_forecast_mode",
    "nwc_days_forecast_mode",
];

/// The model's request from the page's query, and the fields that were not numbers.
pub fn request_of(symbol: &str, p: &Params) -> (Request, Vec<String>) {
    let mut bad = Vec::new();
    let mut obj = serde_json::Map::new();
    obj.insert("ts_code".into(), symbol.into());
    for &f in NUMBER_FIELDS {
        if let Some(v) = get(p, f) {
            match v.parse::<f64>() {
                Ok(x) if x.is_finite() => {
                    obj.insert(f.into(), x.into());
                }
                _ => bad.push(f.to_string()),
            }
        }
    }
    if let Some(v) = get(p, "forecast_years") {
        match v.parse::<i64>() {
            Ok(n) if (1..=20).contains(&n) => {
                obj.insert("forecast_years".into(), n.into());
            }
            _ => bad.push("forecast_years".into()),
        }
    }
    if let Some(v) = get(p, "valuation_date") {
        obj.insert("valuation_date".into(), v.into());
    }
    let mut req: Request = serde_json::from_value(serde_json::Value::Object(obj)).unwrap_or_default();
    req.profile = if get(p, "profile") == Some("reference") { Profile::Reference } else { Profile::Quantdesk };
    req.terminal_value_method = match get(p, "terminal_value_method") {
        Some("perpetual_growth") => Some(TerminalMethod::PerpetualGrowth),
        Some("exit_multiple") => Some(TerminalMethod::ExitMultiple),
        _ => None,
    };
    req.wacc_weight_mode = match get(p, "wacc_weight_mode") {
        Some("market") => Some(WeightMode::Market),
        Some("target") => Some(WeightMode::Target),
        _ => None,
    };
    for &f in MODE_FIELDS {
        let mode = match get(p, f) {
            Some("transition_to_target") => Some(ForecastMode::TransitionToTarget),
            Some("historical_median") => Some(ForecastMode::HistoricalMedian),
            _ => None,
        };
        match f {
            "op_margin_forecast_mode" => req.op_margin_forecast_mode = mode,
            "sga_rd_ratio_forecast_mode" => req.sga_rd_ratio_forecast_mode = mode,
            "da_ratio_forecast_mode" => req.da_ratio_forecast_mode = mode,
            "capex_ratio_forecast_mode" => req.capex_ratio_forecast_mode = mode,
            _ => req.nwc_days_forecast_mode = mode,
        }
    }
    req.sensitivity_analysis = Some(page_grid(&req));
    (req, bad)
}

/// The page's sensitivity grid: WACC rows, and perpetual growth or exit multiple columns.
fn page_grid(req: &Request) -> SensitivityRequest {
    let growth_grid = grid_is_growth(req);
    SensitivityRequest {
        row_axis: SensitivityAxis {
            parameter_name: "wacc".into(),
            values: Vec::new(),
            step: Some(0.005),
            points: Some(5),
        },
        column_axis: if growth_grid {
            SensitivityAxis {
                parameter_name: "perpetual_growth_rate".into(),
                values: Vec::new(),
                step: Some(0.005),
                points: Some(5),
            }
        } else {
            SensitivityAxis {
                parameter_name: "exit_multiple".into(),
                values: Vec::new(),
                step: Some(1.0),
                points: Some(5),
            }
        },
    }
}

/// The grid's columns: perpetual growth under the perpetual-growth method, else the exit
/// multiple (the growth rate does not move an exit-multiple valuation).
fn grid_is_growth(req: &Request) -> bool {
    req.terminal_value_method == Some(TerminalMethod::PerpetualGrowth)
}

/// How the page shows a value per share: two decimals.
pub fn per_share(v: f64) -> String {
    format!("{v:.2}")
}

fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{:.2}%", v * 100.0)).unwrap_or_else(|| "—".into())
}

fn num(v: Option<f64>, decimals: usize) -> String {
    v.map(|v| format!("{v:.decimals$}")).unwrap_or_else(|| "—".into())
}

/// Yuan in 亿 (100 million), two decimals.
fn yi(v: f64) -> String {
    format!("{:.2}", v / 1e8)
}

/// One driver field of the form with the model's historical value beside it.
pub struct DriverField {
    pub mode_name: &'static str,
    pub mode: String,
    pub label: &'static str,
    /// (target field name, its label, its value as typed, the historical value shown).
    pub targets: Vec<(&'static str, &'static str, String, String)>,
}

/// A text field of the form.
pub struct Field {
    pub name: &'static str,
    pub label: &'static str,
    pub value: String,
    pub hint: String,
}

/// A bar of the equity bridge.
pub struct BridgeBar {
    pub label: &'static str,
    pub value: String,
    pub x: f64,
    pub y: f64,
    pub h: f64,
    pub class: &'static str,
}

/// A table: header and rows of text.
pub struct Table {
    pub head: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// One cell of the heat map.
pub struct HeatCell {
    pub text: String,
    pub style: String,
    pub href: String,
    pub base: bool,
}

pub struct Heat {
    pub corner: String,
    pub columns: Vec<String>,
    pub rows: Vec<(String, Vec<HeatCell>)>,
}

/// What the page shows of a valuation.
pub struct Shown {
    pub value_per_share: String,
    pub price: String,
    pub margin_of_safety: String,
    pub upside: String,
    pub class: &'static str,
    pub bridge: Vec<BridgeBar>,
    pub bridge_width: f64,
    pub forecast: Table,
    pub wacc: Table,
    pub tv: Table,
    pub guardrails: Table,
    pub warnings: Vec<String>,
    pub differences: Vec<String>,
    pub heat: Option<Heat>,
    pub export_csv: String,
    pub export_md: String,
    pub export_html: String,
}

#[derive(Template)]
#[template(path = "valuation.html")]
struct ValuationPage {
    page: PageCtx,
    v: &'static ValuationStrings,
    symbol: String,
    name: String,
    basic: Vec<Field>,
    wacc_fields: Vec<Field>,
    drivers: Vec<DriverField>,
    profile: String,
    terminal: String,
    weight: String,
    bad_fields: Vec<String>,
    /// A refusal or a missing-data message, and the commands that fix it.
    problem: String,
    fixes: Vec<String>,
    shown: Option<Shown>,
    config_json: String,
    /// A localized notice after saving or deleting a scenario.
    notice: String,
    /// The loaded valuation or the applied scenario, and the scenario's diffs.
    applied: String,
    applied_diffs: Vec<String>,
    scenarios: Vec<ScenarioRow>,
    comparison: Option<Compare>,
    history: Option<HistoryView>,
    prices: Option<PriceView>,
    /// The assumptions shown, as hidden fields of the save and compare forms.
    hidden: Vec<(String, String)>,
    /// The caller may save and delete scenarios (the `jobs` scope).
    can_save: bool,
}

fn query_of(p: &Params, set: &[(&str, String)]) -> String {
    let mut out: Vec<(String, String)> =
        p.iter().filter(|(k, v)| !v.trim().is_empty() && !set.iter().any(|(s, _)| s == k)).cloned().collect();
    out.extend(set.iter().map(|(k, v)| (k.to_string(), v.clone())));
    out.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

fn enc(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => o.push(b as char),
            _ => o.push_str(&format!("%{b:02X}")),
        }
    }
    o
}

fn forecast_table(v: &ValuationStrings, val: &Valuation) -> Table {
    let mut head = vec![v.item.to_string()];
    head.extend(val.forecast.iter().map(|y| format!("{} {}", v.year, y.year)));
    type Get = fn(&quantdesk_valuation::ForecastYear) -> f64;
    let lines: [(&str, Get, bool); 11] = [
        (v.f_revenue, |y| y.revenue, false),
        (v.f_growth, |y| y.revenue_growth_rate, true),
        (v.f_ebit, |y| y.ebit, false),
        (v.f_taxes, |y| y.taxes, false),
        (v.f_nopat, |y| y.nopat, false),
        (v.f_da, |y| y.d_a, false),
        (v.f_capex, |y| y.capex, false),
        (v.f_delta_nwc, |y| y.delta_nwc, false),
        (v.f_ufcf, |y| y.ufcf, false),
        (v.f_discount, |y| y.discount_factor, true),
        (v.f_pv, |y| y.pv_ufcf, false),
    ];
    let rows = lines
        .iter()
        .map(|(label, g, ratio)| {
            let mut r = vec![label.to_string()];
            r.extend(val.forecast.iter().map(|y| {
                let x = g(y);
                if *ratio { if *label == v.f_discount { format!("{x:.4}") } else { pct(Some(x)) } } else { yi(x) }
            }));
            r
        })
        .collect();
    Table { head, rows }
}

fn shown(v: &'static ValuationStrings, val: &Valuation, symbol: &str, p: &Params) -> Option<Shown> {
    let dcf = val.dcf.as_ref()?;
    let price = val.inputs.latest_price;
    let vps = dcf.value_per_share;
    let upside = val.derived.upside;
    let class = match upside {
        Some(u) if u > 0.0 => "up",
        Some(u) if u < 0.0 => "down",
        _ => "",
    };
    // The bridge: PV of the forecast + PV of the terminal value = EV; − net debt (and anything
    // else the model deducts) = equity.
    let other = dcf.enterprise_value - dcf.net_debt - dcf.equity_value;
    let steps: Vec<(&'static str, f64, f64, &'static str)> = {
        let mut s = vec![
            (v.b_pv_fcf, 0.0, dcf.pv_forecast_ufcf, "pos"),
            (v.b_pv_tv, dcf.pv_forecast_ufcf, dcf.enterprise_value, "pos"),
            (v.b_ev, 0.0, dcf.enterprise_value, "total"),
            (v.b_net_debt, dcf.enterprise_value, dcf.enterprise_value - dcf.net_debt, "neg"),
        ];
        if other.abs() > 1e-6 * dcf.enterprise_value.abs().max(1.0) {
            s.push((v.b_other, dcf.enterprise_value - dcf.net_debt, dcf.equity_value, "neg"));
        }
        s.push((v.b_equity, 0.0, dcf.equity_value, "total"));
        s
    };
    let lo = steps.iter().flat_map(|s| [s.1, s.2]).fold(0.0f64, f64::min);
    let hi = steps.iter().flat_map(|s| [s.1, s.2]).fold(0.0f64, f64::max);
    let span = (hi - lo).max(1.0);
    let (height, bar_w, gap) = (200.0, 90.0, 20.0);
    let y_of = |x: f64| 10.0 + (hi - x) / span * height;
    let bridge = steps
        .iter()
        .enumerate()
        .map(|(i, (label, from, to, kind))| {
            let (a, b) = (y_of(from.max(*to)), y_of(from.min(*to)));
            BridgeBar {
                label,
                value: yi(to - from),
                x: 10.0 + i as f64 * (bar_w + gap),
                y: a,
                h: (b - a).max(1.0),
                class: if *kind == "total" {
                    "total"
                } else if to >= from {
                    "pos"
                } else {
                    "neg"
                },
            }
        })
        .collect::<Vec<_>>();
    let bridge_width = 20.0 + bridge.len() as f64 * (bar_w + gap);

    let wacc = match &val.wacc_build_up {
        Some(w) => Table {
            head: vec![v.item.into(), v.value.into()],
            rows: vec![
                vec![v.w_rf.into(), pct(Some(w.risk_free_rate))],
                vec![v.w_beta.into(), format!("{:.2}", w.beta)],
                vec![v.w_mrp.into(), pct(Some(w.market_risk_premium))],
                vec![v.w_size.into(), pct(Some(w.size_premium))],
                vec![v.w_ke.into(), pct(Some(w.cost_of_equity))],
                vec![v.w_kd.into(), pct(Some(w.cost_of_debt_pre_tax))],
                vec![v.w_kd_after.into(), pct(Some(w.cost_of_debt_after_tax))],
                vec![v.w_debt_weight.into(), pct(Some(w.debt_weight))],
                vec![v.w_equity_weight.into(), pct(Some(w.equity_weight))],
                vec![v.w_computed.into(), pct(w.wacc_computed)],
                vec![v.w_override.into(), pct(w.discount_rate_override)],
                vec![v.w_used.into(), pct(Some(w.wacc_used))],
            ],
        },
        None => Table { head: vec![], rows: vec![] },
    };
    let last = val.forecast.last();
    let tv = Table {
        head: vec![v.item.into(), v.value.into()],
        rows: vec![
            vec![
                v.t_method.into(),
                match dcf.terminal_value_method_used {
                    TerminalMethod::ExitMultiple => v.tm_exit.into(),
                    TerminalMethod::PerpetualGrowth => v.tm_perpetual.into(),
                },
            ],
            vec![v.t_final_ebitda.into(), last.map(|y| yi(y.ebitda)).unwrap_or_default()],
            vec![v.t_final_ufcf.into(), last.map(|y| yi(y.ufcf)).unwrap_or_default()],
            vec![v.t_multiple.into(), num(dcf.exit_multiple_used, 2)],
            vec![v.t_growth.into(), pct(dcf.perpetual_growth_rate_effective.or(dcf.perpetual_growth_rate_used))],
            vec![v.t_tv.into(), yi(dcf.terminal_value)],
            vec![v.t_pv_tv.into(), yi(dcf.pv_terminal_value)],
            vec![v.t_share.into(), pct(val.derived.tv_share_of_ev)],
            vec![v.t_implied_growth.into(), pct(dcf.implied_perpetual_growth_rate)],
        ],
    };
    let guardrails = Table {
        head: vec![v.g_name.into(), v.g_status.into(), v.value.into(), v.g_threshold.into(), v.g_message.into()],
        rows: val
            .guardrails
            .iter()
            .map(|g| {
                vec![
                    g.name.clone(),
                    match g.status {
                        quantdesk_valuation::GuardrailStatus::Ok => v.g_ok.into(),
                        quantdesk_valuation::GuardrailStatus::Warn => v.g_warn.into(),
                        quantdesk_valuation::GuardrailStatus::NotApplicable => v.g_na.into(),
                    },
                    num(g.value, 4),
                    num(g.threshold, 4),
                    g.text(if std::ptr::eq(v, Lang::ZhCn.valuation()) { TextLang::ZhCn } else { TextLang::En })
                        .to_string(),
                ]
            })
            .collect(),
    };
    let heat = val.sensitivity.as_ref().map(|s| {
        let cells = &s.result_tables.value_per_share;
        let vals: Vec<f64> = cells.iter().flatten().flatten().copied().collect();
        let (mn, mx) = vals.iter().fold((f64::MAX, f64::MIN), |(a, b), &x| (a.min(x), b.max(x)));
        let growth = s.column_parameter == "perpetual_growth_rate";
        let col_text = |c: f64| if growth { pct(Some(c)) } else { format!("{c:.1}×") };
        let mid_r = s.row_values.len() / 2;
        let mid_c = s.column_values.len() / 2;
        Heat {
            corner: format!("{} \\ {}", v.h_wacc, if growth { v.h_growth } else { v.h_multiple }),
            columns: s.column_values.iter().map(|c| col_text(*c)).collect(),
            rows: s
                .row_values
                .iter()
                .enumerate()
                .map(|(ri, r)| {
                    let row = s
                        .column_values
                        .iter()
                        .enumerate()
                        .map(|(ci, c)| {
                            let cell = cells.get(ri).and_then(|row| row.get(ci)).copied().flatten();
                            let style = match cell {
                                Some(x) => {
                                    // Red for the high values, green for the low (A-share colours).
                                    let t = if mx > mn { (x - mn) / (mx - mn) } else { 0.5 };
                                    let hue = 120.0 * (1.0 - t);
                                    format!("background-color: hsl({hue:.0}, 70%, 80%)")
                                }
                                None => String::new(),
                            };
                            let mut set = vec![("discount_rate", format!("{r:.6}"))];
                            if growth {
                                set.push(("perpetual_growth_rate", format!("{c:.6}")));
                                set.push(("terminal_value_method", "perpetual_growth".into()));
                            } else {
                                set.push(("exit_multiple", format!("{c:.6}")));
                                set.push(("terminal_value_method", "exit_multiple".into()));
                            }
                            HeatCell {
                                text: num(cell, 2),
                                style,
                                href: format!("/valuation/{symbol}?{}", query_of(p, &set)),
                                base: ri == mid_r && ci == mid_c,
                            }
                        })
                        .collect();
                    (pct(Some(*r)), row)
                })
                .collect(),
        }
    });
    let q = query_of(p, &[]);
    let sep = if q.is_empty() { "" } else { "&" };
    Some(Shown {
        value_per_share: num(vps, 2),
        price: num(price, 2),
        margin_of_safety: pct(val.derived.margin_of_safety),
        upside: pct(upside),
        class,
        bridge,
        bridge_width,
        forecast: forecast_table(v, val),
        wacc,
        tv,
        guardrails,
        // The page's language picks the warning's text (each carries English and zh-CN).
        warnings: val
            .warnings
            .iter()
            .map(|w| {
                let lang = if std::ptr::eq(v, Lang::ZhCn.valuation()) { TextLang::ZhCn } else { TextLang::En };
                format!("[{}] {}", w.rule, w.text(lang))
            })
            .collect(),
        differences: val
            .differences_from_reference
            .iter()
            .map(|d| format!("{} ({}): {}", d.id, d.replaces, d.summary))
            .collect(),
        heat,
        export_csv: format!("/valuation/{symbol}/export?{q}{sep}format=csv"),
        export_md: format!("/valuation/{symbol}/export?{q}{sep}format=md"),
        export_html: format!("/valuation/{symbol}/export?{q}{sep}format=html"),
    })
}

fn fixes(symbol: &str) -> Vec<String> {
    vec![format!("quantdesk sync financials --symbol {symbol}"), "quantdesk import financials PATH".to_string()]
}

fn form_fields(
    v: &'static ValuationStrings,
    p: &Params,
    val: Option<&Valuation>,
) -> (Vec<Field>, Vec<Field>, Vec<DriverField>) {
    let typed = |k: &str| get(p, k).unwrap_or("").to_string();
    let basic = vec![
        Field { name: "forecast_years", label: v.forecast_years, value: typed("forecast_years"), hint: "5".into() },
        Field { name: "exit_multiple", label: v.exit_multiple, value: typed("exit_multiple"), hint: "8".into() },
        Field {
            name: "perpetual_growth_rate",
            label: v.growth,
            value: typed("perpetual_growth_rate"),
            hint: "0.025".into(),
        },
        Field {
            name: "cagr_decay_rate",
            label: v.cagr_decay,
            value: typed("cagr_decay_rate"),
            hint: format!(
                "0.1 · {} {}",
                v.historical,
                pct(val.and_then(|x| x.historical_ratios.historical_revenue_cagr))
            ),
        },
        Field {
            name: "valuation_date",
            label: v.valuation_date,
            value: typed("valuation_date"),
            hint: "YYYY-MM-DD".into(),
        },
    ];
    let wacc_fields = vec![
        Field { name: "risk_free_rate", label: v.w_rf, value: typed("risk_free_rate"), hint: "0.03".into() },
        Field { name: "beta", label: v.w_beta, value: typed("beta"), hint: "1.0".into() },
        Field {
            name: "market_risk_premium",
            label: v.w_mrp,
            value: typed("market_risk_premium"),
            hint: "0.055".into(),
        },
        Field { name: "size_premium", label: v.w_size, value: typed("size_premium"), hint: "0".into() },
        Field { name: "cost_of_debt", label: v.w_kd, value: typed("cost_of_debt"), hint: "0.05".into() },
        Field {
            name: "target_debt_ratio",
            label: v.w_target_debt,
            value: typed("target_debt_ratio"),
            hint: "0.45".into(),
        },
        Field { name: "discount_rate", label: v.w_override, value: typed("discount_rate"), hint: v.optional.into() },
    ];
    let h = val.map(|x| &x.historical_ratios);
    let hist = |f: fn(&quantdesk_valuation::HistoricalRatios) -> Option<f64>, days: bool| {
        let x = h.and_then(f);
        format!("{} {}", v.historical, if days { num(x, 1) } else { pct(x) })
    };
    let drivers = vec![
        DriverField {
            mode_name: "op_margin_forecast_mode",
            mode: typed("op_margin_forecast_mode"),
            label: v.d_op_margin,
            targets: vec![(
                "target_operating_margin",
                v.target,
                typed("target_operating_margin"),
                hist(|r| r.operating_margin_median, false),
            )],
        },
        DriverField {
            mode_name: "sga_rd_ratio_forecast_mode",
            mode: typed("sga_rd_ratio_forecast_mode"),
            label: v.d_sga_rd,
            targets: vec![(
                "target_sga_rd_to_revenue_ratio",
                v.target,
                typed("target_sga_rd_to_revenue_ratio"),
                hist(|r| r.sga_rd_to_revenue_ratio, false),
            )],
        },
        DriverField {
            mode_name: "da_ratio_forecast_mode",
            mode: typed("da_ratio_forecast_mode"),
            label: v.d_da,
            targets: vec![(
                "target_da_to_revenue_ratio",
                v.target,
                typed("target_da_to_revenue_ratio"),
                hist(|r| r.da_to_revenue_ratio, false),
            )],
        },
        DriverField {
            mode_name: "capex_ratio_forecast_mode",
            mode: typed("capex_ratio_forecast_mode"),
            label: v.d_capex,
            targets: vec![(
                "target_capex_to_revenue_ratio",
                v.target,
                typed("target_capex_to_revenue_ratio"),
                hist(|r| r.capex_to_revenue_ratio, false),
            )],
        },
        DriverField {
            mode_name: "nwc_days_forecast_mode",
            mode: typed("nwc_days_forecast_mode"),
            label: v.d_nwc,
            targets: vec![
                (
                    "target_accounts_receivable_days",
                    v.d_dso,
                    typed("target_accounts_receivable_days"),
                    hist(|r| r.accounts_receivable_days, true),
                ),
                ("target_inventory_days", v.d_dio, typed("target_inventory_days"), hist(|r| r.inventory_days, true)),
                (
                    "target_accounts_payable_days",
                    v.d_dpo,
                    typed("target_accounts_payable_days"),
                    hist(|r| r.accounts_payable_days, true),
                ),
            ],
        },
    ];
    (basic, wacc_fields, drivers)
}

fn script_config(lang: Lang) -> serde_json::Value {
    let v = lang.valuation();
    serde_json::json!({
        "no_results": v.s_none,
        "error": v.s_error,
        "total": v.s_total,
    })
}

/// The form fields a request sets, as the page's query spells them (so a loaded request or an
/// applied scenario fills the form, and submitting it values the same assumptions).
pub fn params_of(req: &Request) -> Params {
    let Ok(serde_json::Value::Object(m)) = serde_json::to_value(req) else { return Vec::new() };
    let mut out = Vec::new();
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    };
    let named = NUMBER_FIELDS.iter().chain(MODE_FIELDS).chain(&[
        "forecast_years",
        "valuation_date",
        "profile",
        "terminal_value_method",
        "wacc_weight_mode",
    ]);
    for k in named {
        if let Some(t) = m.get(*k).and_then(text) {
            out.push((k.to_string(), t));
        }
    }
    out
}

/// The `dotted.path=value` edits that turn a default request into `req` (its symbol, date and
/// the page's grid left out): what "save as a scenario" stores.
pub fn edits_of(req: &Request) -> Vec<String> {
    let Ok(serde_json::Value::Object(m)) = serde_json::to_value(req) else { return Vec::new() };
    let default = serde_json::to_value(Request::default()).unwrap_or_default();
    m.into_iter()
        .filter(|(k, v)| {
            !matches!(k.as_str(), "ts_code" | "valuation_date" | "sensitivity_analysis") && default.get(k) != Some(v)
        })
        .map(|(k, v)| match v {
            serde_json::Value::String(t) => format!("{k}={t}"),
            other => format!("{k}={other}"),
        })
        .collect()
}

/// One line of a parameter diff: `path: old → new`.
fn diff_text(c: &quantdesk_valuation::presets::Change) -> String {
    let show = |v: &serde_json::Value| match v {
        serde_json::Value::Null => "—".to_string(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    format!("{}: {} → {}", c.0, show(&c.1), show(&c.2))
}

/// One output row of the comparison: its label, a key for scripts and tests, a cell per column.
pub struct CompareRow {
    pub label: &'static str,
    pub key: &'static str,
    pub cells: Vec<String>,
}

/// One scenario of the comparison.
pub struct CompareColumn {
    /// `form`, `preset:NAME` or `saved:ID`.
    pub key: String,
    pub title: String,
    pub diffs: Vec<String>,
    /// Why it has no numbers (a refusal, a bad scenario).
    pub problem: String,
}

/// A scenario the comparison form offers.
pub struct CompareOption {
    pub key: String,
    pub label: String,
    pub checked: bool,
}

/// The side-by-side comparison.
pub struct Compare {
    pub columns: Vec<CompareColumn>,
    pub rows: Vec<CompareRow>,
    pub options: Vec<CompareOption>,
    /// More than four were chosen: the first four are shown.
    pub too_many: bool,
}

/// The most scenarios compared side by side.
pub const COMPARE_MAX: usize = 4;

/// The key outputs of one valuation, in the order of [`compare_labels`].
fn compare_cells(val: &Valuation) -> Vec<String> {
    let Some(dcf) = val.dcf.as_ref() else { return vec!["—".to_string(); 9] };
    let implied = match dcf.terminal_value_method_used {
        TerminalMethod::ExitMultiple => format!("g {}", pct(dcf.implied_perpetual_growth_rate)),
        TerminalMethod::PerpetualGrowth => {
            let m = val.forecast.last().map(|y| y.ebitda).filter(|e| *e > 0.0).map(|e| dcf.terminal_value / e);
            m.map(|m| format!("{m:.1}×")).unwrap_or_else(|| "—".into())
        }
    };
    vec![
        num(dcf.value_per_share, 2),
        pct(val.derived.margin_of_safety),
        yi(dcf.enterprise_value),
        yi(dcf.equity_value),
        pct(Some(dcf.wacc_used)),
        pct(val.derived.tv_share_of_ev),
        implied,
        pct(val.forecast.first().map(|y| y.revenue_growth_rate)),
        val.warnings.len().to_string(),
    ]
}

fn compare_labels(v: &ValuationStrings) -> [(&'static str, &'static str); 9] {
    [
        (v.value_per_share, "vps"),
        (v.margin_of_safety, "mos"),
        (v.b_ev, "ev"),
        (v.b_equity, "equity"),
        (v.w_used, "wacc"),
        (v.t_share, "tv_share"),
        (v.c_implied, "implied"),
        (v.c_cagr, "cagr"),
        (v.c_warnings, "warnings"),
    ]
}

/// Values each chosen scenario over `base` (the form's request) with the same service the page
/// uses, one column each.
async fn compare(
    state: &AppState,
    v: &'static ValuationStrings,
    owner: Option<&str>,
    saved: &[quantdesk_app::scenarios::Scenario],
    base: &Request,
    chosen: &[String],
) -> Compare {
    let mut options = vec![CompareOption { key: "form".into(), label: v.c_form.into(), checked: false }];
    options.extend(quantdesk_valuation::PRESETS.iter().map(|p| CompareOption {
        key: format!("preset:{p}"),
        label: format!("{} {p}", v.sc_preset),
        checked: false,
    }));
    options.extend(saved.iter().map(|s| CompareOption {
        key: format!("saved:{}", s.id),
        label: s.name.clone(),
        checked: false,
    }));
    let mut keys: Vec<String> = Vec::new();
    for c in chosen {
        if !keys.contains(c) {
            keys.push(c.clone());
        }
    }
    let too_many = keys.len() > COMPARE_MAX;
    keys.truncate(COMPARE_MAX);
    for o in &mut options {
        o.checked = keys.contains(&o.key);
    }
    let labels = compare_labels(v);
    let mut rows: Vec<CompareRow> =
        labels.iter().map(|(label, key)| CompareRow { label, key, cells: Vec::new() }).collect();
    let mut columns = Vec::new();
    for key in keys {
        let applied: Result<(String, Request, Vec<String>), String> = if key == "form" {
            Ok((v.c_form.to_string(), base.clone(), Vec::new()))
        } else if let Some(p) = key.strip_prefix("preset:") {
            quantdesk_valuation::apply_preset(base, p)
                .map(|(r, c)| (format!("{} {p}", v.sc_preset), r, c.iter().map(diff_text).collect()))
                .map_err(|e| e.0)
        } else if let Some(s) = key
            .strip_prefix("saved:")
            .and_then(|id| id.parse::<i64>().ok())
            .and_then(|id| saved.iter().find(|s| s.id == id))
            .filter(|_| owner.is_some())
        {
            quantdesk_app::scenarios::apply(base, s.preset.as_deref(), &s.overlay)
                .map(|(r, c)| (s.name.clone(), r, c.iter().map(diff_text).collect()))
                .map_err(|e| e.into_message())
        } else {
            Err(v.c_unknown.to_string())
        };
        let (title, cells, diffs, problem) = match applied {
            Ok((title, req, diffs)) => match quantdesk_app::valuation::valuate(&*state.store, &req).await {
                Ok(val) => {
                    let problem = val.error.clone().map(|e| format!("{}: {e}", v.refused)).unwrap_or_default();
                    (title, compare_cells(&val), diffs, problem)
                }
                Err(e) => (title, vec!["—".to_string(); labels.len()], diffs, e.into_message()),
            },
            Err(e) => (key.clone(), vec!["—".to_string(); labels.len()], Vec::new(), e),
        };
        for (row, cell) in rows.iter_mut().zip(cells) {
            row.cells.push(cell);
        }
        columns.push(CompareColumn { key, title, diffs, problem });
    }
    Compare { columns, rows, options, too_many }
}

/// A saved scenario in the page's list.
pub struct ScenarioRow {
    pub id: i64,
    pub name: String,
    pub definition: String,
    pub load_href: String,
}

/// A row of the history.
pub struct HistoryRow {
    pub created: String,
    pub ts_code: String,
    pub valuation_date: String,
    pub profile: String,
    pub value_per_share: String,
    pub href: String,
}

/// A page of the caller's saved valuations.
pub struct HistoryView {
    pub rows: Vec<HistoryRow>,
    pub page: u32,
    pub pages: u32,
    pub prev_href: String,
    pub next_href: String,
}

/// The margin of safety against both prices.
pub struct PriceView {
    pub daily_basic: String,
    pub chart: String,
    pub margin_daily_basic: String,
    pub margin_chart: String,
    pub note: String,
}

fn price_view(v: &ValuationStrings, c: &quantdesk_app::valuation::PriceCheck) -> PriceView {
    let at = |p: f64, d: chrono::NaiveDate| format!("{} ({d})", per_share(p));
    PriceView {
        daily_basic: c.daily_basic.map(|(d, p)| at(p, d)).unwrap_or_else(|| "—".into()),
        chart: c.chart.map(|x| at(x.close, x.date)).unwrap_or_else(|| v.p_no_bars.into()),
        margin_daily_basic: pct(c.margin_daily_basic),
        margin_chart: pct(c.margin_chart),
        note: if c.chart.is_none() {
            v.p_used.to_string()
        } else if c.differ() {
            format!("{} {}", v.p_used, v.p_differ)
        } else {
            format!("{} {}", v.p_used, v.p_same)
        },
    }
}

async fn history_view(state: &AppState, owner: &str, symbol: &str, p: &Params, lang: Lang) -> Option<HistoryView> {
    let page = get(p, "hpage").and_then(|x| x.parse::<u32>().ok()).unwrap_or(1).clamp(1, 100_000);
    let h = quantdesk_app::valuation::history(&*state.store, owner, page).await.ok()?;
    let pages = (h.total.div_ceil(u64::from(h.per_page.max(1)))).max(1) as u32;
    let base = if symbol.is_empty() { "/valuation".to_string() } else { format!("/valuation/{symbol}") };
    let href = |n: u32| format!("{base}?{}", query_of(p, &[("hpage", n.to_string())]));
    Some(HistoryView {
        rows: h
            .items
            .iter()
            .map(|i| HistoryRow {
                created: super::local_time(i.created_at, lang),
                ts_code: i.ts_code.clone(),
                valuation_date: i.valuation_date.clone(),
                profile: i.profile.clone(),
                value_per_share: num(i.value_per_share, 2),
                href: format!("/valuation/{}?load={}", enc(&i.ts_code), i.id),
            })
            .collect(),
        page: h.page,
        pages,
        prev_href: if h.page > 1 { href(h.page - 1) } else { String::new() },
        next_href: if h.page < pages { href(h.page + 1) } else { String::new() },
    })
}

fn notice_text(v: &ValuationStrings, code: &str) -> &'static str {
    match code {
        "saved" => v.sc_saved,
        "exists" => v.sc_exists,
        "invalid" => v.sc_invalid,
        "full" => v.sc_full,
        "deleted" => v.sc_deleted,
        "missing" => v.sc_missing,
        _ => "",
    }
}

async fn render(state: &AppState, lang: &ReqLang, symbol: Option<String>, p: Params) -> Response {
    let v = lang.lang.valuation();
    let owner = lang.who.as_ref().map(|w| w.owner());
    let symbol = symbol.or_else(|| get(&p, "symbol").map(str::to_string)).map(|s| s.trim().to_uppercase());
    let mut problem = String::new();
    let mut fix = Vec::new();
    let mut name = String::new();
    let mut result = None;
    let mut bad_fields = Vec::new();
    let chosen: Vec<String> = p.iter().filter(|(k, _)| k == "cmp").map(|(_, x)| x.trim().to_string()).collect();
    let notice = get(&p, "notice").map(|c| notice_text(v, c)).unwrap_or("").to_string();
    let hpage = get(&p, "hpage").map(str::to_string);
    let mut p: Params = p
        .into_iter()
        .filter(|(k, _)| !matches!(k.as_str(), "symbol" | "format" | "cmp" | "notice" | "hpage"))
        .collect();
    let saved_scenarios = match &owner {
        Some(o) => quantdesk_app::scenarios::list(&*state.store, o).await.unwrap_or_default(),
        None => Vec::new(),
    };
    let mut applied = String::new();
    let mut applied_diffs = Vec::new();
    let mut valued_request = None;
    let mut prices = None;
    if let Some(sym) = &symbol {
        let (mut req, bad) = request_of(sym, &p);
        bad_fields = bad;
        // `load=ID`: a saved valuation's request; `scenario_id=ID`: a saved scenario over the form.
        let load = get(&p, "load").and_then(|x| x.parse::<i64>().ok());
        let scenario = get(&p, "scenario_id").and_then(|x| x.parse::<i64>().ok());
        if let (Some(id), Some(o)) = (load, &owner) {
            match quantdesk_app::valuation::saved(&*state.store, o, false, id).await {
                Ok(s) => {
                    req = s.request;
                    req.ts_code = Some(sym.clone());
                    applied =
                        format!("{} #{id} ({})", v.history_loaded, super::local_time(s.item.created_at, lang.lang));
                }
                Err(e) => problem = e.into_message(),
            }
        }
        if let (Some(id), Some(o)) = (scenario, &owner) {
            match quantdesk_app::scenarios::get(&*state.store, o, id).await {
                Ok(s) => match quantdesk_app::scenarios::apply(&req, s.preset.as_deref(), &s.overlay) {
                    Ok((r, changes)) => {
                        req = r;
                        applied = format!("{} {}", v.sc_applied, s.name);
                        applied_diffs = changes.iter().map(diff_text).collect();
                    }
                    Err(e) => problem = e.into_message(),
                },
                Err(e) => problem = e.into_message(),
            }
        }
        if load.is_some() || scenario.is_some() {
            req.sensitivity_analysis = Some(page_grid(&req));
            p = params_of(&req);
        }
        if let Ok(s) = quantdesk_core::Symbol::new(sym)
            && let Ok(Some(i)) = state.store.instrument(&s).await
        {
            name = i.name;
        }
        match quantdesk_app::valuation::valuate(&*state.store, &req).await {
            Ok(val) => {
                if let Some(e) = &val.error {
                    problem = format!("{}: {e}", v.refused);
                    fix = fixes(sym);
                } else if let Ok(c) = quantdesk_app::valuation::price_check(&*state.store, &req, &val).await {
                    prices = Some(price_view(v, &c));
                }
                result = Some(val);
            }
            Err(e) => {
                problem = if e.code() == "no_statements" {
                    format!("{}: {}", v.no_statements, e.message())
                } else {
                    e.message().to_string()
                };
                fix = fixes(sym);
            }
        }
        valued_request = Some(req);
    }
    let sym = symbol.clone().unwrap_or_default();
    let comparison = match &valued_request {
        Some(base) => Some(compare(state, v, owner.as_deref(), &saved_scenarios, base, &chosen).await),
        None => None,
    };
    let (basic, wacc_fields, drivers) = form_fields(v, &p, result.as_ref());
    let shown = result.as_ref().and_then(|val| shown(v, val, &sym, &p));
    let scenarios = saved_scenarios
        .iter()
        .map(|s| {
            let mut def: Vec<String> = s.preset.iter().map(|x| format!("{} {x}", v.sc_preset)).collect();
            def.extend(s.overlay.iter().cloned());
            ScenarioRow {
                id: s.id,
                name: s.name.clone(),
                definition: def.join(" · "),
                load_href: if sym.is_empty() {
                    String::new()
                } else {
                    format!("/valuation/{sym}?{}", query_of(&p, &[("scenario_id", s.id.to_string())]))
                },
            }
        })
        .collect();
    let history = match &owner {
        Some(o) => {
            let mut hp = p.clone();
            if let Some(h) = &hpage {
                hp.push(("hpage".into(), h.clone()));
            }
            history_view(state, o, &sym, &hp, lang.lang).await
        }
        None => None,
    };
    // The hidden fields of the save and compare forms: the assumptions shown.
    let hidden: Vec<(String, String)> = p
        .iter()
        .filter(|(k, x)| !x.trim().is_empty() && !matches!(k.as_str(), "load" | "scenario_id"))
        .cloned()
        .collect();
    let page = ValuationPage {
        page: lang.ctx("valuation"),
        v,
        symbol: sym,
        name,
        basic,
        wacc_fields,
        drivers,
        profile: get(&p, "profile").unwrap_or("quantdesk").to_string(),
        terminal: get(&p, "terminal_value_method").unwrap_or("exit_multiple").to_string(),
        weight: get(&p, "wacc_weight_mode").unwrap_or("target").to_string(),
        bad_fields,
        problem,
        fixes: fix,
        shown,
        config_json: json_island(&script_config(lang.lang)),
        notice,
        applied,
        applied_diffs,
        scenarios,
        comparison,
        history,
        prices,
        hidden,
        can_save: lang.who.as_ref().is_some_and(|w| w.can(quantdesk_app::accounts::Scope::Jobs)),
    };
    html(StatusCode::OK, page.render())
}

/// The form of `POST /valuation/scenarios`: the assumptions shown, the name, the CSRF token.
type SaveForm = Vec<(String, String)>;

fn back_to(symbol: &str, p: &Params, notice: &str) -> Response {
    let sym = symbol.trim().to_uppercase();
    let base = match quantdesk_core::Symbol::new(&sym) {
        Ok(s) => format!("/valuation/{}", enc(s.as_str())),
        Err(_) => "/valuation".to_string(),
    };
    Redirect::to(&format!("{base}?{}", query_of(p, &[("notice", notice.to_string())]))).into_response()
}

/// `POST /valuation/scenarios`: saves the assumptions shown (the page's form fields) as the
/// caller's scenario named `scenario_name`, then back to the page with a notice.
pub async fn save_scenario(State(state): State<AppState>, lang: ReqLang, Form(f): Form<SaveForm>) -> Response {
    let Some(who) = lang.who.as_ref() else { return StatusCode::UNAUTHORIZED.into_response() };
    let symbol = get(&f, "symbol").unwrap_or("").to_string();
    let name = get(&f, "scenario_name").unwrap_or("").to_string();
    let p: Params = f
        .into_iter()
        .filter(|(k, _)| !matches!(k.as_str(), "symbol" | "scenario_name" | "csrf" | "notice" | "cmp" | "hpage"))
        .collect();
    let (req, _) = request_of(if symbol.is_empty() { "X" } else { &symbol }, &p);
    let input = quantdesk_app::scenarios::ScenarioInput { name, preset: None, overlay: edits_of(&req) };
    let notice = match quantdesk_app::scenarios::create(&*state.store, &who.owner(), &input).await {
        Ok(_) => "saved",
        Err(e) if e.code() == "scenario_exists" => "exists",
        Err(e) if e.code() == "too_many_scenarios" => "full",
        Err(_) => "invalid",
    };
    back_to(&symbol, &p, notice)
}

/// `POST /valuation/scenarios/{id}/delete`: deletes the caller's scenario, then back to the page.
pub async fn delete_scenario(
    State(state): State<AppState>,
    lang: ReqLang,
    Path(id): Path<i64>,
    Form(f): Form<SaveForm>,
) -> Response {
    let Some(who) = lang.who.as_ref() else { return StatusCode::UNAUTHORIZED.into_response() };
    let symbol = get(&f, "symbol").unwrap_or("").to_string();
    let p: Params = f
        .into_iter()
        .filter(|(k, _)| !matches!(k.as_str(), "symbol" | "csrf" | "notice" | "cmp" | "hpage" | "scenario_id"))
        .collect();
    let notice = match quantdesk_app::scenarios::delete(&*state.store, &who.owner(), id).await {
        Ok(()) => "deleted",
        Err(_) => "missing",
    };
    back_to(&symbol, &p, notice)
}

/// `/valuation`: the form, the screener; with `?symbol=` the valuation of that symbol.
pub async fn valuation_index(State(state): State<AppState>, lang: ReqLang, Query(p): Query<Params>) -> Response {
    render(&state, &lang, None, p).await
}

/// `/valuation/{symbol}`: the valuation of one stored company with the query's assumptions.
pub async fn valuation(
    State(state): State<AppState>,
    lang: ReqLang,
    Path(symbol): Path<String>,
    Query(p): Query<Params>,
) -> Response {
    render(&state, &lang, Some(symbol), p).await
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The file formats of the export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Markdown,
    Html,
}

fn html_escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// The tables of a valuation in `format`: CSV or Markdown sections, or one self-contained HTML
/// document (its own style, no script, no outside resource).
pub fn export_as(v: &'static ValuationStrings, val: &Valuation, symbol: &str, format: ExportFormat) -> String {
    let Some(s) = shown(v, val, symbol, &Vec::new()) else {
        let e = val.error.clone().unwrap_or_default();
        return if format == ExportFormat::Html { export_html_doc(v, symbol, &[], &e) } else { e };
    };
    let heat = s.heat.as_ref().map(|h| {
        let mut head = vec![h.corner.clone()];
        head.extend(h.columns.iter().cloned());
        Table {
            head,
            rows: h
                .rows
                .iter()
                .map(|(r, cells)| {
                    let mut row = vec![r.clone()];
                    row.extend(cells.iter().map(|c| c.text.clone()));
                    row
                })
                .collect(),
        }
    });
    let headline = Table {
        head: vec![v.item.into(), v.value.into()],
        rows: vec![
            vec![v.value_per_share.into(), s.value_per_share.clone()],
            vec![v.price.into(), s.price.clone()],
            vec![v.margin_of_safety.into(), s.margin_of_safety.clone()],
        ],
    };
    let mut sections: Vec<(&str, &Table)> = vec![
        (v.headline, &headline),
        (v.forecast_title, &s.forecast),
        (v.wacc_title, &s.wacc),
        (v.tv_title, &s.tv),
        (v.guardrails_title, &s.guardrails),
    ];
    if let Some(h) = &heat {
        sections.push((v.sensitivity_title, h));
    }
    if format == ExportFormat::Html {
        return export_html_doc(v, symbol, &sections, "");
    }
    let markdown = format == ExportFormat::Markdown;
    let mut out = String::new();
    for (title, t) in sections {
        if markdown {
            out.push_str(&format!(
                "## {title}\n\n| {} |\n|{}\n",
                t.head.iter().map(|c| md_cell(c)).collect::<Vec<_>>().join(" | "),
                " --- |".repeat(t.head.len())
            ));
            for r in &t.rows {
                out.push_str(&format!("| {} |\n", r.iter().map(|c| md_cell(c)).collect::<Vec<_>>().join(" | ")));
            }
        } else {
            out.push_str(&format!(
                "{}\n{}\n",
                csv_cell(title),
                t.head.iter().map(|c| csv_cell(c)).collect::<Vec<_>>().join(",")
            ));
            for r in &t.rows {
                out.push_str(&format!("{}\n", r.iter().map(|c| csv_cell(c)).collect::<Vec<_>>().join(",")));
            }
        }
        out.push('\n');
    }
    out
}

fn export_html_doc(v: &ValuationStrings, symbol: &str, sections: &[(&str, &Table)], error: &str) -> String {
    let title = html_escape(&format!("{} {symbol}", v.title));
    let mut out = format!(
        "<!doctype html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n<title>{title}</title>\n<style>\
body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}table{{border-collapse:collapse;margin:0 0 1.5em}}\
th,td{{border:1px solid #bbb;padding:.25em .6em;text-align:right}}th:first-child,td:first-child{{text-align:left}}\
thead th{{background:#f0f0f0}}\n</style>\n</head>\n<body>\n<h1>{title}</h1>\n",
        v.html_lang
    );
    if !error.is_empty() {
        out.push_str(&format!("<p>{}</p>\n", html_escape(error)));
    }
    for (name, t) in sections {
        out.push_str(&format!("<h2>{}</h2>\n<table>\n<thead><tr>", html_escape(name)));
        for h in &t.head {
            out.push_str(&format!("<th>{}</th>", html_escape(h)));
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        for r in &t.rows {
            out.push_str("<tr>");
            for c in r {
                out.push_str(&format!("<td>{}</td>", html_escape(c)));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>\n</table>\n");
    }
    out.push_str(&format!("<p>{}</p>\n</body>\n</html>\n", html_escape(v.amounts_unit)));
    out
}

/// `/valuation/{symbol}/export?format=csv|md|html&…`: the page's tables as a download.
pub async fn export(
    State(state): State<AppState>,
    lang: ReqLang,
    Path(symbol): Path<String>,
    Query(p): Query<Params>,
) -> Response {
    let v = lang.lang.valuation();
    let format = match get(&p, "format") {
        Some("md") => ExportFormat::Markdown,
        Some("html") => ExportFormat::Html,
        _ => ExportFormat::Csv,
    };
    let symbol = symbol.trim().to_uppercase();
    let (req, _) = request_of(&symbol, &p);
    let body = match quantdesk_app::valuation::valuate(&*state.store, &req).await {
        Ok(val) => export_as(v, &val, &symbol, format),
        Err(e) => return (StatusCode::NOT_FOUND, e.message().to_string()).into_response(),
    };
    let (ctype, ext) = match format {
        ExportFormat::Markdown => ("text/markdown; charset=utf-8", "md"),
        ExportFormat::Html => ("text/html; charset=utf-8", "html"),
        ExportFormat::Csv => ("text/csv; charset=utf-8", "csv"),
    };
    let file: String = symbol.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '.').collect();
    let mut res = (StatusCode::OK, body).into_response();
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    if let Ok(d) = HeaderValue::from_str(&format!("attachment; filename=\"valuation-{file}.{ext}\"")) {
        h.insert(header::CONTENT_DISPOSITION, d);
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    res
}
