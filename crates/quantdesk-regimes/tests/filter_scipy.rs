//! The filter, FastDTW and quantile against scipy/numpy/fastdtw values.
//!
//! The expected numbers were produced once with Python 3 in a throw-away venv (scipy 1.17.1,
//! numpy 2.4.6, fastdtw 0.3.4 pure-Python module) by `butter(4, wn)`, `lfilter_zi(b, a)`,
//! `filtfilt(b, a, x)`, `lfilter(b, a, x, zi=lfilter_zi(b, a)*x[0])`, `fastdtw(s1, s2)` and
//! `np.quantile(v, q)`, printed with `repr`, and pasted here as literals. The filter design,
//! `lfilter_zi`, `filtfilt` and the causal pass are compared bit for bit.

use quantdesk_regimes::labeling::dtw::{DtwScratch, fastdtw};
use quantdesk_regimes::labeling::filter::{butter_lowpass, causal_filter, filtfilt, lfilter_zi};
use quantdesk_regimes::labeling::segment::quantile_thresholds;

fn close(a: &[f64], b: &[f64], tol: f64) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() <= tol * y.abs().max(1.0), "index {i}: {x} vs {y} (diff {})", (x - y).abs());
    }
}

/// `(wn, b, a, zi)`.
type Case = (f64, [f64; 5], [f64; 5], [f64; 4]);

#[test]
fn butter_matches_scipy() {
    let cases: [Case; 4] = [
        (
            2.0 / 12.0,
            [
                0.0025764344253226203,
                0.010305737701290481,
                0.015458606551935723,
                0.010305737701290481,
                0.0025764344253226203,
            ],
            [1.0, -2.6386277438912478, 2.769309786151488, -1.339280761265205, 0.2498216698101263],
            [0.9974235655746835, -1.6515099160178708, 1.1023412635816985, -0.24724523538480522],
        ),
        (
            2.0 / 7.0,
            [0.015838211515958198, 0.06335284606383279, 0.09502926909574919, 0.06335284606383279, 0.015838211515958198],
            [1.0, -1.6838225599041345, 1.3955561514791182, -0.5452899196719522, 0.08696771235229937],
            [0.9841617884840428, -0.7630136174839262, 0.5375132648994442, -0.07112950083634124],
        ),
        (
            2.0 / 22.5,
            [
                0.00027048614955680554,
                0.0010819445982272221,
                0.0016229168973408332,
                0.0010819445982272221,
                0.00027048614955680554,
            ],
            [1.0, -3.2713933380395037, 4.068043746665882, -2.2730179578267475, 0.48069532759327877],
            [0.9997295138502525, -2.272745768786855, 1.793675060980911, -0.48042484144363024],
        ),
        (
            2.0 / 24.0,
            [
                0.00021313872697507864,
                0.0008525549079003145,
                0.0012788323618504718,
                0.0008525549079003145,
                0.00021313872697507864,
            ],
            [1.0, -3.3168079106244175, 4.174245550076573, -2.3574027805622575, 0.5033753607417041],
            [0.99978686127288, -2.317873604258957, 1.85509311345516, -0.503162222014656],
        ),
    ];
    for (wn, eb, ea, ezi) in cases {
        let (b, a) = butter_lowpass(4, wn).unwrap();
        // Bit for bit: numpy's `poly` accumulation is reproduced (a 1-ulp error in `a` moves the
        // DC gain by ~1e-13 for small `Wn`, enough to flip a tie in TradeMaster's labels).
        assert_eq!(b, eb.to_vec(), "b for wn {wn}");
        assert_eq!(a, ea.to_vec(), "a for wn {wn}");
        assert_eq!(lfilter_zi(&b, &a), ezi.to_vec(), "zi for wn {wn}");
    }
}

const X: [f64; 20] = [
    100.0,
    104.27194696796153,
    108.18369803069737,
    111.41470984807897,
    113.71937901363313,
    109.95407957751765,
    110.09297426825682,
    109.23085881738325,
    107.57272626635812,
    105.41120008059868,
    98.09432037124515,
    95.98722951411655,
    94.43197504692071,
    93.70985498729237,
    94.01045082902071,
    90.41075725336862,
    92.86670608432419,
    96.21801758255691,
    100.20584501801073,
    104.50127009882172,
];

#[test]
fn filtfilt_matches_scipy_including_the_ends() {
    let (b, a) = butter_lowpass(4, 2.0 / 12.0).unwrap();
    let expected = [
        99.89329941565626,
        103.78713859243582,
        107.28036837018401,
        109.9925725385118,
        111.6450982108589,
        112.0903651432892,
        111.32028733692295,
        109.45735005673677,
        106.73451991246972,
        103.46877668561883,
        100.03011160628931,
        96.8067377254207,
        94.16845086363917,
        92.43105344762243,
        91.82389272874933,
        92.46153130859705,
        94.32188863799762,
        97.2363847236769,
        100.89918846304155,
        104.90001687103221,
    ];
    close(&filtfilt(&b, &a, &X).unwrap(), &expected, 0.0);
    // 15 samples = padlen: scipy refuses, so do we.
    assert!(filtfilt(&b, &a, &X[..15]).is_err());
    assert!(filtfilt(&b, &a, &X[..16]).is_ok());
}

#[test]
fn causal_filter_matches_lfilter_with_steady_state_start() {
    let (b, a) = butter_lowpass(4, 2.0 / 12.0).unwrap();
    let expected = [
        100.00000000000061,
        100.01100639123206,
        100.09415209552245,
        100.39773886856958,
        101.12700736087992,
        102.43447250389806,
        104.2911892267537,
        106.44352992736341,
        108.50593181667037,
        110.10312230829487,
        110.94953725265252,
        110.85067150296763,
        109.70429112493457,
        107.5563482962638,
        104.64827119672653,
        101.37383468887198,
        98.15930209290447,
        95.36668313830243,
        93.28760334798919,
        92.16818324580917,
    ];
    close(&causal_filter(&b, &a, &X), &expected, 0.0);
    // Causality: a prefix filters to the prefix of the output.
    let full = causal_filter(&b, &a, &X);
    assert_eq!(causal_filter(&b, &a, &X[..7]), full[..7].to_vec());
}

#[test]
fn fastdtw_matches_the_package() {
    let s1 = [1.0, 3.0, 2.0, 5.0, 4.0, 6.0, 8.0, 7.0, 9.0];
    let s2 = [2.0, 2.5, 4.0, 3.0, 6.5, 7.0, 6.0, 8.5, 9.5, 10.0, 9.0, 11.0, 12.5];
    let mut sc = DtwScratch::default();
    let (d, p) = fastdtw(&s1, &s2, &mut sc);
    assert_eq!(d, 14.0);
    assert_eq!(
        p,
        vec![
            (0, 0),
            (1, 1),
            (2, 1),
            (3, 2),
            (4, 2),
            (4, 3),
            (5, 4),
            (6, 5),
            (7, 5),
            (7, 6),
            (8, 7),
            (8, 8),
            (8, 9),
            (8, 10),
            (8, 11),
            (8, 12)
        ]
    );
    let (d, p) = fastdtw(&s2[..9], &s1, &mut sc);
    assert_eq!(d, 7.5);
    assert_eq!(p, vec![(0, 0), (1, 1), (1, 2), (2, 3), (2, 4), (3, 4), (4, 5), (5, 6), (5, 7), (6, 7), (7, 8), (8, 8)]);
}

#[test]
fn quantiles_match_numpy() {
    let v = [0.3, -1.2, 2.5, 0.7, -0.1, 1.1, 0.0];
    assert_eq!(quantile_thresholds(&v, 3), vec![0.0, 0.7]);
    assert_eq!(
        quantile_thresholds(&v, 5),
        vec![-0.07999999999999999, 0.1200000000000001, 0.5399999999999998, 1.0200000000000005]
    );
}
