//! Business hours, durations and SLA targets as editors write them.

use super::*;

fn hours(pairs: &[(&str, &str)]) -> Result<Hours, String> {
    Hours::parse(
        &pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
}

fn at(text: &str) -> Timestamp {
    text.parse().expect("a test timestamp")
}

#[test]
fn weekday_hours_are_read_in_the_queues_time_zone() {
    let h = hours(&[("timezone", "Europe/London"), ("mon-fri", "09:00-17:30")]).expect("valid");
    // Monday 2026-11-23, London is on UTC in November.
    assert!(h.is_open(at("2026-11-23T09:00:00Z")));
    assert!(h.is_open(at("2026-11-23T17:29:00Z")));
    assert!(!h.is_open(at("2026-11-23T17:30:00Z")));
    assert!(!h.is_open(at("2026-11-23T08:59:00Z")));
    // Saturday: closed all day.
    assert!(!h.is_open(at("2026-11-28T12:00:00Z")));
}

#[test]
fn summer_time_moves_the_opening_in_utc_not_on_the_wall_clock() {
    let h = hours(&[("timezone", "Europe/Berlin"), ("daily", "09:00-17:00")]).expect("valid");
    // Winter: 09:00 in Berlin is 08:00 UTC; summer: 07:00 UTC.
    assert!(h.is_open(at("2026-01-15T08:00:00Z")));
    assert!(!h.is_open(at("2026-01-15T07:30:00Z")));
    assert!(h.is_open(at("2026-07-15T07:00:00Z")));
}

#[test]
fn next_open_finds_monday_morning_from_friday_night() {
    let h = hours(&[("timezone", "America/New_York"), ("mon-fri", "09:00-17:00")]).expect("valid");
    // Friday 2026-11-27 22:00 New York (UTC-5) → Monday 09:00 = 14:00 UTC.
    let friday_night = at("2026-11-28T03:00:00Z");
    assert_eq!(h.next_open(friday_night), Some(at("2026-11-30T14:00:00Z")));
    let open = at("2026-11-30T15:00:00Z");
    assert_eq!(h.next_open(open), Some(open));
    assert_eq!(h.closes_at(open), Some(at("2026-11-30T22:00:00Z")));
    assert_eq!(h.closes_at(friday_night), None);
}

#[test]
fn split_days_and_closed_days_are_understood() {
    let h = hours(&[
        ("timezone", "UTC"),
        ("sat", "10:00-12:00, 13:00-15:00"),
        ("sun", "closed"),
    ])
    .expect("valid");
    assert!(h.is_open(at("2026-11-28T11:00:00Z")));
    assert!(!h.is_open(at("2026-11-28T12:30:00Z")));
    assert_eq!(
        h.next_open(at("2026-11-28T12:30:00Z")),
        Some(at("2026-11-28T13:00:00Z"))
    );
    assert!(!h.is_open(at("2026-11-29T11:00:00Z")));
    assert_eq!(
        hours(&[("timezone", "UTC"), ("sun", "closed")])
            .expect("valid")
            .next_open(at("2026-11-29T11:00:00Z")),
        None,
        "a queue that never opens has no next opening"
    );
}

#[test]
fn mistakes_in_hours_are_explained() {
    let problems = [
        (vec![("mon", "09:00-17:00")], "timezone"),
        (
            vec![("timezone", "Mars/Olympus"), ("mon", "09:00-17:00")],
            "unknown time zone",
        ),
        (
            vec![("timezone", "UTC"), ("month", "09:00-17:00")],
            "not a day",
        ),
        (
            vec![("timezone", "UTC"), ("fri-mon", "09:00-17:00")],
            "Monday towards Sunday",
        ),
        (vec![("timezone", "UTC"), ("mon", "9-5")], "HH:MM-HH:MM"),
        (
            vec![("timezone", "UTC"), ("mon", "22:00-02:00")],
            "split a night shift",
        ),
        (
            vec![("timezone", "UTC"), ("mon", "09:00-25:00")],
            "HH:MM-HH:MM",
        ),
        (
            vec![
                ("timezone", "UTC"),
                ("mon-fri", "09:00-17:00"),
                ("mon", "16:00-18:00"),
            ],
            "overlap on mon",
        ),
    ];
    for (pairs, expected) in problems {
        let error = hours(&pairs).expect_err("invalid hours");
        assert!(error.contains(expected), "{pairs:?}: {error}");
    }
}

#[test]
fn sla_overrides_keep_the_other_defaults() {
    let raw: BTreeMap<String, RawSla> = [(
        "high".to_owned(),
        RawSla {
            first_response: Some("5m".to_owned()),
            resolution: None,
        },
    )]
    .into();
    let targets = sla_targets(&raw).expect("valid");
    assert_eq!(targets[2].first_response, Duration::from_secs(300));
    assert_eq!(targets[2].resolution, Duration::from_secs(24 * 3600));
    assert_eq!(targets[1], DEFAULT_SLA[1]);
    assert_eq!(
        DEFAULT_SLA[2],
        target(600, 86_400),
        "a complaint's defaults: 10 minutes, 24 hours"
    );
    let bad: BTreeMap<String, RawSla> = [(
        "critical".to_owned(),
        RawSla {
            first_response: None,
            resolution: None,
        },
    )]
    .into();
    assert!(sla_targets(&bad).expect_err("unknown").contains("critical"));
    assert!(duration("x", "soon").is_err());
    assert!(duration("x", "-5m").is_err());
    assert_eq!(duration("x", "1h 30m"), Ok(Duration::from_secs(5400)));
}
