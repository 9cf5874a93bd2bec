//! Backup files in a folder: their names, and which to keep.
//!
//! A scheduled backup is named `quantdesk-YYYYMMDDTHHMMSSZ.tar` (UTC). Retention keeps the newest
//! backup of each of the last `daily` days that have one, and the newest of each of the last
//! `weekly` ISO weeks that have one; the newest backup of all is always kept. Other files in
//! the folder are never touched, except leftovers of interrupted backups (`.*.partial`) older
//! than a day.

use chrono::{DateTime, Datelike, NaiveDateTime, Utc};

const PREFIX: &str = "quantdesk-";
const SUFFIX: &str = ".tar";
const STAMP: &str = "%Y%m%dT%H%M%SZ";

/// The file name of a backup taken at `at`.
pub fn file_name(at: DateTime<Utc>) -> String {
    format!("{PREFIX}{}{SUFFIX}", at.format(STAMP))
}

/// When the backup called `name` was taken, if `name` is a backup's name.
pub fn parse_name(name: &str) -> Option<DateTime<Utc>> {
    let stamp = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    NaiveDateTime::parse_from_str(stamp, STAMP).ok().map(|t| t.and_utc())
}

/// Which of `names` to delete so that `daily` days and `weekly` weeks remain (see the module).
/// Names that are not backups' are never returned.
pub fn to_delete(names: &[String], daily: usize, weekly: usize) -> Vec<String> {
    let mut backups: Vec<(DateTime<Utc>, &String)> =
        names.iter().filter_map(|n| parse_name(n).map(|t| (t, n))).collect();
    backups.sort();
    backups.dedup();
    backups.reverse(); // newest first
    let mut keep = vec![false; backups.len()];
    if let Some(k) = keep.first_mut() {
        *k = true;
    }
    let mut days = Vec::new();
    let mut weeks = Vec::new();
    for (i, (t, _)) in backups.iter().enumerate() {
        let day = t.date_naive();
        if !days.contains(&day) && days.len() < daily {
            days.push(day);
            keep[i] = true;
        }
        let week = (t.iso_week().year(), t.iso_week().week());
        if !weeks.contains(&week) && weeks.len() < weekly {
            weeks.push(week);
            keep[i] = true;
        }
    }
    backups.iter().zip(keep).filter(|(_, k)| !k).map(|((_, n), _)| (*n).clone()).collect()
}

/// Whether `name` is a leftover of an interrupted backup.
pub fn is_partial(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(".partial")
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;

    fn at(d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, d, h, 0, 0).unwrap()
    }

    #[test]
    fn names_round_trip() {
        let t = at(22, 3);
        assert_eq!(file_name(t), "quantdesk-20261122T030000Z.tar");
        assert_eq!(parse_name(&file_name(t)), Some(t));
        assert_eq!(parse_name("quantdesk-2026.tar"), None);
        assert_eq!(parse_name("notes.txt"), None);
    }

    #[test]
    fn keeps_the_newest_per_day_and_week() {
        // Two backups a day for 30 days (Nov 1..30 2026).
        let names: Vec<String> = (1..=30).flat_map(|d| [file_name(at(d, 2)), file_name(at(d, 14))]).collect();
        let mut deleted = to_delete(&names, 7, 4);
        deleted.sort();
        let kept: Vec<&String> = names.iter().filter(|n| !deleted.contains(n)).collect();
        // The 14:00 backup of Nov 24..30 (7 days), and the newest of each of the last 4 ISO
        // weeks (which end on Sunday): Nov 30 (Mon, the newest week), Sun 29, Sun 22, Sun 15.
        let expected: Vec<String> =
            [15, 22, 24, 25, 26, 27, 28, 29, 30].iter().map(|d| file_name(at(*d, 14))).collect();
        assert_eq!(kept.into_iter().cloned().collect::<Vec<_>>(), expected);
        assert!(!deleted.iter().any(|n| n == &file_name(at(30, 14))));
    }

    #[test]
    fn foreign_files_are_left_alone_and_the_newest_is_kept() {
        let names = vec!["README".to_string(), file_name(at(1, 1)), file_name(at(2, 1))];
        assert_eq!(to_delete(&names, 0, 0), vec![file_name(at(1, 1))]);
        assert!(is_partial(".quantdesk-20261122T030000Z.tar.abc123.partial"));
        assert!(!is_partial("quantdesk-20261122T030000Z.tar"));
    }

    proptest! {
        #[test]
        fn retention_rules_hold(hours in proptest::collection::vec(0i64..24 * 120, 1..60), daily in 0usize..10, weekly in 0usize..6) {
            let base = at(1, 0);
            let mut names: Vec<String> = hours.iter().map(|h| file_name(base + Duration::hours(*h))).collect();
            names.sort();
            names.dedup();
            let deleted = to_delete(&names, daily, weekly);
            let kept: Vec<DateTime<Utc>> = names.iter().filter(|n| !deleted.contains(n)).filter_map(|n| parse_name(n)).collect();
            let newest = names.iter().filter_map(|n| parse_name(n)).max().unwrap();
            prop_assert!(kept.contains(&newest));
            // Every one of the last `daily` distinct days keeps its newest backup.
            let mut days: Vec<_> = names.iter().filter_map(|n| parse_name(n)).map(|t| t.date_naive()).collect();
            days.sort(); days.dedup(); days.reverse();
            for d in days.iter().take(daily) {
                let newest_of_day = names.iter().filter_map(|n| parse_name(n)).filter(|t| t.date_naive() == *d).max().unwrap();
                prop_assert!(kept.contains(&newest_of_day));
            }
            // No more than one kept backup per day beyond the newest overall, and at most
            // daily + weekly + 1 in all.
            prop_assert!(kept.len() <= daily + weekly + 1);
        }
    }
}
