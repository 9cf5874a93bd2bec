//! The sensitivity grid (rule Q30): every cell re-runs the forecast, discount rate, terminal
//! value and bridge with one or two parameters overridden.

use crate::model::{self, Overrides, Prepared, Run};
use crate::output::{Sensitivity, SensitivityTables, Warning};
use crate::request::{Profile, Request, SensitivityAxis, SensitivityRequest};
use crate::text::{a, t};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Param {
    Wacc,
    Growth,
    Multiple,
    Cagr,
    OpMargin,
}

fn param(name: &str, qd: bool) -> Option<Param> {
    match name.trim() {
        "wacc" | "discount_rate" => Some(Param::Wacc),
        "perpetual_growth_rate" | "terminal_growth_rate" => Some(Param::Growth),
        "exit_multiple" => Some(Param::Multiple),
        "revenue_cagr" | "revenue_growth" | "historical_revenue_cagr" if qd => Some(Param::Cagr),
        "operating_margin" | "target_operating_margin" if qd => Some(Param::OpMargin),
        _ => None,
    }
}

fn generate(centre: f64, step: f64, points: i64) -> Vec<f64> {
    let mut k = if points < 1 { 3 } else { points };
    if k % 2 == 0 {
        k += 1;
    }
    let half = (k - 1) as f64 / 2.0;
    (0..k).map(|i| centre + step * (i as f64 - half)).collect()
}

fn base_of(p: Param, prepared: &Prepared, req: &Request, base: &Run) -> f64 {
    match p {
        Param::Wacc => base.dcf.wacc_used,
        Param::Growth => match req.profile {
            Profile::Reference => req.perpetual_growth_rate,
            Profile::Quantdesk => req.perpetual_growth_rate.or(req.terminal_growth_rate),
        }
        .unwrap_or(0.025),
        Param::Multiple => req.exit_multiple.filter(|m| *m > 0.0).unwrap_or(8.0),
        Param::Cagr => prepared.ratios.historical_revenue_cagr.unwrap_or(0.05),
        Param::OpMargin => prepared.ratios.operating_margin_median.unwrap_or(0.15),
    }
}

fn axis_values(
    axis: &SensitivityAxis,
    p: Param,
    prepared: &Prepared,
    req: &Request,
    base: &Run,
    used_diff: &mut bool,
) -> Vec<f64> {
    let step_points = axis.step.zip(axis.points);
    match req.profile {
        Profile::Reference => match step_points {
            Some((s, k)) if p == Param::Wacc || axis.values.is_empty() => {
                generate(base_of(p, prepared, req, base), s, k)
            }
            _ => axis.values.clone(),
        },
        Profile::Quantdesk => {
            if p == Param::Wacc && step_points.is_some() && !axis.values.is_empty() {
                *used_diff = true;
            }
            match step_points {
                Some((s, k)) if axis.values.is_empty() => generate(base_of(p, prepared, req, base), s, k),
                _ => axis.values.clone(),
            }
        }
    }
}

fn set(o: &mut Overrides, p: Param, v: f64) {
    match p {
        Param::Wacc => o.wacc = Some(v),
        Param::Growth => o.growth = Some(v),
        Param::Multiple => o.multiple = Some(v),
        Param::Cagr => o.cagr = Some(v),
        Param::OpMargin => o.op_margin = Some(v),
    }
}

/// The grid, and whether a quantdesk grid difference applied.
pub(crate) fn grid(
    prepared: &Prepared,
    req: &Request,
    base: &Run,
    s: &SensitivityRequest,
    warnings: &mut Vec<Warning>,
) -> (Option<Sensitivity>, bool) {
    let qd = req.profile == Profile::Quantdesk;
    let (Some(rp), Some(cp)) = (param(&s.row_axis.parameter_name, qd), param(&s.column_axis.parameter_name, qd)) else {
        warnings.push(Warning::new(
            "Q30",
            "Q30.bad_axes",
            &[
                a("row", format!("{:?}", s.row_axis.parameter_name)),
                a("col", format!("{:?}", s.column_axis.parameter_name)),
                if qd {
                    t("extra", ", revenue_cagr, operating_margin", "、revenue_cagr、operating_margin")
                } else {
                    a("extra", "")
                },
            ],
        ));
        return (None, false);
    };
    let mut used_diff = qd;
    let rows = axis_values(&s.row_axis, rp, prepared, req, base, &mut used_diff);
    let cols = axis_values(&s.column_axis, cp, prepared, req, base, &mut used_diff);
    let latest_ebitda = prepared.inputs.latest_actual_ebitda.filter(|e| *e > 0.0);
    let mut t = SensitivityTables::default();
    for &rv in &rows {
        let mut r = [const { Vec::new() }; 6];
        for &cv in &cols {
            let mut o = Overrides::default();
            set(&mut o, rp, rv);
            set(&mut o, cp, cv);
            match model::run(prepared, req, &o) {
                Ok(run) => {
                    let d = &run.dcf;
                    r[0].push(d.value_per_share);
                    r[1].push(Some(d.enterprise_value));
                    r[2].push(Some(d.equity_value));
                    r[3].push(latest_ebitda.map(|e| d.enterprise_value / e));
                    r[4].push(if qd { d.dcf_implied_diluted_pe } else { None });
                    r[5].push((d.enterprise_value != 0.0).then(|| d.pv_terminal_value / d.enterprise_value));
                }
                Err(_) => r.iter_mut().for_each(|v| v.push(None)),
            }
        }
        let [a, b, c, d, e, f] = r;
        t.value_per_share.push(a);
        t.enterprise_value.push(b);
        t.equity_value.push(c);
        t.ev_ebitda.push(d);
        t.dcf_implied_pe.push(e);
        t.tv_ev_ratio.push(f);
    }
    let name = |p: Param, given: &str| match p {
        Param::Wacc => "wacc".to_string(),
        Param::Growth => "perpetual_growth_rate".to_string(),
        Param::Multiple => "exit_multiple".to_string(),
        _ => given.to_string(),
    };
    (
        Some(Sensitivity {
            row_parameter: name(rp, &s.row_axis.parameter_name),
            column_parameter: name(cp, &s.column_axis.parameter_name),
            row_values: rows,
            column_values: cols,
            result_tables: t,
        }),
        used_diff,
    )
}
