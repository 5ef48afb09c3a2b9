//! Replies owed: a message that is stored and acknowledged must be answered exactly once, even
//! when the model is busy (the read is retried, the customer told once), after a crash (the
//! resume answers a message left pending), or when another connection to the same
//! conversation answers it first (this one shows that answer instead of a second one).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::turn::{CANDIDATES, REQUEST_HUMAN_CHOICE};
use super::{Chat, ChatError, Outbox};
use crate::bot::compound;
use crate::bot::policy::{Decision, Memory, Turn, decide};
use crate::bot::{Bot, ReadError};
use crate::model::ModelError;
use crate::protocol::{ErrorCode, ServerFrame};

/// How long a turn waits out a busy model before giving up: long past any burst the model
/// queue absorbs (a full queue is about a second of work).
const BUSY_PATIENCE: Duration = Duration::from_secs(30);

impl Chat {
    /// Answers the conversation's last customer message if nothing followed it: the server
    /// stored (and maybe acknowledged) it, then died before the bot's reply was stored. The
    /// widget will not resend an acknowledged message, so the reply is owed now.
    pub(super) async fn answer_pending(
        &mut self,
        conversation: &crate::storage::Conversation,
        out: &mut impl Outbox,
    ) -> Result<(), ChatError> {
        if !self.bot_active {
            return Ok(());
        }
        let Some(last) = self
            .app
            .store
            .recent_customer_messages(&conversation.id, 1)
            .await?
            .pop()
            .filter(|event| event.seq == conversation.last_seq)
        else {
            return Ok(());
        };
        tracing::info!(
            conversation = conversation.id,
            seq = last.seq,
            "answering a message left pending"
        );
        // The earlier embedding of this message is the one repeat detection would compare it
        // with: answering it must not count as the customer repeating themself.
        self.previous_text = None;
        match serde_json::from_str::<ServerFrame>(&last.frame)? {
            ServerFrame::CustomerMessage {
                choice_id: Some(choice_id),
                ..
            } if choice_id == REQUEST_HUMAN_CHOICE => {
                self.hand_to_person(out, Some(last.seq)).await
            }
            ServerFrame::CustomerMessage {
                choice_id: Some(choice_id),
                text,
                ..
            } => {
                self.act_on_choice(out, &choice_id, &text, Some(last.seq))
                    .await
            }
            ServerFrame::CustomerMessage { text, .. } => {
                self.bot_turn(out, &text, Some(last.seq)).await
            }
            _ => Ok(()),
        }
    }

    /// `whole`, the decision on a message, or the answers to each of its questions when it
    /// asks several that different entries answer ([`compound`]).
    pub(super) async fn answer_questions(
        &mut self,
        out: &mut impl Outbox,
        bot: &Arc<Bot>,
        text: &str,
        whole: Decision,
    ) -> Result<Decision, ChatError> {
        let Some(questions) = compound::to_read(text, &whole) else {
            return Ok(whole);
        };
        let mut parts = Vec::with_capacity(questions.len());
        for question in &questions {
            match self.read_patiently(out, bot, question).await?.1 {
                // Each question as a first message: the conversation's memory judges the reply.
                Some(turn) => parts.push(decide(&self.app.policy, &turn, &Memory::default())),
                None => return Ok(whole),
            }
        }
        Ok(compound::combine(whole, &parts, &self.memory))
    }

    /// Reads `text` (the one embed → retrieve path), waiting out a busy model: the message is
    /// stored and acknowledged, so its answer is owed. The customer is told once that the
    /// answer is coming; the read is retried with growing pauses for [`BUSY_PATIENCE`], after
    /// which the failure goes up (the reply stays owed and is given on the next resume).
    pub(super) async fn read_patiently(
        &mut self,
        out: &mut impl Outbox,
        bot: &Arc<Bot>,
        text: &str,
    ) -> Result<(Option<Vec<f32>>, Option<Turn>), ChatError> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(50);
        let mut told = false;
        loop {
            let owned = text.to_owned();
            let lang = self.lang;
            let read = crate::bot::read(
                Arc::clone(bot),
                &self.app.embedder,
                &self.app.metrics,
                text,
                CANDIDATES,
                move |bot, reading| {
                    let turn = reading.understanding.map(|understanding| {
                        Turn::from_reading(
                            &owned,
                            understanding,
                            reading.candidates,
                            bot.knowledge(),
                            lang,
                        )
                    });
                    (reading.embedding.map(<[f32]>::to_vec), turn)
                },
            )
            .await;
            match read {
                Err(ReadError::Model(ModelError::Busy)) if started.elapsed() < BUSY_PATIENCE => {
                    if !told {
                        told = true;
                        let notice = super::error(
                            ErrorCode::Busy,
                            "the assistant is busy; your message is saved and will be answered \
                             in a moment",
                        );
                        out.send(notice).await?;
                    }
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(1));
                }
                other => return Ok(other?),
            }
        }
    }

    /// Another connection answered the message this turn was for: send what the store has
    /// since (that answer, or the handoff) and follow the conversation's state.
    pub(super) async fn turn_taken(&mut self, out: &mut impl Outbox) -> Result<(), ChatError> {
        tracing::info!(conversation = self.id, "another connection answered first");
        self.catch_up(out).await?;
        if !self.bot_active {
            self.listen();
        }
        Ok(())
    }
}
