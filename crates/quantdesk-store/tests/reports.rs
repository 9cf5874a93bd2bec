//! The reports port (template versions, defaults, reports and their filters), on SQLite and
//! (when configured) PostgreSQL.

mod support;

use quantdesk_store::reports::{NewReport, NewTemplate, ReportFilter};
use support::each_backend;

fn t(name: &str, kind: &str, lang: &str, user: &str, at: i64) -> NewTemplate {
    NewTemplate {
        name: name.into(),
        kind: kind.into(),
        lang: lang.into(),
        system: "You write ${type} reports.".into(),
        user: user.into(),
        created_by: "admin@x".into(),
        created_at: at,
    }
}

fn r(owner: &str, symbol: &str, date: &str, kind: &str, industry: &str, prompt: Option<i64>, at: i64) -> NewReport {
    NewReport {
        owner: owner.into(),
        symbol: symbol.into(),
        date: date.into(),
        kind: kind.into(),
        lang: "en".into(),
        industry: industry.into(),
        provider: "offline".into(),
        model: "quantdesk-offline-1".into(),
        prompt_id: prompt,
        prompt_name: "p".into(),
        prompt_version: 1,
        markdown: "# Report\n\n中文也行".into(),
        context: r#"{"symbol":"X"}"#.into(),
        warnings: "[]".into(),
        tokens_in: 10,
        tokens_out: 20,
        latency_ms: 30,
        job_id: Some(7),
        created_at: at,
    }
}

#[tokio::test]
async fn every_edit_is_a_new_version_and_the_default_follows_the_name() {
    each_backend(|s| async move {
        let a1 = s.save_template(&t("tech", "technical", "en", "${digest}", 1)).await.unwrap();
        assert_eq!((a1.version, a1.is_default, a1.uses), (1, false, 0));
        let b1 = s.save_template(&t("tech2", "technical", "en", "v1", 2)).await.unwrap();
        assert!(s.default_template("technical", "en").await.unwrap().is_none());
        assert!(s.set_default_template("tech").await.unwrap());
        assert!(!s.set_default_template("nope").await.unwrap());
        let a2 = s.save_template(&t("tech", "technical", "en", "${digest} v2", 3)).await.unwrap();
        assert_eq!(a2.version, 2);
        assert!(a2.is_default, "a new version keeps the name's default mark");
        let d = s.default_template("technical", "en").await.unwrap().unwrap();
        assert_eq!((d.id, d.user.as_str()), (a2.id, "${digest} v2"));
        assert_eq!(s.template(a1.id).await.unwrap().unwrap().user, "${digest}", "old versions stay");
        let versions: Vec<i64> = s.template_versions("tech").await.unwrap().iter().map(|x| x.version).collect();
        assert_eq!(versions, [1, 2]);
        let latest: Vec<(String, i64)> =
            s.list_templates().await.unwrap().into_iter().map(|x| (x.name, x.version)).collect();
        assert_eq!(latest, [("tech".to_string(), 2), ("tech2".to_string(), 1)]);
        assert_eq!(s.latest_template("tech").await.unwrap().unwrap().id, a2.id);
        // Switching the default unmarks the other name.
        assert!(s.set_default_template("tech2").await.unwrap());
        assert_eq!(s.default_template("technical", "en").await.unwrap().unwrap().id, b1.id);
        assert!(!s.template(a2.id).await.unwrap().unwrap().is_default);
        assert!(s.default_template("technical", "zh-CN").await.unwrap().is_none());
    })
    .await;
}

#[tokio::test]
async fn reports_are_stored_whole_filtered_and_deleted_by_their_owner() {
    each_backend(|s| async move {
        let p = s.save_template(&t("p", "technical", "en", "${digest}", 1)).await.unwrap();
        let a =
            s.save_report(&r("alice", "600519.SH", "2024-05-02", "technical", "白酒", Some(p.id), 10)).await.unwrap();
        let b = s.save_report(&r("alice", "000858.SZ", "2024-06-03", "chan", "白酒", Some(p.id), 20)).await.unwrap();
        let c = s.save_report(&r("bob", "600519.SH", "2024-06-03", "technical", "", None, 30)).await.unwrap();
        assert_eq!(s.template(p.id).await.unwrap().unwrap().uses, 2, "each report counts a use");
        let got = s.report(a).await.unwrap().unwrap();
        assert_eq!(got.report, r("alice", "600519.SH", "2024-05-02", "technical", "白酒", Some(p.id), 10));
        let ids = |f: ReportFilter| {
            let s = s.clone();
            async move { s.list_reports(&f, 10, 0).await.unwrap().into_iter().map(|x| x.id).collect::<Vec<_>>() }
        };
        assert_eq!(ids(ReportFilter::default()).await, [c, b, a], "newest first");
        assert_eq!(ids(ReportFilter { owner: Some("alice".into()), ..Default::default() }).await, [b, a]);
        assert_eq!(ids(ReportFilter { symbol: Some("600519.SH".into()), ..Default::default() }).await, [c, a]);
        assert_eq!(
            ids(ReportFilter {
                date_from: Some("2024-06-01".into()),
                date_to: Some("2024-06-03".into()),
                ..Default::default()
            })
            .await,
            [c, b]
        );
        assert_eq!(ids(ReportFilter { kind: Some("chan".into()), ..Default::default() }).await, [b]);
        assert_eq!(ids(ReportFilter { industry: Some("白酒".into()), ..Default::default() }).await, [b, a]);
        assert_eq!(
            s.count_reports(&ReportFilter { owner: Some("bob".into()), ..Default::default() }).await.unwrap(),
            1
        );
        assert_eq!(s.list_reports(&ReportFilter::default(), 1, 1).await.unwrap()[0].id, b, "paged");
        // A report naming a missing template version is refused whole: no row, no count.
        let e = s.save_report(&r("alice", "X", "2024-01-01", "free", "", Some(p.id + 999), 40)).await.unwrap_err();
        assert!(e.is_not_found(), "{e}");
        assert_eq!(s.count_reports(&ReportFilter::default()).await.unwrap(), 3);
        // Owners delete their own; admins (no owner) any.
        assert!(!s.delete_report(a, Some("bob")).await.unwrap());
        assert!(s.delete_report(a, Some("alice")).await.unwrap());
        assert!(s.report(a).await.unwrap().is_none());
        assert!(s.delete_report(c, None).await.unwrap());
        assert!(!s.delete_report(c, None).await.unwrap());
    })
    .await;
}

#[tokio::test]
async fn a_migrated_store_is_at_the_schema_version_the_backups_know() {
    each_backend(|s| async move {
        assert_eq!(s.schema_version().await.unwrap(), quantdesk_store::SCHEMA_VERSION);
    })
    .await;
}
