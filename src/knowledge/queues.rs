//! Queue settings editors write in `intents.yaml`: business hours in the queue's time zone, how
//! long a customer waits before being offered to leave a message instead, SLA targets per
//! priority, and whether waiting conversations are assigned to agents automatically.
//!
//! ```yaml
//! queues:
//!   - name: general
//!     hours:
//!       timezone: Europe/London
//!       mon-fri: 08:00-20:00
//!       sat: 10:00-13:00, 14:00-16:00
//!     wait_timeout: 15m
//!     auto_assign: true
//!     sla:
//!       normal: { first_response: 20m, resolution: 24h }
//! ```
//!
//! Hours are wall-clock times in the zone, so a queue open 09:00–17:00 stays so across daylight
//! saving changes. A queue without `hours` is always open.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use marked_yaml::Spanned;
use serde::Deserialize;

use super::yaml::{Located, line_of};
use super::{Priority, Problem, Queue};

/// Minutes in a day: the end of an interval that runs to midnight (`24:00`).
const DAY_MINUTES: u16 = 24 * 60;

/// Day names editors write, Monday first (jiff's Monday-zero offset).
const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// When a queue's agents work: intervals of minutes since local midnight, per weekday.
#[derive(Debug, Clone)]
pub struct Hours {
    zone_name: String,
    zone: TimeZone,
    /// Monday first; each day's `[start, end)` intervals, sorted, not overlapping.
    week: [Vec<(u16, u16)>; 7],
}

impl PartialEq for Hours {
    fn eq(&self, other: &Self) -> bool {
        self.zone_name == other.zone_name && self.week == other.week
    }
}

impl Hours {
    /// Reads the `hours` mapping: `timezone` plus day keys (`mon`, `mon-fri`, `daily`) whose
    /// values are `HH:MM-HH:MM` intervals separated by commas, or `closed`.
    pub fn parse(map: &BTreeMap<String, String>) -> Result<Hours, String> {
        let zone_name = map
            .get("timezone")
            .ok_or("hours need a `timezone`, such as Europe/London or America/New_York")?
            .trim()
            .to_owned();
        let zone = TimeZone::get(&zone_name).map_err(|_| {
            format!("unknown time zone `{zone_name}` (use an IANA name such as Europe/Berlin)")
        })?;
        let mut week: [Vec<(u16, u16)>; 7] = Default::default();
        for (key, value) in map.iter().filter(|(k, _)| k.as_str() != "timezone") {
            let days = day_range(key)?;
            let intervals = intervals(key, value)?;
            for day in days {
                week[day].extend(&intervals);
            }
        }
        for (day, intervals) in week.iter_mut().enumerate() {
            intervals.sort_unstable();
            if intervals.windows(2).any(|w| w[1].0 < w[0].1) {
                return Err(format!("hours overlap on {}", DAYS[day]));
            }
        }
        Ok(Hours {
            zone_name,
            zone,
            week,
        })
    }

    /// The time zone's IANA name.
    pub fn zone_name(&self) -> &str {
        &self.zone_name
    }

    /// Whether the queue is open at `at`.
    pub fn is_open(&self, at: Timestamp) -> bool {
        let local = at.to_zoned(self.zone.clone());
        let minute =
            u16::from(local.hour().unsigned_abs()) * 60 + u16::from(local.minute().unsigned_abs());
        self.day(local.date())
            .iter()
            .any(|&(start, end)| start <= minute && minute < end)
    }

    /// When the queue next opens: `at` itself when open, `None` when it never opens.
    pub fn next_open(&self, at: Timestamp) -> Option<Timestamp> {
        if self.is_open(at) {
            return Some(at);
        }
        let today = at.to_zoned(self.zone.clone()).date();
        // A week and a day: every weekday's first interval, including later today's.
        (0..=7)
            .filter_map(|days| today.checked_add(jiff::Span::new().days(days)).ok())
            .flat_map(|date| self.day(date).iter().map(move |&(start, _)| (date, start)))
            .filter_map(|(date, start)| self.instant(date, start))
            .find(|&instant| instant > at)
    }

    /// When the open interval around `at` ends; `None` when closed at `at`.
    pub fn closes_at(&self, at: Timestamp) -> Option<Timestamp> {
        let local = at.to_zoned(self.zone.clone());
        let minute =
            u16::from(local.hour().unsigned_abs()) * 60 + u16::from(local.minute().unsigned_abs());
        let date = local.date();
        let &(_, end) = self
            .day(date)
            .iter()
            .find(|&&(start, end)| start <= minute && minute < end)?;
        if end == DAY_MINUTES {
            let tomorrow = date.tomorrow().ok()?;
            return self.instant(tomorrow, 0);
        }
        self.instant(date, end)
    }

    fn day(&self, date: Date) -> &[(u16, u16)] {
        let index = usize::try_from(date.weekday().to_monday_zero_offset()).unwrap_or(0);
        &self.week[index % 7]
    }

    /// The instant of `minute` past local midnight on `date` (a time skipped by a daylight
    /// saving change resolves to the instant after the gap, jiff's "compatible" rule).
    fn instant(&self, date: Date, minute: u16) -> Option<Timestamp> {
        let hour = i8::try_from(minute / 60).ok()?;
        let min = i8::try_from(minute % 60).ok()?;
        let civil = date.at(hour, min, 0, 0);
        civil
            .to_zoned(self.zone.clone())
            .ok()
            .map(|z| z.timestamp())
    }
}

/// The days a key covers, as Monday-zero indexes.
fn day_range(key: &str) -> Result<Vec<usize>, String> {
    let day = |name: &str| {
        let name = name.trim().to_ascii_lowercase();
        DAYS.iter()
            .position(|d| name.len() >= 3 && d.starts_with(&name[..3]) && is_day_name(&name))
            .ok_or_else(|| {
                format!("`{key}` is not a day: use mon, tue, wed, thu, fri, sat, sun, a range like mon-fri, or daily")
            })
    };
    if key.trim().eq_ignore_ascii_case("daily") {
        return Ok((0..7).collect());
    }
    match key.split_once('-') {
        Some((first, last)) => {
            let (first, last) = (day(first)?, day(last)?);
            if first > last {
                return Err(format!(
                    "`{key}`: a day range runs from Monday towards Sunday"
                ));
            }
            Ok((first..=last).collect())
        }
        None => Ok(vec![day(key)?]),
    }
}

/// Accepts `mon` or `monday` (any case), not `month`.
fn is_day_name(name: &str) -> bool {
    const FULL: [&str; 7] = [
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    name.len() == 3 || FULL.contains(&name)
}

/// `09:00-12:00, 13:00-17:30` as minute intervals; `closed` as none.
fn intervals(key: &str, value: &str) -> Result<Vec<(u16, u16)>, String> {
    if value.trim().eq_ignore_ascii_case("closed") {
        return Ok(Vec::new());
    }
    value
        .split(',')
        .map(|part| {
            let bad = || {
                format!("`{key}: {value}`: write opening hours as HH:MM-HH:MM (24-hour clock), several separated by commas, or `closed`")
            };
            let (start, end) = part.trim().split_once('-').ok_or_else(bad)?;
            let (start, end) = (clock(start).ok_or_else(bad)?, clock(end).ok_or_else(bad)?);
            if start >= end {
                return Err(format!(
                    "`{key}: {value}`: {} ends before it starts; split a night shift at midnight (mon: 22:00-24:00, tue: 00:00-02:00)",
                    part.trim()
                ));
            }
            Ok((start, end))
        })
        .collect()
}

/// `HH:MM` as minutes past midnight; `24:00` is the end of the day.
fn clock(text: &str) -> Option<u16> {
    let (hours, minutes) = text.trim().split_once(':')?;
    let (hours, minutes): (u16, u16) = (hours.parse().ok()?, minutes.parse().ok()?);
    let total = hours * 60 + minutes;
    (minutes < 60 && total <= DAY_MINUTES).then_some(total)
}

/// Targets for one priority: how soon an agent should first answer, and resolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaTarget {
    /// From the handoff to the first agent reply.
    pub first_response: Duration,
    /// From the handoff to resolution.
    pub resolution: Duration,
}

/// The default targets per priority, low to urgent. A complaint (high) must get a first answer
/// within 10 minutes and be resolved within a day.
pub const DEFAULT_SLA: [SlaTarget; 4] = [
    target(60 * 60, 72 * 3600),
    target(30 * 60, 48 * 3600),
    target(10 * 60, 24 * 3600),
    target(5 * 60, 8 * 3600),
];

const fn target(first_response: u64, resolution: u64) -> SlaTarget {
    SlaTarget {
        first_response: Duration::from_secs(first_response),
        resolution: Duration::from_secs(resolution),
    }
}

/// A priority's targets as written: either may be left out to keep the default.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSla {
    first_response: Option<String>,
    resolution: Option<String>,
}

/// The SLA targets of a queue: the defaults with what the queue overrides.
pub(super) fn sla_targets(raw: &BTreeMap<String, RawSla>) -> Result<[SlaTarget; 4], String> {
    let mut targets = DEFAULT_SLA;
    for (name, raw) in raw {
        let rank = Priority::ALL
            .iter()
            .position(|(n, _)| n == name)
            .ok_or_else(|| {
                format!("sla: unknown priority `{name}` (low, normal, high or urgent)")
            })?;
        if let Some(text) = &raw.first_response {
            targets[rank].first_response = duration(&format!("sla.{name}.first_response"), text)?;
        }
        if let Some(text) = &raw.resolution {
            targets[rank].resolution = duration(&format!("sla.{name}.resolution"), text)?;
        }
    }
    Ok(targets)
}

/// A positive duration such as `90s`, `15m`, `1h 30m` or `24h`.
pub(super) fn duration(what: &str, text: &str) -> Result<Duration, String> {
    text.trim()
        .parse::<jiff::SignedDuration>()
        .ok()
        .filter(|d| d.is_positive())
        .and_then(|d| Duration::try_from(d).ok())
        .ok_or_else(|| {
            format!("{what}: `{text}` is not a duration; write e.g. 90s, 15m, 1h 30m or 24h")
        })
}

/// A queue as written in `intents.yaml`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawQueue {
    name: Spanned<String>,
    #[serde(default)]
    description: String,
    hours: Option<BTreeMap<String, String>>,
    wait_timeout: Option<String>,
    #[serde(default)]
    auto_assign: bool,
    sla: Option<BTreeMap<String, RawSla>>,
}

/// A queue with its settings checked; a mistake in one is a problem on the queue's line, and
/// the setting keeps its default so that checking goes on.
pub(super) fn read_queue(
    path: &Path,
    raw: RawQueue,
    problems: &mut Vec<Problem>,
) -> Located<Queue> {
    let line = line_of(&raw.name, 0);
    let name = raw.name.trim().to_owned();
    let mut queue = Queue {
        description: raw.description,
        auto_assign: raw.auto_assign,
        ..Queue::named(&name)
    };
    let mut problem = |message: String| {
        problems.push(Problem::new(
            path,
            line,
            format!("queue `{name}`: {message}"),
        ));
    };
    if let Some(hours) = &raw.hours {
        queue.hours = Hours::parse(hours).map_err(&mut problem).ok();
    }
    if let Some(text) = &raw.wait_timeout {
        queue.wait_timeout = duration("wait_timeout", text).map_err(&mut problem).ok();
    }
    if let Some(sla) = &raw.sla
        && let Ok(targets) = sla_targets(sla).map_err(&mut problem)
    {
        queue.sla = targets;
    }
    Located {
        line,
        queue_line: 0,
        value: queue,
    }
}

#[cfg(test)]
#[path = "queues_tests.rs"]
mod tests;
