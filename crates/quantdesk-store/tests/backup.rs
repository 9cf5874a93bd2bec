//! Backups: archives written from one backend restore into either with identical checksums; a
//! cut, altered or foreign archive is refused and leaves the target untouched; a backup taken
//! during writes is one consistent snapshot. On SQLite, and PostgreSQL when configured.

mod support;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use quantdesk_core::financials::FieldValue;
use quantdesk_core::{AdjFactor, Bar, Instrument, InstrumentKind, Resolution, Statement, StatementRow, Symbol};
use quantdesk_store::auth::{AuditEvent, EmailCode, NewApiKey, Role, SessionRow};
use quantdesk_store::backup::archive::{self, Manifest, WriteInfo};
use quantdesk_store::backup::{BackupError, BackupRecord, TABLES, schema_difference};
use quantdesk_store::financials::SourceCalls;
use quantdesk_store::jobs::{NewJob, Outcome, Schedule};
use quantdesk_store::{BarSeriesWrite, Store};
use support::{drop_schema, each_backend, postgres, postgres_url, sqlite};

fn info(now_ms: i64) -> WriteInfo {
    WriteInfo { now_ms, quantdesk_version: "test".into() }
}

fn bars(n: usize, seed: u64, start: i64) -> Vec<Bar> {
    let mut x = seed;
    let mut price = 10.0 + seed as f64;
    (0..n)
        .map(|i| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let step = ((x >> 33) as f64 / (1u64 << 31) as f64 - 0.5) * 0.3;
            let open = price;
            price = (price + step).max(0.01);
            let (hi, lo) = (open.max(price) + 0.013, open.min(price) - 0.007);
            Bar {
                time: start + i as i64 * 86_400,
                open,
                high: hi,
                low: lo.max(0.001),
                close: price,
                volume: (x % 100_000) as f64 + 0.5,
                amount: 1.0 / 3.0 * i as f64,
            }
        })
        .collect()
}

async fn import(store: &dyn Store, symbol: &str, res: Resolution, bars: &[Bar], factors: &[AdjFactor]) {
    let sym = Symbol::new(symbol).unwrap();
    let w = BarSeriesWrite { symbol: &sym, bars, factors, calendar: Some("SSE") };
    store.import_bars(res, &[w], &|_| {}).await.unwrap();
}

/// Something in every table, with the awkward values a backup must carry: NULLs, non-ASCII and
/// quoted text, binary with zero bytes, floats that are not short decimals.
async fn fill(store: &dyn Store) {
    let mut moutai =
        Instrument::with_defaults(Symbol::new("600519.SH").unwrap(), "贵州茅台 \"Moutai\"", InstrumentKind::Stock);
    moutai.list_date = chrono::NaiveDate::from_ymd_opt(2001, 8, 27);
    moutai.price_limit = Some(0.1);
    moutai.industry = "白酒".into();
    moutai.area = "贵州".into();
    moutai.controller = "贵州省国资委".into();
    let goog = Instrument::with_defaults(Symbol::new("GOOG").unwrap(), "Alphabet\nClass C", InstrumentKind::Stock);
    store.upsert_instruments(&[moutai, goog]).await.unwrap();
    let factors = [
        AdjFactor { date: chrono::NaiveDate::from_ymd_opt(2020, 1, 2).unwrap(), factor: 1.0 },
        AdjFactor { date: chrono::NaiveDate::from_ymd_opt(2021, 6, 30).unwrap(), factor: 1.0 / 7.0 },
    ];
    import(store, "600519.SH", Resolution::Day, &bars(3000, 1, 1_500_000_000), &factors).await;
    import(store, "GOOG", Resolution::Day, &bars(1200, 2, 1_400_000_000), &[]).await;
    import(store, "600519.SH", Resolution::parse("60").unwrap(), &bars(800, 3, 1_600_000_000), &[]).await;

    // Statement revisions, one without announcement dates (NULLs in the key), and source calls.
    let row = |period: &str, ann: Option<&str>, f_ann: Option<&str>, flag: &str, revenue: f64| StatementRow {
        symbol: Symbol::new("600519.SH").unwrap(),
        statement: Statement::Income,
        period: period.parse().unwrap(),
        ann_date: ann.map(|d| d.parse().unwrap()),
        f_ann_date: f_ann.map(|d| d.parse().unwrap()),
        report_type: "1".into(),
        end_type: "4".into(),
        update_flag: flag.into(),
        fields: std::collections::BTreeMap::from([
            ("revenue".to_string(), FieldValue::Number(revenue)),
            ("note".to_string(), FieldValue::Text("营业收入 \"quoted\"\n".into())),
            ("missing".to_string(), FieldValue::Null),
        ]),
    };
    let statements = [
        row("2022-12-31", Some("2023-03-31"), Some("2023-03-31"), "0", 1.0 / 3.0),
        row("2022-12-31", Some("2023-03-31"), Some("2024-04-15"), "1", 2.0),
        row("2023-06-30", None, None, "", 3.0),
    ];
    store.write_statements(&statements).await.unwrap();
    let calls = |day: &str, ok: Option<i64>, err: Option<(i64, String)>| SourceCalls {
        source: "tushare".into(),
        day: day.parse().unwrap(),
        calls: 7,
        last_success_ms: ok,
        last_error: err,
    };
    store.record_source_calls(&calls("2024-05-01", Some(1_000), None)).await.unwrap();
    store.record_source_calls(&calls("2024-05-02", None, Some((2_000, "quota \"exceeded\"".into())))).await.unwrap();
    for (owner, vps) in [("admin@x.test", Some(1.0 / 3.0)), ("观众", None)] {
        store
            .save_valuation(&quantdesk_store::valuations::NewValuation {
                owner: owner.into(),
                ts_code: "600519.SH".into(),
                valuation_date: String::new(),
                profile: "reference".into(),
                request_hash: "h".into(),
                inputs_hash: "i".into(),
                request: "{\"beta\":1.1}".into(),
                result: "{\"error\":\"无 \\\"x\\\"\"}".into(),
                value_per_share: vps,
                created_at: 7_000,
            })
            .await
            .unwrap();
    }

    store
        .create_scenario(
            "1",
            &quantdesk_store::valuations::ScenarioWrite {
                name: "稳健 \"bear\"".into(),
                preset: "bear".into(),
                overlay: r#"["beta=1.2","terminal_value_method=perpetual_growth"]"#.into(),
                at: 7_500,
            },
        )
        .await
        .unwrap();
    for (name, temperature) in [("深度求索", Some(0.25)), ("local", None)] {
        store
            .create_llm_provider(&quantdesk_store::llm::LlmProviderWrite {
                name: name.into(),
                preset: "deepseek".into(),
                base_url: "https://api.deepseek.com/v1".into(),
                model: "deepseek-chat".into(),
                api_key_enc: if temperature.is_some() { "00ff".into() } else { String::new() },
                api_key_last4: if temperature.is_some() { "wxyz".into() } else { String::new() },
                temperature,
                top_p: None,
                max_tokens: temperature.map(|_| 2048),
                timeout_secs: 60,
                at: 7_600,
            })
            .await
            .unwrap();
    }

    let list = store.create_watchlist("1", "白酒 \"core\"", 7_600, 10).await.unwrap().unwrap();
    for (i, sym) in ["600519.SH", "GOOG"].iter().enumerate() {
        store.add_watchlist_item("1", list, sym, 7_700 + i as i64, 20).await.unwrap();
    }

    store.create_tm_session("1", "5f0c-会话", r#"{"labeling":null}"#, 7_600).await.unwrap();
    assert!(store.put_tm_dataset("1", "5f0c-会话", "btc", b"date,adjcp\n2020-01-01,1\n\x00\xff", 7_700).await.unwrap());

    let prompt = store
        .save_template(&quantdesk_store::reports::NewTemplate {
            name: "技术面 \"v\"".into(),
            kind: "technical".into(),
            lang: "zh-CN".into(),
            system: "你是分析师 ${symbol}".into(),
            user: "${digest}\n".into(),
            created_by: "admin@x.test".into(),
            created_at: 7_600,
        })
        .await
        .unwrap();
    store
        .save_report(&quantdesk_store::reports::NewReport {
            owner: "1".into(),
            symbol: "600519.SH".into(),
            date: "2024-05-02".into(),
            kind: "technical".into(),
            lang: "zh-CN".into(),
            industry: "白酒".into(),
            provider: "offline".into(),
            model: "quantdesk-offline-1".into(),
            prompt_id: Some(prompt.id),
            prompt_name: prompt.name.clone(),
            prompt_version: prompt.version,
            markdown: "# 报告\n\n[1.23](/chart/600519.SH)".into(),
            context: "{\"symbol\":\"600519.SH\"}".into(),
            warnings: "[]".into(),
            tokens_in: 0,
            tokens_out: 0,
            latency_ms: 0,
            job_id: None,
            created_at: 7_700,
        })
        .await
        .unwrap();

    let admin = store.create_user("admin@x.test", "$argon2id$v=19$…", Role::Admin, true, 1000).await.unwrap().unwrap();
    let viewer = store.create_user("观众@x.test", "h2", Role::Viewer, false, 1001).await.unwrap().unwrap();
    store.set_disabled(viewer, true).await.unwrap();
    store.record_login(admin, 5000).await.unwrap();
    assert!(store.put_pref(admin, "replay.600519.SH.1D", "{\"cursor\":1700000000}", 6, 100).await.unwrap());
    store
        .create_session(&SessionRow {
            id_hash: "s-hash".into(),
            user_id: admin,
            csrf: "c".into(),
            created_at: 1,
            last_seen: 2,
        })
        .await
        .unwrap();
    let key = NewApiKey {
        user_id: admin,
        name: "ci".into(),
        prefix: "0123456789ab".into(),
        secret_hash: "sh".into(),
        scopes: "read,jobs".into(),
        expires_at: Some(99_999),
    };
    let key_id = store.create_api_key(&key, 10).await.unwrap();
    store.revoke_api_key(key_id, None, 20).await.unwrap();
    let code =
        EmailCode { code_hash: "ch".into(), sent_at: 1, expires_at: 2, attempts: 1, secret: "$argon2id$…".into() };
    store.put_email_code("new@x.test", "signup", &code, 0).await.unwrap();
    store.record_failure("ip:127.0.0.1", 7).await.unwrap();
    store.record_failure("ip:127.0.0.1", 7).await.unwrap();
    let counter = quantdesk_store::auth::Counter { window_start: 3, n: 2, last_at: 4 };
    store.put_counter("known:观众@x.test|::1", &counter).await.unwrap();
    let event = AuditEvent {
        id: 0,
        at: 3,
        user_id: None,
        actor: "system".into(),
        event: "login_failed".into(),
        target: "x".into(),
        ip: "::1".into(),
        detail: "{\"a\":1}".into(),
    };
    store.audit(&event).await.unwrap();

    let job = |kind: &str, key: Option<&str>| NewJob {
        owner: admin.to_string(),
        kind: kind.into(),
        queue: "default".into(),
        params: "{\"x\": [1, 2.5]}".into(),
        priority: 1,
        max_attempts: 3,
        timeout_ms: 60_000,
        run_at: None,
        idempotency_key: key.map(str::to_string),
    };
    let (done, _) = store.enqueue(&job("backtest", Some("k1")), 100).await.unwrap();
    store.enqueue(&job("echo", None), 101).await.unwrap();
    let claimed = store.claim("w1", &["default".to_string()], 200, 1000, None).await.unwrap().unwrap();
    store.append_log(claimed.id, 201, "line one\twith tab").await.unwrap();
    store.put_artifact(claimed.id, "result.bin", "application/octet-stream", &[0, 1, 2, 255, 0]).await.unwrap();
    store.finish(claimed.id, "w1", &Outcome::Succeeded("{\"ok\":true}".into()), 300).await.unwrap();
    assert!(done > 0);
    let schedule = Schedule {
        id: 0,
        owner: admin.to_string(),
        name: "nightly".into(),
        cron: "0 2 * * *".into(),
        timezone: "Asia/Shanghai".into(),
        kind: "echo".into(),
        params: "{}".into(),
        enabled: true,
        catch_up: false,
        last_fire: None,
        created_at: 0,
    };
    let sid = store.upsert_schedule(&schedule).await.unwrap();
    store.fire_schedule(sid, 86_400_000, &job("echo", Some("schedule:1")), 400).await.unwrap();
    store.skip_schedule(sid, 2 * 86_400_000).await.unwrap();
    // The coin ledger: a grant, a reservation (held) and a check-in survive a restore.
    use quantdesk_store::ledger::{Applied, CheckinRule, CoinChange, CoinKind};
    let grant = CoinChange {
        user_id: admin,
        kind: CoinKind::Grant,
        available: 20,
        frozen: 0,
        reason: "sign-up \"bonus\"",
        related: "user:1",
        idem_key: "signup",
        actor: "system",
        at: 8_000,
    };
    assert!(matches!(store.apply_coins(&grant).await.unwrap(), Applied::Done(_)));
    assert!(matches!(
        store.reserve_coins(admin, "job:1", 10, "job:1", "system", 8_001).await.unwrap(),
        Applied::Done(_)
    ));
    let rule = CheckinRule { base: 20, step: 2, cap: 50 };
    store.check_in(admin, "2024-05-02", "2024-05-01", &rule, 8_002).await.unwrap();
    let package = quantdesk_store::ledger::Package {
        id: "coins-100".into(),
        name: "100 枚".into(),
        coins: 100,
        price_fen: 1000,
        currency: "CNY".into(),
        active: true,
        sort: 1,
        updated_at: 8_003,
    };
    store.put_package(&package).await.unwrap();
    let order = quantdesk_store::ledger::Order {
        order_no: "QD20240502000001".into(),
        user_id: admin,
        package_id: "coins-100".into(),
        coins: 100,
        amount_fen: 1000,
        currency: "CNY".into(),
        payment_method: "stripe".into(),
        status: quantdesk_store::ledger::OrderStatus::Pending,
        provider_ref: String::new(),
        created_at: 8_003,
        updated_at: 8_003,
    };
    store.create_order(&order).await.unwrap();
    store.record_payment("stripe", "evt_1", "QD20240502000001", 1000, "cs_1", 8_004).await.unwrap();
    let rec = BackupRecord { at: 5, file: "old.tar".into(), bytes: 1, rows: 2, sha256: "ab".into() };
    store.record_backup(&rec).await.unwrap();
}

/// (table, rows, checksum) per table: what must survive a round trip.
fn sums(m: &Manifest) -> Vec<(String, u64, String)> {
    m.tables.iter().map(|t| (t.name.clone(), t.rows, t.sha256.clone())).collect()
}

async fn counts(store: &dyn Store) -> Vec<(&'static str, i64)> {
    store.table_counts().await.unwrap()
}

async fn backup(store: &dyn Store, dir: &Path, name: &str) -> (PathBuf, Manifest) {
    let path = dir.join(name);
    let written = archive::write(store, &path, &info(1_763_776_800_000)).await.unwrap();
    assert_eq!(written.bytes, std::fs::metadata(&path).unwrap().len());
    (path, written.manifest)
}

#[tokio::test]
async fn the_schema_is_fully_covered() {
    each_backend(|s| async move {
        let live = s.schema_columns().await.unwrap();
        assert_eq!(schema_difference(&live), None);
        // And the check can fail: a column the backup does not know is named.
        let mut extra = live.clone();
        extra.push(("bars".into(), "vwap".into()));
        assert!(schema_difference(&extra).unwrap().contains("bars.vwap"));
    })
    .await;
}

#[tokio::test]
async fn round_trips_keep_every_row_across_backends() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _ga) = sqlite().await;
    fill(&*a).await;
    let (pa, ma) = backup(&*a, dir.path(), "a.tar").await;
    assert_eq!(ma.tables.len(), TABLES.len());
    assert!(ma.tables.iter().all(|t| t.rows > 0), "every table has rows: {:?}", sums(&ma));
    assert_eq!(ma.source_backend, "sqlite");
    assert_eq!(archive::verify(&pa).unwrap(), ma);
    let total: i64 = counts(&*a).await.iter().map(|c| c.1).sum();
    assert_eq!(ma.total_rows as i64, total);

    // SQLite → SQLite.
    let (b, _gb) = sqlite().await;
    archive::restore(&*b, &pa, false).await.unwrap();
    let (pb, mb) = backup(&*b, dir.path(), "b.tar").await;
    if std::env::var("KEEP_BACKUPS").is_ok() {
        std::fs::copy(&pa, "/tmp/a.tar").unwrap();
        std::fs::copy(&pb, "/tmp/b.tar").unwrap();
    }
    assert_eq!(sums(&mb), sums(&ma));
    let sym = Symbol::new("600519.SH").unwrap();
    let read = |s: Arc<dyn Store>| {
        let sym = sym.clone();
        async move { s.bars(&sym, Resolution::Day, i64::MIN, i64::MAX, None).await.unwrap() }
    };
    assert_eq!(read(b.clone()).await, read(a.clone()).await);
    let statements = |s: Arc<dyn Store>| {
        let sym = sym.clone();
        async move {
            let rows = s.statement_rows(&sym, Statement::Income, None).await.unwrap();
            let status = s.source_status("2024-05-01".parse().unwrap()).await.unwrap();
            let inst = s.instrument(&sym).await.unwrap().unwrap();
            (rows, status, (inst.industry, inst.area, inst.controller))
        }
    };
    let expected = statements(a.clone()).await;
    assert_eq!(expected.0.len(), 3);
    assert_eq!(expected.1[0].last_error.as_deref(), Some("quota \"exceeded\""));
    assert_eq!(expected.2.0, "白酒");
    assert_eq!(statements(b.clone()).await, expected);
    let u = b.user_by_email("观众@x.test").await.unwrap().unwrap();
    assert!(u.disabled && !u.verified);
    let job = b.list_jobs(&quantdesk_store::jobs::JobFilter { limit: 100, ..Default::default() }).await.unwrap();
    let with_artifact = job.iter().find(|j| j.kind == "backtest").unwrap();
    assert_eq!(b.artifact(with_artifact.id, "result.bin").await.unwrap().unwrap().1, vec![0, 1, 2, 255, 0]);

    let Some(url) = postgres_url() else { return };
    // SQLite → PostgreSQL → SQLite.
    let (p, schema) = postgres(&url).await;
    archive::restore(&*p, &pa, false).await.unwrap();
    let (pp, mp) = backup(&*p, dir.path(), "p.tar").await;
    assert_eq!(mp.source_backend, "postgres");
    assert_eq!(sums(&mp), sums(&ma));
    assert_eq!(read(p.clone()).await, read(a.clone()).await);
    assert_eq!(statements(p.clone()).await, expected);
    // New statement rows continue after the restored ids.
    let mut later = expected.0[0].clone();
    later.period = "2024-12-31".parse().unwrap();
    p.write_statements(&[later]).await.unwrap();
    // New rows continue after the restored ids.
    let max_job = p
        .list_jobs(&quantdesk_store::jobs::JobFilter { limit: 100, ..Default::default() })
        .await
        .unwrap()
        .iter()
        .map(|j| j.id)
        .max()
        .unwrap();
    let next = NewJob {
        owner: String::new(),
        kind: "echo".into(),
        queue: "default".into(),
        params: "{}".into(),
        priority: 0,
        max_attempts: 1,
        timeout_ms: 1000,
        run_at: None,
        idempotency_key: None,
    };
    assert!(p.enqueue(&next, 1).await.unwrap().0 > max_job);
    assert!(p.create_user("later@x.test", "h", Role::Viewer, true, 1).await.unwrap().is_some());
    let (c, _gc) = sqlite().await;
    archive::restore(&*c, &pp, false).await.unwrap();
    let (_, mc) = backup(&*c, dir.path(), "c.tar").await;
    assert_eq!(sums(&mc), sums(&ma));
    drop(p);
    drop_schema(&url, &schema).await;
}

#[tokio::test]
async fn a_non_empty_target_is_refused_unless_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _ga) = sqlite().await;
    fill(&*a).await;
    let (pa, ma) = backup(&*a, dir.path(), "a.tar").await;
    each_backend(|t| {
        let pa = pa.clone();
        let ma = ma.clone();
        let dir = dir.path().to_path_buf();
        async move {
            t.create_user("someone@x.test", "h", Role::Viewer, true, 1).await.unwrap();
            let before = counts(&*t).await;
            let err = archive::restore(&*t, &pa, false).await.unwrap_err();
            assert!(
                matches!(err, BackupError::Refused(ref m) if m.contains("not empty") && m.contains("--replace")),
                "{err}"
            );
            assert_eq!(counts(&*t).await, before, "a refused restore changes nothing");
            archive::restore(&*t, &pa, true).await.unwrap();
            assert!(t.user_by_email("someone@x.test").await.unwrap().is_none(), "replaced");
            let name = format!("t-{}.tar", t.backend());
            let (_, mt) = backup(&*t, &dir, &name).await;
            assert_eq!(sums(&mt), sums(&ma));
        }
    })
    .await;
}

/// Byte ranges of each tar entry's content: (name, start, length).
fn entries(path: &Path) -> Vec<(String, u64, u64)> {
    let mut ar = tar::Archive::new(std::fs::File::open(path).unwrap());
    ar.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (e.path().unwrap().display().to_string(), e.raw_file_position(), e.size())
        })
        .collect()
}

#[tokio::test]
async fn cut_or_altered_archives_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _ga) = sqlite().await;
    fill(&*a).await;
    let (pa, _) = backup(&*a, dir.path(), "a.tar").await;
    let bytes = std::fs::read(&pa).unwrap();
    let parts = entries(&pa);
    assert_eq!(parts.first().unwrap().0, "manifest.json");
    assert_eq!(parts.last().unwrap().0, "manifest.json.sha256");
    let (target, _gt) = sqlite().await;
    let empty = counts(&*target).await;
    let bad = dir.path().join("bad.tar");

    // Cut: at every entry boundary and inside every entry, and at 40 evenly spaced points.
    let last = parts.last().unwrap();
    let end_of_data = (last.1 + last.2) as usize;
    let mut cuts: Vec<usize> = parts.iter().flat_map(|(_, s, l)| [*s as usize, (*s + l / 2) as usize]).collect();
    cuts.extend((0..40).map(|i| i * end_of_data / 40));
    cuts.push(end_of_data - 1);
    for cut in cuts {
        std::fs::write(&bad, &bytes[..cut]).unwrap();
        assert!(archive::verify(&bad).is_err(), "a cut at {cut} of {} was accepted", bytes.len());
    }
    std::fs::write(&bad, &bytes[..parts[3].1 as usize + 100]).unwrap();
    assert!(archive::restore(&*target, &bad, false).await.is_err());
    assert_eq!(counts(&*target).await, empty, "a refused restore changes nothing");

    // Altered: one byte in the middle of every entry's content (and at its first and last byte).
    for (name, start, len) in &parts {
        for at in [*start, start + len / 2, start + len - 1] {
            let mut altered = bytes.clone();
            altered[at as usize] ^= 0x20;
            std::fs::write(&bad, &altered).unwrap();
            let err = archive::verify(&bad).expect_err(&format!("a changed byte at {at} in {name} was accepted"));
            assert!(matches!(err, BackupError::Corrupt(_)), "{name} at {at}: {err}");
        }
    }
    // A change in the last table's data is found only at its end: the restore has already
    // inserted rows by then, and must roll them back.
    let (name, start, len) = &parts[parts.len() - 2];
    assert_eq!(name, &format!("tables/{}.jsonl.gz", TABLES.last().unwrap().name));
    let mut altered = bytes.clone();
    altered[(start + len - 3) as usize] ^= 0x01;
    std::fs::write(&bad, &altered).unwrap();
    let err = archive::restore(&*target, &bad, false).await.unwrap_err();
    assert!(matches!(err, BackupError::Corrupt(_)), "{err}");
    assert_eq!(counts(&*target).await, empty);
    // A file that is not a backup at all.
    std::fs::write(&bad, b"id,name\n1,x\n").unwrap();
    let err = archive::verify(&bad).unwrap_err().to_string();
    assert!(err.contains("not a quantdesk backup"), "{err}");
    // The intact archive still restores.
    archive::restore(&*target, &pa, false).await.unwrap();
}

#[tokio::test]
async fn an_existing_file_is_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _ga) = sqlite().await;
    let path = dir.path().join("x.tar");
    std::fs::write(&path, b"keep me").unwrap();
    let err = archive::write(&*a, &path, &info(0)).await.unwrap_err();
    assert!(matches!(err, BackupError::Refused(ref m) if m.contains("already exists")), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), b"keep me");
    // Nothing but the file itself is left in the folder.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[tokio::test]
async fn a_backup_during_imports_is_one_snapshot() {
    each_backend(|s| async move {
        let dir = tempfile::tempdir().unwrap();
        fill(&*s).await;
        // Imports of new symbols run while backups are taken; each import writes bars and its
        // series summary in one transaction, so a consistent snapshot has every series' bar_count
        // equal to its bars.
        let writer = {
            let s = s.clone();
            tokio::spawn(async move {
                for i in 0..30 {
                    let sym = format!("{:06}.SZ", i + 1);
                    import(&*s, &sym, Resolution::Day, &bars(2000, 10 + i, 1_300_000_000), &[]).await;
                }
            })
        };
        let mut archives = Vec::new();
        for i in 0..3 {
            archives.push(backup(&*s, dir.path(), &format!("during-{i}.tar")).await.0);
        }
        writer.await.unwrap();
        for path in archives {
            let mut series = std::collections::HashMap::new();
            let mut counted = std::collections::HashMap::new();
            let mut table = "";
            archive::read(&path, |item| {
                match item {
                    quantdesk_store::backup::Item::Table(t) => table = t.name,
                    quantdesk_store::backup::Item::Rows(rows) => {
                        for r in rows {
                            use quantdesk_store::backup::Value::Int;
                            match (table, &r[0], r.get(5)) {
                                ("series", Int(Some(id)), Some(Int(Some(n)))) => {
                                    series.insert(*id, *n);
                                }
                                ("bars", Int(Some(id)), _) => *counted.entry(*id).or_insert(0i64) += 1,
                                _ => {}
                            }
                        }
                    }
                }
                Ok(())
            })
            .unwrap();
            for (id, n) in &series {
                assert_eq!(counted.get(id).copied().unwrap_or(0), *n, "series {id} in {}", path.display());
            }
        }
    })
    .await;
}

#[tokio::test]
async fn scheduled_backups_are_recorded_and_pruned() {
    use quantdesk_store::backup::{backup_to_dir, retention};
    each_backend(|s| async move {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(s.last_backup().await.unwrap(), None);
        let day = |d: i64| chrono::DateTime::from_timestamp(1_763_776_800 + d * 86_400, 0).unwrap();
        // Ten older daily backups (their content does not matter to retention) and a foreign file.
        for d in 0..10 {
            std::fs::write(dir.path().join(retention::file_name(day(d))), b"old").unwrap();
        }
        std::fs::write(dir.path().join("notes.txt"), b"mine").unwrap();
        let now = day(10).timestamp_millis();
        let (path, written, deleted) = backup_to_dir(&*s, dir.path(), 3, 2, &info(now)).await.unwrap();
        assert_eq!(path, dir.path().join(retention::file_name(day(10))));
        assert_eq!(archive::verify(&path).unwrap(), written.manifest);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        // Days 8, 9, 10 (daily) and the newest of the week before (weekly); notes.txt stays.
        assert_eq!(left.len(), 11 - deleted.len() + 1);
        assert!(left.contains(&"notes.txt".to_string()));
        for d in [8, 9, 10] {
            assert!(left.contains(&retention::file_name(day(d))), "day {d} kept: {left:?}");
        }
        assert!(!left.contains(&retention::file_name(day(0))), "day 0 deleted: {left:?}");
        assert!(left.len() <= 3 + 2 + 1);
        let rec = s.last_backup().await.unwrap().unwrap();
        assert_eq!((rec.at, rec.sha256, rec.bytes as u64), (now, written.sha256, written.bytes));
    })
    .await;
}
