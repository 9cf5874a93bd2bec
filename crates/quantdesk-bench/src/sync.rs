//! `quantdesk-bench sync`: syncing daily bars from the loopback TuShare fake, end to end and by
//! part, in one process, with a peer (a script hitting the same fake) for the ratio.
//!
//! Phases, in this order (the fake keeps each answer it rendered, so after the first pass its own
//! serializing no longer counts; the first pass reports what it cost):
//!
//! 0. warm-up: `daily` and `adj_factor` for every symbol through the client (renders the fake's
//!    answers; the fake's handler time is reported);
//! 1. fetch only: the same calls again (HTTP, JSON decoding, the client's paging and mapping);
//! 2. raw HTTP: the same requests' bodies fetched with a plain reqwest client, no decoding;
//! 3. JSON decoding only: those bodies decoded repeatedly, generically (`serde_json::Value`) and
//!    through the client's own path (`tushare::decode_answer` + the table mapping), best of N;
//! 4. database only: the bars of phase 1 written through the import sessions the sync uses,
//!    into a fresh SQLite file;
//! 5. end to end: `SyncService::run` for every symbol into a fresh SQLite file, then each peer
//!    (`--peer CMD`, run with `--url … --token … --symbols … --start … --end … --db …` appended),
//!    `--rounds` times; and, with `QUANTDESK_BENCH_POSTGRES_URL`, end to end into PostgreSQL (a
//!    fresh schema, dropped afterwards).

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::NaiveDate;
use quantdesk_app::sync::{Sources, SyncRequest, SyncService, SyncWhat, to_bar};
use quantdesk_connectors::fake::{FakeHandle, FakeTushare, TushareData};
use quantdesk_connectors::tushare::{self, Tushare};
use quantdesk_connectors::{DailyBar, Source, SourceSettings};
use quantdesk_core::demo::trading_calendar;
use quantdesk_core::rng::Rng;
use quantdesk_core::{AdjFactor, Bar, Resolution, Symbol};
use quantdesk_store::{BarSeriesWrite, Store};

const TOKEN: &str = "bench-token";
const DAILY_FIELDS: &str = "ts_code,trade_date,open,high,low,close,vol,amount";
const FACTOR_FIELDS: &str = "ts_code,trade_date,adj_factor";

struct Opts {
    symbols: usize,
    years: i32,
    dir: std::path::PathBuf,
    peers: Vec<String>,
    rounds: usize,
    decode_reps: usize,
}

impl Opts {
    fn parse(args: &[String]) -> Result<Opts> {
        let mut o = Opts {
            symbols: 300,
            years: 20,
            dir: std::env::temp_dir().join("qd-sync-bench"),
            peers: Vec::new(),
            rounds: 1,
            decode_reps: 3,
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut val = || it.next().with_context(|| format!("{a} needs a value"));
            match a.as_str() {
                "--symbols" => o.symbols = val()?.parse()?,
                "--years" => o.years = val()?.parse()?,
                "--dir" => o.dir = val()?.into(),
                "--peer" => o.peers.push(val()?.clone()),
                "--rounds" => o.rounds = val()?.parse::<usize>()?.max(1),
                "--decode-reps" => o.decode_reps = val()?.parse::<usize>()?.max(1),
                other => bail!(
                    "unknown option {other:?}; usage: quantdesk-bench sync [--symbols 300] [--years 20] [--dir DIR] \
                     [--peer CMD]... [--rounds 1] [--decode-reps 3]"
                ),
            }
        }
        if o.symbols == 0 || o.symbols > 1000 {
            bail!("--symbols must be 1..=1000");
        }
        Ok(o)
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// One symbol's unadjusted bars (shares, CNY) and cumulative factors, one per trading day as
/// TuShare's `adj_factor` has them: a random walk within the ±10 % limit, lots of 100 shares, a
/// few ex-rights days where the price drops and the factor rises.
fn synth(k: usize, calendar: &[NaiveDate]) -> (Vec<DailyBar>, Vec<AdjFactor>) {
    let mut r = Rng::new(1_000 + k as u64);
    let mut prev = round2(5.0 + 95.0 * r.uniform());
    let mut factor = 1.0f64;
    let n = calendar.len();
    let ex_days: Vec<usize> = (0..3).map(|_| 1 + (r.uniform() * (n.max(2) - 1) as f64) as usize).collect();
    let base_lots = 20_000.0 + 200_000.0 * r.uniform();
    let mut bars = Vec::with_capacity(n);
    let mut factors = Vec::with_capacity(n);
    for (i, &date) in calendar.iter().enumerate() {
        if ex_days.contains(&i) {
            let step = 1.0 + 0.02 + 0.13 * r.uniform();
            factor = (factor * step * 1000.0).round() / 1000.0;
            prev = round2(prev / step).max(0.5);
        }
        let (up, down) = (round2(prev * 1.1), round2(prev * 0.9).max(0.01));
        let clamp = |p: f64| round2(p).clamp(down, up);
        let open = clamp(prev * (1.0 + (r.normal() * 0.008).clamp(-0.1, 0.1)));
        let close = clamp(prev * (1.0 + (r.normal() * 0.02).clamp(-0.1, 0.1)));
        let high = clamp(open.max(close) * (1.0 + r.uniform() * 0.015)).max(open.max(close));
        let low = clamp(open.min(close) * (1.0 - r.uniform() * 0.015)).min(open.min(close));
        let lots = (base_lots * (r.normal() * 0.5).exp()).round().max(1.0);
        let volume = lots * 100.0;
        let amount = (volume * (open + high + low + close) / 4.0).round();
        bars.push(DailyBar { date, open, high, low, close, volume, amount });
        factors.push(AdjFactor { date, factor });
        prev = close;
    }
    (bars, factors)
}

fn change_points(factors: &[AdjFactor]) -> Vec<AdjFactor> {
    let mut out: Vec<AdjFactor> = Vec::new();
    for f in factors {
        if out.last().is_none_or(|l| l.factor != f.factor) {
            out.push(*f);
        }
    }
    out
}

fn fresh_sqlite(dir: &std::path::Path, name: &str) -> Result<String> {
    let path = dir.join(name);
    for suffix in ["", "-wal", "-shm"] {
        let p = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
        if p.exists() {
            std::fs::remove_file(&p)?;
        }
    }
    Ok(format!("sqlite://{}", path.display()))
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

/// 1234567 → "1,234,567".
fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

struct Row {
    name: String,
    rows: u64,
    seconds: f64,
    share: Option<f64>,
}

fn print_table(rows: &[Row]) {
    println!();
    println!("| phase | rows | seconds | rows/s | share of end to end |");
    println!("|---|---:|---:|---:|---:|");
    for r in rows {
        let rate = if r.seconds > 0.0 { thousands((r.rows as f64 / r.seconds) as u64) } else { "–".into() };
        let share = r.share.map(|s| format!("{:.0} %", s * 100.0)).unwrap_or_default();
        println!("| {} | {} | {:.3} | {} | {} |", r.name, thousands(r.rows), r.seconds, rate, share);
    }
}

async fn end_to_end(
    store: &dyn Store,
    sources: &Sources,
    symbols: &[Symbol],
    start: NaiveDate,
    end: NaiveDate,
) -> Result<(Duration, quantdesk_app::sync::SyncReport)> {
    let service = SyncService::new(store, sources, end);
    let req = SyncRequest {
        symbols: symbols.iter().map(|s| s.to_string()).collect(),
        start: Some(start),
        end: Some(end),
        ..SyncRequest::new(SyncWhat::Bars)
    };
    let t = Instant::now();
    let report = service.run(&req, &|_, _| {}).await.map_err(|e| anyhow::anyhow!("sync failed: {e}"))?;
    let took = t.elapsed();
    if !report.failed.is_empty() {
        bail!("{} symbols failed, the first: {:?}", report.failed.len(), report.failed[0]);
    }
    Ok((took, report))
}

struct PeerResult {
    name: String,
    rows: u64,
    seconds: f64,
}

fn run_peer(
    cmd: &str,
    fake: &FakeHandle,
    symbols: &[Symbol],
    start: NaiveDate,
    end: NaiveDate,
    db: &str,
) -> Result<PeerResult> {
    let list: Vec<String> = symbols.iter().map(|s| s.to_string()).collect();
    let full = format!(
        "{cmd} --url {} --token {TOKEN} --symbols {} --start {} --end {} --db {db}",
        fake.base_url(),
        list.join(","),
        start.format("%Y%m%d"),
        end.format("%Y%m%d")
    );
    let out =
        std::process::Command::new("sh").arg("-c").arg(&full).output().with_context(|| format!("running {cmd}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!("peer {cmd:?} failed ({}): {}{}", out.status, stdout, String::from_utf8_lossy(&out.stderr));
    }
    let line =
        stdout.lines().rev().find(|l| l.trim_start().starts_with('{')).context("the peer printed no JSON line")?;
    let v: serde_json::Value = serde_json::from_str(line)?;
    Ok(PeerResult {
        name: v["name"].as_str().unwrap_or(cmd).to_string(),
        rows: v["rows"].as_u64().context("peer: no rows")?,
        seconds: v["seconds"].as_f64().context("peer: no seconds")?,
    })
}

pub fn run(args: &[String]) -> Result<()> {
    let opts = Opts::parse(args)?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(bench(opts))
}

async fn bench(o: Opts) -> Result<()> {
    std::fs::create_dir_all(&o.dir)?;
    let end = NaiveDate::from_ymd_opt(2024, 12, 31).context("date")?;
    let start = NaiveDate::from_ymd_opt(2025 - o.years, 1, 1).context("date")?;
    let calendar = trading_calendar(start, end);

    // Data.
    let t = Instant::now();
    let mut data = TushareData::default().with_answer_cache();
    data.token = Some(TOKEN.into());
    let mut symbols = Vec::with_capacity(o.symbols);
    let mut expected_rows = 0u64;
    for k in 0..o.symbols {
        let symbol = Symbol::new(&format!("{:06}.SH", 600_000 + k)).map_err(|e| anyhow::anyhow!(e.0))?;
        let (bars, factors) = synth(k, &calendar);
        expected_rows += bars.len() as u64;
        data = data.with_daily(symbol.clone(), bars).with_factors(symbol.clone(), factors);
        symbols.push(symbol);
    }
    println!(
        "{} symbols × {} trading days ({start} to {end}) = {} daily bars, generated in {:.2} s",
        o.symbols,
        calendar.len(),
        thousands(expected_rows),
        secs(t.elapsed())
    );
    let fake = FakeTushare::start(data).await;
    println!("fake TuShare at {}", fake.base_url());
    let settings = SourceSettings::tushare(Some(TOKEN.into())).with_base_url(fake.base_url()).with_calls_per_minute(0);
    let client = Arc::new(Tushare::new(settings)?);
    let sources = Sources::new(vec![client.clone() as Arc<dyn Source>]);

    // 0. Warm-up: the fake renders every answer once.
    let h0 = fake.handler_time();
    let t = Instant::now();
    for s in &symbols {
        client.daily(s, start, end).await?;
        client.factors(s, start, end).await?;
    }
    let warm = t.elapsed();
    let fake_render = fake.handler_time() - h0;
    println!(
        "warm-up fetch (the fake renders each answer): {:.3} s, of which {:.3} s in the fake's handler",
        secs(warm),
        secs(fake_render)
    );

    // 1. Fetch only.
    let h1 = fake.handler_time();
    let t = Instant::now();
    let mut fetched: Vec<(Vec<DailyBar>, Vec<AdjFactor>)> = Vec::with_capacity(symbols.len());
    for s in &symbols {
        let bars = client.daily(s, start, end).await?;
        let factors = client.factors(s, start, end).await?;
        fetched.push((bars, factors));
    }
    let fetch = t.elapsed();
    let fake_fetch = fake.handler_time() - h1;
    let rows: u64 = fetched.iter().map(|(b, _)| b.len() as u64).sum();
    let factor_rows: u64 = fetched.iter().map(|(_, f)| f.len() as u64).sum();
    if rows != expected_rows {
        bail!("fetched {rows} bars, expected {expected_rows}");
    }

    // 2. Raw HTTP: the same requests, bodies only.
    let http = reqwest::Client::new();
    let body = |api: &str, fields: &str, s: &Symbol| {
        serde_json::json!({
            "api_name": api,
            "token": TOKEN,
            "params": {
                "ts_code": s.to_string(),
                "start_date": start.format("%Y%m%d").to_string(),
                "end_date": end.format("%Y%m%d").to_string(),
            },
            "fields": fields,
        })
    };
    let h2 = fake.handler_time();
    let t = Instant::now();
    let mut bodies: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(symbols.len());
    for s in &symbols {
        let mut pair = Vec::with_capacity(2);
        for (api, fields) in [("daily", DAILY_FIELDS), ("adj_factor", FACTOR_FIELDS)] {
            let resp = http.post(fake.base_url()).json(&body(api, fields, s)).send().await?;
            pair.push(resp.bytes().await?.to_vec());
        }
        let f = pair.pop().unwrap_or_default();
        let d = pair.pop().unwrap_or_default();
        bodies.push((d, f));
    }
    let raw = t.elapsed();
    let fake_raw = fake.handler_time() - h2;
    let body_bytes: usize = bodies.iter().map(|(d, f)| d.len() + f.len()).sum();

    // 3. JSON decoding only.
    let mut generic = Duration::MAX;
    let mut client_decode = Duration::MAX;
    let mut client_daily = Duration::MAX;
    for _ in 0..o.decode_reps {
        let t = Instant::now();
        let mut n = 0usize;
        for (d, f) in &bodies {
            for b in [d, f] {
                let v: serde_json::Value = serde_json::from_slice(b)?;
                n += v["data"]["items"].as_array().map_or(0, Vec::len);
            }
        }
        generic = generic.min(t.elapsed());
        std::hint::black_box(n);

        let t = Instant::now();
        let mut decoded = 0u64;
        for (d, _) in &bodies {
            decoded += tushare::daily_bars_from_table(&tushare::decode_answer("daily", d)?)?.len() as u64;
        }
        let daily_part = t.elapsed();
        for (_, f) in &bodies {
            std::hint::black_box(tushare::factors_from_table(&tushare::decode_answer("adj_factor", f)?)?);
        }
        client_decode = client_decode.min(t.elapsed());
        client_daily = client_daily.min(daily_part);
        if decoded != rows {
            bail!("decoded {decoded} bars, expected {rows}");
        }
    }

    // 4. Database only: the sync's import sessions, one per symbol.
    let url = fresh_sqlite(&o.dir, "db-only.db")?;
    let store = quantdesk_store::open(&url, 8).await?;
    let converted: Vec<(Vec<Bar>, Vec<AdjFactor>)> =
        fetched.iter().map(|(b, f)| (b.iter().map(to_bar).collect(), change_points(f))).collect();
    let t = Instant::now();
    for (s, (bars, factors)) in symbols.iter().zip(&converted) {
        std::hint::black_box(store.adj_factors(s).await?);
        let mut session = store.begin_import(Resolution::Day).await?;
        session.write(&BarSeriesWrite { symbol: s, bars, factors: &[], calendar: Some("SSE") }).await?;
        session.replace_factors(s, factors).await?;
        session.commit().await?;
    }
    let db = t.elapsed();
    drop(store);
    // The same without teaching the calendar (how much of the database's time that is).
    let url = fresh_sqlite(&o.dir, "db-only-nocal.db")?;
    let store = quantdesk_store::open(&url, 8).await?;
    let t = Instant::now();
    for (s, (bars, factors)) in symbols.iter().zip(&converted) {
        std::hint::black_box(store.adj_factors(s).await?);
        let mut session = store.begin_import(Resolution::Day).await?;
        session.write(&BarSeriesWrite { symbol: s, bars, factors: &[], calendar: None }).await?;
        session.replace_factors(s, factors).await?;
        session.commit().await?;
    }
    let db_nocal = t.elapsed();
    drop(store);

    // 5. End to end, then the peers, per round.
    let mut e2e_best: Option<(Duration, quantdesk_app::sync::SyncReport)> = None;
    let mut e2e_all = Vec::new();
    let mut peers: Vec<PeerResult> = Vec::new();
    let mut fake_e2e = Duration::ZERO;
    for round in 0..o.rounds {
        let url = fresh_sqlite(&o.dir, "e2e.db")?;
        let store = quantdesk_store::open(&url, 8).await?;
        let h = fake.handler_time();
        let (took, report) = end_to_end(&*store, &sources, &symbols, start, end).await?;
        fake_e2e = fake.handler_time() - h;
        drop(store);
        if report.bars != rows {
            bail!("the sync stored {} bars, expected {rows}", report.bars);
        }
        println!(
            "round {round}: end to end {:.3} s = {} rows/s (mode {}, {} requests, {} bars, {} factor change points)",
            secs(took),
            thousands((rows as f64 / secs(took)) as u64),
            report.mode.as_deref().unwrap_or("?"),
            report.requests,
            thousands(report.bars),
            report.factors
        );
        e2e_all.push(took);
        if e2e_best.as_ref().is_none_or(|(b, _)| took < *b) {
            e2e_best = Some((took, report));
        }
        for (i, cmd) in o.peers.iter().enumerate() {
            let db = o.dir.join(format!("peer{i}.db"));
            for suffix in ["", "-wal", "-shm", "-journal"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
            }
            let db = db.display().to_string();
            // The fake keeps serving on the runtime's other workers while the peer runs.
            let r = tokio::task::block_in_place(|| run_peer(cmd, &fake, &symbols, start, end, &db))?;
            println!(
                "round {round}: peer {}: {} rows in {:.3} s = {} rows/s",
                r.name,
                thousands(r.rows),
                r.seconds,
                thousands((r.rows as f64 / r.seconds) as u64)
            );
            if r.rows != rows {
                println!("  (the peer stored {} rows, quantdesk {rows})", r.rows);
            }
            peers.push(r);
        }
    }
    let (e2e, report) = e2e_best.context("no round ran")?;

    // Optional: PostgreSQL.
    let pg = match std::env::var("QUANTDESK_BENCH_POSTGRES_URL").ok().filter(|u| !u.is_empty()) {
        Some(url) => Some(postgres_end_to_end(&url, &sources, &symbols, start, end).await?),
        None => None,
    };

    let t_e2e = secs(e2e);
    let json = secs(client_decode);
    let http_share = secs(fetch) - json;
    let rest = t_e2e - secs(fetch) - secs(db);
    let mut table = vec![
        Row {
            name: "end to end: `SyncService::run`, SQLite (best round)".into(),
            rows,
            seconds: t_e2e,
            share: Some(1.0),
        },
        Row {
            name: "fetch only: `Tushare::daily` + `factors`".into(),
            rows,
            seconds: secs(fetch),
            share: Some(secs(fetch) / t_e2e),
        },
        Row {
            name: "· HTTP (fetch − client decoding)".into(),
            rows,
            seconds: http_share,
            share: Some(http_share / t_e2e),
        },
        Row { name: "· JSON decoding, the client's path".into(), rows, seconds: json, share: Some(json / t_e2e) },
        Row {
            name: "database only: import sessions, SQLite".into(),
            rows,
            seconds: secs(db),
            share: Some(secs(db) / t_e2e),
        },
        Row {
            name: "· the same without teaching the calendar".into(),
            rows,
            seconds: secs(db_nocal),
            share: Some(secs(db_nocal) / t_e2e),
        },
        Row {
            name: "rest (the service's own work, overlap, noise)".into(),
            rows,
            seconds: rest,
            share: Some(rest / t_e2e),
        },
        Row {
            name: "raw HTTP: the same requests, bodies only".into(),
            rows,
            seconds: secs(raw),
            share: Some(secs(raw) / t_e2e),
        },
        Row {
            name: "JSON: client's path, `daily` answers only".into(),
            rows,
            seconds: secs(client_daily),
            share: None,
        },
        Row { name: "JSON: `serde_json::Value` only, both APIs".into(), rows, seconds: secs(generic), share: None },
        Row { name: "fake rendering its answers (warm-up pass)".into(), rows, seconds: secs(fake_render), share: None },
    ];
    if let Some((pg_time, pg_rows)) = pg {
        table.push(Row {
            name: "end to end: `SyncService::run`, PostgreSQL".into(),
            rows: pg_rows,
            seconds: secs(pg_time),
            share: None,
        });
    }
    for p in &peers {
        table.push(Row { name: format!("peer: {}", p.name), rows: p.rows, seconds: p.seconds, share: None });
    }
    print_table(&table);
    println!();
    println!(
        "rows are daily bars; each symbol's adj_factor answer carries as many rows again ({} factor rows, {} change points stored); {} requests of {:.1} MB in all",
        thousands(factor_rows),
        report.factors,
        report.requests,
        body_bytes as f64 / 1e6
    );
    println!(
        "mode {}; the fake's handler (cached answers) took {:.3} s during fetch only, {:.3} s during raw HTTP, {:.3} s during end to end",
        report.mode.as_deref().unwrap_or("?"),
        secs(fake_fetch),
        secs(fake_raw),
        secs(fake_e2e)
    );
    if e2e_all.len() > 1 {
        let all: Vec<String> = e2e_all.iter().map(|d| format!("{:.3}", secs(*d))).collect();
        println!("end-to-end rounds: {} s", all.join(", "));
    }
    let rate = rows as f64 / t_e2e;
    println!("quantdesk end to end: {} rows/s (target ≥ 300,000)", thousands(rate as u64));
    let mut best_peer: std::collections::BTreeMap<String, f64> = Default::default();
    for p in &peers {
        let r = p.rows as f64 / p.seconds;
        let e = best_peer.entry(p.name.clone()).or_insert(0.0);
        *e = e.max(r);
    }
    for (name, r) in &best_peer {
        println!(
            "ratio quantdesk / {name}: {:.1}× ({} vs {} rows/s)",
            rate / r,
            thousands(rate as u64),
            thousands(*r as u64)
        );
    }
    Ok(())
}

async fn postgres_end_to_end(
    url: &str,
    sources: &Sources,
    symbols: &[Symbol],
    start: NaiveDate,
    end: NaiveDate,
) -> Result<(Duration, u64)> {
    use std::str::FromStr;
    let schema = format!("qd_bench_sync_{}", std::process::id());
    let admin = sqlx::PgPool::connect(url).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&admin).await?;
    let opts = sqlx::postgres::PgConnectOptions::from_str(url)?.options([("search_path", schema.as_str())]);
    let result = async {
        let store = quantdesk_store::PgStore::open_with(opts, 8).await?;
        let (took, report) = end_to_end(&store, sources, symbols, start, end).await?;
        println!(
            "PostgreSQL: end to end {:.3} s = {} rows/s",
            secs(took),
            thousands((report.bars as f64 / secs(took)) as u64)
        );
        anyhow::Ok((took, report.bars))
    }
    .await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE"))).execute(&admin).await?;
    result
}
