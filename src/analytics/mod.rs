//! The numbers that prove the bot works, computed from the stored conversations for a range of
//! days (UTC): containment, handoffs by reason, answer helpfulness, queue wait, first agent
//! response and handling times, satisfaction, busiest hours, top FAQ entries and intents; and
//! ([`unanswered`]) the questions nobody could answer, grouped by meaning.
//!
//! Definitions (the README repeats them for managers):
//! - a *conversation* is one started in the range in which the customer wrote at least once;
//! - *contained*: never handed off and no answer marked not helpful;
//! - *queue wait*: the time the customer of the (latest) handoff spent waiting in queues until
//!   an agent took it, the waits after transfers to a queue included; *first response*: from the
//!   handoff to the first agent reply; *handling*: from the first agent taking it to resolution,
//!   across transfers;
//! - *top intents*: the intents the bot acted on (not its guesses for messages it missed);
//! - p90 is the nearest-rank 90th percentile.

mod report;
pub mod unanswered;

pub use report::{
    Breaches, Csat, Day, Durations, Hour, ReasonCount, Report, TopFaq, TopIntent, Totals,
};

use jiff::civil::Date;

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
                .filter(|c| c.first_assigned_at.is_some())
                .filter_map(|c| c.waited_ms.or_else(|| span(c.queued_at, c.assigned_at)))
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
                .filter_map(|c| span(c.first_assigned_at, c.resolved_at))
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
#[path = "analytics_tests.rs"]
mod tests;
