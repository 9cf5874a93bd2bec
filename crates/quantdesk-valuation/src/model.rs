//! Steps C–F: forecast, discount rate, terminal value, discounting, bridge, derived metrics.

use std::collections::BTreeSet;

use crate::clean::{self, KEY_BALANCE, KEY_CASH, KEY_INCOME, Table};
use crate::history;
use crate::input::Statements;
use crate::output::{Dcf, ForecastYear, HistoricalRatios, Inputs, ValuationError, WaccBuildUp, Warning, YearDrivers};
use crate::request::{ForecastMode, NwcBaselineMode, OtherClMode, Profile, Request, TerminalMethod, WeightMode};
use crate::text::{Arg, a, t};

pub(crate) const SPECIAL_INDUSTRY_WARNING: &str = "您选择的股票属于金融行业。当前通用DCF估值模型可能不完全适用于此类公司，且由于其财务数据结构的特殊性，部分关键财务数据可能缺失或已采用默认值处理。这可能导致估值结果与实际情况存在较大偏差，请谨慎参考并结合其他分析方法。";

fn warn(w: &mut Vec<Warning>, rule: &str, code: &str, args: &[Arg]) {
    w.push(Warning::new(rule, code, args));
}

/// Everything that does not depend on the grid's parameters: cleaned tables, ratios, inputs.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub profile: Profile,
    pub inc: Table,
    pub bal: Table,
    pub ratios: HistoricalRatios,
    pub inputs: Inputs,
    pub base_revenue: f64,
    /// Latest raw balance row's bridge items.
    pub net_debt: f64,
    pub minority: f64,
    pub other_equity: f64,
    pub warnings: Vec<Warning>,
    /// Some driver used a default instead of history.
    pub imputed: Vec<String>,
}

fn raw_num(t: &Table, col: &str) -> f64 {
    t.len().checked_sub(1).and_then(|i| t.get(col, i)).unwrap_or(0.0)
}

pub(crate) fn prepare(st: &Statements, req: &Request) -> Result<Prepared, ValuationError> {
    let profile = req.profile;
    let mut w = Vec::new();
    // The LTM baseline (quantdesk only; the reference has no such option, Q32).
    let with_ltm;
    let st = if profile == Profile::Quantdesk && req.ltm_baseline_enabled == Some(true) {
        let (s, how) = crate::ltm::augment(st)?;
        w.push(how);
        with_ltm = s;
        &with_ltm
    } else {
        st
    };
    let mut missing = Vec::new();
    if st.income.is_empty() {
        missing.push("income");
    }
    if st.balance_sheet.is_empty() {
        missing.push("balancesheet");
    }
    if !missing.is_empty() {
        let zh: Vec<&str> = missing.iter().map(|m| if *m == "income" { "利润表" } else { "资产负债表" }).collect();
        return Err(ValuationError::new(
            "missing_statement",
            "refusal.missing_statement",
            &[t("list", missing.join(" and "), zh.join("和"))],
            &missing,
        ));
    }
    if st.cash_flow.is_empty() {
        warn(&mut w, "Q8", "Q8.no_cash_flow", &[]);
    }
    let raw_inc = clean::raw_table(&st.income);
    let raw_bal = clean::raw_table(&st.balance_sheet);
    let raw_cf = clean::raw_table(&st.cash_flow);
    let inc_c = clean::clean(&raw_inc, "income", KEY_INCOME, &mut w);
    let bal_c = clean::clean(&raw_bal, "balancesheet", KEY_BALANCE, &mut w);
    let cf_c = clean::clean(&raw_cf, "cashflow", KEY_CASH, &mut w);
    let inc = inc_c.dedup();
    let bal = bal_c.dedup();
    let cf = cf_c.dedup();
    if inc.len() == 1 {
        warn(&mut w, "Q10", "Q10.one_year", &[]);
    }
    let other_cl_mode = match profile {
        Profile::Reference => OtherClMode::Standard,
        Profile::Quantdesk => req.other_cl_mode.unwrap_or_default(),
    };
    let ratios = history::ratios(&inc, &bal, &cf, other_cl_mode, &mut w);

    let last = inc.len() - 1;
    let base_revenue = inc.get("revenue", last);
    let base_revenue = match base_revenue {
        Some(r) if r > 0.0 => r,
        _ => {
            let mut e = ValuationError::new(
                "zero_revenue",
                "refusal.zero_revenue",
                &[
                    a("period", inc.periods[last]),
                    match base_revenue {
                        Some(r) => a("value", r),
                        None => t("value", "missing", "缺失"),
                    },
                ],
                &["income.revenue"],
            );
            e.warnings = w;
            return Err(e);
        }
    };

    // Market snapshot (H3) and overrides.
    let db = st.daily_basic.as_ref();
    let pe = db.and_then(|r| r.number("pe")).filter(|v| *v != 0.0);
    let pb = db.and_then(|r| r.number("pb"));
    let latest_price = st.latest_price.or_else(|| db.and_then(|r| r.number("close")));
    let total_shares = st.total_shares.or_else(|| db.and_then(|r| r.number("total_share")).map(|s| s * 10_000.0));
    if total_shares.is_none_or(|s| s <= 0.0) {
        warn(&mut w, "H3", "H3.no_shares", &[]);
    }
    if db.is_none() {
        warn(&mut w, "Q23", "Q23.no_daily_basic", &[]);
    }
    let n_income = inc.get("n_income", last);
    let market_cap_estimate_yuan = pe.zip(n_income).map(|(p, n)| p * n);

    // Latest annual diluted EPS from the raw income rows with a December end_date (Q5).
    let eps = (0..raw_inc.len())
        .rev()
        .find(|&i| chrono::Datelike::month(&raw_inc.periods[i]) == 12)
        .and_then(|i| raw_inc.get("diluted_eps", i));

    // Latest actual EBITDA (Q29).
    let latest_ebitda = {
        let i = if inc.get("operate_profit", last).is_some() { Some(last) } else { last.checked_sub(1) };
        i.and_then(|i| {
            let op = inc.get("operate_profit", i)?;
            let mut da = 0.0;
            if let Some(j) = cf.index_of(inc.periods[i]) {
                da += cf.get("depr_fa_coga_dpba", j).unwrap_or(0.0) + cf.get("amort_intang_assets", j).unwrap_or(0.0);
                if cf.has("use_right_asset_dep") {
                    da += cf.get("use_right_asset_dep", j).unwrap_or(0.0);
                }
            }
            Some(op + da)
        })
    };

    let comp_type = st.comp_type.clone().or_else(|| bal.len().checked_sub(1).and_then(|j| bal.text("comp_type", j)));

    // Bridge items from the latest raw balance row (Q27, H2).
    let net_debt = raw_num(&raw_bal, "lt_borr")
        + raw_num(&raw_bal, "st_borr")
        + raw_num(&raw_bal, "bond_payable")
        + raw_num(&raw_bal, "non_cur_liab_due_1y")
        - raw_num(&raw_bal, "money_cap");

    let mut imputed = Vec::new();
    for (name, v) in [
        ("operating_margin", ratios.operating_margin_median),
        ("da_ratio", ratios.da_to_revenue_ratio),
        ("capex_ratio", ratios.capex_to_revenue_ratio),
        ("dso", ratios.accounts_receivable_days),
        ("dio", ratios.inventory_days),
        ("dpo", ratios.accounts_payable_days),
        ("other_current_assets_ratio", ratios.other_current_assets_to_revenue_ratio),
        ("other_current_liabilities_ratio", ratios.other_current_liabilities_to_revenue_ratio),
        ("effective_tax_rate", ratios.effective_tax_rate),
        ("revenue_cagr", ratios.historical_revenue_cagr),
    ] {
        if v.is_none() {
            imputed.push(name.to_string());
        }
    }

    let inputs = Inputs {
        latest_price,
        pe,
        pb,
        total_shares,
        market_cap_estimate_yuan,
        last_actual_revenue: Some(base_revenue),
        base_report_date: Some(inc.periods[last].format("%Y-%m-%d").to_string()),
        latest_annual_diluted_eps: eps,
        latest_actual_ebitda: latest_ebitda,
        comp_type,
    };
    Ok(Prepared {
        profile,
        minority: raw_num(&raw_bal, "minority_int"),
        other_equity: raw_num(&raw_bal, "oth_eqt_tools_p_shr"),
        inc,
        bal,
        ratios,
        inputs,
        base_revenue,
        net_debt,
        warnings: w,
        imputed,
    })
}

/// Parameter overrides of one grid cell (or of the reverse DCF).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Overrides {
    pub wacc: Option<f64>,
    pub growth: Option<f64>,
    pub multiple: Option<f64>,
    pub cagr: Option<f64>,
    pub op_margin: Option<f64>,
}

/// The result of one DCF run.
#[derive(Debug, Clone)]
pub(crate) struct Run {
    pub forecast: Vec<ForecastYear>,
    pub dcf: Dcf,
    pub wacc: WaccBuildUp,
    pub warnings: Vec<Warning>,
    pub differences: BTreeSet<&'static str>,
    pub growth_effective: Option<f64>,
}

/// A driver's path value in year t (Q13).
fn path(start: f64, mode: Option<ForecastMode>, target: Option<f64>, years: Option<i64>, n: u32, t: u32) -> f64 {
    match (mode.unwrap_or_default(), target) {
        (ForecastMode::TransitionToTarget, Some(target)) => {
            let tt = years.filter(|y| *y > 0).map_or(n, |y| y as u32);
            let v = start + (target - start) / tt as f64 * t.min(tt) as f64;
            if target >= start { v.min(target) } else { v.max(target) }
        }
        _ => start,
    }
}

pub(crate) fn forecast_years(req: &Request) -> Result<u32, ValuationError> {
    match req.forecast_years {
        None => Ok(5),
        Some(n) if (1..=20).contains(&n) => Ok(n as u32),
        Some(n) => {
            Err(ValuationError::new("invalid_request", "refusal.forecast_years", &[a("n", n)], &["forecast_years"]))
        }
    }
}

pub(crate) fn run(p: &Prepared, req: &Request, o: &Overrides) -> Result<Run, ValuationError> {
    let qd = p.profile == Profile::Quantdesk;
    let mut w: Vec<Warning> = Vec::new();
    let mut diffs: BTreeSet<&'static str> = BTreeSet::new();
    let n = forecast_years(req)?;
    let h = &p.ratios;

    // ---- revenue path (Q12)
    let cagr = o.cagr.or(h.historical_revenue_cagr).unwrap_or(0.05);
    let decay = req.cagr_decay_rate.filter(|d| (0.0..=1.0).contains(d)).unwrap_or(0.1);

    // ---- drivers (Q13)
    let op_start = o.op_margin.or(h.operating_margin_median).unwrap_or(0.15);
    let op_target = if o.op_margin.is_some() { None } else { req.target_operating_margin };
    let da_start = h.da_to_revenue_ratio.unwrap_or(0.05);
    let capex_start = h.capex_to_revenue_ratio.unwrap_or(0.07);
    let dso_start = h.accounts_receivable_days.unwrap_or(30.0);
    let dio_start = h.inventory_days.unwrap_or(60.0);
    let dpo_start = h.accounts_payable_days.unwrap_or(45.0);
    let oca_start = h.other_current_assets_to_revenue_ratio.unwrap_or(0.05);
    let ocl_start = h.other_current_liabilities_to_revenue_ratio.unwrap_or(0.03);
    let (sga_start, rd_start, sga_target, rd_target) = if qd {
        let s = h.sga_to_revenue_ratio.unwrap_or(0.10);
        let r = h.rd_to_revenue_ratio.unwrap_or(0.05);
        if (s - 0.10).abs() > 1e-12 || (r - 0.05).abs() > 1e-12 || req.target_sga_rd_to_revenue_ratio.is_some() {
            diffs.insert("QD-SGA-RD-HISTORY");
        }
        let share = if s + r > 0.0 { s / (s + r) } else { 2.0 / 3.0 };
        let t = req.target_sga_rd_to_revenue_ratio;
        (s, r, t.map(|t| t * share), t.map(|t| t * (1.0 - share)))
    } else {
        (0.10, 0.05, req.target_sga_rd_to_revenue_ratio, req.target_sga_rd_to_revenue_ratio)
    };

    // ---- tax path (Q14)
    let target_tax = req.target_effective_tax_rate;
    let tax_start = match h.effective_tax_rate {
        Some(t) => t,
        None if qd => {
            diffs.insert("QD-TAX-MISSING");
            let t = target_tax.filter(|t| (0.0..=1.0).contains(t)).unwrap_or(0.25);
            warn(&mut w, "QD-TAX-MISSING", "QD-TAX-MISSING.start", &[a("t", t)]);
            t
        }
        None => {
            return Err(ValuationError::new(
                "missing_tax_rate",
                "refusal.missing_tax_rate",
                &[],
                &["income.income_tax", "income.total_profit"],
            ));
        }
    };
    let tax_years = if qd {
        if req.tax_rate_transition_years.is_some() {
            diffs.insert("QD-TAX-TRANSITION");
        }
        req.tax_rate_transition_years.filter(|y| *y > 0).map_or(n, |y| y as u32)
    } else {
        n
    };

    // ---- NWC baseline (Q17)
    let baseline_mode =
        if qd { req.nwc_baseline_mode.unwrap_or(NwcBaselineMode::ForecastBase) } else { NwcBaselineMode::Zero };
    let nwc_baseline = match baseline_mode {
        NwcBaselineMode::Zero => 0.0,
        NwcBaselineMode::LastHistorical => h.last_historical_nwc.unwrap_or_else(|| {
            warn(&mut w, "QD-NWC-BASELINE", "QD-NWC-BASELINE.no_last", &[]);
            0.0
        }),
        NwcBaselineMode::Component => h.last_historical_nwc_components.unwrap_or_else(|| {
            warn(&mut w, "QD-NWC-BASELINE", "QD-NWC-BASELINE.no_component", &[]);
            0.0
        }),
        // Computed with the drivers' starting values just before the forecast.
        NwcBaselineMode::ForecastBase => 0.0,
    };
    if baseline_mode != NwcBaselineMode::Zero {
        diffs.insert("QD-NWC-BASELINE");
    }

    // ---- EBITDA tax (Q19)
    let t_star = target_tax.filter(|t| (0.0..=1.0).contains(t)).unwrap_or(0.25);
    if qd {
        diffs.insert("QD-EBITDA");
    }

    // ---- WACC (Q20–Q23)
    let rf = req.risk_free_rate.unwrap_or(0.03);
    let beta = req.beta.unwrap_or(1.0);
    let mrp = req.market_risk_premium.unwrap_or(0.05);
    let size = req.size_premium.unwrap_or(0.0);
    let (crp, irp) = if qd {
        (req.country_risk_premium.unwrap_or(0.0), req.industry_risk_premium.unwrap_or(0.0))
    } else {
        (0.0, 0.0)
    };
    if crp != 0.0 || irp != 0.0 {
        diffs.insert("QD-KE-PREMIUMS");
    }
    let ke = rf + beta * (mrp + crp) + size + irp;
    let kd = req.cost_of_debt.unwrap_or(0.05);
    let tax_kd = if qd {
        let t = target_tax.filter(|t| (0.0..=1.0).contains(t)).or(h.effective_tax_rate).unwrap_or(0.25);
        if target_tax.is_none() && h.effective_tax_rate.is_some() {
            diffs.insert("QD-KD-TAX");
        }
        t
    } else {
        target_tax.filter(|t| (0.0..=1.0).contains(t)).unwrap_or(0.25)
    };
    let kd_after = kd * (1.0 - tax_kd);
    let target_ratio = req.target_debt_ratio.filter(|d| (0.0..=1.0).contains(d)).unwrap_or(0.45);
    let mode_req = req.wacc_weight_mode.unwrap_or_default();
    let direct = req.discount_rate.filter(|d| *d > 0.0 && *d < 1.0);
    // Q20: the reference refuses a cost of equity that is not positive when it has to weight it
    // (a direct discount rate or a grid cell's WACC skips the weighting); quantdesk too.
    if o.wacc.is_none() && direct.is_none() && !(ke > 0.0 && ke.is_finite()) {
        let mut e = ValuationError::new(
            "invalid_cost_of_equity",
            "refusal.invalid_cost_of_equity",
            &[a("ke", ke)],
            &["risk_free_rate", "beta", "market_risk_premium", "size_premium"],
        );
        e.warnings = w;
        return Err(e);
    }
    let mut mode_used = mode_req;
    let (mut wd, mut market_debt, mut market_equity) = (target_ratio, None, None);
    // The grid's WACC override and a direct rate make the weights irrelevant; the reference still
    // computes them (and fails in market mode), the grid cells do not.
    if mode_req == WeightMode::Market && o.wacc.is_none() {
        let last_b = p.bal.len().checked_sub(1);
        let b = |c: &str| last_b.and_then(|j| p.bal.get(c, j)).unwrap_or(0.0);
        let mut debt = b("lt_borr") + b("st_borr") + b("bond_payable") + b("non_cur_liab_due_1y");
        if debt <= 0.0 {
            debt = b("total_liab");
        }
        let equity = if qd {
            let by_price = p.inputs.latest_price.zip(p.inputs.total_shares).map(|(a, b)| a * b).filter(|e| *e > 0.0);
            let last = p.inc.len() - 1;
            by_price.or_else(|| {
                p.inputs.pe.zip(p.inc.get("n_income_attr_p", last)).map(|(a, b)| a * b).filter(|e| *e > 0.0)
            })
        } else {
            let last = p.inc.len() - 1;
            match (p.inputs.pe, p.inc.get("n_income", last)) {
                (Some(pe), Some(ni)) if pe != 0.0 && ni > 0.0 => Some(pe * ni),
                _ => None,
            }
        };
        if qd {
            diffs.insert("QD-MARKET-WEIGHTS");
        }
        match equity {
            Some(e) if debt + e > 0.0 => {
                wd = debt / (debt + e);
                market_debt = Some(debt);
                market_equity = Some(e);
            }
            _ if qd => {
                mode_used = WeightMode::Target;
                warn(&mut w, "QD-MARKET-WEIGHTS", "QD-MARKET-WEIGHTS.fallback", &[a("ratio", target_ratio)]);
            }
            _ => {
                let mut e = ValuationError::new(
                    "market_weights_unavailable",
                    "refusal.market_weights_unavailable",
                    &[],
                    &["daily_basic.pe", "income.n_income"],
                );
                e.warnings = w;
                return Err(e);
            }
        }
    }
    let wacc_computed = (1.0 - wd) * ke + wd * kd_after;
    let wacc = o.wacc.or(direct).unwrap_or(wacc_computed);
    if !(wacc > 0.0 && wacc < 1.0) {
        let mut e = ValuationError::new("invalid_wacc", "refusal.invalid_wacc", &[a("wacc", wacc)], &["wacc"]);
        e.warnings = w;
        return Err(e);
    }
    let mid_year = qd && req.mid_year_convention.unwrap_or(false);
    if mid_year {
        diffs.insert("QD-MID-YEAR");
    }

    // ---- forecast (Q12–Q19)
    let mut rows = Vec::with_capacity(n as usize);
    let mut rev_prev = p.base_revenue;
    let mut nwc_prev = if baseline_mode == NwcBaselineMode::ForecastBase {
        // Year 0 through the forecast's own lines (every driver path starts at its start value).
        let rev0 = p.base_revenue;
        let cogs0 = rev0 - rev0 * (op_start + sga_start + rd_start);
        let ar0 = if rev0 > 0.0 { rev0 / 360.0 * dso_start } else { 0.0 };
        let (inv0, ap0) = if cogs0 > 0.0 { (cogs0 / 360.0 * dio_start, cogs0 / 360.0 * dpo_start) } else { (0.0, 0.0) };
        ar0 + inv0 + rev0 * oca_start - ap0 - rev0 * ocl_start
    } else {
        nwc_baseline
    };
    for t in 1..=n {
        let g = cagr * (1.0 - decay).powi(t as i32 - 1);
        let rev = rev_prev * (1.0 + g);
        let margin = path(op_start, req.op_margin_forecast_mode, op_target, req.op_margin_transition_years, n, t);
        let sga_r = path(sga_start, req.sga_rd_ratio_forecast_mode, sga_target, req.sga_rd_transition_years, n, t);
        let rd_r = path(rd_start, req.sga_rd_ratio_forecast_mode, rd_target, req.sga_rd_transition_years, n, t);
        let da_r = path(
            da_start,
            req.da_ratio_forecast_mode,
            req.target_da_to_revenue_ratio,
            req.da_ratio_transition_years,
            n,
            t,
        );
        let capex_r = path(
            capex_start,
            req.capex_ratio_forecast_mode,
            req.target_capex_to_revenue_ratio,
            req.capex_ratio_transition_years,
            n,
            t,
        );
        let (nm, ny) = (req.nwc_days_forecast_mode, req.nwc_days_transition_years);
        let dso = path(dso_start, nm, req.target_accounts_receivable_days, ny, n, t);
        let dio = path(dio_start, nm, req.target_inventory_days, ny, n, t);
        let dpo = path(dpo_start, nm, req.target_accounts_payable_days, ny, n, t);
        let (om, oy) = (req.other_nwc_ratio_forecast_mode, req.other_nwc_ratio_transition_years);
        let oca_r = path(oca_start, om, req.target_other_current_assets_to_revenue_ratio, oy, n, t);
        let ocl_r = path(ocl_start, om, req.target_other_current_liabilities_to_revenue_ratio, oy, n, t);
        let tax = match target_tax {
            Some(tt) => {
                let v = tax_start + (tt - tax_start) / tax_years as f64 * t.min(tax_years) as f64;
                if tt >= tax_start { v.min(tt) } else { v.max(tt) }
            }
            None => tax_start,
        }
        .clamp(0.0, 1.0);

        let ebit = rev * margin;
        let sga = rev * sga_r;
        let rd = rev * rd_r;
        let cogs = rev - ebit - sga - rd;
        let nopat = ebit * (1.0 - tax);
        let taxes = if ebit > 0.0 { ebit * tax } else { 0.0 };
        let ar = if rev > 0.0 { rev / 360.0 * dso } else { 0.0 };
        let (inv, ap) = if cogs > 0.0 { (cogs / 360.0 * dio, cogs / 360.0 * dpo) } else { (0.0, 0.0) };
        let oca = rev * oca_r;
        let ocl = rev * ocl_r;
        let nwc = ar + inv + oca - ap - ocl;
        let dnwc = nwc - nwc_prev;
        let da = rev * da_r;
        let capex = rev * capex_r;
        let ufcf = nopat + da - capex - dnwc;
        let ebitda = if qd || t_star == 1.0 { ebit + da } else { nopat / (1.0 - t_star) + da };
        let df = if mid_year { (1.0 / (1.0 + wacc)).powf(t as f64 - 0.5) } else { (1.0 / (1.0 + wacc)).powi(t as i32) };
        rows.push(ForecastYear {
            year: t,
            revenue: rev,
            revenue_growth_rate: g,
            cogs,
            gross_profit: rev - cogs,
            sga_expenses: sga,
            rd_expenses: rd,
            ebit,
            taxes,
            nopat,
            d_a: da,
            capex,
            accounts_receivable: ar,
            inventories: inv,
            accounts_payable: ap,
            other_current_assets: oca,
            other_current_liabilities: ocl,
            nwc,
            delta_nwc: dnwc,
            ebitda,
            ufcf,
            discount_factor: df,
            pv_ufcf: ufcf * df,
            drivers: qd.then_some(YearDrivers {
                operating_margin: margin,
                sga_ratio: sga_r,
                rd_ratio: rd_r,
                da_ratio: da_r,
                capex_ratio: capex_r,
                dso,
                dio,
                dpo,
                other_current_assets_ratio: oca_r,
                other_current_liabilities_ratio: ocl_r,
                tax_rate: tax,
            }),
        });
        rev_prev = rev;
        nwc_prev = nwc;
    }
    let last = rows.last().cloned().unwrap_or_default();

    // ---- terminal value (Q24, Q25)
    let method = if o.growth.is_some() {
        TerminalMethod::PerpetualGrowth
    } else if o.multiple.is_some() {
        TerminalMethod::ExitMultiple
    } else {
        req.terminal_value_method.unwrap_or_default()
    };
    let requested_growth = if qd {
        if req.perpetual_growth_rate.is_none() && req.terminal_growth_rate.is_some() {
            diffs.insert("QD-GROWTH-FIELD");
        }
        req.perpetual_growth_rate.or(req.terminal_growth_rate)
    } else {
        if req.perpetual_growth_rate.is_none() && req.terminal_growth_rate.is_some() {
            warn(&mut w, "Q31", "Q31.growth_field", &[]);
        }
        req.perpetual_growth_rate
    };
    let multiple = o.multiple.or(req.exit_multiple).filter(|m| *m > 0.0).unwrap_or(8.0);
    let (tv, multiple_used, growth_used, growth_eff) = match method {
        TerminalMethod::ExitMultiple => (last.ebitda * multiple, Some(multiple), None, None),
        TerminalMethod::PerpetualGrowth => {
            let g = o.growth.or(requested_growth).unwrap_or(0.025);
            let g_eff = if qd {
                if req.use_gdp_cap.unwrap_or(true) {
                    let cap = req.gdp_nominal_cap.unwrap_or(0.045);
                    diffs.insert("QD-GDP-CAP");
                    if g > cap {
                        warn(&mut w, "QD-GDP-CAP", "QD-GDP-CAP.capped", &[a("g", g), a("cap", cap)]);
                    }
                    g.min(cap)
                } else {
                    g
                }
            } else {
                g.min(rf)
            };
            if g_eff >= wacc || (wacc - g_eff).abs() < 1e-9 {
                let mut e = ValuationError::new(
                    "growth_not_below_wacc",
                    "refusal.growth_not_below_wacc",
                    &[a("g", g_eff), a("wacc", wacc)],
                    &["perpetual_growth_rate", "wacc"],
                );
                e.warnings = w;
                return Err(e);
            }
            let tv = if last.ufcf <= 0.0 {
                warn(&mut w, "Q25", "Q25.tv_zero", &[]);
                0.0
            } else {
                last.ufcf * (1.0 + g_eff) / (wacc - g_eff)
            };
            (tv, None, Some(if qd { g_eff } else { g }), Some(g_eff))
        }
    };

    // ---- discounting and bridge (Q26, Q27)
    let df_n = (1.0 / (1.0 + wacc)).powi(n as i32);
    let pv_tv = tv * df_n;
    let pv_sum: f64 = rows.iter().map(|r| r.pv_ufcf).sum();
    let ev = pv_sum + pv_tv;
    let equity = ev - p.net_debt - p.minority - p.other_equity;
    let vps = p.inputs.total_shares.filter(|s| *s > 0.0).map(|s| equity / s);
    let implied_pe = vps.zip(p.inputs.latest_annual_diluted_eps.filter(|e| *e > 0.0)).map(|(v, e)| v / e);
    let base_ev_ebitda = p.inputs.latest_actual_ebitda.filter(|e| *e > 0.0).map(|e| ev / e);
    let implied_g = (method == TerminalMethod::ExitMultiple && tv + last.ufcf != 0.0)
        .then(|| (tv * wacc - last.ufcf) / (tv + last.ufcf));

    let dcf = Dcf {
        enterprise_value: ev,
        equity_value: equity,
        value_per_share: vps,
        net_debt: p.net_debt,
        pv_forecast_ufcf: pv_sum,
        pv_terminal_value: pv_tv,
        terminal_value: tv,
        wacc_used: wacc,
        cost_of_equity_used: ke,
        terminal_value_method_used: method,
        exit_multiple_used: multiple_used,
        perpetual_growth_rate_used: growth_used,
        forecast_period_years: n,
        dcf_implied_diluted_pe: implied_pe,
        base_ev_ebitda,
        implied_perpetual_growth_rate: implied_g,
        perpetual_growth_rate_effective: if qd { growth_eff } else { None },
    };
    let wacc_b = WaccBuildUp {
        risk_free_rate: rf,
        beta,
        market_risk_premium: mrp,
        country_risk_premium: crp,
        size_premium: size,
        industry_risk_premium: irp,
        cost_of_equity: ke,
        cost_of_debt_pre_tax: kd,
        tax_rate_for_debt: tax_kd,
        cost_of_debt_after_tax: kd_after,
        weight_mode_requested: mode_req,
        weight_mode_used: mode_used,
        debt_weight: wd,
        equity_weight: 1.0 - wd,
        market_debt,
        market_equity,
        wacc_computed: Some(wacc_computed),
        discount_rate_override: o.wacc.or(direct),
        wacc_used: wacc,
        mid_year_convention: mid_year,
    };
    Ok(Run { forecast: rows, dcf, wacc: wacc_b, warnings: w, differences: diffs, growth_effective: growth_eff })
}
