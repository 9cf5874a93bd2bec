use std::path::PathBuf;

use quantdesk_core::quality::{FindingKind, check_statements};

use super::*;

fn d(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// `$QUANTDESK_FIXTURES/cn/financials`, or `None` (with a message) when the variable is unset;
/// under `QUANTDESK_TEST_REQUIRE_ALL` an unset variable fails the test instead.
fn fixtures() -> Option<PathBuf> {
    match std::env::var("QUANTDESK_FIXTURES").ok().filter(|s| !s.is_empty()) {
        Some(root) => Some(PathBuf::from(root).join("cn").join("financials")),
        None => {
            if std::env::var_os("QUANTDESK_TEST_REQUIRE_ALL").is_some() {
                panic!(
                    "QUANTDESK_FIXTURES is not set, and QUANTDESK_TEST_REQUIRE_ALL (set by .ci/run) forbids skipping the tests on real data"
                );
            }
            eprintln!("skipped: QUANTDESK_FIXTURES is not set (the tests on real data)");
            None
        }
    }
}

fn open(path: &std::path::Path) -> std::fs::File {
    std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_fixture_file_parses() {
    let Some(root) = fixtures() else { return };
    let mut companies: Vec<PathBuf> =
        std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    companies.sort();
    let names: Vec<String> = companies.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["000999.SZ", "600519.SH", "999901.SH"]);
    for dir in &companies {
        let symbol = Symbol::new(&dir.file_name().unwrap().to_string_lossy()).unwrap();
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "csv"))
            .collect();
        files.sort();
        assert_eq!(files.len(), 5, "{}", dir.display());
        for path in files {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name == STOCK_BASIC_FILE {
                let v = parse_stock_basic_csv_named(open(&path), &name).unwrap();
                assert_eq!(v.len(), 1, "{name}");
                assert_eq!(v[0].symbol, symbol);
                assert_eq!(v[0].board, "main");
                continue;
            }
            let statement = statement_for_file(&name).unwrap_or_else(|| panic!("{name} names no statement"));
            let rows = parse_statement_csv_named(open(&path), statement, &name).unwrap_or_else(|e| panic!("{e}"));
            assert!(rows.iter().all(|r| r.symbol == symbol && r.statement == statement), "{name}");
            if statement == Statement::DailyBasic {
                assert_eq!(rows.len(), 1, "{name}");
                assert_eq!(rows[0].period, d("2025-05-19"));
                assert!(rows[0].number("total_mv").is_some_and(|v| v > 0.0), "{name}");
            } else {
                assert_eq!(rows.len(), 6, "{}/{name}", symbol);
                let periods: Vec<NaiveDate> = rows.iter().map(|r| r.period).collect();
                assert!(check_statements(&symbol, &periods, 2017..=2022).is_empty(), "{symbol}/{name}");
                let missing = check_statements(&symbol, &periods, 2016..=2022);
                assert_eq!(missing.len(), 1);
                assert_eq!((missing[0].kind, missing[0].date), (FindingKind::StatementMissing, Some(d("2016-12-31"))));
                assert!(rows.iter().all(|r| r.end_type == "4" && r.report_type == "1"), "{name}");
                assert!(rows.iter().all(|r| r.ann_date.is_some() && r.f_ann_date.is_some()), "{name}");
            }
        }
    }
}

#[test]
fn moutai_known_values() {
    let Some(root) = fixtures() else { return };
    let dir = root.join("600519.SH");
    let income = parse_statement_csv(open(&dir.join("income.csv")), Statement::Income).unwrap();
    let fy2017 = income.iter().find(|r| r.period == d("2017-12-31")).unwrap();
    assert_eq!(fy2017.number("revenue"), Some(58217861314.17));
    assert_eq!(fy2017.number("n_income_attr_p"), Some(27079360255.74));
    assert_eq!(fy2017.ann_date, Some(d("2018-03-28")));
    assert_eq!(fy2017.f_ann_date, Some(d("2018-03-28")));
    assert_eq!((fy2017.report_type.as_str(), fy2017.end_type.as_str(), fy2017.update_flag.as_str()), ("1", "4", "1"));
    // Key fields stay in `fields` too, as text; empty cells are null; other numbers are numbers.
    assert_eq!(fy2017.fields["ts_code"], FieldValue::Text("600519.SH".into()));
    assert_eq!(fy2017.fields["end_date"], FieldValue::Text("20171231".into()));
    assert_eq!(fy2017.fields["update_flag"], FieldValue::Text("1".into()));
    assert_eq!(fy2017.fields["comp_type"], FieldValue::Number(1.0));
    assert_eq!(fy2017.fields["credit_impa_loss"], FieldValue::Null);
    assert_eq!(fy2017.fields.len(), 35);
    let fy2022 = income.iter().find(|r| r.period == d("2022-12-31")).unwrap();
    assert_eq!(fy2022.update_flag, "0");
    assert_eq!(fy2022.number("basic_eps"), Some(49.93));

    let daily = parse_statement_csv(open(&dir.join("daily_basic.csv")), Statement::DailyBasic).unwrap();
    assert_eq!(daily[0].number("close"), Some(1578.98));
    assert_eq!(daily[0].ann_date, None);
    assert_eq!(daily[0].report_type, "");
    assert_eq!(daily[0].known_on(), d("2025-05-19"));

    let basic = parse_stock_basic_csv(open(&dir.join(STOCK_BASIC_FILE))).unwrap();
    let m = &basic[0];
    assert_eq!((m.name.as_str(), m.area.as_str(), m.industry.as_str()), ("贵州茅台", "贵州", "白酒"));
    assert_eq!((m.exchange.as_str(), m.board.as_str(), m.price_limit), ("SSE", "main", Some(0.1)));
    assert_eq!(m.list_date, Some(d("2001-08-27")));
    assert_eq!(m.delist_date, None);
}

#[test]
fn file_names_map_to_statements() {
    assert_eq!(statement_for_file("income.csv"), Some(Statement::Income));
    assert_eq!(statement_for_file("/data/600519.SH/BalanceSheet.CSV"), Some(Statement::BalanceSheet));
    assert_eq!(statement_for_file("C:\\x\\cashflow.csv"), Some(Statement::CashFlow));
    assert_eq!(statement_for_file("fina_indicator.csv"), Some(Statement::FinaIndicator));
    assert_eq!(statement_for_file("dividend.csv"), Some(Statement::Dividend));
    assert_eq!(statement_for_file("daily_basic.csv"), Some(Statement::DailyBasic));
    assert_eq!(statement_for_file("cash_flow.csv"), Some(Statement::CashFlow));
    assert_eq!(statement_for_file("stock_basic.csv"), None);
    assert_eq!(statement_for_file("meta.json"), None);
    assert_eq!(statement_for_file("income"), None);
}

#[test]
fn codes_and_dates_in_other_spellings() {
    let text = "\u{feff}ts_code,ann_date,f_ann_date,end_date,report_type,end_type,update_flag,revenue,note\n\
                600519.sh,2018-03-28,,20171231.0,1.0,4.0,1.0,1.5e3,restated\n";
    let rows = parse_statement_csv(text.as_bytes(), Statement::Income).unwrap();
    let r = &rows[0];
    assert_eq!(r.symbol.as_str(), "600519.SH");
    assert_eq!((r.period, r.ann_date, r.f_ann_date), (d("2017-12-31"), Some(d("2018-03-28")), None));
    assert_eq!((r.report_type.as_str(), r.end_type.as_str(), r.update_flag.as_str()), ("1", "4", "1"));
    assert_eq!(r.fields["f_ann_date"], FieldValue::Null);
    assert_eq!(r.fields["ann_date"], FieldValue::Text("20180328".into()));
    assert_eq!(r.number("revenue"), Some(1500.0));
    assert_eq!(r.fields["note"], FieldValue::Text("restated".into()));
    // A header alone gives no rows.
    assert!(parse_statement_csv("ts_code,end_date\n".as_bytes(), Statement::Dividend).unwrap().is_empty());
}

#[test]
fn a_bad_date_names_line_and_column() {
    let text = "ts_code,end_date,revenue\n600519.SH,20211231,1\n600519.SH,2022-13-01,2\n";
    let e = parse_statement_csv(text.as_bytes(), Statement::Income).unwrap_err();
    assert_eq!((e.file.as_str(), e.line, e.column.as_deref()), ("income.csv", Some(3), Some("end_date")));
    assert_eq!(e.reason, r#"end_date "2022-13-01" is not a date"#);
    assert_eq!(e.to_string(), r#"income.csv:3: column "end_date": end_date "2022-13-01" is not a date"#);
    let e = parse_statement_csv("ts_code,end_date,ann_date\n600519.SH,20211231,soon\n".as_bytes(), Statement::Income)
        .unwrap_err();
    assert_eq!((e.line, e.column.as_deref()), (Some(2), Some("ann_date")));
    let e = parse_statement_csv("ts_code,end_date\n600519.SH,\n".as_bytes(), Statement::Income).unwrap_err();
    assert_eq!(e.reason, "end_date is empty");
}

#[test]
fn missing_key_columns() {
    let e = parse_statement_csv("end_date,revenue\n20211231,1\n".as_bytes(), Statement::Income).unwrap_err();
    assert_eq!(e.line, Some(1));
    assert!(e.reason.contains("no ts_code column"), "{}", e.reason);
    // daily_basic is keyed by trade_date, not end_date.
    let e = parse_statement_csv("ts_code,end_date,close\n600519.SH,20250519,1\n".as_bytes(), Statement::DailyBasic)
        .unwrap_err();
    assert!(e.reason.contains("no trade_date column"), "{}", e.reason);
    assert_eq!(e.file, "daily_basic.csv");
    let e = parse_statement_csv("ts_code,end_date,x,x\n".as_bytes(), Statement::Income).unwrap_err();
    assert!(e.reason.contains("twice"), "{}", e.reason);
    let e = parse_statement_csv("".as_bytes(), Statement::Income).unwrap_err();
    assert_eq!(e.reason, "the file is empty");
}

#[test]
fn a_bad_symbol_is_an_error() {
    let text = "ts_code,end_date\n600519.SH,20211231\n=HYPERLINK(x),20211231\n";
    let e = parse_statement_csv_named(text.as_bytes(), Statement::CashFlow, "cf.csv").unwrap_err();
    assert_eq!((e.file.as_str(), e.line, e.column.as_deref()), ("cf.csv", Some(3), Some("ts_code")));
    assert!(e.reason.contains("=HYPERLINK(x)"), "{}", e.reason);
    let e = parse_statement_csv("ts_code,end_date\n,20211231\n".as_bytes(), Statement::Income).unwrap_err();
    assert_eq!(e.reason, "ts_code is empty");
    let e = parse_stock_basic_csv("ts_code,name\n6005 19.SH,x\n".as_bytes()).unwrap_err();
    assert_eq!((e.line, e.column.as_deref()), (Some(2), Some("ts_code")));
}

#[test]
fn stock_basic_boards_and_optional_columns() {
    let text = "ts_code,symbol,name,area,industry,cnspell,market,exchange,list_status,list_date,delist_date,act_name\n\
        300750.SZ,300750,宁德时代,福建,电气设备,ndsd,创业板,SZSE,L,20180611,,曾毓群\n\
        688981.SH,688981,中芯国际,上海,半导体,zxgj,科创板,SSE,L,20200716,,无实际控制人\n\
        600001.SH,600001,*ST样本,北京,钢铁,stjb,主板,SSE,D,19980101,20201231,\n\
        430047.BJ,430047,诺思兰德,北京,生物制药,nsld,北交所,BSE,L,20201124,,许松山\n\
        689009.SH,689009,九号公司,北京,摩托车,jhgs,CDR,SSE,L,20201029,,\n\
        002001.SZ,002001,新和成,浙江,化学制药,xhc,中小板,SZSE,L,20040625,,胡柏藩\n";
    let v = parse_stock_basic_csv(text.as_bytes()).unwrap();
    assert_eq!(v.len(), 6);
    let by = |s: &str| v.iter().find(|i| i.symbol.as_str() == s).unwrap();
    let catl = by("300750.SZ");
    assert_eq!((catl.board.as_str(), catl.price_limit, catl.abbrev.as_str()), ("chinext", Some(0.2), "NDSD"));
    assert_eq!((catl.area.as_str(), catl.industry.as_str(), catl.controller.as_str()), ("福建", "电气设备", "曾毓群"));
    assert_eq!(catl.list_date, Some(d("2018-06-11")));
    assert_eq!((by("688981.SH").board.as_str(), by("688981.SH").price_limit), ("star", Some(0.2)));
    let st = by("600001.SH");
    assert_eq!((st.board.as_str(), st.price_limit, st.delist_date), ("main", Some(0.05), Some(d("2020-12-31"))));
    assert_eq!(st.controller, "");
    assert_eq!((by("430047.BJ").board.as_str(), by("430047.BJ").price_limit), ("bse", Some(0.3)));
    assert_eq!((by("689009.SH").board.as_str(), by("689009.SH").price_limit), ("cdr", Some(0.2)));
    assert_eq!(by("002001.SZ").board, "main");
    assert!(v.iter().all(|i| i.kind == InstrumentKind::Stock && i.lot_size == 100));

    let e = parse_stock_basic_csv("ts_code,name\n600000.SH,a\n600000.SH,b\n".as_bytes()).unwrap_err();
    assert!(e.reason.contains("twice"), "{}", e.reason);
    let e = parse_stock_basic_csv("ts_code,name,list_date\n600000.SH,a,20011301\n".as_bytes()).unwrap_err();
    assert_eq!((e.line, e.column.as_deref()), (Some(2), Some("list_date")));
    let e = parse_stock_basic_csv("name,list_date\na,20010101\n".as_bytes()).unwrap_err();
    assert!(e.reason.contains("no ts_code column"), "{}", e.reason);
    assert!(parse_stock_basic_csv("ts_code,name\n".as_bytes()).unwrap_err().reason.contains("no rows"));
}
