//! What the decision policy remembers of a conversation between messages: the state behind the
//! rules that look back (misses in a row, the same answer twice, answers marked not helpful).

use super::HandoffReason;
use super::policy::Decision;
use crate::knowledge::{DEFAULT_QUEUE, Priority};

/// What the policy remembers of a conversation between messages. Rebuilt from the stored
/// events when a customer resumes ([`Memory::observe_stored`]), so a reload or a server restart
/// does not reset the counters that lead to a handoff.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Memory {
    /// Misses in a row: fallbacks since the last message the bot understood.
    pub misses: u32,
    /// The FAQ entry of the bot's latest answer, until something other than small talk or a
    /// fallback comes between.
    pub last_answer: Option<String>,
    /// The seqs of answers the customer marked not helpful (a changed vote on one answer
    /// counts once).
    pub unhelpful: Vec<u64>,
}

impl Memory {
    /// Updates the memory with the decision just taken.
    pub fn observe(&mut self, decision: &Decision) {
        self.misses = match decision {
            Decision::Fallback | Decision::Narrow { .. } => self.misses.saturating_add(1),
            _ => 0,
        };
        match decision {
            Decision::Answer { faq_id, .. } => self.last_answer = Some(faq_id.clone()),
            // "Thanks" or a garbled message between two identical answers is still a loop.
            Decision::Reply { .. } | Decision::Fallback | Decision::Narrow { .. } => {}
            Decision::Clarify { .. } | Decision::Handoff { .. } => self.last_answer = None,
        }
    }

    /// Updates the memory with a stored bot event: its `decision` name and FAQ entry.
    pub fn observe_stored(&mut self, decision: &str, faq_id: Option<&str>) {
        let decision = match (decision, faq_id) {
            ("answer", Some(faq_id)) => Decision::Answer {
                faq_id: faq_id.to_owned(),
                also: Vec::new(),
            },
            ("fallback", _) => Decision::Fallback,
            ("narrow", _) => Decision::Narrow {
                choices: Vec::new(),
            },
            ("clarify", _) => Decision::Clarify {
                choices: Vec::new(),
            },
            ("handoff", _) => Decision::Handoff {
                reason: HandoffReason::Intent,
                queue: DEFAULT_QUEUE.to_owned(),
                priority: Priority::Normal,
            },
            // Small talk, and anything a later version may store.
            _ => Decision::Reply {
                text: String::new(),
                closing: false,
            },
        };
        self.observe(&decision);
    }
}
