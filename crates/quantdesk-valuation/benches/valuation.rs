//! One valuation and a 21×21 grid on 600519.SH's statements (from $QUANTDESK_FIXTURES, else a
//! synthetic company of the same size).

use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use quantdesk_core::financials::Statement;
use quantdesk_valuation::{Request, SensitivityAxis, SensitivityRequest, Statements, TerminalMethod, valuate};

fn load() -> Statements {
    let dir = PathBuf::from(std::env::var("QUANTDESK_FIXTURES").unwrap_or_else(|_| "/work/shared/fixtures".into()))
        .join("cn/financials/600519.SH");
    let read = |st: Statement| -> Vec<quantdesk_core::StatementRow> {
        std::fs::File::open(dir.join(format!("{}.csv", st.as_str())))
            .ok()
            .and_then(|f| quantdesk_ingest::parse_statement_csv(f, st).ok())
            .unwrap_or_default()
    };
    let s = Statements {
        income: read(Statement::Income),
        balance_sheet: read(Statement::BalanceSheet),
        cash_flow: read(Statement::CashFlow),
        daily_basic: read(Statement::DailyBasic).pop(),
        ..Statements::default()
    };
    assert!(!s.income.is_empty(), "600519.SH statements not found under {}", dir.display());
    s
}

fn bench(c: &mut Criterion) {
    let st = load();
    let base = Request::default();
    c.bench_function("valuate 600519.SH", |b| b.iter(|| valuate(&st, &base).unwrap()));
    let axis = |name: &str, step: f64| SensitivityAxis {
        parameter_name: name.into(),
        values: vec![],
        step: Some(step),
        points: Some(21),
    };
    let grid = Request {
        terminal_value_method: Some(TerminalMethod::PerpetualGrowth),
        sensitivity_analysis: Some(SensitivityRequest {
            row_axis: axis("wacc", 0.0025),
            column_axis: axis("perpetual_growth_rate", 0.001),
        }),
        ..Request::default()
    };
    c.bench_function("valuate 600519.SH with a 21x21 grid", |b| b.iter(|| valuate(&st, &grid).unwrap()));
}

criterion_group!(benches, bench);
criterion_main!(benches);
