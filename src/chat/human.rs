//! The customer side of a conversation in human hands: forwarding what the hub announces (agent
//! messages, notices, queue places, the bot taking over again), telling agents what the customer
//! does, the offline form and the satisfaction rating.

use std::sync::Arc;

use super::{Chat, ChatError, Out, Outbox};
use crate::bot::policy::Memory;
use crate::handoff::{AgentNews, CustomerNews, transcript_entry};
use crate::protocol::{ErrorCode, ServerFrame};
use crate::storage::{ConversationState, StoredEvent};

impl Chat {
    /// Forwards one piece of news from the hub.
    pub async fn on_news(
        &mut self,
        out: &mut impl Outbox,
        news: CustomerNews,
    ) -> Result<(), ChatError> {
        match news {
            CustomerNews::Frame { seq, json } => self.deliver(out, seq, json.to_string()).await?,
            CustomerNews::Stored(seq) if seq > self.sent_seq => self.catch_up(out).await?,
            CustomerNews::Stored(_) => {}
            CustomerNews::Transient(frame) => out.send(Out::Frame(frame)).await?,
            CustomerNews::Position {
                queue,
                position,
                wait_secs,
            } => {
                let place = Some((queue.to_string(), position));
                if self.place != place {
                    self.place = place;
                    let frame = ServerFrame::QueueUpdate {
                        queue: queue.to_string(),
                        position,
                        wait_secs,
                    };
                    out.send(Out::Frame(frame)).await?;
                }
            }
            CustomerNews::BotActive(active) => {
                self.bot_active = active;
                if active {
                    // A fresh start: what led to the handoff is the agent's business now.
                    self.memory = Memory::default();
                    self.previous = None;
                    self.previous_text = None;
                }
            }
        }
        Ok(())
    }

    /// Sends every stored frame after the last one sent (the hub's channel overflowed).
    pub async fn catch_up(&mut self, out: &mut impl Outbox) -> Result<(), ChatError> {
        let store = self.app.store.clone();
        for event in store.events_after(&self.id, self.sent_seq).await? {
            self.deliver(out, event.seq, event.frame).await?;
        }
        let state = store.conversation(&self.id).await?.map(|c| c.state);
        self.bot_active = state == Some(ConversationState::Bot);
        Ok(())
    }

    /// The customer writes after an agent resolved the conversation: it is the bot's again
    /// (rather than a message nobody reads), with a fresh memory; asking for a person hands it
    /// off anew.
    pub(super) async fn reopen_if_resolved(&mut self) -> Result<(), ChatError> {
        if self.app.store.reopen(&self.id).await? {
            tracing::info!(conversation = self.id, "reopened to the bot");
            self.bot_active = true;
            self.memory = Memory::default();
            self.previous = None;
            self.previous_text = None;
            self.place = None;
        }
        Ok(())
    }

    /// Tells agents about a stored customer event while a person handles the conversation.
    pub(super) fn tell_agents(&self, event: &StoredEvent) {
        if !self.bot_active {
            self.app.hub.tell_agents(AgentNews::Event {
                conversation_id: event.conversation_id.as_str().into(),
                entry: Arc::new(transcript_entry(event, None)),
            });
        }
    }

    /// The offline form: the message joins the transcript, the email is sealed into a ticket.
    pub async fn leave_message(
        &mut self,
        out: &mut impl Outbox,
        client_id: &str,
        email: &str,
        text: &str,
    ) -> Result<(), ChatError> {
        let (email, text) = (email.trim(), text.trim());
        let looks_like_email = email
            .split_once('@')
            .is_some_and(|(user, domain)| !user.is_empty() && domain.contains('.'));
        if !looks_like_email {
            let e = super::error(
                ErrorCode::BadFrame,
                "leave_message: that email does not look right",
            );
            return Ok(out.send(e).await?);
        }
        let max = self.app.settings.max_message_chars;
        if text.is_empty() || text.chars().count() > max {
            let message = format!("leave_message: the text needs 1 to {max} characters");
            return Ok(out.send(super::error(ErrorCode::BadFrame, message)).await?);
        }
        if !self.app.store.offline_form_open(&self.id).await? {
            let e = super::error(
                ErrorCode::BadState,
                "leave_message answers an offline offer, and there is none open",
            );
            return Ok(out.send(e).await?);
        }
        if self
            .customer_event(out, client_id, text, None)
            .await?
            .is_none()
        {
            // Resent: the ticket exists already.
            return Ok(());
        }
        let sealed = self
            .app
            .sealer
            .seal(email)
            .map_err(|e| ChatError::Seal(e.to_string()))?;
        let store = self.app.store.clone();
        let queue = store
            .conversation(&self.id)
            .await?
            .and_then(|c| c.queue)
            .unwrap_or_else(|| crate::knowledge::DEFAULT_QUEUE.to_owned());
        store.add_ticket(&self.id, &queue, &sealed, text).await?;
        self.app.hub.tell_agents(AgentNews::QueueChanged);
        let thanks = ServerFrame::Notice {
            seq: Some(0),
            text: self
                .app
                .bot
                .load()
                .knowledge()
                .text(self.lang, crate::knowledge::Text::MessageLeft)
                .to_owned(),
            serving: None,
            agent_name: None,
        };
        let event = crate::storage::NewEvent::new(
            crate::storage::Sender::System,
            serde_json::to_value(&thanks)?,
        );
        let stored = store.append(&self.id, event).await?;
        self.deliver(out, stored.seq, stored.frame).await
    }

    /// The customer's rating after an agent resolved the conversation.
    pub async fn rate(
        &mut self,
        out: &mut impl Outbox,
        score: u8,
        comment: Option<String>,
    ) -> Result<(), ChatError> {
        if !(1..=5).contains(&score) {
            let e = super::error(ErrorCode::BadFrame, "a rating is a score from 1 to 5");
            return Ok(out.send(e).await?);
        }
        let store = self.app.store.clone();
        if !store.resolved_by_agent(&self.id).await? {
            let e = super::error(
                ErrorCode::BadState,
                "a conversation is rated once an agent has resolved it",
            );
            return Ok(out.send(e).await?);
        }
        let comment = comment
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty());
        store
            .record_csat(&self.id, score, comment.as_deref())
            .await?;
        Ok(out.send(Out::Frame(ServerFrame::RateAck { score })).await?)
    }

    /// The customer started or stopped typing: only a person reads it; the bot does not care.
    pub fn typing(&self, active: bool) {
        if !self.bot_active {
            self.app.hub.tell_agents(AgentNews::CustomerTyping {
                conversation_id: self.id.as_str().into(),
                active,
            });
        }
    }
}
