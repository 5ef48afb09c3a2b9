//! The report's shape, as `GET /api/analytics` serialises it.

use serde::Serialize;

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
