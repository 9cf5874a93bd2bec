mod common;

use common::{d, fast, sse_composite, sym};
use quantdesk_connectors::fake::{EastmoneyData, EastmoneySeries, FakeEastmoney, Injection};
use quantdesk_connectors::{Eastmoney, ErrorKind, Source, SourceSettings};
use quantdesk_core::AdjFactor;

#[tokio::test]
async fn klines_parse_with_close_before_high_and_lots_become_shares() {
    let Some(mut bars) = sse_composite() else { return };
    // Eastmoney quotes stocks to the fen.
    for b in &mut bars {
        for p in [&mut b.open, &mut b.high, &mut b.low, &mut b.close] {
            *p = (*p * 100.0).round() / 100.0;
        }
    }
    let bonus = bars[3000].date;
    let factors = vec![AdjFactor { date: bars[0].date, factor: 1.0 }, AdjFactor { date: bonus, factor: 2.0 }];
    let fake = FakeEastmoney::start(
        EastmoneyData::default()
            .with_series(
                sym("600519.SH"),
                EastmoneySeries {
                    name: "贵州茅台".into(),
                    bars: bars.clone(),
                    factors: factors.clone(),
                    quote_time: 0,
                },
            )
            .with_series(
                sym("000001.SZ"),
                EastmoneySeries { name: "平安银行".into(), bars: bars[..10].to_vec(), ..Default::default() },
            ),
    )
    .await;
    let em = Eastmoney::new(fast(SourceSettings::eastmoney(), fake.base_url())).unwrap();
    let (start, end) = (bars[0].date, bars.last().unwrap().date);

    let got = em.daily(&sym("600519.SH"), start, end).await.unwrap();
    assert_eq!(got.len(), bars.len());
    for (a, b) in got.iter().zip(&bars) {
        assert_eq!((a.date, a.open, a.high, a.low, a.close), (b.date, b.open, b.high, b.low, b.close));
        assert_eq!(a.volume, b.volume, "lots × 100");
        assert!((a.amount - b.amount).abs() < 0.006, "{} vs {}", a.amount, b.amount);
    }
    let call = &fake.calls()[0];
    assert_eq!(call.params["secid"], "1.600519");
    assert_eq!(call.params["fqt"], "0");
    assert_eq!(call.params["klt"], "101");
    assert_eq!(call.params["beg"], start.format("%Y%m%d").to_string());

    let sz = em.daily(&sym("000001.SZ"), d("2000-01-01"), d("2030-01-01")).await.unwrap();
    assert_eq!(sz.len(), 10);
    assert_eq!(fake.calls()[1].params["secid"], "0.000001");

    // Factors from fqt=2 against fqt=0.
    fake.clear_log();
    let f = em.factors(&sym("600519.SH"), start, end).await.unwrap();
    assert_eq!(f.len(), 2, "{f:?}");
    assert_eq!((f[0].date, f[0].factor), (start, 1.0));
    assert_eq!((f[1].date, f[1].factor), (bonus, 2.0));
    let fqts: Vec<_> = fake.calls().iter().map(|c| c.params["fqt"].clone()).collect();
    assert_eq!(fqts, vec!["2", "0"]);

    // The quote: cents and lots.
    let q = em.quote(&sym("600519.SH")).await.unwrap();
    let last = bars.last().unwrap();
    assert_eq!(q.price, last.close);
    assert_eq!(q.prev_close, Some(bars[bars.len() - 2].close));
    assert_eq!(q.volume, Some(last.volume));
    assert_eq!(q.time, last.date.and_hms_opt(7, 0, 0).unwrap().and_utc().timestamp());
    assert_eq!(fake.calls().last().unwrap().api, "quote");
}

#[tokio::test]
async fn null_data_is_not_found_and_failures_map() {
    let fake = FakeEastmoney::start(EastmoneyData::default()).await;
    let em = Eastmoney::new(fast(SourceSettings::eastmoney(), fake.base_url())).unwrap();
    let e = em.daily(&sym("600000.SH"), d("2024-01-01"), d("2024-02-01")).await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound);
    assert_eq!(em.quote(&sym("600000.SH")).await.unwrap_err().kind, ErrorKind::NotFound);
    fake.inject("kline", Injection::Malformed);
    assert_eq!(
        em.daily(&sym("600000.SH"), d("2024-01-01"), d("2024-02-01")).await.unwrap_err().kind,
        ErrorKind::Malformed
    );
    // Not an A-share, or a bare code: refused before any call.
    let before = fake.total_calls();
    assert_eq!(
        em.daily(&sym("GOOG"), d("2024-01-01"), d("2024-02-01")).await.unwrap_err().kind,
        ErrorKind::Unsupported
    );
    assert_eq!(
        em.daily(&sym("600519"), d("2024-01-01"), d("2024-02-01")).await.unwrap_err().kind,
        ErrorKind::Unsupported
    );
    assert_eq!(fake.total_calls(), before);
}
