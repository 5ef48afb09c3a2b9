//! The numbers that prove the bot works, computed from the stored conversations for a range of
//! days (UTC): containment, handoffs by reason, answer helpfulness, queue wait, first agent
//! response and handling times, satisfaction, busiest hours, top FAQ entries and intents; and
//! ([`unanswered`]) the questions nobody could answer, grouped by meaning.
//!
//! Definitions (the README repeats them for managers):
//! - a *conversation* is one started in the range in which the customer wrote at least once;
//! - *contained*: never handed off and no answer marked not helpful;
//! - *queue wait*: from the (latest) handoff to an agent taking it; *first response*: from the
//!   handoff to the first agent reply; *handling*: from the agent taking it to resolution;
//! - p90 is the nearest-rank 90th percentile.

pub mod unanswered;

use jiff::civil::Date;
use serde::Serialize;

use crate::knowledge::Knowledge;
use crate::storage::{ConversationFacts, StorageError, Store};

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;
/// The longest range a report covers.
pub const MAX_DAYS: i64 = 366;
/// Entries in the top FAQ and intent lists.
const TOP: usize = 10;

/// Days `from` to `to`, both included, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// First day.
    pub from: Date,
    /// Last day.
    pub to: Date,
}

/// Why a range is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RangeError {
    /// The last day is before the first.
    #[error("`to` ({to}) is before `from` ({from})")]
    Backwards {
        /// First day.
        from: Date,
        /// Last day.
        to: Date,
    },
    /// Too many days.
    #[error("a report covers at most {MAX_DAYS} days, this range has {0}")]
    TooLong(i64),
}

impl Range {
    /// A checked range.
    pub fn new(from: Date, to: Date) -> Result<Range, RangeError> {
        let range = Range { from, to };
        if to < from {
            return Err(RangeError::Backwards { from, to });
        }
        if range.days() > MAX_DAYS {
            return Err(RangeError::TooLong(range.days()));
        }
        Ok(range)
    }

    /// Days covered.
    pub fn days(&self) -> i64 {
        (self.end_ms() - self.start_ms()) / DAY_MS
    }

    /// The first day's midnight, UTC, in ms since the epoch.
    pub fn start_ms(&self) -> i64 {
        midnight(self.from)
    }

    /// The midnight after the last day.
    pub fn end_ms(&self) -> i64 {
        midnight(self.to) + DAY_MS
    }
}

fn midnight(date: Date) -> i64 {
    date.to_zoned(jiff::tz::TimeZone::UTC)
        .map_or(0, |z| z.timestamp().as_millisecond())
}

/// Average, 90th percentile and count of durations in seconds (`null`s without data).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Durations {
    /// Mean.
    pub avg: Option<f64>,
    /// Nearest-rank 90th percentile.
    pub p90: Option<f64>,
    /// How many.
    pub count: usize,
}

impl Durations {
    /// From durations in milliseconds (negative ones, from clock changes, are dropped).
    pub fn of_ms(mut ms: Vec<i64>) -> Durations {
        ms.retain(|&d| d >= 0);
        ms.sort_unstable();
        let count = ms.len();
        if count == 0 {
            return Durations {
                avg: None,
                p90: None,
                count,
            };
        }
        let secs = |d: i64| d as f64 / 1000.0;
        let sum: f64 = ms.iter().map(|&d| secs(d)).sum();
        // Nearest rank: the smallest value with at least 90 % of the values at or below it.
        let rank = (count * 9).div_ceil(10).max(1);
        Durations {
            avg: Some(sum / count as f64),
            p90: Some(secs(ms[rank - 1])),
            count,
        }
    }
}

/// A count of something by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReasonCount {
    /// The handoff reason.
    pub reason: String,
    /// How many handoffs.
    pub count: i64,
}

/// Satisfaction ratings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Csat {
    /// Mean rating.
    pub avg: Option<f64>,
    /// Ratings given.
    pub count: usize,
    /// How many of each rating, 1 to 5.
    pub distribution: [usize; 5],
}

/// SLA breaches by kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Breaches {
    /// First agent replies late or missing.
    pub first_response: i64,
    /// Resolutions late.
    pub resolution: i64,
}

/// The figures over the whole range.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Totals {
    /// Conversations (the customer wrote).
    pub conversations: usize,
    /// Never handed off, no answer marked not helpful.
    pub contained: usize,
    /// contained / conversations.
    pub containment_rate: Option<f64>,
    /// Conversations handed off at least once.
    pub handoffs: usize,
    /// handoffs / conversations.
    pub handoff_rate: Option<f64>,
    /// Handoffs by reason (a conversation handed off twice counts twice).
    pub handoff_reasons: Vec<ReasonCount>,
    /// FAQ answers given.
    pub answers: i64,
    /// Of which marked helpful.
    pub helpful: i64,
    /// Of which marked not helpful.
    pub unhelpful: i64,
    /// helpful / (helpful + unhelpful).
    pub helpfulness: Option<f64>,
    /// From handoff to an agent taking the conversation.
    pub queue_wait_secs: Durations,
    /// From handoff to the first agent reply.
    pub first_response_secs: Durations,
    /// From an agent taking it to resolution.
    pub handling_secs: Durations,
    /// Ratings.
    pub csat: Csat,
    /// Missed SLA targets falling due in the range.
    pub sla_breaches: Breaches,
}

/// One day's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Day {
    /// The day, `YYYY-MM-DD`.
    pub date: String,
    /// Conversations started.
    pub conversations: usize,
    /// Of which contained.
    pub contained: usize,
    /// contained / conversations.
    pub containment_rate: Option<f64>,
    /// Of which handed off.
    pub handoffs: usize,
    /// Mean rating of those rated.
    pub csat_avg: Option<f64>,
    /// Mean queue wait.
    pub queue_wait_avg_secs: Option<f64>,
}

/// Customer messages in one hour of the day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Hour {
    /// 0–23, UTC.
    pub hour: i64,
    /// Messages.
    pub messages: i64,
}

/// An FAQ entry's use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopFaq {
    /// The entry.
    pub faq_id: String,
    /// Its question, when it still exists.
    pub question: Option<String>,
    /// Answers given with it.
    pub answers: i64,
    /// Votes helpful.
    pub helpful: i64,
    /// Votes not helpful.
    pub unhelpful: i64,
}

/// An intent's frequency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopIntent {
    /// The intent.
    pub intent: String,
    /// Customer messages it was recognised in.
    pub messages: i64,
}

/// `GET /api/analytics`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// First day.
    pub from: String,
    /// Last day.
    pub to: String,
    /// The range's figures.
    pub totals: Totals,
    /// One entry per day, zeros included.
    pub days: Vec<Day>,
    /// 24 entries.
    pub busiest_hours: Vec<Hour>,
    /// The most used FAQ entries.
    pub top_faqs: Vec<TopFaq>,
    /// The most recognised intents.
    pub top_intents: Vec<TopIntent>,
}

/// Computes the report for `range` (FAQ questions from `knowledge`).
pub async fn report(
    store: &Store,
    knowledge: &Knowledge,
    range: Range,
) -> Result<Report, StorageError> {
    let (from, to) = (range.start_ms(), range.end_ms());
    let facts: Vec<ConversationFacts> = store
        .conversation_facts(from, to)
        .await?
        .into_iter()
        .filter(|c| c.engaged)
        .collect();
    let reasons = store.handoff_reasons(from, to).await?;
    let faqs = store.faq_use(from, to).await?;
    let intents = store.intent_counts(from, to).await?;
    let hours = store.messages_by_hour(from, to).await?;
    let breaches = store.breach_counts(from, to).await?;

    let (helpful, unhelpful) = faqs
        .iter()
        .fold((0, 0), |(h, u), f| (h + f.helpful, u + f.unhelpful));
    let breach = |kind: &str| {
        breaches
            .iter()
            .find(|(k, _)| k == kind)
            .map_or(0, |(_, n)| *n)
    };
    let totals = Totals {
        sla_breaches: Breaches {
            first_response: breach("first_response"),
            resolution: breach("resolution"),
        },
        handoff_reasons: reasons
            .into_iter()
            .map(|(reason, count)| ReasonCount { reason, count })
            .collect(),
        answers: faqs.iter().map(|f| f.answers).sum(),
        helpful,
        unhelpful,
        helpfulness: ratio(helpful, helpful + unhelpful),
        ..summarise(&facts)
    };
    let days = (0..range.days())
        .map(|i| {
            let start = from + i * DAY_MS;
            let day: Vec<ConversationFacts> = facts
                .iter()
                .filter(|c| (start..start + DAY_MS).contains(&c.created_at))
                .cloned()
                .collect();
            let summary = summarise(&day);
            Day {
                date: range
                    .from
                    .checked_add(jiff::Span::new().days(i))
                    .map_or_else(|_| String::new(), |d| d.to_string()),
                conversations: summary.conversations,
                contained: summary.contained,
                containment_rate: summary.containment_rate,
                handoffs: summary.handoffs,
                csat_avg: summary.csat.avg,
                queue_wait_avg_secs: summary.queue_wait_secs.avg,
            }
        })
        .collect();
    Ok(Report {
        from: range.from.to_string(),
        to: range.to.to_string(),
        totals,
        days,
        busiest_hours: (0..24)
            .map(|hour| Hour {
                hour,
                messages: hours
                    .iter()
                    .find(|(h, _)| *h == hour)
                    .map_or(0, |(_, n)| *n),
            })
            .collect(),
        top_faqs: faqs
            .into_iter()
            .take(TOP)
            .map(|f| TopFaq {
                question: knowledge.faq(&f.faq_id).map(|e| e.question.clone()),
                faq_id: f.faq_id,
                answers: f.answers,
                helpful: f.helpful,
                unhelpful: f.unhelpful,
            })
            .collect(),
        top_intents: intents
            .into_iter()
            .take(TOP)
            .map(|(intent, messages)| TopIntent { intent, messages })
            .collect(),
    })
}

/// The per-conversation figures of `facts` (the message-level ones left empty).
fn summarise(facts: &[ConversationFacts]) -> Totals {
    let conversations = facts.len();
    let contained = facts
        .iter()
        .filter(|c| !c.handed_off && !c.unhelpful)
        .count();
    let handoffs = facts.iter().filter(|c| c.handed_off).count();
    let span = |start: Option<i64>, end: Option<i64>| Some(end? - start?);
    let ratings: Vec<i64> = facts.iter().filter_map(|c| c.csat).collect();
    let mut distribution = [0; 5];
    for &r in &ratings {
        if let Some(slot) = usize::try_from(r - 1)
            .ok()
            .and_then(|i| distribution.get_mut(i))
        {
            *slot += 1;
        }
    }
    Totals {
        conversations,
        contained,
        containment_rate: ratio(contained as i64, conversations as i64),
        handoffs,
        handoff_rate: ratio(handoffs as i64, conversations as i64),
        handoff_reasons: Vec::new(),
        answers: 0,
        helpful: 0,
        unhelpful: 0,
        helpfulness: None,
        queue_wait_secs: Durations::of_ms(
            facts
                .iter()
                .filter_map(|c| span(c.queued_at, c.assigned_at))
                .collect(),
        ),
        first_response_secs: Durations::of_ms(
            facts
                .iter()
                .filter_map(|c| span(c.sla_started_at, c.first_agent_reply_at))
                .collect(),
        ),
        handling_secs: Durations::of_ms(
            facts
                .iter()
                .filter_map(|c| span(c.assigned_at, c.resolved_at))
                .collect(),
        ),
        csat: Csat {
            avg: ratio(ratings.iter().sum(), ratings.len() as i64),
            count: ratings.len(),
            distribution,
        },
        sla_breaches: Breaches {
            first_response: 0,
            resolution: 0,
        },
    }
}

fn ratio(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

#[cfg(test)]
mod tests {
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
}
