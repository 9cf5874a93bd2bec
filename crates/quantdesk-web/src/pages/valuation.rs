//! `/valuation` and `/valuation/{symbol}`: the DCF of a stored company. The assumptions form is a
//! GET of this page (so a valuation is a link); the handler calls
//! `quantdesk_app::valuation::valuate` and renders the headline, the equity bridge (an inline
//! SVG waterfall), the forecast, the WACC and terminal-value build-ups, guardrails, warnings and
//! the WACC × growth (or × exit multiple) sensitivity heat map, whose cells are links to the page
//! with those assumptions. `/valuation/{symbol}/export?format=csv|md` downloads the tables. The
//! screener panel is `valuation.js` over `POST /api/v1/screener/stocks`.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
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
    let growth_grid = grid_is_growth(&req, p);
    req.sensitivity_analysis = Some(SensitivityRequest {
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
    });
    (req, bad)
}

/// The grid's columns: perpetual growth under the perpetual-growth method, else the exit
/// multiple (the growth rate does not move an exit-multiple valuation).
fn grid_is_growth(req: &Request, _p: &Params) -> bool {
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

async fn render(state: &AppState, lang: &ReqLang, symbol: Option<String>, p: Params) -> Response {
    let v = lang.lang.valuation();
    let symbol = symbol.or_else(|| get(&p, "symbol").map(str::to_string)).map(|s| s.trim().to_uppercase());
    let mut problem = String::new();
    let mut fix = Vec::new();
    let mut name = String::new();
    let mut result = None;
    let mut bad_fields = Vec::new();
    let p: Params = p.into_iter().filter(|(k, _)| k != "symbol" && k != "format").collect();
    if let Some(sym) = &symbol {
        let (req, bad) = request_of(sym, &p);
        bad_fields = bad;
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
    }
    let sym = symbol.clone().unwrap_or_default();
    let (basic, wacc_fields, drivers) = form_fields(v, &p, result.as_ref());
    let shown = result.as_ref().and_then(|val| shown(v, val, &sym, &p));
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
    };
    html(StatusCode::OK, page.render())
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

/// The tables of a valuation as CSV or Markdown, one section per table.
pub fn export_text(v: &'static ValuationStrings, val: &Valuation, symbol: &str, markdown: bool) -> String {
    let Some(s) = shown(v, val, symbol, &Vec::new()) else {
        return val.error.clone().unwrap_or_default();
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

/// `/valuation/{symbol}/export?format=csv|md&…`: the page's tables as a download.
pub async fn export(
    State(state): State<AppState>,
    lang: ReqLang,
    Path(symbol): Path<String>,
    Query(p): Query<Params>,
) -> Response {
    let v = lang.lang.valuation();
    let markdown = get(&p, "format") == Some("md");
    let symbol = symbol.trim().to_uppercase();
    let (req, _) = request_of(&symbol, &p);
    let body = match quantdesk_app::valuation::valuate(&*state.store, &req).await {
        Ok(val) => export_text(v, &val, &symbol, markdown),
        Err(e) => return (StatusCode::NOT_FOUND, e.message().to_string()).into_response(),
    };
    let (ctype, ext) =
        if markdown { ("text/markdown; charset=utf-8", "md") } else { ("text/csv; charset=utf-8", "csv") };
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
