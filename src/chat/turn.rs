//! The customer's frames that the bot acts on, and the bot's turn: store and acknowledge, read,
//! decide, then record the bot's reply or hand the conversation to the handoff service.

use super::{Chat, ChatError, Out, Outbox, reply};
use crate::bot::policy::{self, Decision, HUMAN_REQUEST_INTENT, decide};
use crate::bot::{Bot, HandoffReason};
use crate::handoff::HandoffError;
use crate::knowledge::{DEFAULT_QUEUE, Priority};
use crate::protocol::{ErrorCode, ServerFrame};
use crate::storage::{Appended, NewEvent, Sender, StorageError};

pub(super) use crate::bot::CANDIDATES;

/// What a request for a person stores as the customer's message.
const REQUEST_HUMAN_TEXT: &str = "I'd like to talk to a person.";
/// The `choice_id` a request for a person is stored with, so that a replay (and the bot, when
/// it answers a message left pending by a crash) can tell the button from typed words.
pub(super) const REQUEST_HUMAN_CHOICE: &str = "request_human";

impl Chat {
    /// Something the customer typed: stored and acknowledged, then the bot's turn (while the
    /// bot serves the conversation; a person reads it otherwise).
    pub async fn message(
        &mut self,
        out: &mut impl Outbox,
        client_id: &str,
        text: &str,
    ) -> Result<(), ChatError> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(out
                .send(super::error(
                    ErrorCode::BadFrame,
                    "the message text is empty",
                ))
                .await?);
        }
        let max = self.app.settings.max_message_chars;
        if text.chars().count() > max {
            let message = format!("a message may have at most {max} characters");
            return Ok(out.send(super::error(ErrorCode::TooLarge, message)).await?);
        }
        if let Some(seq) = self.customer_event(out, client_id, text, None).await? {
            self.bot_turn(out, text, Some(seq)).await?;
        }
        Ok(())
    }

    /// A quick reply, a related entry or a clarify choice: answered with that entry when it is
    /// one, otherwise treated as if the label had been typed.
    pub async fn choose(
        &mut self,
        out: &mut impl Outbox,
        client_id: &str,
        choice_id: &str,
        label: &str,
    ) -> Result<(), ChatError> {
        let label = label.trim();
        let max = self.app.settings.max_message_chars;
        if label.is_empty() || label.chars().count() > max {
            let message = format!("a choice's label needs 1 to {max} characters");
            return Ok(out.send(super::error(ErrorCode::TooLarge, message)).await?);
        }
        if let Some(seq) = self
            .customer_event(out, client_id, label, Some(choice_id))
            .await?
        {
            self.act_on_choice(out, choice_id, label, Some(seq)).await?;
        }
        Ok(())
    }

    /// The "talk to a person" button (`client_id` absent: an old widget, nothing stored).
    pub async fn request_human(
        &mut self,
        out: &mut impl Outbox,
        client_id: Option<&str>,
    ) -> Result<(), ChatError> {
        let stored = match client_id {
            Some(id) => self
                .customer_event(out, id, REQUEST_HUMAN_TEXT, Some(REQUEST_HUMAN_CHOICE))
                .await?
                .map(Some),
            None => Some(None),
        };
        if let Some(turn) = stored {
            self.hand_to_person(out, turn).await?;
        }
        Ok(())
    }

    /// Helpful / not helpful on an answer, acknowledged with `feedback_ack`; the second answer
    /// marked not helpful hands off.
    pub async fn feedback(
        &mut self,
        out: &mut impl Outbox,
        seq: u64,
        helpful: bool,
    ) -> Result<(), ChatError> {
        match self.app.store.record_feedback(&self.id, seq, helpful).await {
            Err(StorageError::UnknownEvent { .. }) => {
                let message = format!("there is no answer with seq {seq}");
                return Ok(out.send(super::error(ErrorCode::BadState, message)).await?);
            }
            other => other?,
        }
        out.send(Out::Frame(ServerFrame::FeedbackAck { seq, helpful }))
            .await?;
        if !self.bot_active {
            return Ok(());
        }
        match policy::on_feedback(&self.app.policy, &mut self.memory, seq, helpful) {
            Some(decision) => {
                let bot = self.app.bot.load_full();
                self.respond(out, &bot, decision, plain_event, None).await
            }
            None => Ok(()),
        }
    }

    /// The bot's turn on a stored choice (the customer message at seq `turn`).
    pub(super) async fn act_on_choice(
        &mut self,
        out: &mut impl Outbox,
        choice_id: &str,
        label: &str,
        turn: Option<u64>,
    ) -> Result<(), ChatError> {
        if !self.bot_active {
            return Ok(());
        }
        let bot = self.app.bot.load_full();
        if bot.knowledge().faq(choice_id).is_some() {
            let decision = policy::answer(choice_id, &self.memory);
            self.memory.observe(&decision);
            self.respond(out, &bot, decision, plain_event, turn).await
        } else {
            self.bot_turn(out, label, turn).await
        }
    }

    /// The handoff a request for a person gets (stored at seq `turn`, when it was).
    pub(super) async fn hand_to_person(
        &mut self,
        out: &mut impl Outbox,
        turn: Option<u64>,
    ) -> Result<(), ChatError> {
        if !self.bot_active {
            return Ok(());
        }
        let bot = self.app.bot.load_full();
        // The queue and priority editors gave the "talk to a person" intent, if any.
        let intent = bot.knowledge().intent(HUMAN_REQUEST_INTENT);
        let decision = Decision::Handoff {
            reason: HandoffReason::CustomerRequest,
            queue: intent
                .and_then(|i| i.queue.clone())
                .unwrap_or_else(|| DEFAULT_QUEUE.to_owned()),
            priority: intent.map_or(Priority::Normal, |i| i.priority),
        };
        self.respond(out, &bot, decision, plain_event, turn).await
    }

    /// Stores a customer message and acknowledges it; its seq, or `None` when it was a
    /// duplicate (acked again with its first seq, not answered again).
    pub(super) async fn customer_event(
        &mut self,
        out: &mut impl Outbox,
        client_id: &str,
        text: &str,
        choice_id: Option<&str>,
    ) -> Result<Option<u64>, ChatError> {
        if !self.bot_active {
            self.reopen_if_resolved().await?;
        }
        let frame = ServerFrame::CustomerMessage {
            seq: 0,
            client_id: client_id.to_owned(),
            text: text.to_owned(),
            choice_id: choice_id.map(str::to_owned),
        };
        let event = NewEvent::new(Sender::Customer, serde_json::to_value(&frame)?);
        let (seq, new) = match self
            .app
            .store
            .append_customer_message(&self.id, client_id, event)
            .await?
        {
            Appended::New(stored) => {
                self.tell_agents(&stored);
                (stored.seq, true)
            }
            Appended::Duplicate(seq) => (seq, false),
        };
        let ack = ServerFrame::Ack {
            client_id: client_id.to_owned(),
            seq,
        };
        out.send(Out::Frame(ack)).await?;
        Ok(new.then_some(seq))
    }

    /// The bot's turn on a stored message (at seq `answers`): read it (the one embed → retrieve
    /// path), compare it with the previous message, decide, and record the reply or the handoff.
    pub(super) async fn bot_turn(
        &mut self,
        out: &mut impl Outbox,
        text: &str,
        answers: Option<u64>,
    ) -> Result<(), ChatError> {
        if !self.bot_active {
            return Ok(());
        }
        let bot = self.app.bot.load_full();
        let lang = crate::knowledge::language_after(self.lang, text);
        if lang != self.lang {
            // Agents' notices and the rating request follow the customer's language.
            self.app.store.set_language(&self.id, lang).await?;
            self.lang = lang;
        }
        let (embedding, turn) = self.read_patiently(out, &bot, text).await?;
        if self.previous.is_none()
            && embedding.is_some()
            && let Some(previous) = self.previous_text.take()
        {
            // Only for repeat detection: a busy model costs the comparison, not the answer.
            // With the bot's encoder, so the two embeddings are comparable.
            self.previous = match bot.encoder() {
                Some(encoder) => self.app.embedder.embed_with(encoder, &previous).await.ok(),
                None => self.app.embedder.embed(&previous).await.ok(),
            };
        }
        let similarity = match (&self.previous, &embedding) {
            (Some(previous), Some(embedding)) => Some(crate::model::cosine(previous, embedding)),
            _ => None,
        };
        if embedding.is_some() {
            self.previous = embedding;
        }
        let (decision, turn) = match turn {
            Some(mut turn) => {
                turn.similarity_to_previous = similarity;
                let whole = decide(&self.app.policy, &turn, &self.memory);
                let decision = self.answer_questions(out, &bot, text, whole).await?;
                (decision, Some(turn))
            }
            // The model is still training: say so rather than count a miss.
            None => (Decision::Fallback, None),
        };
        if turn.is_some() {
            self.memory.observe(&decision);
        }
        let (intent, confidence) = turn
            .as_ref()
            .and_then(|t| t.intent.as_ref())
            .map_or((None, None), |i| {
                (Some(i.name.clone()), Some(f64::from(i.probability)))
            });
        let annotate = |frame| NewEvent {
            intent: intent.clone(),
            confidence,
            ..NewEvent::new(Sender::Bot, frame)
        };
        self.respond(out, &bot, decision, annotate, answers).await
    }

    /// Records `decision`: the bot's reply is stored and sent; a handoff goes to the handoff
    /// service, which queues the conversation, stores the handoff frame (it says the place in
    /// line), and makes the offers and assignments that follow.
    ///
    /// With a `turn` (the seq of the customer message answered), the reply or handoff is
    /// recorded only if nothing followed that message: when another connection to the same
    /// conversation answered it first, this one sends what the store has instead, so the
    /// message is answered once and both connections show the answer.
    async fn respond(
        &mut self,
        out: &mut impl Outbox,
        bot: &Bot,
        decision: Decision,
        event: impl Fn(serde_json::Value) -> NewEvent,
        turn: Option<u64>,
    ) -> Result<(), ChatError> {
        self.app
            .metrics
            .decisions
            .with_label_values(&[decision.name()])
            .inc();
        let topics = match &decision {
            Decision::Reply { .. } => self.app.topics.get(&self.app.store).await,
            _ => Vec::new(),
        };
        let lang = self.lang;
        let record = |place: Option<reply::Place>| -> Result<NewEvent, serde_json::Error> {
            let frame = reply::frame_for(bot.knowledge(), &decision, place, &topics, lang);
            let faq_id = match (&decision, &frame) {
                (Decision::Answer { .. }, ServerFrame::Answer { faq_id, .. }) => faq_id.clone(),
                _ => None,
            };
            let reason = match &decision {
                Decision::Handoff { reason, .. } => Some(reason.as_str().to_owned()),
                _ => None,
            };
            Ok(NewEvent {
                faq_id,
                decision: Some(decision.name().to_owned()),
                reason,
                ..event(serde_json::to_value(&frame)?)
            })
        };
        let Decision::Handoff {
            reason,
            queue,
            priority,
        } = &decision
        else {
            let stored = match turn {
                Some(turn) => {
                    self.app
                        .store
                        .append_turn(&self.id, turn, record(None)?)
                        .await
                }
                None => self.app.store.append(&self.id, record(None)?).await,
            };
            let stored = match stored {
                Err(StorageError::TurnTaken(_)) => return self.turn_taken(out).await,
                other => other?,
            };
            return self.deliver(out, stored.seq, stored.frame).await;
        };
        // Listen first: an agent may claim the conversation the moment it is queued.
        self.listen();
        self.bot_active = false;
        let handed = crate::handoff::hand_off(
            &self.app,
            &self.id,
            crate::handoff::Handoff {
                reason: *reason,
                queue,
                priority: *priority,
                turn,
                lang: self.lang,
            },
            |position, offer_follows| {
                record(Some(reply::Place {
                    position,
                    offer_follows,
                }))
            },
        )
        .await;
        let handed = match handed {
            Err(HandoffError::Storage(StorageError::TurnTaken(_))) => {
                return self.turn_taken(out).await;
            }
            other => other?,
        };
        self.place = Some((queue.clone(), handed.position));
        self.deliver(out, handed.stored.seq, handed.stored.frame)
            .await?;
        if let Some(wait_secs) = handed.wait_secs {
            // The handoff frame says the place; the wait, when there is a basis for it, follows.
            let update = ServerFrame::QueueUpdate {
                queue: queue.clone(),
                position: handed.position,
                wait_secs: Some(wait_secs),
            };
            out.send(Out::Frame(update)).await?;
        }
        Ok(())
    }
}

/// A bot event with nothing known about the message (a choice, a button, feedback).
fn plain_event(frame: serde_json::Value) -> NewEvent {
    NewEvent::new(Sender::Bot, frame)
}
