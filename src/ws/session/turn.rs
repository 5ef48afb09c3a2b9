//! The customer's frames that the bot acts on, and the bot's turn: store and acknowledge,
//! understand, decide, store and send the reply.

use std::sync::Arc;

use super::{Session, SessionError, reply};
use crate::bot::Bot;
use crate::bot::policy::{self, Decision, HUMAN_REQUEST_INTENT, Turn, decide};
use crate::knowledge::{DEFAULT_QUEUE, Priority};
use crate::storage::{Appended, NewEvent, Sender, StorageError};
use crate::ws::{ErrorCode, HandoffReason, ServerFrame};

/// FAQ candidates the bot looks at: enough for a three-way clarification.
const CANDIDATES: usize = 3;

/// What a request for a person stores as the customer's message.
const REQUEST_HUMAN_TEXT: &str = "I'd like to talk to a person.";
/// The `choice_id` a request for a person is stored with, so that a replay (and the bot, when
/// it answers a message left pending by a crash) can tell the button from typed words.
pub(super) const REQUEST_HUMAN_CHOICE: &str = "request_human";

impl Session {
    /// Something the customer typed.
    pub(super) async fn message(
        &mut self,
        conversation: &str,
        client_id: &str,
        text: &str,
    ) -> Result<(), SessionError> {
        if text.is_empty() {
            let e = ServerFrame::error(ErrorCode::BadFrame, "the message text is empty");
            return self.send(&e).await;
        }
        let max = self.state.settings.max_message_chars;
        if text.chars().count() > max {
            let message = format!("a message may have at most {max} characters");
            return self
                .send(&ServerFrame::error(ErrorCode::TooLarge, message))
                .await;
        }
        if self
            .customer_event(conversation, client_id, text, None)
            .await?
        {
            self.bot_turn(conversation, text).await?;
        }
        Ok(())
    }

    /// Answers the conversation's last customer message if nothing followed it: the server
    /// stored (and maybe acknowledged) it, then died before the bot's reply was stored. The
    /// widget will not resend an acknowledged message, so the reply is owed now.
    pub(super) async fn answer_pending(
        &mut self,
        conversation: &crate::storage::Conversation,
    ) -> Result<(), SessionError> {
        if !self.bot_active {
            return Ok(());
        }
        let Some(last) = self
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
            } if choice_id == REQUEST_HUMAN_CHOICE => self.hand_to_person(&conversation.id).await,
            ServerFrame::CustomerMessage {
                choice_id: Some(choice_id),
                text,
                ..
            } => {
                self.act_on_choice(&conversation.id, &choice_id, &text)
                    .await
            }
            ServerFrame::CustomerMessage { text, .. } => {
                self.bot_turn(&conversation.id, &text).await
            }
            _ => Ok(()),
        }
    }

    /// A quick reply, a related entry or a clarify choice: answered with that entry when it is
    /// one, otherwise treated as if the label had been typed.
    pub(super) async fn choose(
        &mut self,
        conversation: &str,
        client_id: &str,
        choice_id: &str,
        label: &str,
    ) -> Result<(), SessionError> {
        let stored = self
            .customer_event(conversation, client_id, label, Some(choice_id))
            .await?;
        if stored {
            self.act_on_choice(conversation, choice_id, label).await?;
        }
        Ok(())
    }

    /// The bot's turn on a stored choice.
    async fn act_on_choice(
        &mut self,
        conversation: &str,
        choice_id: &str,
        label: &str,
    ) -> Result<(), SessionError> {
        if !self.bot_active {
            return Ok(());
        }
        let bot = self.state.bot.load_full();
        if bot.knowledge().faq(choice_id).is_some() {
            let decision = policy::answer(choice_id, &self.memory);
            self.memory.observe(&decision);
            self.respond(conversation, &bot, decision, plain_event)
                .await
        } else {
            self.bot_turn(conversation, label).await
        }
    }

    /// The "talk to a person" button.
    pub(super) async fn request_human(
        &mut self,
        conversation: &str,
        client_id: Option<&str>,
    ) -> Result<(), SessionError> {
        let stored = match client_id {
            Some(id) => {
                self.customer_event(
                    conversation,
                    id,
                    REQUEST_HUMAN_TEXT,
                    Some(REQUEST_HUMAN_CHOICE),
                )
                .await?
            }
            None => true,
        };
        if stored {
            self.hand_to_person(conversation).await?;
        }
        Ok(())
    }

    /// The handoff a request for a person gets.
    async fn hand_to_person(&mut self, conversation: &str) -> Result<(), SessionError> {
        if !self.bot_active {
            return Ok(());
        }
        let bot = self.state.bot.load_full();
        // The queue and priority editors gave the "talk to a person" intent, if any.
        let intent = bot.knowledge().intent(HUMAN_REQUEST_INTENT);
        let decision = Decision::Handoff {
            reason: HandoffReason::CustomerRequest,
            queue: intent
                .and_then(|i| i.queue.clone())
                .unwrap_or_else(|| DEFAULT_QUEUE.to_owned()),
            priority: intent.map_or(Priority::Normal, |i| i.priority),
        };
        self.respond(conversation, &bot, decision, plain_event)
            .await
    }

    /// Helpful / not helpful on an answer; the second answer marked not helpful hands off.
    pub(super) async fn feedback(
        &mut self,
        conversation: &str,
        seq: u64,
        helpful: bool,
    ) -> Result<(), SessionError> {
        match self.store.record_feedback(conversation, seq, helpful).await {
            Err(StorageError::UnknownEvent { .. }) => {
                return self
                    .bad_state(format!("there is no answer with seq {seq}"))
                    .await;
            }
            other => other?,
        }
        if !self.bot_active {
            return Ok(());
        }
        match policy::on_feedback(&self.policy, &mut self.memory, seq, helpful) {
            Some(decision) => {
                let bot = self.state.bot.load_full();
                self.respond(conversation, &bot, decision, plain_event)
                    .await
            }
            None => Ok(()),
        }
    }

    /// Stores a customer message and acknowledges it; false when it was a duplicate (acked again
    /// with its first seq, not answered again).
    pub(super) async fn customer_event(
        &mut self,
        conversation: &str,
        client_id: &str,
        text: &str,
        choice_id: Option<&str>,
    ) -> Result<bool, SessionError> {
        let frame = ServerFrame::CustomerMessage {
            seq: 0,
            client_id: client_id.to_owned(),
            text: text.to_owned(),
            choice_id: choice_id.map(str::to_owned),
        };
        let event = NewEvent::new(Sender::Customer, serde_json::to_value(&frame)?);
        let (seq, new) = match self
            .store
            .append_customer_message(conversation, client_id, event)
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
        self.send(&ack).await?;
        Ok(new)
    }

    /// Runs the bot on a stored message: embed, analyse, decide, store and send the reply.
    async fn bot_turn(&mut self, conversation: &str, text: &str) -> Result<(), SessionError> {
        if !self.bot_active {
            return Ok(());
        }
        let bot = self.state.bot.load_full();
        self.lang = reply::language_of(text);
        let started = std::time::Instant::now();
        let embedding = self.state.embedder.embed(text).await?;
        self.state.metrics.observe_model("embed", started.elapsed());
        if self.previous.is_none()
            && let Some(previous) = self.previous_text.take()
        {
            self.previous = Some(self.state.embedder.embed(&previous).await?);
        }
        let similarity = self
            .previous
            .as_deref()
            .map(|p| crate::model::cosine(p, &embedding));
        // Retrieval and the intent model's small matrix products take a millisecond or so:
        // too long to hold an async thread that thousands of sockets share.
        let (analysed, text_owned) = (Arc::clone(&bot), text.to_owned());
        let classify_started = std::time::Instant::now();
        let (embedding, turn) = tokio::task::spawn_blocking(move || {
            let analysis = analysed.analyse(&text_owned, &embedding, CANDIDATES)?;
            let turn = analysis.map(|a| Turn::from_analysis(&text_owned, &a, analysed.knowledge()));
            Ok::<_, SessionError>((embedding, turn))
        })
        .await??;
        self.state
            .metrics
            .observe_model("classify", classify_started.elapsed());
        self.previous = Some(embedding);
        let (decision, turn) = match turn {
            Some(mut turn) => {
                turn.similarity_to_previous = similarity;
                (decide(&self.policy, &turn, &self.memory), Some(turn))
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
        self.respond(conversation, &bot, decision, annotate).await
    }

    /// Builds the frame for `decision`, stores it, sends it; a handoff first queues the
    /// conversation (so the frame can say the place in line) and silences the bot.
    async fn respond(
        &mut self,
        conversation: &str,
        bot: &Bot,
        decision: Decision,
        event: impl Fn(serde_json::Value) -> NewEvent,
    ) -> Result<(), SessionError> {
        self.state
            .metrics
            .decisions
            .with_label_values(&[decision.name()])
            .inc();
        let mut position = None;
        if let Decision::Handoff {
            reason,
            queue,
            priority,
        } = &decision
        {
            // Listen first: an agent may claim the conversation the moment it is queued.
            self.listen(conversation);
            let place = self
                .store
                .enqueue(conversation, reason.as_str(), queue, *priority)
                .await?;
            position = Some(place);
            self.place = Some((queue.clone(), place));
            self.bot_active = false;
            tracing::info!(conversation, reason = reason.as_str(), queue, "handed off");
        }
        let topics = match &decision {
            Decision::Reply { .. } => self.state.topics.get(&self.store).await,
            _ => Vec::new(),
        };
        let frame = reply::frame_for(bot.knowledge(), &decision, position, &topics, self.lang);
        let faq_id = match (&decision, &frame) {
            (Decision::Answer { .. }, ServerFrame::Answer { faq_id, .. }) => faq_id.clone(),
            _ => None,
        };
        let reason = match &decision {
            Decision::Handoff { reason, .. } => Some(reason.as_str().to_owned()),
            _ => None,
        };
        let new = NewEvent {
            faq_id,
            decision: Some(decision.name().to_owned()),
            reason,
            ..event(serde_json::to_value(&frame)?)
        };
        let stored = self.store.append(conversation, new).await?;
        self.sent_seq = self.sent_seq.max(stored.seq);
        self.send_text(stored.frame).await?;
        if let (Some(position), Decision::Handoff { queue, .. }) = (position, &decision) {
            // The handoff frame says the place; the wait, when there is a basis for it, follows.
            if let Some(per_place) = crate::handoff::seconds_per_place(&self.state, queue).await {
                let update = ServerFrame::QueueUpdate {
                    queue: queue.clone(),
                    position,
                    wait_secs: Some(per_place * u64::from(position)),
                };
                self.send(&update).await?;
            }
            let settings = bot.knowledge().queue(queue);
            if let Some(offer) =
                crate::handoff::offline::at_handoff(&self.state, &settings, jiff::Timestamp::now())
            {
                // Stored and sent through the hub, which this session listens to from now on.
                crate::handoff::offline::make(
                    &self.state,
                    conversation,
                    serde_json::to_value(&offer)?,
                )
                .await?;
            }
            self.state
                .hub
                .tell_agents(crate::handoff::AgentNews::QueueChanged);
            if settings.auto_assign {
                crate::handoff::assign::run(&self.state).await;
            }
            // A handoff of higher priority moves those already waiting down.
            crate::handoff::announce_positions(&self.state).await;
        }
        Ok(())
    }
}

/// A bot event with nothing known about the message (a choice, a button, feedback).
fn plain_event(frame: serde_json::Value) -> NewEvent {
    NewEvent::new(Sender::Bot, frame)
}
