//! Pages rendered in-process: status, language, headers, partial updates, assets.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use quantdesk_server::{AppState, Config};
use tower::ServiceExt;

struct App {
    router: axum::Router,
    store: std::sync::Arc<dyn quantdesk_store::Store>,
    accounts: quantdesk_app::accounts::Accounts,
    /// An admin's session cookie; [`get`] sends it.
    cookie: String,
    _dir: tempfile::TempDir,
}

async fn app() -> App {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let store = quantdesk_store::open(&url, 4).await.unwrap();
    quantdesk_app::demo::load(&*store, "2026-11-20".parse().unwrap()).await.unwrap();
    let config = {
        let mut c = Config::default();
        c.mail.mailbox_dir = dir.path().join("mail").display().to_string();
        c
    };
    let state = AppState::new(store.clone(), config, quantdesk_server::ops::metrics_handle());
    let accounts = state.accounts().clone();
    let (user, _) = accounts
        .ensure_user("admin@test.example", "tulip-granite-41", quantdesk_store::auth::Role::Admin, true)
        .await
        .unwrap();
    let (id, _) = accounts.open_session(&user).await.unwrap();
    App { router: quantdesk_web::app(state), store, accounts, cookie: format!("qd_session={id}"), _dir: dir }
}

/// A job row as the store takes it: the default queue, one attempt, a minute's timeout.
fn new_job(owner: &str, kind: &str, params: &str) -> quantdesk_store::jobs::NewJob {
    quantdesk_store::jobs::NewJob {
        owner: owner.into(),
        kind: kind.into(),
        queue: "default".into(),
        params: params.into(),
        priority: 0,
        max_attempts: 1,
        timeout_ms: 60_000,
        run_at: None,
        idempotency_key: None,
    }
}

async fn get(app: &App, uri: &str, headers: &[(&str, &str)]) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut req = Request::get(uri);
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("cookie")) {
        req = req.header("cookie", app.cookie.as_str());
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = app.router.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
    let (status, h) = (res.status(), res.headers().clone());
    let body = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
    (status, h, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn home_redirects_to_the_index_chart() {
    let a = app().await;
    let (s, h, _) = get(&a, "/", &[]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(h[header::LOCATION], "/chart/000998.SH");
}

#[tokio::test]
async fn chart_page_in_both_languages_with_strict_headers() {
    let a = app().await;
    let (s, h, body) = get(&a, "/chart/000858.SZ?res=60&adj=qfq", &[("accept-language", "zh-CN,zh;q=0.9")]).await;
    assert_eq!(s, 200);
    assert!(body.contains(r#"<html lang="zh-CN""#));
    assert!(body.contains("图表") && body.contains("演示酒业"));
    assert!(body.contains(r#"data-res="60" aria-pressed="true""#), "the asked resolution is selected");
    assert!(body.contains(r#"<option value="qfq" selected>"#));
    // the regime layer's control, and its strings for the script in the JSON island
    assert!(body.contains(r#"id="regime-on""#) && body.contains("市场状态"));
    assert!(body.contains(r#""regimeNames3":["熊市","震荡","牛市"]"#), "the regime strings reach chart.js");
    // (the whole chart page names the chan.py rules; the regime control holds no English word)
    let panel = &body[body.find(r#"id="regime-panel""#).unwrap()..];
    let panel = &panel[panel.find('>').unwrap() + 1..panel.find(r#"<div class="replay-bar""#).unwrap()];
    let english = english_only_words();
    let words: Vec<String> = visible_text(panel)
        .split(|c: char| !c.is_ascii_alphabetic())
        .map(str::to_lowercase)
        .filter(|w| english.contains(w))
        .collect();
    assert!(words.is_empty(), "English words in the Chinese regime control: {words:?}");
    let csp = h[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && !csp.contains("script-src 'self' 'unsafe-inline'"));
    assert!(csp.contains("frame-ancestors 'none'"));
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    // no inline script: every <script> either loads a file or is a JSON data island
    for tag in body.split("<script").skip(1) {
        let open = &tag[..tag.find('>').unwrap()];
        assert!(open.contains("src=") || open.contains("application/json"), "inline script: <script{open}>");
    }
    let (_, _, en) = get(&a, "/chart/000858.SZ", &[("accept-language", "en-US,en;q=0.9")]).await;
    assert!(en.contains(r#"<html lang="en""#) && en.contains("Charts"));
    // the cookie wins over the header
    let both = format!("lang=zh-CN; {}", a.cookie);
    let (_, _, cookie) = get(&a, "/chart/000858.SZ", &[("accept-language", "en"), ("cookie", both.as_str())]).await;
    assert!(cookie.contains(r#"<html lang="zh-CN""#));
}

#[tokio::test]
async fn chart_page_has_the_chan_panel_and_replay_bar_in_both_languages() {
    let a = app().await;
    let (_, _, zh) = get(&a, "/chart/000858.SZ?res=60", &[("accept-language", "zh-CN")]).await;
    for label in ["缠论", "笔", "线段", "中枢", "分型", "买卖点", "高级别中枢", "回放", "退出回放", "步长（根）"]
    {
        assert!(zh.contains(label), "zh-CN chart page lacks {label}");
    }
    let (_, _, en) = get(&a, "/chart/000858.SZ?res=60", &[("accept-language", "en")]).await;
    for label in [
        "Chan",
        "Strokes",
        "Segments",
        "Pivots",
        "Fractals",
        "Buy/sell points",
        "Higher-level pivots",
        "Replay",
        "Exit replay",
    ] {
        assert!(en.contains(label), "en chart page lacks {label}");
    }
    for id in [
        r#"id="chan-on""#,
        r#"data-layer="strokes""#,
        r#"id="chan-profile""#,
        r#"id="replay-seek""#,
        r#"id="chan-info""#,
    ] {
        assert!(en.contains(id), "{id}");
    }
    // the scripts get their strings through the JSON island, in the page's language
    let island = |body: &str| {
        let start = body.find(r#"id="chart-config">"#).unwrap() + r#"id="chart-config">"#.len();
        let end = start + body[start..].find("</script>").unwrap();
        serde_json::from_str::<serde_json::Value>(&body[start..end]).unwrap()
    };
    assert_eq!(island(&zh)["strings"]["chanPivot"], "中枢");
    assert_eq!(island(&en)["strings"]["chanPivot"], "Pivot");
    assert_eq!(island(&en)["strings"]["replayPause"], "Pause");
    // the modules load from files under the versioned prefix
    assert!(en.contains(&quantdesk_web::assets::asset_url("chan.js")));
    let (s, _, js) = get(&a, &quantdesk_web::assets::asset_url("chan.js"), &[]).await;
    assert_eq!(s, 200);
    assert!(js.contains("/api/v1/chan/"));
    let (s, _, _) = get(&a, &quantdesk_web::assets::asset_url("replay.js"), &[]).await;
    assert_eq!(s, 200);
}

#[tokio::test]
async fn unknown_symbols_and_paths_are_readable_pages_for_people_and_json_for_programs() {
    let a = app().await;
    let (s, _, body) = get(&a, "/chart/NOPE.SH", &[("accept", "text/html")]).await;
    assert_eq!(s, 404);
    assert!(body.contains("no instrument with this symbol"), "{body}");
    let (s, _, body) = get(&a, "/no/such/page", &[("accept", "text/html")]).await;
    assert_eq!(s, 404);
    assert!(body.contains("There is no page at this address."));
    let (s, h, body) = get(&a, "/api/v1/nothing", &[("accept", "text/html")]).await;
    assert_eq!(s, 404);
    assert_eq!(h[header::CONTENT_TYPE], "application/json");
    assert!(body.contains("not_found"));
}

#[tokio::test]
async fn instruments_page_and_its_htmx_partial() {
    let a = app().await;
    let (s, _, full) = get(&a, "/instruments?q=ys&kind=stock", &[]).await;
    assert_eq!(s, 200);
    assert!(full.contains("<form id=\"instrument-filter\""));
    assert!(full.contains("/chart/600900.SH"));
    assert!(!full.contains("/chart/000998.SH"), "the index is filtered out by kind");
    // demo instruments were listed 400 days before the demo history starts
    let (_, _, none) = get(&a, "/instruments?listed_from=2030-01-01", &[("hx-request", "true")]).await;
    assert!(none.contains("0 results"), "{none}");
    let (_, _, all) = get(&a, "/instruments?listed_from=2000-01-01&listed_to=&page=1", &[("hx-request", "true")]).await;
    assert!(all.contains("7 results"));
    let (_, _, partial) = get(&a, "/instruments?q=ysdl", &[("hx-request", "true")]).await;
    assert!(!partial.contains("<html"), "htmx gets only the results");
    assert!(partial.contains("/chart/600900.SH") && partial.contains("1 results"));
}

#[tokio::test]
async fn language_switch_sets_a_cookie_and_refuses_open_redirects() {
    let a = app().await;
    let (s, h, _) = get(&a, "/lang/zh-CN?next=/instruments%3Fq%3Dys", &[]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(h[header::LOCATION], "/instruments?q=ys");
    assert!(h[header::SET_COOKIE].to_str().unwrap().starts_with("lang=zh-CN;"));
    let (_, h, _) = get(&a, "/lang/en?next=//evil.example/", &[]).await;
    assert_eq!(h[header::LOCATION], "/");
}

/// W5: an instrument name that would close a JSON island (`</script>`) or put the HTML parser in
/// its double-escaped state (`<!--<script>`) changes nothing else on any page that shows names.
#[tokio::test]
async fn hostile_instrument_names_stay_inside_their_element() {
    let a = app().await;
    let name = "</script><!--<script>x";
    let sym = quantdesk_core::Symbol::new("000858.SZ").unwrap();
    let mut inst = a.store.instrument(&sym).await.unwrap().unwrap();
    inst.name = name.into();
    a.store.upsert_instruments(&[inst]).await.unwrap();
    for uri in ["/chart/000858.SZ", "/instruments", "/instruments?q=000858", "/decisions", "/backtests"] {
        let en = format!("lang=en; {}", a.cookie);
        let (s, _, body) = get(&a, uri, &[("cookie", en.as_str())]).await;
        let (s2, _, body2) = get(&a, uri, &[("cookie", a.cookie.as_str()), ("accept-language", "zh-CN")]).await;
        assert_eq!((s, s2), (StatusCode::OK, StatusCode::OK), "{uri}");
        for body in [&body, &body2] {
            assert!(!body.contains("<!--<script"), "{uri}: the raw name reached the page");
            assert_eq!(body.matches("<script").count(), body.matches("</script>").count(), "{uri}: unbalanced scripts");
            assert!(body.trim_end().ends_with("</html>"), "{uri}: the page is whole");
            for island in body.split(r#"type="application/json""#).skip(1) {
                let json = &island[island.find('>').unwrap() + 1..island.find("</script>").unwrap()];
                let v: serde_json::Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{uri}: {e}: {json}"));
                if uri.starts_with("/chart") && v.get("name").is_some() {
                    assert_eq!(v["name"], name, "the island still holds the real name");
                }
            }
        }
        if uri.starts_with("/instruments") || uri.starts_with("/chart") {
            assert!(body.contains("&#60;/script&#62;&#60;!--&#60;script&#62;x"), "{uri}: the name is shown, escaped");
        }
    }
}

/// V4: `next` holding a tab (which browsers drop, making `/\t/host` a protocol-relative
/// `//host`) or CR/LF is a 400 on every redirecting page, never a redirect and never a 500; a
/// `next` to another origin becomes a local default.
#[tokio::test]
async fn next_parameters_never_leave_the_site() {
    let a = app().await;
    let anon = [("cookie", "lang=en")];
    for uri in [
        "/lang/en?next=/%09/127.0.0.1:18182/landed",
        "/lang/en?next=/%0d%0aSet-Cookie:%20x=1",
        "/login?next=/%09/127.0.0.1:18182/landed",
        "/login?next=/x%0aLocation:%20//evil",
    ] {
        let (s, h, body) = get(&a, uri, &anon).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{uri}");
        assert!(h.get(header::LOCATION).is_none(), "{uri}");
        assert!(body.contains("control characters"), "{uri}: {body}");
        // signed in, GET /login redirects to `next`: the same refusal
        let (s, h, _) = get(&a, uri, &[]).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{uri} signed in");
        assert!(h.get(header::LOCATION).is_none());
    }
    let (s, _, _) = post_form(
        &a,
        "/login",
        "",
        "email=admin%40test.example&password=tulip-granite-41&next=%2F%09%2Fevil.example%2F",
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "POST /login with a tab in next");
    for (uri, to) in [
        ("/lang/en?next=/%5C/evil.example", "/"),
        ("/lang/en?next=%5C%5Cevil.example", "/"),
        ("/lang/en?next=https://evil.example/", "/"),
        ("/lang/en?next=/%2F/evil.example", "/"),
        ("/login?next=//evil.example", "/chart"),
    ] {
        let (s, h, _) = get(&a, uri, &[]).await;
        assert_eq!((s, h[header::LOCATION].to_str().unwrap()), (StatusCode::SEE_OTHER, to), "{uri}");
    }
}

#[tokio::test]
async fn assets_are_versioned_and_cached_for_a_year() {
    let a = app().await;
    let url = quantdesk_web::assets::asset_url(
        "vendor/lightweight-charts-5.2.1/lightweight-charts.standalone.production.mjs",
    );
    let (s, h, body) = get(&a, &url, &[]).await;
    assert_eq!(s, 200);
    assert_eq!(h[header::CACHE_CONTROL], "public, max-age=31536000, immutable");
    assert_eq!(h[header::CONTENT_TYPE], "text/javascript");
    assert!(body.contains("TradingView Lightweight Charts"), "the licence header is kept");
    let (_, h, _) = get(&a, "/assets/0000/app.css", &[]).await;
    assert_eq!(h[header::CACHE_CONTROL], "no-cache", "an old version is served but not cached");
    let (s, _, _) = get(&a, &quantdesk_web::assets::asset_url("nope.js"), &[]).await;
    assert_eq!(s, 404);
    // compressed when asked
    let (_, h, _) = get(&a, &url, &[("accept-encoding", "gzip")]).await;
    assert_eq!(h[header::CONTENT_ENCODING], "gzip");
}

#[tokio::test]
async fn jobs_pages_list_and_show_jobs() {
    let a = app().await;
    let (s, _, body) = get(&a, "/jobs", &[]).await;
    assert_eq!(s, 200);
    assert!(body.contains("No jobs yet"), "{body}");
    let (s, _, body) = get(&a, "/jobs/12345", &[("accept", "text/html")]).await;
    assert_eq!(s, 404);
    assert!(body.contains("There is no job with this number."));
    for tag in body.split('<').skip(1) {
        let open = &tag[..tag.find('>').unwrap_or(tag.len())];
        assert!(!open.contains(" on"), "no inline event handlers: <{open}>");
    }
}

/// The jobs page carries a form for a new schedule: the submittable kinds in the page's language,
/// Asia/Shanghai by default; coming back with `?saved=NAME` names the saved schedule (issue 21,
/// item 17).
#[tokio::test]
async fn the_jobs_page_has_a_schedule_form_in_both_languages() {
    let a = app().await;
    let (s, _, en) = get(&a, "/jobs", &[("accept-language", "en")]).await;
    assert_eq!(s, 200);
    let form = en.split(r#"<form id="schedule-form""#).nth(1).expect("a schedule form");
    let form = &form[..form.find("</form>").unwrap()];
    for field in ["name", "cron", "timezone", "kind", "params", "catch_up"] {
        assert!(form.contains(&format!(r#"name="{field}""#)), "field {field}: {form}");
    }
    assert!(form.contains(r#"name="timezone" value="Asia/Shanghai""#));
    let kinds: Vec<&str> = form.split(r#"<option value=""#).skip(1).map(|o| &o[..o.find('"').unwrap()]).collect();
    let submittable: Vec<&str> = quantdesk_app::jobs::JobKind::SUBMITTABLE.iter().map(|k| k.as_str()).collect();
    assert_eq!(kinds, submittable, "exactly the kinds a schedule may enqueue");
    assert!(!form.contains(r#"value="backup""#));
    assert!(form.contains("New schedule") && form.contains("Save schedule"));
    let (_, _, zh) = get(&a, "/jobs", &[("accept-language", "zh-CN")]).await;
    let form = zh.split(r#"<form id="schedule-form""#).nth(1).unwrap();
    let form = &form[..form.find("</form>").unwrap()];
    assert!(
        form.contains("新建定时任务") && form.contains("保存定时任务") && form.contains(">数据同步</option>"),
        "{form}"
    );
    assert!(!form.contains("Save schedule"));
    // The form's script posts to the schedules API and shows the API's reason when refused.
    let (_, _, js) = get(&a, &quantdesk_web::assets::asset_url("jobs.js"), &[]).await;
    assert!(js.contains("/api/v1/schedules/") && js.contains("error.message"));
    // Back from saving: the notice names a schedule that exists, and nothing else.
    let (_, _, none) = get(&a, "/jobs?saved=nope", &[("accept-language", "en")]).await;
    assert!(!none.contains(r#"id="schedule-saved""#));
    let (s, v) = api_json(
        &a,
        "PUT",
        "/api/v1/schedules/evening",
        &csrf_of(&en),
        serde_json::json!({"cron": "0 17 * * 1-5", "kind": "echo"}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (_, _, back) = get(&a, "/jobs?saved=evening", &[("accept-language", "en")]).await;
    assert!(back.contains(r#"id="schedule-saved""#) && back.contains("<code>evening</code>"), "{back}");
    assert!(back.contains(r#"data-schedule="evening""#));
}

/// The session's CSRF token from a page's `<meta name="csrf-token">`.
fn csrf_of(html: &str) -> String {
    let after = html.split(r#"<meta name="csrf-token" content=""#).nth(1).expect("a CSRF meta tag");
    after[..after.find('"').unwrap()].to_string()
}

/// Times on the pages are exchange time (Asia/Shanghai, UTC+8), labelled; the API stays UTC
/// (issue 21, item 16).
#[tokio::test]
async fn pages_show_times_in_shanghai_time_labelled_and_the_api_in_utc() {
    let a = app().await;
    // 2026-12-06 07:04:05 UTC is 15:04:05 in Shanghai; 23:30 UTC is already the next day there.
    let created = chrono::DateTime::parse_from_rfc3339("2026-12-06T07:04:05Z").unwrap().timestamp_millis();
    let logged = chrono::DateTime::parse_from_rfc3339("2026-12-06T23:30:00Z").unwrap().timestamp_millis();
    let job = |kind: &str, params: &str| new_job("t", kind, params);
    let (id, _) = a.store.enqueue(&job("echo", "{}"), created).await.unwrap();
    let (bt, _) =
        a.store.enqueue(&job("backtest", r#"{"symbols":["600519.SH"],"strategy":"macd"}"#), created).await.unwrap();
    a.store.append_log(id, logged, "a line").await.unwrap();
    a.store
        .upsert_schedule(&quantdesk_store::jobs::Schedule {
            id: 0,
            owner: "t".into(),
            name: "evening".into(),
            cron: "0 17 * * *".into(),
            timezone: "Asia/Shanghai".into(),
            kind: "echo".into(),
            params: "{}".into(),
            enabled: true,
            catch_up: false,
            last_fire: Some(logged),
            created_at: created,
        })
        .await
        .unwrap();
    let en = [("accept-language", "en")];
    let (_, _, list) = get(&a, "/jobs", &en).await;
    let row = list.split(&format!(r#"data-job="{id}""#)).nth(1).unwrap();
    let row = &row[..row.find("</tr>").unwrap()];
    assert!(row.contains("<td>2026-12-06 15:04:05 CST</td>"), "{row}");
    assert!(!list.contains("UTC"), "no time is shown in UTC");
    let sched = list.split(r#"data-schedule="evening""#).nth(1).unwrap();
    assert!(sched[..sched.find("</tr>").unwrap()].contains("2026-12-07 07:30:00 CST"), "{sched}");
    let (_, _, page) = get(&a, &format!("/jobs/{id}"), &en).await;
    assert!(page.contains("<td>2026-12-06 15:04:05 CST</td>"), "{page}");
    assert!(page.contains("2026-12-07 07:30:00 CST  a line"), "the log in Shanghai time too: {page}");
    let (_, _, runs) = get(&a, "/backtests", &en).await;
    assert!(runs.contains("<td>2026-12-06 15:04:05 CST</td>"), "{runs}");
    let (_, _, zh) = get(&a, "/jobs", &[("accept-language", "zh-CN")]).await;
    assert!(zh.contains("<td>2026-12-06 15:04:05 北京时间</td>"), "{zh}");
    // The account pages' key, user and audit tables (their rows are stamped now): the same.
    let (_, _, settings) = get(&a, "/settings", &en).await;
    let (s, _, _) =
        post_form(&a, "/settings/keys", &a.cookie, &format!("csrf={}&name=ci&read=1&days=30", csrf_of(&settings)))
            .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    for path in ["/settings", "/admin"] {
        let (_, _, body) = get(&a, path, &en).await;
        assert!(body.contains(" CST</td>") && !body.contains("UTC"), "{path}: {body}");
    }
    // The API answers in UTC.
    let (_, _, api) = get(&a, &format!("/api/v1/jobs/{bt}"), &[]).await;
    let v: serde_json::Value = serde_json::from_str(&api).unwrap();
    assert_eq!(v["job"]["created_at"].as_str().or(v["created_at"].as_str()).unwrap(), "2026-12-06T07:04:05Z", "{v}");
}

#[tokio::test]
async fn backtest_pages_list_runs_and_refuse_other_job_kinds() {
    let a = app().await;
    let job = |kind: &str, params: &str| new_job("t", kind, params);
    let (bt, _) = a
        .store
        .enqueue(
            &job(
                "backtest",
                r#"{"symbols":["600519.SH","000001.SZ"],"strategy":"macd","adjustment":"hfq","resolution":"60"}"#,
            ),
            0,
        )
        .await
        .unwrap();
    let (echo, _) = a.store.enqueue(&job("echo", "{}"), 0).await.unwrap();
    let (s, _, body) = get(&a, "/backtests", &[("accept-language", "en")]).await;
    assert_eq!(s, 200);
    assert!(body.contains(&format!(r#"<a href="/backtests/{bt}">"#)), "{body}");
    assert!(body.contains("600519.SH, 000001.SZ") && body.contains("<td>MACD</td>"));
    assert!(!body.contains(&format!("/backtests/{echo}\"")), "only backtest jobs are listed");
    let (s, _, body) = get(&a, &format!("/backtests/{bt}"), &[]).await;
    assert_eq!(s, 200);
    assert!(body.contains("application/json"), "the page carries its strings as a JSON island");
    // the link to the chart takes the run's resolution and adjustment (issue 21, item 15)
    assert!(body.contains(r#""adjustment":"hfq""#) && body.contains(r#""resolution":"60""#), "{body}");
    let (s, _, _) = get(&a, &format!("/backtests/{echo}"), &[("accept", "text/html")]).await;
    assert_eq!(s, 404);
}

async fn post_form(app: &App, uri: &str, cookie: &str, body: &str) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut req =
        Request::post(uri).header("content-type", "application/x-www-form-urlencoded").header("accept", "text/html");
    if !cookie.is_empty() {
        req = req.header("cookie", cookie);
    }
    let res = app.router.clone().oneshot(req.body(Body::from(body.to_string())).unwrap()).await.unwrap();
    let (status, h) = (res.status(), res.headers().clone());
    let body = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
    (status, h, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn sign_in_forms_keys_and_the_admin_page() {
    let a = app().await;
    // Signed out, a page sends people to the sign-in form and back.
    let (s, h, _) = get(&a, "/jobs?state=failed", &[("cookie", "lang=en"), ("accept", "text/html")]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert_eq!(h[header::LOCATION], "/login?next=/jobs%3Fstate%3Dfailed");
    let (s, _, body) = get(&a, "/login?next=/jobs", &[("cookie", "lang=en")]).await;
    assert_eq!(s, StatusCode::OK);
    assert!(body.contains(r#"name="next" value="/jobs""#), "{body}");
    let (s, _, body) =
        post_form(&a, "/login", "", "email=admin%40test.example&password=wrong-password-1&next=%2Fjobs").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert!(body.contains("The e-mail address or the password is wrong."));
    let (s, h, _) =
        post_form(&a, "/login", "", "email=admin%40test.example&password=tulip-granite-41&next=%2Fjobs").await;
    assert_eq!((s, h[header::LOCATION].to_str().unwrap()), (StatusCode::SEE_OTHER, "/jobs"));
    let cookie = h[header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_string();
    let (_, _, page) = get(&a, "/settings", &[("cookie", cookie.as_str())]).await;
    let csrf = page.split(r#"name="csrf" value=""#).nth(1).unwrap().split('"').next().unwrap().to_string();
    assert_eq!(csrf.len(), 64);

    // A wrong current password says so, not that the e-mail address might be wrong (issue 21, 8).
    let (s, _, page) = post_form(
        &a,
        "/settings/password",
        &cookie,
        &format!("csrf={csrf}&current_password=not-my-password-1&new_password=another-granite-77"),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains("The current password is wrong."), "{page}");
    assert!(!page.contains("The e-mail address or the password is wrong."));

    // A form without its CSRF token is refused; with it, the key's token is shown once.
    let (s, _, _) = post_form(&a, "/settings/keys", &cookie, "name=ci&read=1&days=30").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Post/redirect/get (issue 21, item 7): the POST redirects, carrying the token in a short
    // cookie scoped to /settings; the GET shows it once with a copy button and clears the cookie,
    // so a reload neither creates a second key nor shows the token again.
    let (s, h, _) =
        post_form(&a, "/settings/keys", &cookie, &format!("csrf={csrf}&name=ci&read=1&jobs=1&days=30")).await;
    assert_eq!((s, h[header::LOCATION].to_str().unwrap()), (StatusCode::SEE_OTHER, "/settings?done=key"));
    let flash = h[header::SET_COOKIE].to_str().unwrap().to_string();
    assert!(flash.contains("Path=/settings") && flash.contains("HttpOnly") && flash.contains("Max-Age=120"), "{flash}");
    let flash = flash.split(';').next().unwrap().to_string();
    let both = format!("{cookie}; {flash}");
    let (s, h, page) = get(&a, "/settings?done=key", &[("cookie", both.as_str())]).await;
    assert_eq!(s, StatusCode::OK);
    assert!(h[header::SET_COOKIE].to_str().unwrap().contains("qd_new_key=; Path=/settings"), "cleared");
    assert_eq!(h[header::CACHE_CONTROL], "no-store");
    let token = page.split(r#"<code id="new-token">"#).nth(1).unwrap().split('<').next().unwrap().to_string();
    assert!(token.starts_with("qd_"), "{token}");
    assert!(page.contains(r#"id="copy-token""#), "a copy button");
    let (_, _, again) = get(&a, "/settings?done=key", &[("cookie", cookie.as_str())]).await;
    assert!(!again.contains(&token), "shown once");
    assert!(again.contains("read, jobs"));
    let keys = a.store.api_keys(None).await.unwrap();
    assert_eq!(keys.iter().filter(|k| k.name == "ci").count(), 1, "one key for one form");

    // The admin page lists users and the audit log; a viewer may not open it.
    let (s, _, admin) = get(&a, "/admin", &[("cookie", cookie.as_str()), ("accept-language", "en")]).await;
    assert_eq!(s, StatusCode::OK);
    assert!(admin.contains("admin@test.example") && admin.contains("key_created") && admin.contains(">login<"));
    a.accounts
        .ensure_user("v@test.example", "tulip-granite-41", quantdesk_store::auth::Role::Viewer, true)
        .await
        .unwrap();
    let (_, h, _) = post_form(&a, "/login", "", "email=v%40test.example&password=tulip-granite-41").await;
    let viewer = h[header::SET_COOKIE].to_str().unwrap().split(';').next().unwrap().to_string();
    let (s, _, _) = get(&a, "/admin", &[("cookie", viewer.as_str())]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    // Signing out ends the session.
    let (s, _, _) = post_form(&a, "/logout", &cookie, &format!("csrf={csrf}")).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let (s, _, _) = get(&a, "/settings", &[("cookie", cookie.as_str()), ("accept", "text/html")]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn finished_runs_compare_side_by_side() {
    let a = app().await;
    let job = |owner: &str| {
        new_job(owner, "backtest", r#"{"symbols":["600519.SH"],"strategy":"sma_cross","params":{"fast":5,"slow":20}}"#)
    };
    // Three finished runs with different Sharpe ratios (one of another user), and one still queued.
    let mut ids = Vec::new();
    for (owner, sharpe) in [("", 0.5), ("", 1.25), ("someone-else", 9.0)] {
        let (id, _) = a.store.enqueue(&job(owner), 0).await.unwrap();
        let claimed = a.store.claim("w", &["default".to_string()], 1, 60_000, None).await.unwrap().unwrap();
        assert_eq!(claimed.id, id);
        // A result in the shape the `backtest` job stores (quantdesk_app::jobs::BacktestOutcome).
        let metrics = quantdesk_backtest::Metrics {
            sharpe,
            total_return: 0.1,
            trades: 3,
            ..quantdesk_backtest::Metrics::zeroed()
        };
        let result = serde_json::json!({"final_equity": 100000, "metrics": metrics, "trades": 3,
            "data_fingerprint": "0", "engine_version": "test"})
        .to_string();
        a.store.finish(id, "w", &quantdesk_store::jobs::Outcome::Succeeded(result), 2).await.unwrap();
        ids.push(id);
    }
    let (queued, _) = a.store.enqueue(&job(""), 0).await.unwrap();
    let (s, _, list) = get(&a, "/backtests", &[("accept-language", "en")]).await;
    assert_eq!(s, 200);
    assert!(list.contains(&format!(r#"name="ids" value="{}""#, ids[0])), "finished runs can be picked");
    assert!(!list.contains(&format!(r#"name="ids" value="{queued}""#)), "a queued run cannot");
    assert!(list.contains(r#"action="/backtests/compare""#) && list.contains("Compare selected"));

    let uri = format!("/backtests/compare?ids={}&ids={},{},{queued}", ids[0], ids[1], ids[2]);
    let (s, _, body) = get(&a, &uri, &[("accept-language", "en")]).await;
    assert_eq!(s, 200, "{body}");
    // An admin sees every user's runs (others' are left out for everyone else, as on every
    // page: `ReqLang::sees`); the queued run is not a result yet.
    assert!(body.contains(&format!(r#"data-ids="{},{},{}""#, ids[0], ids[1], ids[2])), "finished runs only: {body}");
    assert!(body.contains("<td class=\"best\">9.000</td>"), "the best Sharpe is marked: {body}");
    assert!(body.contains("<td>0.500</td>") && body.contains("<td>1.250</td>"));
    assert!(body.contains("SMA crossover") && body.contains("fast=5 slow=20"));
    assert!(body.contains(r#"src="/assets/"#) && body.contains("compare.js"));
    // every metric label in the reader's language
    for label in ["CAGR %", "Sharpe", "Sortino", "Calmar", "Volatility %", "Profit factor", "Exposure %"] {
        assert!(body.contains(&format!(r#"<th scope="row">{label}</th>"#)), "{label}");
    }
    let (_, _, zh) = get(&a, &uri, &[("accept-language", "zh-CN")]).await;
    for label in ["年化收益率 %", "夏普比率", "索提诺比率", "卡玛比率", "年化波动率 %", "盈亏比", "持仓占比 %"]
    {
        assert!(zh.contains(label), "{label} in Chinese");
    }
    for english in ["Sharpe", "Sortino", "Calmar", "Profit factor", "CAGR", "Volatility", "Exposure"] {
        assert!(!zh.contains(&format!(">{english}")), "{english} left in English on the Chinese page");
    }

    let (s, _, body) = get(&a, &format!("/backtests/compare?ids={}", ids[0]), &[("accept-language", "en")]).await;
    assert_eq!(s, 200);
    assert!(body.contains("Pick two to six"), "one run is not a comparison");
}

#[tokio::test]
async fn decisions_show_the_latest_per_symbol_and_the_history() {
    let a = app().await;
    let (s, _, body) = get(&a, "/decisions", &[("accept-language", "en")]).await;
    assert_eq!(s, 200);
    assert!(body.contains("No decisions yet"), "{body}");
    // Two runs of the voting engine, in the shape the `decide` job stores; the newer one last.
    let run = |action: &str, score: f64| {
        format!(
            r#"{{"decisions": [{{"symbol": "000858.SZ", "date": "2026-11-20", "risk_level": "medium",
                 "decision": {{"action": "{action}", "score": {score}, "votes": [
                   {{"model": "ma_cross", "action": "{action}", "confidence": 0.8}},
                   {{"model": "rsi", "action": "HOLD", "confidence": 0.5}}]}}}}]}}"#
        )
    };
    for (action, score) in [("SELL", 0.6), ("BUY", 0.75)] {
        let job = new_job("", "decide", r#"{"symbols": ["000858.SZ"]}"#);
        let (id, _) = a.store.enqueue(&job, 0).await.unwrap();
        a.store.claim("w", &["default".to_string()], 1, 60_000, None).await.unwrap().unwrap();
        let outcome = quantdesk_store::jobs::Outcome::Succeeded(run(action, score));
        a.store.finish(id, "w", &outcome, 2).await.unwrap();
    }
    let (s, _, body) = get(&a, "/decisions", &[("accept-language", "en")]).await;
    assert_eq!(s, 200);
    let latest = &body[body.find("<h1>").unwrap()..body.find("History").unwrap()];
    assert!(latest.contains(r#"<td class="up"><strong>BUY</strong></td>"#), "the newest run wins: {latest}");
    assert!(!latest.contains("SELL"));
    assert!(
        latest.contains("ma_cross: BUY 0.80; rsi: HOLD 0.50") && latest.contains("0.75") && latest.contains("medium")
    );
    let history = &body[body.find("History").unwrap()..];
    assert!(history.contains(r#"<td class="down">SELL</td>"#) && history.contains(r#"<td class="up">BUY</td>"#));
    assert!(body.contains(r#"aria-current="page">Decisions"#));
    let (_, _, zh) = get(&a, "/decisions", &[("accept-language", "zh-CN")]).await;
    assert!(zh.contains("今日决策") && zh.contains("立即决策"));
}

#[tokio::test]
async fn sweep_pages_exist_for_finished_sweeps_only() {
    let a = app().await;
    let job =
        |kind: &str| new_job("", kind, r#"{"symbols": ["000858.SZ"], "grid": ["fast=5,7"], "metric": "sortino"}"#);
    let (queued, _) = a.store.enqueue(&job("sweep"), 0).await.unwrap();
    let (s, _, _) = get(&a, &format!("/sweeps/{queued}"), &[("accept", "text/html")]).await;
    assert_eq!(s, 404, "not finished: nothing to show yet");
    a.store.claim("w", &["default".to_string()], 1, 60_000, None).await.unwrap().unwrap();
    a.store.finish(queued, "w", &quantdesk_store::jobs::Outcome::Succeeded("{}".into()), 2).await.unwrap();
    let (s, _, body) = get(&a, &format!("/sweeps/{queued}"), &[("accept-language", "en")]).await;
    assert_eq!(s, 200);
    assert!(body.contains(r#"data-metric="sortino""#) && body.contains("sweep.js") && body.contains("Heat map"));
    let (_, _, job_page) = get(&a, &format!("/jobs/{queued}"), &[("accept-language", "en")]).await;
    assert!(job_page.contains(&format!(r#"href="/sweeps/{queued}""#)), "the job page links its results");
    let (echo, _) = a.store.enqueue(&job("echo"), 0).await.unwrap();
    let (s, _, _) = get(&a, &format!("/sweeps/{echo}"), &[("accept", "text/html")]).await;
    assert_eq!(s, 404);
}

/// A job of `kind` with `params` that has succeeded with `result`; its id.
async fn succeeded_job(a: &App, kind: &str, params: &str, result: String) -> i64 {
    let (id, _) = a.store.enqueue(&new_job("", kind, params), 0).await.unwrap();
    let claimed = a.store.claim("w", &["default".to_string()], 1, 60_000, None).await.unwrap().unwrap();
    assert_eq!(claimed.id, id);
    a.store.finish(id, "w", &quantdesk_store::jobs::Outcome::Succeeded(result), 2).await.unwrap();
    id
}

/// The demo's daily qfq bars of `symbol`, read as the jobs read them.
async fn demo_series(a: &App, symbol: &str) -> quantdesk_backtest::Series {
    let source = quantdesk_app::market::BarSource { store: &*a.store, blocks: None };
    let req = quantdesk_app::market::BarRequest {
        resolution: quantdesk_core::Resolution::Day,
        adjustment: quantdesk_core::Adjustment::Qfq,
        from: i64::MIN,
        to: i64::MAX,
        countback: None,
    };
    quantdesk_app::market::stored_series(source, symbol, &req, false, true).await.unwrap()
}

/// A finished backtest of sma_cross 5/20 on the demo's 000858.SZ with its split by regime, as
/// the `backtest` job stores it; its id and the split.
async fn backtest_with_split(a: &App) -> (i64, quantdesk_app::regimes::RegimeSplit) {
    let series = demo_series(a, "000858.SZ").await;
    let params: quantdesk_backtest::strategy::Params = serde_json::from_str(r#"{"fast":5,"slow":20}"#).unwrap();
    let run =
        quantdesk_backtest::backtest(&Default::default(), std::slice::from_ref(&series), "sma_cross", &params).unwrap();
    let split =
        quantdesk_app::regimes::backtest_split(std::slice::from_ref(&series), &run.equity_curve, 252.0).unwrap();
    let outcome = quantdesk_app::jobs::BacktestOutcome {
        final_equity: run.final_equity,
        metrics: run.metrics.clone(),
        trades: run.trades.len(),
        data_fingerprint: run.data_fingerprint.clone(),
        engine_version: run.engine_version.clone(),
        regimes: Some(split.clone()),
    };
    let params = r#"{"symbols":["000858.SZ"],"strategy":"sma_cross","params":{"fast":5,"slow":20}}"#;
    (succeeded_job(a, "backtest", params, serde_json::to_string(&outcome).unwrap()).await, split)
}

/// A finished dynamics test of sma_cross 5/20 on every state of the demo's 000858.SZ, as the
/// `dynamics_test` job stores it; its id and result.
async fn dynamics_job(a: &App) -> (i64, quantdesk_app::regimes::DynamicsTestJobResult) {
    use quantdesk_app::regimes;
    let series = demo_series(a, "000858.SZ").await;
    let params: quantdesk_backtest::strategy::Params = serde_json::from_str(r#"{"fast":5,"slow":20}"#).unwrap();
    let agent = regimes::Agent::parse("sma_cross", params).unwrap();
    let answer = regimes::dynamics_test(
        &series,
        regimes::KeyIndicator::Adjcp,
        &regimes::RegimeOptions::default(),
        regimes::LabelChoice::All,
        &agent,
    )
    .unwrap();
    let result = regimes::DynamicsTestJobResult::from(&answer);
    let params = r#"{"symbol":"000858.SZ","agent":"sma_cross","params":{"fast":5,"slow":20}}"#;
    (succeeded_job(a, "dynamics_test", params, serde_json::to_string(&result).unwrap()).await, result)
}

/// Issue 17: the backtest page splits a finished run by regime beside the whole period's
/// metrics, says the labels are ex-post, says why when there is no split, and offers the
/// dynamics test of the run's strategy.
#[tokio::test]
async fn backtest_page_splits_the_run_by_regime_and_offers_the_dynamics_test() {
    use quantdesk_backtest::metrics::shown;
    let a = app().await;
    let (id, split) = backtest_with_split(&a).await;
    let figures = split.figures.as_ref().expect("the demo's bars can be labeled");
    assert_eq!(figures.rows.len(), 3);
    let (s, _, en) = get(&a, &format!("/backtests/{id}"), &[("accept-language", "en")]).await;
    assert_eq!(s, 200);
    let section = &en[en.find(r#"id="bt-regimes""#).expect("the split section")..];
    let section = &section[..section.find("</section>").unwrap()];
    assert!(
        section.contains("By market regime") && section.contains("Ex-post labels") && section.contains("000858.SZ")
    );
    assert!(section.contains("Whole period") && section.contains("Bear") && section.contains("Sideways"));
    // Each state's row holds the app layer's figures, formatted.
    let pct = |x: Option<f64>| x.map_or("—".to_string(), |v| shown(v * 100.0, 2));
    for row in &figures.rows {
        let cells = table_row(section, "bt-regimes-table", &row.label.to_string());
        assert_eq!(cells[0], row.bars.to_string(), "{row:?}: {cells:?}");
        assert_eq!(cells[1], pct(row.total_return), "{row:?}: {cells:?}");
        assert_eq!(cells[2], row.sharpe.map_or("—".to_string(), |v| shown(v, 3)), "{row:?}: {cells:?}");
        assert_eq!(cells[3], pct(row.max_drawdown), "{row:?}: {cells:?}");
    }
    // The whole period's row beside them: every bar, the run's own metrics.
    let whole = table_row(section, "bt-regimes-table", "all");
    let bars: usize = figures.rows.iter().map(|r| r.bars).sum::<usize>() + figures.unlabeled_bars;
    assert_eq!(whole[0], bars.to_string());
    assert!(bars > 100, "the demo run has {bars} bars");
    // The dynamics test of the run's strategy, parameters and symbol.
    assert!(en.contains(r#"id="bt-dynamics""#) && en.contains("Run the dynamics test"));
    assert!(en.contains(r#""dynamics":{"adjustment":"qfq","agent":"sma_cross","params":{"fast":5.0,"slow":20.0},"resolution":"1D","symbol":"000858.SZ"}"#), "{en}");
    let (_, _, zh) = get(&a, &format!("/backtests/{id}"), &[("accept-language", "zh-CN")]).await;
    assert!(
        zh.contains("分市场状态") && zh.contains("事后标注") && zh.contains("熊市") && zh.contains("运行分状态评测")
    );
    // The API's job result carries the split.
    let (_, _, api) = get(&a, &format!("/api/v1/jobs/{id}"), &[]).await;
    let v: serde_json::Value = serde_json::from_str(&api).unwrap();
    let rows = v["result"]["regimes"]["figures"]["rows"]
        .as_array()
        .or(v["job"]["result"]["regimes"]["figures"]["rows"].as_array());
    assert_eq!(rows.map(Vec::len), Some(3), "{v}");

    // A multi-symbol run whose bars could not be labeled says so; an older run says to rerun.
    let refused = quantdesk_app::regimes::RegimeSplit {
        symbol: "000858.SZ".into(),
        symbols: 2,
        filter: quantdesk_app::regimes::Filter::ZeroPhase,
        dynamics: 3,
        figures: None,
        refused: Some(quantdesk_app::regimes::Refusal { code: "too_few_bars".into(), message: "10 bars".into() }),
    };
    let metrics = quantdesk_backtest::Metrics::zeroed();
    let outcome = |regimes: Option<&quantdesk_app::regimes::RegimeSplit>| {
        serde_json::json!({"final_equity": 100000, "metrics": metrics, "trades": 0,
            "data_fingerprint": "0", "engine_version": "test", "regimes": regimes})
        .to_string()
    };
    let two = r#"{"symbols":["000858.SZ","600900.SH"],"strategy":"macd"}"#;
    let id = succeeded_job(&a, "backtest", two, outcome(Some(&refused))).await;
    let (s, _, body) = get(&a, &format!("/backtests/{id}"), &[("accept-language", "en")]).await;
    assert_eq!(s, 200);
    assert!(body.contains("too few bars to label") && body.contains("<code>too_few_bars</code>"), "{body}");
    assert!(body.contains("This run traded 2 symbols; the states are those of the first, 000858.SZ"));
    let id = succeeded_job(&a, "backtest", two, outcome(None)).await;
    let (_, _, body) = get(&a, &format!("/backtests/{id}"), &[("accept-language", "en")]).await;
    assert!(body.contains("run it again"), "{body}");
    // A run that has not finished has no split yet.
    let (queued, _) = a.store.enqueue(&new_job("", "backtest", two), 0).await.unwrap();
    let (s, _, body) = get(&a, &format!("/backtests/{queued}"), &[("accept-language", "en")]).await;
    assert!(s == 200 && !body.contains(r#"id="bt-regimes""#) && body.contains(r#""state":"queued""#));
}

/// Issue 17: a dynamics-test job as a page: per state the radar as inline SVG and TradeMaster's
/// metrics, scores and the textbook metrics as tables; progress while it runs; 404 for other kinds.
#[tokio::test]
async fn dynamics_page_shows_each_states_radar_and_tables() {
    use quantdesk_backtest::metrics::shown;
    let a = app().await;
    let (id, result) = dynamics_job(&a).await;
    let tested = result.labels.iter().find(|l| l.tables.is_some()).expect("a tested state");
    let tables = tested.tables.as_ref().unwrap();
    let (s, _, en) = get(&a, &format!("/dynamics/{id}"), &[("accept-language", "en")]).await;
    assert_eq!(s, 200);
    // (askama escapes the apostrophe)
    assert!(en.contains("TradeMaster&#39;s metrics") && en.contains("TradeMaster&#39;s scores"), "{en}");
    assert!(
        en.contains("Textbook metrics (not TradeMaster&#39;s)")
            && en.contains("Blind-Buy")
            && en.contains("Do-Nothing")
    );
    assert!(en.contains("Ex-post labels") && en.contains("SMA crossover"));
    let at = en.find(&format!(r#"data-label="{}""#, tested.label)).unwrap();
    let section = &en[at..];
    let section = &section[..section.find("</section>").unwrap()];
    assert_eq!(section.matches("<svg").count(), 1, "one radar per tested state");
    assert!(section.contains("Excess profit (") && section.contains(r#"fill="currentColor""#));
    let cells = table_row(section, &format!("dyn-{}-tm", tested.label), "tr");
    let cell = |x: Option<f64>| x.map_or("—".to_string(), |v| shown(v, 4));
    assert_eq!(cells[0], cell(tables.trademaster[1].agent), "{cells:?}");
    assert_eq!(cells[3], cell(tables.trademaster[1].sigma), "{cells:?}");
    let scores = table_row(section, &format!("dyn-{}-scores", tested.label), "profitability");
    assert_eq!(scores[0], cell(tables.scores[7].agent), "{scores:?}");
    assert!(!en.contains("<script>"), "no inline script");
    let (_, _, zh) = get(&a, &format!("/dynamics/{id}"), &[("accept-language", "zh-CN")]).await;
    assert!(
        zh.contains("TradeMaster 的指标")
            && zh.contains("超额收益")
            && zh.contains("盲目买入")
            && zh.contains("均线交叉")
    );
    // The job page links the radar page.
    let (_, _, job_page) = get(&a, &format!("/jobs/{id}"), &[("accept-language", "en")]).await;
    assert!(job_page.contains(&format!(r#"href="/dynamics/{id}""#)) && job_page.contains("Open the radar page"));
    // Not finished: progress, and the script that reloads the page.
    let params = r#"{"symbol":"000858.SZ"}"#;
    let (queued, _) = a.store.enqueue(&new_job("", "dynamics_test", params), 0).await.unwrap();
    let (s, _, body) = get(&a, &format!("/dynamics/{queued}"), &[("accept-language", "en")]).await;
    assert!(
        s == 200 && body.contains("dynamics.js") && body.contains(r#"id="dyn-progress""#) && !body.contains("<svg")
    );
    let (bt, _) = a.store.enqueue(&new_job("", "backtest", "{}"), 0).await.unwrap();
    let (s, _, _) = get(&a, &format!("/dynamics/{bt}"), &[("accept", "text/html")]).await;
    assert_eq!(s, 404);
}

/// A statement row of `symbol` for the data page's tests.
fn statement_row(symbol: &str, period: &str, ann: &str, revenue: f64) -> quantdesk_core::StatementRow {
    use quantdesk_core::financials::FieldValue;
    quantdesk_core::StatementRow {
        symbol: quantdesk_core::Symbol::new(symbol).unwrap(),
        statement: quantdesk_core::Statement::Income,
        period: period.parse().unwrap(),
        ann_date: Some(ann.parse().unwrap()),
        f_ann_date: Some(ann.parse().unwrap()),
        report_type: "1".into(),
        end_type: "4".into(),
        update_flag: "1".into(),
        fields: [
            ("total_revenue".to_string(), FieldValue::Number(revenue)),
            ("n_income_attr_p".to_string(), FieldValue::Number(revenue / 2.0)),
            ("comp_type".to_string(), FieldValue::Text("1".into())),
        ]
        .into_iter()
        .collect(),
    }
}

#[tokio::test]
async fn data_page_in_both_languages_lists_the_sources() {
    let a = app().await;
    let today = quantdesk_app::clock::today_shanghai();
    // 2024-05-01T00:00:00Z is 08:00 in Shanghai.
    a.store
        .record_source_calls(&quantdesk_store::financials::SourceCalls {
            source: "eastmoney".into(),
            day: today,
            calls: 7,
            last_success_ms: Some(1_714_521_600_000),
            last_error: Some((1_714_521_660_000, "timed out after 20 s".into())),
        })
        .await
        .unwrap();
    let (s, _, zh) = get(&a, "/data", &[("accept-language", "zh-CN")]).await;
    assert_eq!(s, StatusCode::OK);
    for label in ["数据源", "同步", "数据质量", "财务报表", "利润表", "资产负债表", "现金流量表", "未配置", "东方财富"]
    {
        assert!(zh.contains(label), "zh-CN data page lacks {label}");
    }
    assert!(zh.contains(r#"<a href="/data" aria-current="page">数据</a>"#), "the nav links the page");
    let (s, _, en) = get(&a, "/data", &[("accept-language", "en")]).await;
    assert_eq!(s, StatusCode::OK);
    for label in ["Sources", "Sync", "Quality", "Financial statements", "Balance sheet", "not configured"] {
        assert!(en.contains(label), "en data page lacks {label}");
    }
    // every source has a row; TuShare without a token is not configured, with the hint how to fix it
    let row = |body: &str, id: &str| {
        let start = body.find(&format!(r#"data-source="{id}""#)).unwrap_or_else(|| panic!("no row for {id}"));
        body[start..start + body[start..].find("</tr>").unwrap()].to_string()
    };
    assert!(row(&en, "tushare").contains("not configured"));
    assert!(row(&en, "tushare").contains(r#"data-configured="false""#));
    assert!(
        en.contains(r#"id="tushare-hint""#) && en.contains("QUANTDESK_TUSHARE_TOKEN") && en.contains("tushare_token")
    );
    let em = row(&en, "eastmoney");
    assert!(em.contains("#1 in fallback order") && em.contains("https://push2his.eastmoney.com"), "{em}");
    assert!(em.contains("<td>7</td>"), "calls today: {em}");
    assert!(
        em.contains("2024-05-01 08:00:00 CST") && em.contains("2024-05-01 08:01:00 CST · timed out after 20 s"),
        "Shanghai time, labelled: {em}"
    );
    assert!(row(&en, "yahoo").contains("#2 in fallback order"));
    assert!(row(&zh, "eastmoney").contains("备选顺序第 1"));
    // an admin may sync: the form is enabled
    assert!(!en.contains(r#"id="sync-no-scope""#) && !en.contains("<fieldset disabled>"));
    // no inline script; the strings reach the script through the island in the page's language
    for tag in en.split("<script").skip(1) {
        let open = &tag[..tag.find('>').unwrap()];
        assert!(open.contains("src=") || open.contains("application/json"), "inline script: <script{open}>");
    }
    let island = |body: &str| {
        let start = body.find(r#"id="data-config">"#).unwrap() + r#"id="data-config">"#.len();
        let end = start + body[start..].find("</script>").unwrap();
        serde_json::from_str::<serde_json::Value>(&body[start..end]).unwrap()
    };
    let (zi, ei) = (island(&zh), island(&en));
    assert_eq!(zi["kinds"]["gap"], "缺口");
    assert_eq!(zi["kinds"]["statement_missing"], "财报缺期");
    assert_eq!(ei["kinds"]["closed_day_bar"], "Bar on a closed day");
    assert_eq!(zi["fields"]["income"][0]["field"], "total_revenue");
    assert_eq!(zi["fields"]["income"][0]["label"], "营业总收入");
    assert_eq!(ei["fields"]["income"][0]["label"], "Total revenue");
    assert_eq!(zi["units"][0][1], "亿");
    assert!(ei["errors"]["invalid_symbol"].as_str().unwrap().contains("600519.SH"));
    assert!(en.contains(&quantdesk_web::assets::asset_url("data.js")));
    let (s, _, js) = get(&a, &quantdesk_web::assets::asset_url("data.js"), &[]).await;
    assert_eq!(s, 200);
    assert!(js.contains("/api/v1/sync") && js.contains("/api/v1/quality") && js.contains("/api/v1/financials/"));
    assert!(!js.contains("innerHTML"), "data goes in as text");
}

#[tokio::test]
async fn data_page_turns_the_sync_form_off_for_viewers() {
    let a = app().await;
    let (user, _) = a
        .accounts
        .ensure_user("viewer@test.example", "tulip-granite-41", quantdesk_store::auth::Role::Viewer, true)
        .await
        .unwrap();
    let (id, _) = a.accounts.open_session(&user).await.unwrap();
    let cookie = format!("lang=zh-CN; qd_session={id}");
    let (s, _, body) = get(&a, "/data", &[("cookie", cookie.as_str())]).await;
    assert_eq!(s, StatusCode::OK, "a viewer may read the page");
    assert!(body.contains(r#"id="sync-no-scope""#) && body.contains("分析师角色"));
    assert!(body.contains("<fieldset disabled>"));
    // and the API the form would call refuses them anyway, CSRF token and all
    let csrf = body.split(r#"<meta name="csrf-token" content=""#).nth(1).unwrap().split('"').next().unwrap();
    assert_eq!(csrf.len(), 64);
    let req = Request::post("/api/v1/sync")
        .header("cookie", cookie.as_str())
        .header("content-type", "application/json")
        .header("x-csrf-token", csrf)
        .body(Body::from(r#"{"what":"calendar"}"#))
        .unwrap();
    let res = a.router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let body = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["error"]["code"], "forbidden");
    assert!(v["error"]["message"].as_str().unwrap().contains("role (viewer)"), "the role, not the CSRF check: {v}");
}

#[tokio::test]
async fn stored_statements_reach_the_api_the_data_page_reads() {
    let a = app().await;
    a.store
        .write_statements(&[
            statement_row("600900.SH", "2023-12-31", "2024-03-28", 8.0e10),
            statement_row("600900.SH", "2024-06-30", "2024-08-20", 4.1e10),
        ])
        .await
        .unwrap();
    let (s, _, body) = get(&a, "/api/v1/financials/600900.SH?statement=income&period=annual", &[]).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["statement"], "income");
    let rows = v["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "annual only: {body}");
    assert_eq!(rows[0]["period"], "2023-12-31");
    assert_eq!(rows[0]["ann_date"], "2024-03-28");
    assert_eq!(rows[0]["revisions"], 1);
    assert_eq!(rows[0]["fields"]["total_revenue"], 8.0e10);
    let (_, _, body) = get(&a, "/api/v1/financials/600900.SH?statement=income&period=quarterly", &[]).await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["rows"].as_array().unwrap().len(), 2);
}

/// The fixtures folder; `None` (skip) only when the run does not require every test.
fn fixtures() -> Option<std::path::PathBuf> {
    match std::env::var("QUANTDESK_FIXTURES") {
        Ok(p) if !p.is_empty() => Some(std::path::PathBuf::from(p)),
        _ => {
            assert!(
                std::env::var_os("QUANTDESK_TEST_REQUIRE_ALL").is_none(),
                "QUANTDESK_FIXTURES is not set and QUANTDESK_TEST_REQUIRE_ALL forbids skipping"
            );
            eprintln!("skipped: QUANTDESK_FIXTURES is not set");
            None
        }
    }
}

#[tokio::test]
async fn valuation_page_shows_the_models_value_the_bridge_and_the_grid_in_both_languages() {
    let Some(fx) = fixtures() else { return };
    let a = app().await;
    quantdesk_app::financials::import_path(&*a.store, &fx.join("cn/financials/600519.SH"), None).await.unwrap();
    let request = quantdesk_valuation::Request { ts_code: Some("600519.SH".into()), ..Default::default() };
    let val = quantdesk_app::valuation::valuate(&*a.store, &request).await.unwrap();
    assert!(val.error.is_none(), "{:?}", val.error);
    let expected = quantdesk_web::pages::per_share(val.dcf.as_ref().unwrap().value_per_share.unwrap());

    let (s, h, zh) = get(&a, "/valuation/600519.SH", &[("accept-language", "zh-CN")]).await;
    assert_eq!(s, 200, "{zh}");
    assert!(h[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains("script-src 'self'"));
    assert!(zh.contains(r#"<html lang="zh-CN""#) && zh.contains("每股价值") && zh.contains("权益价值桥"));
    assert!(zh.contains(&format!(r#"id="value-per-share">{expected}<"#)), "value per share {expected}");
    assert!(zh.contains(r#"id="equity-bridge""#) && zh.contains("<rect"), "the waterfall");
    assert!(zh.contains(r#"id="sensitivity-table""#) && zh.contains("background-color: hsl("), "the heat map");
    assert!(
        zh.contains(r#"id="forecast-table""#) && zh.contains(r#"id="wacc-table""#) && zh.contains(r#"id="tv-table""#)
    );
    assert!(zh.contains(r#"aria-current="page">估值</a>"#), "the nav link is active");
    assert!(zh.contains(r#"id="price-chart">未存储 K 线<"#), "no bars stored for 600519.SH: the chart shows no price");
    let (_, _, en) = get(&a, "/valuation/600519.SH", &[("accept-language", "en")]).await;
    assert!(en.contains("Value per share") && en.contains("Equity bridge") && en.contains("Sensitivity"));
    assert!(en.contains(&format!(r#"id="value-per-share">{expected}<"#)));
    // A-share colours: up red, down green, by the sign of the upside.
    let class = if val.derived.upside.unwrap() > 0.0 { "vps up" } else { "vps down" };
    assert!(en.contains(class), "{class}");
    // No inline script.
    for tag in en.split("<script").skip(1) {
        let open = &tag[..tag.find('>').unwrap()];
        assert!(open.contains("src=") || open.contains("application/json"), "inline script: <script{open}>");
    }

    // A heat-map cell is a link to the page with its assumptions; following it values them.
    let href = en.split(r#"<td style="background-color"#).nth(1).unwrap();
    let href = href.split(r#"href=""#).nth(1).unwrap().split('"').next().unwrap().replace("&amp;", "&");
    assert!(href.starts_with("/valuation/600519.SH?") && href.contains("discount_rate="), "{href}");
    let (s, _, body) = get(&a, &href, &[]).await;
    assert_eq!(s, 200);
    assert!(body.contains(r#"id="value-per-share">"#));

    // Assumptions from the form change the answer; the historical ratios stand beside the drivers.
    let (_, _, perp) = get(&a, "/valuation/600519.SH?terminal_value_method=perpetual_growth&perpetual_growth_rate=0.02&forecast_years=7&discount_rate=0.09", &[]).await;
    assert!(perp.contains(r#"<option value="perpetual_growth" selected>"#));
    assert!(perp.contains("Year 7") && !perp.contains("Year 8"));
    let mut req = request.clone();
    req.terminal_value_method = Some(quantdesk_valuation::TerminalMethod::PerpetualGrowth);
    req.perpetual_growth_rate = Some(0.02);
    req.forecast_years = Some(7);
    req.discount_rate = Some(0.09);
    let v2 = quantdesk_app::valuation::valuate(&*a.store, &req).await.unwrap();
    let e2 = quantdesk_web::pages::per_share(v2.dcf.unwrap().value_per_share.unwrap());
    assert!(perp.contains(&format!(r#"id="value-per-share">{e2}<"#)), "{e2}");
    let hist = format!("historical: {:.2}%", val.historical_ratios.operating_margin_median.unwrap() * 100.0);
    assert!(en.contains(&hist), "{hist}");

    // Exports download the same tables.
    let (s, h, csv) = get(&a, "/valuation/600519.SH/export?format=csv", &[("accept-language", "en")]).await;
    assert_eq!(s, 200);
    assert!(h[header::CONTENT_DISPOSITION].to_str().unwrap().contains("attachment"));
    assert!(csv.contains(&format!("Value per share,{expected}")) && csv.contains("Sensitivity"), "{csv}");
    let (s, _, md) = get(&a, "/valuation/600519.SH/export?format=md", &[("accept-language", "en")]).await;
    assert_eq!(s, 200);
    assert!(md.contains(&format!("| Value per share | {expected} |")) && md.contains("## Forecast"), "{md}");
}

#[tokio::test]
async fn valuation_page_without_statements_says_how_to_get_them() {
    let a = app().await;
    let (s, _, body) = get(&a, "/valuation/000858.SZ", &[("accept-language", "en")]).await;
    assert_eq!(s, 200);
    assert!(body.contains("No statements stored"), "{body}");
    assert!(
        body.contains("quantdesk sync financials --symbol 000858.SZ")
            && body.contains("quantdesk import financials PATH")
    );
    let (_, _, zh) = get(&a, "/valuation/000858.SZ", &[("accept-language", "zh-CN")]).await;
    assert!(zh.contains("未存储财报") && zh.contains("quantdesk sync financials --symbol 000858.SZ"));
    // The index page: the form and the screener panel over the API.
    let (s, _, index) = get(&a, "/valuation", &[("accept-language", "en")]).await;
    assert_eq!(s, 200);
    assert!(index.contains(r#"id="screener-form""#) && index.contains("valuation.js"));
    let (_, _, js) = get(&a, &quantdesk_web::assets::asset_url("valuation.js"), &[]).await;
    assert!(js.contains("/api/v1/screener/stocks") && js.contains("textContent") && !js.contains("innerHTML"));
}

/// Issue 21, items 3 and 9: the backtest form has a field per declared parameter of every
/// strategy (with its default and range, in both languages), and the runs list shows each run's
/// parameters, "%" on returns and why a failed run failed.
#[tokio::test]
async fn the_backtest_form_has_declared_parameter_fields_and_the_list_says_why_a_run_failed() {
    let a = app().await;
    for (lang, label) in [("en", "Fast period"), ("zh-CN", "快线周期")] {
        let (s, _, body) = get(&a, "/backtests", &[("accept-language", lang)]).await;
        assert_eq!(s, 200);
        assert!(body.contains(label), "{lang}: {body}");
        for strategy in quantdesk_backtest::strategy::BUILT_IN {
            assert!(body.contains(&format!(r#"data-strategy="{strategy}""#)), "{strategy}");
            for p in quantdesk_backtest::strategy::parameters(strategy).unwrap() {
                let field = format!(
                    r#"data-param="{}" type="number" value="{}" min="{}" max="{}""#,
                    p.name, p.default, p.min, p.max
                );
                assert!(body.contains(&field), "{strategy}: {field}");
                assert!(body.contains(&format!(r#"data-error-for="params.{}""#, p.name)));
            }
        }
        assert!(!body.contains(r#"name="params""#), "no free-text k=v box any more");
    }
    let job =
        new_job("", "backtest", r#"{"symbols":["600519.SH"],"strategy":"sma_cross","params":{"fast":5,"slow":20}}"#);
    let (id, _) = a.store.enqueue(&job, 0).await.unwrap();
    a.store.claim("w", &["default".to_string()], 1, 60_000, None).await.unwrap().unwrap();
    let why = "no bars of 600519.SH from 2030-01-01; stored: 2020-01-02 to 2024-12-31";
    a.store
        .finish(id, "w", &quantdesk_store::jobs::Outcome::Failed { error: why.into(), retry_at: None }, 2)
        .await
        .unwrap();
    let (_, _, list) = get(&a, "/backtests", &[("accept-language", "en")]).await;
    assert!(list.contains("<td>fast=5 slow=20</td>"), "{list}");
    assert!(list.contains("Return %"), "{list}");
    assert!(list.contains(why), "the cause of the failure is shown: {list}");
}

/// Issue 21, item 13: what the extractors refuse (a job id that is not a number, a page number
/// below 1) is a readable page in the reader's language, not the library's plain-text words;
/// a page past the last goes to the last; the API keeps its JSON error.
#[tokio::test]
async fn unreadable_addresses_get_a_readable_page_and_the_api_its_json() {
    let a = app().await;
    for uri in
        ["/jobs/abc", "/backtests/abc", "/sweeps/x", "/dynamics/x", "/instruments?page=-1", "/instruments?page=abc"]
    {
        for (lang, title) in [("en", "This address cannot be read"), ("zh-CN", "无法识别此地址")] {
            let (s, h, body) = get(&a, uri, &[("accept-language", lang), ("accept", "text/html")]).await;
            assert_eq!(s, StatusCode::BAD_REQUEST, "{uri}");
            assert!(h[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"), "{uri}");
            assert!(
                body.contains(title) && !body.contains("Cannot parse") && !body.contains("deserialize"),
                "{uri}: {body}"
            );
        }
    }
    let (s, h, _) = get(&a, "/instruments?page=99999", &[]).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(h[header::LOCATION].to_str().unwrap().ends_with("page=1"), "{h:?}");
    let (s, h, body) = get(&a, "/api/v1/jobs/abc", &[("accept", "text/html")]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(h[header::CONTENT_TYPE].to_str().unwrap().starts_with("application/json"));
    assert!(body.contains(r#""code":"bad_request""#), "{body}");
}

/// The English words of the English catalogue that are not also words of the Chinese one
/// (product and vendor names, units and abbreviations the Chinese pages use as they are).
fn english_only_words() -> std::collections::BTreeSet<String> {
    use quantdesk_web::i18n::Lang;
    let words = |lang: Lang| -> std::collections::BTreeSet<String> {
        lang.catalogue()
            .iter()
            .flat_map(|s| {
                s.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).map(str::to_string).collect::<Vec<_>>()
            })
            .filter(|w| w.len() >= 4 && w.chars().all(|c| c.is_ascii_alphabetic()))
            .map(|w| w.to_lowercase())
            .collect()
    };
    let zh = words(Lang::ZhCn);
    words(Lang::En).into_iter().filter(|w| !zh.contains(w)).collect()
}

/// What a person reads on a page: the text between tags, outside scripts and styles.
fn visible_text(html: &str) -> String {
    let mut out = String::new();
    let mut rest = html;
    while let Some(i) = rest.find('<') {
        out.push_str(&rest[..i]);
        out.push(' ');
        rest = &rest[i..];
        // Code (identifiers, URLs, commands) is not prose.
        let skip_to =
            ["<script", "<style", "<code"].iter().find(|t| rest.starts_with(**t)).map(|t| format!("</{}", &t[1..]));
        let end = match skip_to {
            Some(close) => rest.find(&close).and_then(|j| rest[j..].find('>').map(|k| j + k + 1)),
            None => rest.find('>').map(|j| j + 1),
        };
        rest = &rest[end.unwrap_or(rest.len())..];
    }
    out.push_str(rest);
    out
}

/// Issue 21, item 11: a page rendered in zh-CN holds no English word of the English catalogue:
/// job states, kinds and progress texts, the compare page's metrics, decisions and risk levels,
/// role names — every page with demo data and runs in every state.
#[tokio::test]
async fn pages_in_chinese_hold_no_english_word_of_the_catalogue() {
    let a = app().await;
    let english = english_only_words();
    assert!(english.contains("succeeded") && english.contains("sharpe"), "the catalogue is read: {english:?}");
    // A run split by regime and a dynamics test (issue 17).
    let (split_run, _) = backtest_with_split(&a).await;
    let (dynamics, _) = dynamics_job(&a).await;
    let (split_page, dynamics_page) = (format!("/backtests/{split_run}"), format!("/dynamics/{dynamics}"));
    // Jobs in every state, a finished backtest and decision.
    let job = |kind: &str, params: &str| new_job("", kind, params);
    let bt = r#"{"symbols":["600519.SH"],"strategy":"sma_cross","params":{"fast":5,"slow":20}}"#;
    let mut done = Vec::new();
    for _ in 0..2 {
        let (id, _) = a.store.enqueue(&job("backtest", bt), 0).await.unwrap();
        a.store.claim("w", &["default".to_string()], 1, 60_000, None).await.unwrap().unwrap();
        let metrics = quantdesk_backtest::Metrics { trades: 2, win_rate: 0.5, ..quantdesk_backtest::Metrics::zeroed() };
        let result = serde_json::json!({"final_equity": 100000, "metrics": metrics, "trades": 2,
            "data_fingerprint": "0", "engine_version": "test"});
        a.store.finish(id, "w", &quantdesk_store::jobs::Outcome::Succeeded(result.to_string()), 2).await.unwrap();
        done.push(id);
    }
    let (running, _) = a.store.enqueue(&job("sync", "{}"), 0).await.unwrap();
    a.store.claim("w", &["default".to_string()], 1, 60_000, None).await.unwrap().unwrap();
    a.store.heartbeat(running, "w", i64::MAX / 2, (1, 3, "loading bars")).await.unwrap();
    a.store.enqueue(&job("valuation", "{}"), 0).await.unwrap();
    let (dec, _) = a.store.enqueue(&job("decide", r#"{"symbols":["600519.SH"]}"#), 0).await.unwrap();
    a.store.claim("w", &["default".to_string()], 1, 60_000, None).await.unwrap();
    let decision = serde_json::json!({"decisions": [{"symbol": "600519.SH", "date": "2026-11-20",
        "decision": {"action": "SELL", "score": -0.6, "votes": [{"model": "trend", "action": "HOLD", "confidence": 0.4}]},
        "risk_level": "high"}]});
    a.store.finish(dec, "w", &quantdesk_store::jobs::Outcome::Succeeded(decision.to_string()), 2).await.unwrap();
    let compare = format!("/backtests/compare?ids={},{}", done[0], done[1]);
    let pages = [
        "/instruments",
        "/import",
        "/backtests",
        compare.as_str(),
        "/decisions",
        "/jobs",
        &format!("/jobs/{running}"),
        "/data",
        "/settings",
        "/admin",
        "/valuation",
        &split_page,
        &dynamics_page,
        &format!("/jobs/{dynamics}"),
    ];
    let mut found = Vec::new();
    for uri in pages {
        let (s, _, body) = get(&a, uri, &[("accept-language", "zh-CN")]).await;
        assert_eq!(s, StatusCode::OK, "{uri}");
        // E-mail addresses are data, not words of the page.
        let text: String =
            visible_text(&body).split_whitespace().filter(|t| !t.contains('@')).map(|t| format!("{t} ")).collect();
        let words: std::collections::BTreeSet<String> = text
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.chars().all(|c| c.is_ascii_alphabetic()))
            .map(|w| w.to_lowercase())
            .filter(|w| english.contains(w))
            .collect();
        for w in words {
            let at = text.to_lowercase().find(&w).unwrap_or(0);
            let from = text.floor_char_boundary(at.saturating_sub(60));
            let to = text.ceil_char_boundary((at + 60).min(text.len()));
            found
                .push(format!("{uri}: {w:?} in …{}…", text[from..to].split_whitespace().collect::<Vec<_>>().join(" ")));
        }
    }
    assert!(found.is_empty(), "English words on Chinese pages:\n{}", found.join("\n"));
}

/// A JSON request with the session cookie and its CSRF token (as the page's scripts send it).
async fn api_json(
    a: &App,
    method: &str,
    uri: &str,
    csrf: &str,
    body: serde_json::Value,
) -> (StatusCode, serde_json::Value) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("cookie", a.cookie.as_str())
        .header("content-type", "application/json")
        .header("x-csrf-token", csrf)
        .body(Body::from(body.to_string()))
        .unwrap();
    let res = a.router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null))
}

/// The cells of `<tr data-row="{row}">` of the table `id`, after the label.
fn table_row(body: &str, id: &str, row: &str) -> Vec<String> {
    let table = body.split(&format!(r#"id="{id}""#)).nth(1).unwrap_or_else(|| panic!("no table {id}"));
    let table = &table[..table.find("</table>").unwrap()];
    let tr = table.split(&format!(r#"<tr data-row="{row}">"#)).nth(1).unwrap_or_else(|| panic!("no row {row}"));
    let tr = &tr[..tr.find("</tr>").unwrap()];
    tr.split("<td").skip(2).map(|c| c[c.find('>').unwrap() + 1..c.find("</td>").unwrap()].to_string()).collect()
}

#[tokio::test]
async fn valuation_page_compares_saves_and_reloads_scenarios_with_the_history_and_the_chart_price() {
    let Some(fx) = fixtures() else { return };
    let a = app().await;
    quantdesk_app::financials::import_path(&*a.store, &fx.join("cn/financials/600519.SH"), None).await.unwrap();
    // Two daily bars: the chart's last close (2025-05-20) is a day after the daily_basic row (2025-05-19).
    let sym = quantdesk_core::Symbol::new("600519.SH").unwrap();
    let day = |d: &str| {
        chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap().and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp()
    };
    let bar = |t: i64, c: f64| quantdesk_core::Bar {
        time: t,
        open: c,
        high: c + 5.0,
        low: c - 5.0,
        close: c,
        volume: 1e6,
        amount: 1e9,
    };
    let bars = [bar(day("2025-05-19"), 1578.98), bar(day("2025-05-20"), 1600.5)];
    a.store
        .import_bars(
            quantdesk_core::Resolution::Day,
            &[quantdesk_store::BarSeriesWrite { symbol: &sym, bars: &bars, factors: &[], calendar: None }],
            &|_| {},
        )
        .await
        .unwrap();
    let (_, _, first) = get(&a, "/valuation/600519.SH", &[("accept-language", "en")]).await;
    let csrf =
        first.split(r#"<meta name="csrf-token" content=""#).nth(1).unwrap().split('"').next().unwrap().to_string();
    assert!(first.contains(r#"id="scenario-save""#) && first.contains("No saved scenarios yet."));
    assert!(first.contains("No saved valuations yet"), "an empty history says so");

    // Save the assumptions shown as a scenario through the page's form.
    let form =
        format!("csrf={csrf}&symbol=600519.SH&scenario_name=slow+bull&beta=0.95&forecast_years=7&exit_multiple=10");
    let (s, h, _) = post_form(&a, "/valuation/scenarios", &a.cookie, &form).await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let back = h[header::LOCATION].to_str().unwrap().to_string();
    assert!(back.starts_with("/valuation/600519.SH?") && back.contains("notice=saved"), "{back}");
    let (_, _, saved_page) = get(&a, &back, &[("accept-language", "en")]).await;
    assert!(saved_page.contains(r#"id="valuation-notice">Scenario saved."#), "the notice");
    let (s, list) = api_json(&a, "GET", "/api/v1/valuation/scenarios", &csrf, serde_json::Value::Null).await;
    assert_eq!(s, 200, "{list}");
    let sc = &list[0];
    let id = sc["id"].as_i64().unwrap();
    assert_eq!(sc["name"], "slow bull");
    let overlay: Vec<&str> = sc["overlay"].as_array().unwrap().iter().map(|x| x.as_str().unwrap()).collect();
    for e in ["beta=0.95", "forecast_years=7", "exit_multiple=10.0"] {
        assert!(overlay.contains(&e), "{overlay:?} lacks {e}");
    }
    // The same name again: nothing saved, the page says why.
    let (_, h, _) = post_form(&a, "/valuation/scenarios", &a.cookie, &form).await;
    assert!(h[header::LOCATION].to_str().unwrap().contains("notice=exists"));

    // The API's values for the same scenarios (each kept in the history: the form's last).
    let vps =
        |v: &serde_json::Value| v["valuation_results"]["dcf_forecast_details"]["value_per_share"].as_f64().unwrap();
    let (s, with_saved) = api_json(
        &a,
        "POST",
        "/api/v1/valuation",
        &csrf,
        serde_json::json!({"ts_code": "600519.SH", "scenario_id": id}),
    )
    .await;
    assert_eq!(s, 200, "{with_saved}");
    let mut bull_body = quantdesk_valuation::presets::preset("bull").unwrap();
    bull_body["ts_code"] = "600519.SH".into();
    let (s, bull) = api_json(&a, "POST", "/api/v1/valuation", &csrf, bull_body).await;
    assert_eq!(s, 200, "{bull}");
    let (s, plain) =
        api_json(&a, "POST", "/api/v1/valuation", &csrf, serde_json::json!({"ts_code": "600519.SH"})).await;
    assert_eq!(s, 200, "{plain}");
    let per_share = quantdesk_web::pages::per_share;
    let want = [per_share(vps(&plain)), per_share(vps(&bull)), per_share(vps(&with_saved))];
    assert!(want[0] != want[1] && want[0] != want[2], "the scenarios move the value: {want:?}");

    // Side by side, in both languages: one column per scenario with the API's numbers.
    let cmp = format!("/valuation/600519.SH?cmp=form&cmp=preset:bull&cmp=saved:{id}");
    for (lang, label) in [("en", "Scenario comparison"), ("zh-CN", "情景对比")] {
        let (s, _, body) = get(&a, &cmp, &[("accept-language", lang)]).await;
        assert_eq!(s, 200);
        assert!(body.contains(label), "{lang}");
        assert!(
            body.contains(r#"<th data-col="form">"#)
                && body.contains(r#"<th data-col="preset:bull">"#)
                && body.contains(&format!(r#"<th data-col="saved:{id}">slow bull</th>"#)),
            "{lang}: the columns"
        );
        assert_eq!(table_row(&body, "compare-table", "vps"), want.to_vec(), "{lang}: value per share");
        let mos = table_row(&body, "compare-table", "mos");
        let want_mos = format!(
            "{:.2}%",
            plain["valuation_results"]["other_analysis"]["derived"]["margin_of_safety"].as_f64().unwrap() * 100.0
        );
        assert_eq!(mos[0], want_mos, "{lang}: margin of safety");
        let wacc = table_row(&body, "compare-table", "wacc");
        let api_wacc = bull["valuation_results"]["dcf_forecast_details"]["wacc_used"].as_f64().unwrap();
        assert_eq!(wacc[1], format!("{:.2}%", api_wacc * 100.0), "{lang}: WACC of the bull column");
        for row in ["ev", "equity", "tv_share", "implied", "cagr", "warnings"] {
            let cells = table_row(&body, "compare-table", row);
            assert_eq!(cells.len(), 3, "{lang}: {row}");
            assert!(cells.iter().all(|c| c != "—"), "{lang}: {row} {cells:?}");
        }
        let warnings = plain["valuation_results"]["other_analysis"]["warnings"].as_array().unwrap().len();
        assert_eq!(table_row(&body, "compare-table", "warnings")[0], warnings.to_string());
        // The diffs that define each scenario.
        let diffs = table_row(&body, "compare-table", "diffs");
        assert!(diffs[1].contains("exit_multiple: — → 10.0") && diffs[2].contains("beta: — → 0.95"), "{diffs:?}");
    }
    let (_, _, five) =
        get(&a, &format!("{cmp}&cmp=preset:bear&cmp=preset:utilities"), &[("accept-language", "en")]).await;
    assert!(five.contains("the first four are shown"));
    assert_eq!(table_row(&five, "compare-table", "vps").len(), 4);

    // Applying the saved scenario on the page gives the API's value and lists its diffs.
    let (_, _, applied) =
        get(&a, &format!("/valuation/600519.SH?scenario_id={id}"), &[("accept-language", "en")]).await;
    assert!(applied.contains(&format!(r#"id="value-per-share">{}<"#, want[2])), "scenario_id on the page");
    assert!(applied.contains("Scenario applied: slow bull") && applied.contains("beta: — → 0.95"));
    assert!(applied.contains(r#"name="beta" value="0.95""#), "the form shows the scenario's assumptions");

    // Someone else neither applies nor compares it: the page says there is no such scenario.
    let (other, _) = a
        .accounts
        .ensure_user("eve@test.example", "tulip-granite-41", quantdesk_store::auth::Role::Analyst, true)
        .await
        .unwrap();
    let (sid, _) = a.accounts.open_session(&other).await.unwrap();
    let eve = format!("lang=en; qd_session={sid}");
    let (s, _, theirs) =
        get(&a, &format!("/valuation/600519.SH?scenario_id={id}&cmp=saved:{id}"), &[("cookie", eve.as_str())]).await;
    assert_eq!(s, 200);
    assert!(theirs.contains(&format!("no scenario {id}")) && !theirs.contains("slow bull"), "not eve's");
    assert!(theirs.contains(&format!(r#"id="value-per-share">{}<"#, want[0])), "the form is valued as is");
    assert!(theirs.contains("unknown scenario") && theirs.contains("No saved valuations yet"), "nor admin's history");

    // A viewer reads the page but is not offered the save form (it needs the jobs scope).
    let (viewer, _) = a
        .accounts
        .ensure_user("val@test.example", "tulip-granite-41", quantdesk_store::auth::Role::Viewer, true)
        .await
        .unwrap();
    let (vid, _) = a.accounts.open_session(&viewer).await.unwrap();
    let vcookie = format!("lang=zh-CN; qd_session={vid}");
    let (s, _, vpage) = get(&a, "/valuation/600519.SH", &[("cookie", vcookie.as_str())]).await;
    assert_eq!(s, 200);
    assert!(vpage.contains(r#"id="scenario-no-scope""#) && !vpage.contains(r#"id="scenario-save""#));
    assert!(vpage.contains("分析师角色"));

    // The history: newest first, each reloading its request.
    let (_, _, page) = get(&a, "/valuation/600519.SH", &[("accept-language", "zh-CN")]).await;
    assert!(page.contains("我的估值记录"));
    let hist = page.split(r#"id="valuation-history""#).nth(1).unwrap();
    let hist = &hist[..hist.find("</table>").unwrap()];
    let links: Vec<&str> = hist.split(r#"href=""#).skip(1).map(|x| x.split('"').next().unwrap()).collect();
    assert_eq!(links.len(), 3, "{hist}");
    assert!(links[0].starts_with("/valuation/600519.SH?load="));
    let newest = links[0].replace("&amp;", "&");
    assert!(hist.find(&want[0]).unwrap() < hist.find(&want[1]).unwrap(), "newest first");
    let (_, _, reloaded) = get(&a, &newest, &[("accept-language", "en")]).await;
    assert!(
        reloaded.contains(&format!(r#"id="value-per-share">{}<"#, want[0]))
            && reloaded.contains("Loaded saved valuation")
    );
    let bull_link = links[1].replace("&amp;", "&");
    let (_, _, reloaded) = get(&a, &bull_link, &[("accept-language", "en")]).await;
    assert!(reloaded.contains(&format!(r#"id="value-per-share">{}<"#, want[1])), "the bull request reloaded");
    assert!(reloaded.contains(r#"name="exit_multiple" value="10.0""#), "its assumptions fill the form");

    // Paged: 50 a page.
    let owner = a.store.user_by_email("admin@test.example").await.unwrap().unwrap().id.to_string();
    for i in 0..50 {
        a.store
            .save_valuation(&quantdesk_store::valuations::NewValuation {
                owner: owner.clone(),
                ts_code: "600519.SH".into(),
                valuation_date: String::new(),
                profile: "quantdesk".into(),
                request_hash: format!("h{i}"),
                inputs_hash: "i".into(),
                request: r#"{"ts_code":"600519.SH"}"#.into(),
                result: "{}".into(),
                value_per_share: Some(1.0),
                created_at: i,
            })
            .await
            .unwrap();
    }
    let (_, _, p1) = get(&a, "/valuation/600519.SH", &[("accept-language", "en")]).await;
    assert!(p1.contains("Page 1 / 2") && p1.contains(r#"id="history-next""#), "paged");
    let (_, _, p2) = get(&a, "/valuation/600519.SH?hpage=2", &[("accept-language", "en")]).await;
    assert!(p2.contains("Page 2 / 2") && p2.contains(r#"id="history-prev""#));
    assert_eq!(
        p2.split(r#"id="valuation-history""#).nth(1).unwrap().split("</table>").next().unwrap().matches("<tr>").count(),
        4
    );

    // The margin of safety against the chart's last close, beside the daily_basic close.
    let v_plain = vps(&plain);
    for (lang, used) in [("en", "The model uses the daily_basic close."), ("zh-CN", "模型采用 daily_basic 收盘价。")]
    {
        let (_, _, body) = get(&a, "/valuation/600519.SH", &[("accept-language", lang)]).await;
        assert!(body.contains(r#"id="price-chart">1600.50 (2025-05-20)<"#), "{lang}");
        assert!(body.contains(r#"id="price-daily-basic">1578.98 (2025-05-19)<"#), "{lang}");
        assert!(body.contains(&format!(r#"id="mos-chart">{:.2}%<"#, (v_plain - 1600.5) / v_plain * 100.0)), "{lang}");
        assert!(
            body.contains(&format!(r#"id="mos-daily-basic">{:.2}%<"#, (v_plain - 1578.98) / v_plain * 100.0)),
            "{lang}"
        );
        assert!(body.contains(used), "{lang}: says which is used");
    }
    let (_, _, en) = get(&a, "/valuation/600519.SH", &[("accept-language", "en")]).await;
    assert!(en.contains("differs from it"), "and that they differ");

    // The HTML export: one self-contained document of the tables.
    let (s, h, doc) = get(&a, "/valuation/600519.SH/export?format=html", &[("accept-language", "en")]).await;
    assert_eq!(s, 200);
    assert!(h[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/html"));
    assert!(h[header::CONTENT_DISPOSITION].to_str().unwrap().contains("valuation-600519.SH.html"));
    assert!(
        doc.starts_with("<!doctype html>") && doc.contains(&format!("<td>Value per share</td><td>{}</td>", want[0]))
    );
    assert!(doc.contains("<h2>Forecast</h2>") && !doc.contains("<script") && !doc.contains("src="), "self-contained");
    assert!(en.contains(r#"id="export-html""#));

    // Delete through the page; then it is gone.
    let (s, h, _) = post_form(
        &a,
        &format!("/valuation/scenarios/{id}/delete"),
        &a.cookie,
        &format!("csrf={csrf}&symbol=600519.SH"),
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    assert!(h[header::LOCATION].to_str().unwrap().contains("notice=deleted"));
    let (_, list) = api_json(&a, "GET", "/api/v1/valuation/scenarios", &csrf, serde_json::Value::Null).await;
    assert_eq!(list, serde_json::json!([]));
    let (_, h, _) = post_form(
        &a,
        &format!("/valuation/scenarios/{id}/delete"),
        &a.cookie,
        &format!("csrf={csrf}&symbol=600519.SH"),
    )
    .await;
    assert!(h[header::LOCATION].to_str().unwrap().contains("notice=missing"));
    // Without the CSRF token nothing is deleted or saved.
    let (s, _, _) = post_form(&a, "/valuation/scenarios", &a.cookie, "symbol=600519.SH&scenario_name=x").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn valuation_warnings_and_guardrails_follow_the_page_language() {
    let Some(fx) = fixtures() else { return };
    let a = app().await;
    quantdesk_app::financials::import_path(&*a.store, &fx.join("cn/financials/600519.SH"), None).await.unwrap();
    let request = quantdesk_valuation::Request { ts_code: Some("600519.SH".into()), ..Default::default() };
    let val = quantdesk_app::valuation::valuate(&*a.store, &request).await.unwrap();
    // The page escapes text for HTML (askama: & < > " ').
    let esc = |s: &str, apos: &str| {
        s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', apos)
    };
    // `text` inside `<li>…</li>` when `li`, else anywhere.
    let on_in = |page: &str, text: &str, li: bool| {
        ["&#x27;", "&#39;"].iter().any(|apos| {
            let t = esc(text, apos);
            page.contains(&if li { format!("<li>{t}</li>") } else { t })
        })
    };
    let on = |page: &str, text: &str| on_in(page, text, false);
    let w = val.warnings.iter().find(|w| w.message_zh != w.message).expect("a warning");
    let g = val.guardrails.iter().find(|g| !g.message_zh.is_empty()).expect("a guardrail");
    assert!(!w.message_zh.is_empty());
    let (_, _, zh) = get(&a, "/valuation/600519.SH", &[("accept-language", "zh-CN")]).await;
    let (_, _, en) = get(&a, "/valuation/600519.SH", &[("accept-language", "en")]).await;
    let zh_w = format!("[{}] {}", w.rule, w.message_zh);
    let en_w = format!("[{}] {}", w.rule, w.message);
    assert!(on_in(&zh, &zh_w, true) && !on_in(&zh, &en_w, true), "zh-CN page: {zh_w}");
    assert!(on_in(&en, &en_w, true) && !on_in(&en, &zh_w, true), "English page: {en_w}");
    assert!(on(&zh, &g.message_zh) && on(&en, &g.message) && !on(&en, &g.message_zh));
}
