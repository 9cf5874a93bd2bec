//! `quantdesk valuate`: a two-stage FCFF DCF of a stored company (`app::valuation`), what is
//! stored for one (`doctor`), and every input and intermediate of one (`diagnose`).

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};
use clap::{Args, Subcommand, ValueEnum};
use quantdesk_app::config::Config;
use quantdesk_valuation::{Profile, Request, Valuation, presets};

use super::common::{open_store, print_all};

/// The owner of valuations saved from the command line (the operator's; admins see them).
const CLI_OWNER: &str = "";

#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ValuateArgs {
    #[command(subcommand)]
    command: Option<ValuateCommand>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand)]
pub enum ValuateCommand {
    /// What is stored for a valuation of one symbol, and what is missing.
    Doctor(TargetArgs),
    /// Every input and intermediate: inputs, historical ratios, the forecast table, the WACC
    /// build-up, the terminal value, the bridge, guardrails and warnings with their rules.
    Diagnose(Box<RunArgs>),
}

#[derive(Args)]
pub struct TargetArgs {
    /// The stock, e.g. 600519.SH.
    #[arg(long)]
    ts_code: String,
    /// Value as known on this date (YYYY-MM-DD; default: everything stored).
    #[arg(long)]
    valuation_date: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProfileArg {
    Reference,
    Quantdesk,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ValuateFormat {
    Table,
    Json,
    Markdown,
}

#[derive(Args, Clone)]
pub struct RunArgs {
    /// The stock, e.g. 600519.SH (beats the request file's).
    #[arg(long)]
    ts_code: Option<String>,
    /// Value as known on this date (YYYY-MM-DD; default: everything stored).
    #[arg(long)]
    valuation_date: Option<String>,
    /// `reference` (huliux/stock_vale exactly) or `quantdesk` (default: the file's, else quantdesk).
    #[arg(long, value_enum)]
    profile: Option<ProfileArg>,
    /// A named scenario written over the request: base, bull, bear, conservative, high-growth,
    /// mature-stable, consumer-staples, utilities, tech-growth.
    #[arg(long)]
    preset: Option<String>,
    /// A saved scenario of the account --email names (its preset, then its edits), written after
    /// --preset and before --set.
    #[arg(long, value_name = "NAME", requires = "email")]
    scenario: Option<String>,
    /// The account whose saved scenario --scenario names.
    #[arg(long, value_name = "EMAIL", requires = "scenario")]
    email: Option<String>,
    /// Set one request field, after the preset: --set beta=1.1 --set terminal_value_method=perpetual_growth.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    sets: Vec<String>,
    /// A request in the reference's field names (a golden file's request_dict_used); flags win.
    #[arg(long, value_name = "FILE")]
    request_file: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "table")]
    format: ValuateFormat,
    /// Keep the result in the history (and the cache).
    #[arg(long)]
    save: bool,
}

pub async fn run(cfg: &Config, a: ValuateArgs) -> Result<()> {
    match a.command {
        Some(ValuateCommand::Doctor(t)) => doctor(cfg, t).await,
        Some(ValuateCommand::Diagnose(r)) => valuate(cfg, *r, true).await,
        None => valuate(cfg, a.run, false).await,
    }
}

async fn doctor(cfg: &Config, t: TargetArgs) -> Result<()> {
    let req = Request { ts_code: Some(t.ts_code), valuation_date: t.valuation_date, ..Request::default() };
    let symbol = quantdesk_app::valuation::request_symbol(&req).map_err(|e| anyhow!(e.into_message()))?;
    let as_of = quantdesk_app::valuation::valuation_date(&req).map_err(|e| anyhow!(e.into_message()))?;
    let store = open_store(cfg).await?;
    let a =
        quantdesk_app::valuation::availability(&*store, &symbol, as_of).await.map_err(|e| anyhow!(e.into_message()))?;
    let mut out = format!(
        "{} as of {}\n",
        a.symbol,
        a.as_of.map(|d| d.to_string()).unwrap_or_else(|| "everything stored".into())
    );
    for (name, years) in &a.annual_years {
        let ys: Vec<String> = years.iter().map(i32::to_string).collect();
        let _ = writeln!(
            out,
            "  {name:<13} {} annual report(s){}",
            years.len(),
            if ys.is_empty() { String::new() } else { format!(": {}", ys.join(", ")) }
        );
    }
    let _ = writeln!(
        out,
        "  {:<13} {}",
        "daily_basic",
        a.daily_basic.map(|d| format!("latest {d}")).unwrap_or_else(|| "none".into())
    );
    if a.missing.is_empty() {
        out.push_str("ready: everything a valuation needs is stored\n");
    } else {
        out.push_str("missing:\n");
        for m in &a.missing {
            let _ = writeln!(out, "  - {m}");
        }
    }
    print_all(&out)?;
    if a.annual_years.iter().all(|(_, y)| y.is_empty()) {
        bail!("no annual statements are stored for {}", a.symbol);
    }
    Ok(())
}

/// The request of a run: the file, then the preset, then the saved scenario, then `--set`, then
/// the flags.
pub fn build_request(
    a: &RunArgs,
    scenario: Option<&quantdesk_app::scenarios::Scenario>,
) -> Result<(Request, Vec<presets::Change>)> {
    let mut req: Request = match &a.request_file {
        Some(f) => {
            let text = std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?;
            serde_json::from_str(&text).with_context(|| format!("{} is not a valuation request", f.display()))?
        }
        None => Request::default(),
    };
    let mut changes = Vec::new();
    if let Some(p) = &a.preset {
        let (r, c) = presets::apply_preset(&req, p).map_err(|e| anyhow!(e.0))?;
        req = r;
        changes.extend(c);
    }
    if let Some(sc) = scenario {
        let (r, c) = quantdesk_app::scenarios::apply(&req, sc.preset.as_deref(), &sc.overlay)
            .map_err(|e| anyhow!("scenario {:?}: {}", sc.name, e.into_message()))?;
        req = r;
        changes.extend(c);
    }
    for s in &a.sets {
        let (path, value) = s.split_once('=').ok_or_else(|| anyhow!("--set {s:?}: use PATH=VALUE, e.g. beta=1.1"))?;
        changes.push(presets::set_path(&mut req, path, presets::parse_value(value)).map_err(|e| anyhow!(e.0))?);
    }
    if let Some(t) = &a.ts_code {
        req.ts_code = Some(t.clone());
    }
    if let Some(d) = &a.valuation_date {
        req.valuation_date = Some(d.clone());
    }
    match a.profile {
        Some(ProfileArg::Reference) => req.profile = Profile::Reference,
        Some(ProfileArg::Quantdesk) => req.profile = Profile::Quantdesk,
        None => {}
    }
    Ok((req, changes))
}

async fn valuate(cfg: &Config, a: RunArgs, diagnose: bool) -> Result<()> {
    let store = open_store(cfg).await?;
    let scenario = match (&a.scenario, &a.email) {
        (Some(name), Some(email)) => {
            let email = quantdesk_app::accounts::normalize_email(email).map_err(|e| anyhow!(e.into_message()))?;
            let user = store.user_by_email(&email).await?.ok_or_else(|| anyhow!("no account {email}"))?;
            let owner = user.id.to_string();
            Some(
                quantdesk_app::scenarios::by_name(&*store, &owner, name)
                    .await
                    .map_err(|e| anyhow!("{} of {email}", e.into_message()))?,
            )
        }
        _ => None,
    };
    let (req, changes) = build_request(&a, scenario.as_ref())?;
    let valued = quantdesk_app::valuation::valuate_cached(&*store, CLI_OWNER, &req, a.save)
        .await
        .map_err(|e| anyhow!(e.into_message()))?;
    let v = &valued.valuation;
    let text = match a.format {
        ValuateFormat::Json => format!("{}\n", serde_json::to_string_pretty(v)?),
        ValuateFormat::Table | ValuateFormat::Markdown => {
            let md = matches!(a.format, ValuateFormat::Markdown);
            let mut text = render(v, &changes, valued.id, diagnose, md);
            if v.error.is_none() {
                let figures = quantdesk_app::valuation::reference_figures(&*store, &valued.request, v)
                    .await
                    .map_err(|e| anyhow!(e.into_message()))?;
                text.push_str(&render_reference(&figures, md));
            }
            text
        }
    };
    print_all(&text)?;
    if let Some(e) = &v.error {
        let code = v.refusal.as_ref().map(|r| format!(" ({})", r.code)).unwrap_or_default();
        bail!("the model refused to value {}{code}: {e}", v.ts_code.as_deref().unwrap_or("the company"));
    }
    Ok(())
}

/// The reference figures beside the DCF: relative multiples and the DDM.
pub fn render_reference(f: &quantdesk_app::valuation::ReferenceFigures, md: bool) -> String {
    let mut out = String::new();
    let r = &f.relative_valuation;
    heading(&mut out, md, "Relative valuation (reference)");
    let _ = writeln!(
        out,
        "{} daily_basic rows ({} … {}); industry {} with {} peers\n",
        r.history_rows,
        r.history_from.map(|d| d.to_string()).unwrap_or_else(|| "-".into()),
        r.history_to.map(|d| d.to_string()).unwrap_or_else(|| "-".into()),
        r.industry.as_deref().unwrap_or("-"),
        r.peers
    );
    let f2 = |x: Option<f64>| x.map(|x| format!("{x:.2}")).unwrap_or_else(|| "-".into());
    let head: Vec<String> = [
        "multiple",
        "current",
        "min",
        "p25",
        "median",
        "p75",
        "max",
        "pctile",
        "industry median (n)",
        "price @ own median",
        "price @ industry median",
    ]
    .map(String::from)
    .to_vec();
    let rows: Vec<Vec<String>> = r
        .multiples
        .iter()
        .map(|m| {
            let h = m.history.as_ref();
            vec![
                m.multiple.clone(),
                f2(m.current),
                f2(h.map(|h| h.min)),
                f2(h.map(|h| h.p25)),
                f2(h.map(|h| h.median)),
                f2(h.map(|h| h.p75)),
                f2(h.map(|h| h.max)),
                pct(h.and_then(|h| h.current_percentile)),
                format!("{} ({})", f2(m.industry_median), m.industry_count),
                f2(m.implied_price_at_own_median),
                f2(m.implied_price_at_industry_median),
            ]
        })
        .collect();
    table(&mut out, md, &head, &rows);
    heading(&mut out, md, "Dividend discount model (reference)");
    match &f.ddm {
        quantdesk_app::valuation::DdmOutcome::Valued(d) => kv(
            &mut out,
            md,
            &[
                ("DPS0", format!("{:.4} ({})", d.dps0, d.dps0_source)),
                ("cost of equity", pct(Some(d.request.cost_of_equity))),
                (
                    "growth",
                    format!(
                        "{} for {} years, then {}",
                        pct(Some(d.request.stage1_growth)),
                        d.request.stage1_years,
                        pct(Some(d.request.terminal_growth))
                    ),
                ),
                ("value per share", format!("{:.2}", d.value_per_share)),
                ("upside", pct(d.upside)),
            ],
        ),
        quantdesk_app::valuation::DdmOutcome::Refused { error } => {
            let _ = writeln!(out, "refused ({}): {}\n", error.code, error.message);
        }
    }
    out
}

fn num(x: f64) -> String {
    if x.abs() >= 1e8 {
        format!("{:.2} 亿", x / 1e8)
    } else if x.abs() >= 1e4 {
        format!("{:.0}", x)
    } else {
        format!("{:.4}", x)
    }
}

fn opt(x: Option<f64>) -> String {
    x.map(num).unwrap_or_else(|| "-".into())
}

fn pct(x: Option<f64>) -> String {
    x.map(|v| format!("{:.2} %", v * 100.0)).unwrap_or_else(|| "-".into())
}

/// A table, aligned text or Markdown.
fn table(out: &mut String, md: bool, head: &[String], rows: &[Vec<String>]) {
    if md {
        let _ = writeln!(out, "| {} |", head.join(" | "));
        let _ = writeln!(out, "|{}", head.iter().map(|_| "---|").collect::<String>());
        for r in rows {
            let _ = writeln!(out, "| {} |", r.join(" | "));
        }
        out.push('\n');
        return;
    }
    let mut w: Vec<usize> = head.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if i < w.len() {
                w[i] = w[i].max(c.chars().count());
            }
        }
    }
    let line = |cells: &[String]| -> String {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let pad = w.get(i).copied().unwrap_or(0).saturating_sub(c.chars().count());
                if i == 0 { format!("{c}{}", " ".repeat(pad)) } else { format!("{}{c}", " ".repeat(pad)) }
            })
            .collect::<Vec<_>>()
            .join("  ")
    };
    if head.iter().any(|h| !h.is_empty()) {
        let _ = writeln!(out, "{}", line(head));
    }
    for r in rows {
        let _ = writeln!(out, "{}", line(r));
    }
    out.push('\n');
}

fn heading(out: &mut String, md: bool, title: &str) {
    if md {
        let _ = writeln!(out, "## {title}\n");
    } else {
        let _ = writeln!(out, "{title}\n{}", "-".repeat(title.chars().count()));
    }
}

fn kv(out: &mut String, md: bool, rows: &[(&str, String)]) {
    let rows: Vec<Vec<String>> = rows.iter().map(|(k, v)| vec![k.to_string(), v.clone()]).collect();
    table(out, md, &["".into(), "".into()], &rows);
}

/// The report: headline, forecast, bridge, grid, warnings; with `diagnose` every input and
/// intermediate too.
pub fn render(v: &Valuation, changes: &[presets::Change], id: Option<i64>, diagnose: bool, md: bool) -> String {
    let mut out = String::new();
    let name = v.ts_code.as_deref().unwrap_or("?");
    let profile = serde_json::to_value(v.profile).ok().and_then(|p| p.as_str().map(String::from)).unwrap_or_default();
    if md {
        let _ = writeln!(out, "# DCF valuation of {name} ({profile} profile)\n");
    } else {
        let _ = writeln!(out, "DCF valuation of {name} ({profile} profile)\n");
    }
    if !changes.is_empty() {
        heading(&mut out, md, "Scenario");
        let rows: Vec<Vec<String>> =
            changes.iter().map(|(p, o, n)| vec![p.clone(), o.to_string(), n.to_string()]).collect();
        table(&mut out, md, &["field".into(), "was".into(), "now".into()], &rows);
    }
    if let Some(e) = &v.error {
        heading(&mut out, md, "Refused");
        let _ = writeln!(out, "{e}");
        if let Some(r) = &v.refusal {
            let _ = writeln!(out, "code: {}; missing: {}", r.code, r.missing.join(", "));
        }
        out.push('\n');
    }
    if let Some(d) = &v.dcf {
        heading(&mut out, md, "Headline");
        let price = v.inputs.latest_price;
        let tv = serde_json::to_value(d.terminal_value_method_used)
            .ok()
            .and_then(|x| x.as_str().map(String::from))
            .unwrap_or_default();
        kv(
            &mut out,
            md,
            &[
                ("enterprise value", num(d.enterprise_value)),
                ("equity value", num(d.equity_value)),
                ("value per share", d.value_per_share.map(|x| format!("{x:.2}")).unwrap_or_else(|| "-".into())),
                ("latest price", price.map(|x| format!("{x:.2}")).unwrap_or_else(|| "-".into())),
                ("margin of safety", pct(v.derived.margin_of_safety)),
                ("upside", pct(v.derived.upside)),
                ("WACC", pct(Some(d.wacc_used))),
                ("cost of equity", pct(Some(d.cost_of_equity_used))),
                ("terminal value method", tv),
                ("exit multiple", opt(d.exit_multiple_used)),
                ("perpetual growth", pct(d.perpetual_growth_rate_used)),
                ("TV share of EV", pct(v.derived.tv_share_of_ev)),
                ("implied perpetual growth", pct(d.implied_perpetual_growth_rate)),
                ("DCF-implied P/E", opt(d.dcf_implied_diluted_pe)),
            ],
        );
    }
    if diagnose {
        heading(&mut out, md, "Inputs");
        let i = &v.inputs;
        kv(
            &mut out,
            md,
            &[
                ("latest price", opt(i.latest_price)),
                ("P/E", opt(i.pe)),
                ("P/B", opt(i.pb)),
                ("total shares", opt(i.total_shares)),
                ("market cap estimate", opt(i.market_cap_estimate_yuan)),
                ("last actual revenue", opt(i.last_actual_revenue)),
                ("base report", i.base_report_date.clone().unwrap_or_else(|| "-".into())),
                ("latest annual diluted EPS", opt(i.latest_annual_diluted_eps)),
                ("latest actual EBITDA", opt(i.latest_actual_ebitda)),
                ("comp_type", i.comp_type.clone().unwrap_or_else(|| "-".into())),
            ],
        );
        heading(&mut out, md, "Historical ratios");
        let rows: Vec<(String, String)> = match serde_json::to_value(&v.historical_ratios) {
            Ok(serde_json::Value::Object(m)) => m
                .into_iter()
                .map(|(k, x)| (k, x.as_f64().map(|f| format!("{f:.6}")).unwrap_or_else(|| "-".into())))
                .collect(),
            _ => Vec::new(),
        };
        let rows: Vec<(&str, String)> = rows.iter().map(|(k, x)| (k.as_str(), x.clone())).collect();
        kv(&mut out, md, &rows);
    }
    if !v.forecast.is_empty() {
        heading(&mut out, md, "Forecast");
        let mut head = vec!["".to_string()];
        head.extend(v.forecast.iter().map(|y| format!("Y{}", y.year)));
        type Get = fn(&quantdesk_valuation::ForecastYear) -> f64;
        let mut lines: Vec<(&str, Get)> = vec![
            ("revenue", |y| y.revenue),
            ("growth", |y| y.revenue_growth_rate),
            ("EBIT", |y| y.ebit),
            ("taxes", |y| y.taxes),
            ("NOPAT", |y| y.nopat),
            ("D&A", |y| y.d_a),
            ("capex", |y| y.capex),
            ("ΔNWC", |y| y.delta_nwc),
            ("UFCF", |y| y.ufcf),
            ("discount factor", |y| y.discount_factor),
            ("PV of UFCF", |y| y.pv_ufcf),
        ];
        if diagnose {
            lines.extend::<[(&str, Get); 10]>([
                ("COGS", |y| y.cogs),
                ("gross profit", |y| y.gross_profit),
                ("SG&A", |y| y.sga_expenses),
                ("R&D", |y| y.rd_expenses),
                ("receivables", |y| y.accounts_receivable),
                ("inventories", |y| y.inventories),
                ("payables", |y| y.accounts_payable),
                ("other current assets", |y| y.other_current_assets),
                ("other current liabilities", |y| y.other_current_liabilities),
                ("NWC", |y| y.nwc),
            ]);
            lines.push(("EBITDA", |y| y.ebitda));
        }
        let rows: Vec<Vec<String>> = lines
            .iter()
            .map(|(n, f)| {
                let mut r = vec![n.to_string()];
                r.extend(v.forecast.iter().map(|y| {
                    let x = f(y);
                    if *n == "growth" { format!("{:.2} %", x * 100.0) } else { num(x) }
                }));
                r
            })
            .collect();
        table(&mut out, md, &head, &rows);
    }
    if diagnose && let Some(w) = &v.wacc_build_up {
        heading(&mut out, md, "WACC build-up");
        kv(
            &mut out,
            md,
            &[
                ("risk-free rate", pct(Some(w.risk_free_rate))),
                ("beta", format!("{:.4}", w.beta)),
                ("market risk premium", pct(Some(w.market_risk_premium))),
                ("country risk premium", pct(Some(w.country_risk_premium))),
                ("size premium", pct(Some(w.size_premium))),
                ("industry risk premium", pct(Some(w.industry_risk_premium))),
                ("cost of equity", pct(Some(w.cost_of_equity))),
                ("cost of debt (pre-tax)", pct(Some(w.cost_of_debt_pre_tax))),
                ("tax rate for debt", pct(Some(w.tax_rate_for_debt))),
                ("cost of debt (after tax)", pct(Some(w.cost_of_debt_after_tax))),
                ("weights", format!("{:?} (asked {:?})", w.weight_mode_used, w.weight_mode_requested)),
                ("debt weight", pct(Some(w.debt_weight))),
                ("equity weight", pct(Some(w.equity_weight))),
                ("WACC computed", pct(w.wacc_computed)),
                ("discount rate override", pct(w.discount_rate_override)),
                ("WACC used", pct(Some(w.wacc_used))),
                ("mid-year convention", w.mid_year_convention.to_string()),
            ],
        );
    }
    if let Some(d) = &v.dcf {
        heading(&mut out, md, "Bridge");
        kv(
            &mut out,
            md,
            &[
                ("PV of forecast UFCF", num(d.pv_forecast_ufcf)),
                ("terminal value", num(d.terminal_value)),
                ("PV of terminal value", num(d.pv_terminal_value)),
                ("enterprise value", num(d.enterprise_value)),
                ("− net debt", num(d.net_debt)),
                ("equity value", num(d.equity_value)),
                ("shares", opt(v.inputs.total_shares)),
                ("value per share", opt(d.value_per_share)),
            ],
        );
    }
    if let Some(s) = &v.sensitivity {
        heading(&mut out, md, &format!("Value per share: {} × {}", s.row_parameter, s.column_parameter));
        let mut head = vec![format!("{} \\ {}", s.row_parameter, s.column_parameter)];
        head.extend(s.column_values.iter().map(|c| format!("{c:.4}")));
        let rows: Vec<Vec<String>> = s
            .row_values
            .iter()
            .enumerate()
            .map(|(i, rv)| {
                let mut r = vec![format!("{rv:.4}")];
                if let Some(cells) = s.result_tables.value_per_share.get(i) {
                    r.extend(cells.iter().map(|c| c.map(|x| format!("{x:.2}")).unwrap_or_else(|| "-".into())));
                }
                r
            })
            .collect();
        table(&mut out, md, &head, &rows);
    }
    if diagnose && !v.guardrails.is_empty() {
        heading(&mut out, md, "Guardrails");
        let rows: Vec<Vec<String>> = v
            .guardrails
            .iter()
            .map(|g| vec![g.name.clone(), format!("{:?}", g.status).to_lowercase(), g.message.clone()])
            .collect();
        table(&mut out, md, &["check".into(), "status".into(), "".into()], &rows);
    }
    if diagnose {
        heading(&mut out, md, "Warnings");
        let rows: Vec<Vec<String>> = v.warnings.iter().map(|w| vec![w.rule.clone(), w.message.clone()]).collect();
        table(&mut out, md, &["rule".into(), "message".into()], &rows);
        if !v.differences_from_reference.is_empty() {
            heading(&mut out, md, "Differences from the reference");
            let rows: Vec<Vec<String>> = v
                .differences_from_reference
                .iter()
                .map(|d| vec![d.id.clone(), d.replaces.clone(), d.summary.clone()])
                .collect();
            table(&mut out, md, &["id".into(), "replaces".into(), "".into()], &rows);
        }
    } else {
        let _ = writeln!(
            out,
            "{} warning(s){}",
            v.warnings.len(),
            if v.warnings.is_empty() { "" } else { " (quantdesk valuate diagnose lists them)" }
        );
    }
    if let Some(w) = &v.special_industry_warning {
        let _ = writeln!(out, "{w}");
    }
    if !v.ignored_request_keys.is_empty() {
        let _ = writeln!(out, "ignored request keys: {}", v.ignored_request_keys.join(", "));
    }
    if let Some(id) = id {
        let _ = writeln!(out, "saved as valuation {id}");
    }
    out
}
