//! Percentiles and ranges.

use super::*;

#[test]
fn p90_is_the_nearest_rank_and_nothing_gives_nulls() {
    let d = Durations::of_ms(vec![30_000, 90_000]);
    assert_eq!((d.avg, d.p90, d.count), (Some(60.0), Some(90.0), 2));
    let ten: Vec<i64> = (1..=10).map(|s| s * 1000).collect();
    assert_eq!(Durations::of_ms(ten).p90, Some(9.0));
    let none = Durations::of_ms(vec![-5]);
    assert_eq!((none.avg, none.p90, none.count), (None, None, 0));
}

#[test]
fn ranges_are_whole_utc_days_and_bounded() {
    let day = |s: &str| s.parse::<Date>().expect("date");
    let r = Range::new(day("2026-11-01"), day("2026-11-03")).expect("valid");
    assert_eq!(r.days(), 3);
    assert_eq!(r.start_ms(), 1_793_491_200_000);
    assert_eq!(r.end_ms() - r.start_ms(), 3 * DAY_MS);
    assert!(matches!(
        Range::new(day("2026-11-03"), day("2026-11-01")),
        Err(RangeError::Backwards { .. })
    ));
    assert_eq!(
        Range::new(day("2025-01-01"), day("2026-11-01")),
        Err(RangeError::TooLong(670))
    );
}
