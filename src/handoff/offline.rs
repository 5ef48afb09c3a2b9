//! Offering a waiting customer to leave a message instead: when their queue is closed, when
//! nobody is online for it, or when they have waited longer than the queue's `wait_timeout`.
//! Each wait gets at most one offer (the store's `offline_offered_at` makes it so, even with
//! several servers), made at the handoff or later by the watchdog.

use jiff::Timestamp;

use crate::app::App;
use crate::knowledge::{BotTexts, Queue, Text};
use crate::protocol::{OfflineReason, ServerFrame};
use crate::storage::{NewEvent, Sender, StorageError};

/// Why a customer waiting in `queue` at `now` should be offered to leave a message at the
/// moment of the handoff: closed beats nobody online (it says when to come back).
/// Written in `lang`.
pub fn at_handoff(app: &App, queue: &Queue, now: Timestamp, lang: &str) -> Option<ServerFrame> {
    let bot = app.bot.load();
    let texts = &bot.knowledge().texts;
    closed(queue, now, texts, lang).or_else(|| {
        (app.hub.online_for(&queue.name) == 0)
            .then(|| offer(OfflineReason::NobodyOnline, texts, lang))
    })
}

/// Why a customer who has waited since `queued_at` should be offered it now (the watchdog):
/// the queue closed while they waited, or the wait passed the timeout.
/// Written in `lang` with the knowledge base's `texts`.
pub fn while_waiting(
    queue: &Queue,
    queued_at: i64,
    now: Timestamp,
    texts: &BotTexts,
    lang: &str,
) -> Option<ServerFrame> {
    closed(queue, now, texts, lang).or_else(|| {
        let timeout = i64::try_from(queue.wait_timeout?.as_millis()).ok()?;
        (now.as_millisecond() - queued_at >= timeout)
            .then(|| offer(OfflineReason::Timeout, texts, lang))
    })
}

/// Makes the offer (`frame`, an `offline` frame as JSON) unless this wait already had one:
/// stores the frame and tells the customer and the agents. Returns whether it was made.
pub async fn make(
    app: &App,
    conversation_id: &str,
    value: serde_json::Value,
) -> Result<bool, StorageError> {
    if !app.store.mark_offline_offered(conversation_id).await? {
        return Ok(false);
    }
    super::publish(app, conversation_id, NewEvent::new(Sender::System, value)).await?;
    Ok(true)
}

fn closed(queue: &Queue, now: Timestamp, texts: &BotTexts, lang: &str) -> Option<ServerFrame> {
    let hours = queue.hours.as_ref()?;
    if hours.is_open(now) {
        return None;
    }
    let opens = hours.next_open(now);
    let text = match opens {
        Some(opens) => {
            let local = opens.in_tz(hours.zone_name()).ok()?;
            // Within a week the weekday says it; further away the date does. Chinese readers
            // get the date the way they write it (12月1日 09:00).
            let soon = opens.duration_since(now).as_hours() < 6 * 24;
            let format = match (lang, soon) {
                ("zh", _) => "%-m月%-d日 %H:%M",
                (_, true) => "%A %H:%M",
                (_, false) => "%A %-d %B %H:%M",
            };
            let when = format!("{} ({})", local.strftime(format), hours.zone_name());
            texts.fill(lang, Text::ClosedUntil, &when)
        }
        None => texts.get(lang, Text::ClosedAlways).to_owned(),
    };
    Some(ServerFrame::Offline {
        seq: 0,
        text,
        reason: OfflineReason::Closed,
        opens_at: opens.map(|t| t.as_millisecond()),
    })
}

/// The offer for a reason that has no opening time (nobody online, waited too long).
fn offer(reason: OfflineReason, texts: &BotTexts, lang: &str) -> ServerFrame {
    let text = match reason {
        OfflineReason::Timeout => Text::WaitTimeout,
        _ => Text::NobodyOnline,
    };
    ServerFrame::Offline {
        seq: 0,
        text: texts.get(lang, text).to_owned(),
        reason,
        opens_at: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(hours: &[(&str, &str)], timeout_secs: Option<u64>) -> Queue {
        let hours = (!hours.is_empty()).then(|| {
            crate::knowledge::Hours::parse(
                &hours
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            )
            .expect("valid hours")
        });
        Queue {
            hours,
            wait_timeout: timeout_secs.map(std::time::Duration::from_secs),
            ..Queue::named("general")
        }
    }

    fn at(text: &str) -> Timestamp {
        text.parse().expect("a test timestamp")
    }

    #[test]
    fn a_closed_queue_says_when_it_opens_in_its_own_zone() {
        let q = queue(
            &[("timezone", "Europe/Paris"), ("mon-fri", "09:00-18:00")],
            None,
        );
        // Saturday 2026-11-28 12:00 UTC; back Monday 09:00 Paris = 08:00 UTC.
        let Some(ServerFrame::Offline {
            text,
            reason,
            opens_at,
            ..
        }) = while_waiting(
            &q,
            0,
            at("2026-11-28T12:00:00Z"),
            &BotTexts::default(),
            "en",
        )
        else {
            panic!("a closed queue makes an offer");
        };
        assert_eq!(reason, OfflineReason::Closed);
        assert_eq!(opens_at, Some(at("2026-11-30T08:00:00Z").as_millisecond()));
        assert!(text.contains("Monday 09:00 (Europe/Paris)"), "{text}");
        assert!(
            while_waiting(
                &q,
                0,
                at("2026-11-30T08:00:00Z"),
                &BotTexts::default(),
                "en"
            )
            .is_none()
        );
    }

    #[test]
    fn a_wait_past_the_timeout_is_offered_once_due() {
        let q = queue(&[], Some(60));
        let start = at("2026-11-23T10:00:00Z");
        let queued = start.as_millisecond();
        assert!(while_waiting(&q, queued, start, &BotTexts::default(), "en").is_none());
        let late = at("2026-11-23T10:01:00Z");
        assert!(matches!(
            while_waiting(&q, queued, late, &BotTexts::default(), "en"),
            Some(ServerFrame::Offline {
                reason: OfflineReason::Timeout,
                ..
            })
        ));
        assert!(
            while_waiting(&queue(&[], None), queued, late, &BotTexts::default(), "en").is_none(),
            "no timeout, no offer"
        );
    }
}
