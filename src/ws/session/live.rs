//! The customer side of a conversation in human hands: forwarding what the hub announces (agent
//! messages, notices, queue places, the bot taking over again), telling agents what the customer
//! does, and the satisfaction rating.

use std::sync::Arc;

use super::{Session, SessionError};
use crate::bot::policy::Memory;
use crate::handoff::{AgentNews, CustomerNews, transcript_entry};
use crate::storage::{ConversationState, StoredEvent};
use crate::ws::{ErrorCode, ServerFrame};

/// Most characters of a rating comment.
const MAX_COMMENT_CHARS: usize = 2000;

impl Session {
    /// Starts listening to the hub for this conversation, once. Only conversations a person is
    /// involved in need it, so the thousands of customers talking to the bot cost the hub nothing.
    pub(super) fn listen(&mut self, conversation: &str) {
        if !self.listening {
            self.listening = true;
            self.news = Some(self.state.hub.listen(conversation));
        }
    }

    /// Forwards one piece of news from the hub.
    pub(super) async fn on_news(&mut self, news: CustomerNews) -> Result<(), SessionError> {
        match news {
            CustomerNews::Frame { seq, json } => {
                if seq > self.sent_seq {
                    self.sent_seq = seq;
                    self.send_text(json.to_string()).await?;
                }
            }
            CustomerNews::Transient(json) => self.send_text(json.to_string()).await?,
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
                    self.send(&frame).await?;
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
    pub(super) async fn catch_up(&mut self) -> Result<(), SessionError> {
        let Some(conversation) = self.conversation.clone() else {
            return Ok(());
        };
        for event in self
            .store
            .events_after(&conversation, self.sent_seq)
            .await?
        {
            self.sent_seq = self.sent_seq.max(event.seq);
            self.send_text(event.frame).await?;
        }
        let state = self
            .store
            .conversation(&conversation)
            .await?
            .map(|c| c.state);
        self.bot_active = state == Some(ConversationState::Bot);
        Ok(())
    }

    /// Tells agents about a stored customer event while a person handles the conversation.
    pub(super) fn tell_agents(&self, event: &StoredEvent) {
        if !self.bot_active {
            self.state.hub.tell_agents(AgentNews::Event {
                conversation_id: event.conversation_id.as_str().into(),
                entry: Arc::new(transcript_entry(event, None)),
            });
        }
    }

    /// The offline form: the message joins the transcript, the email is sealed into a ticket.
    pub(super) async fn leave_message(
        &mut self,
        conversation: &str,
        client_id: &str,
        email: &str,
        text: &str,
    ) -> Result<(), SessionError> {
        let (email, text) = (email.trim(), text.trim());
        let looks_like_email = email.len() <= 254
            && email
                .split_once('@')
                .is_some_and(|(user, domain)| !user.is_empty() && domain.contains('.'));
        if !looks_like_email {
            let e = ServerFrame::error(
                ErrorCode::BadFrame,
                "leave_message: that email does not look right",
            );
            return self.send(&e).await;
        }
        let max = self.state.settings.max_message_chars;
        if text.is_empty() || text.chars().count() > max {
            let message = format!("leave_message: the text needs 1 to {max} characters");
            return self
                .send(&ServerFrame::error(ErrorCode::BadFrame, message))
                .await;
        }
        if !self
            .customer_event(conversation, client_id, text, None)
            .await?
        {
            // Resent: the ticket exists already.
            return Ok(());
        }
        let sealed = self
            .state
            .sealer
            .seal(email)
            .map_err(|e| SessionError::Seal(e.to_string()))?;
        let queue = self
            .store
            .conversation(conversation)
            .await?
            .and_then(|c| c.queue)
            .unwrap_or_else(|| crate::knowledge::DEFAULT_QUEUE.to_owned());
        self.store
            .add_ticket(conversation, &queue, &sealed, text)
            .await?;
        self.state.hub.tell_agents(AgentNews::QueueChanged);
        let thanks = ServerFrame::Notice {
            seq: Some(0),
            text: "Thank you. Our team will reply to you by email.".to_owned(),
        };
        let event = crate::storage::NewEvent::new(
            crate::storage::Sender::System,
            serde_json::to_value(&thanks)?,
        );
        let stored = self.store.append(conversation, event).await?;
        self.sent_seq = self.sent_seq.max(stored.seq);
        self.send_text(stored.frame).await
    }

    /// The customer's rating after an agent resolved the conversation.
    pub(super) async fn rate(
        &mut self,
        conversation: &str,
        score: u8,
        comment: Option<String>,
    ) -> Result<(), SessionError> {
        if !(1..=5).contains(&score) {
            let e = ServerFrame::error(ErrorCode::BadFrame, "a rating is a score from 1 to 5");
            return self.send(&e).await;
        }
        let resolved = self
            .store
            .conversation(conversation)
            .await?
            .is_some_and(|c| c.state == ConversationState::Closed);
        if !resolved {
            return self
                .bad_state("a conversation is rated once an agent has resolved it")
                .await;
        }
        let comment = comment
            .map(|c| c.trim().chars().take(MAX_COMMENT_CHARS).collect::<String>())
            .filter(|c| !c.is_empty());
        self.store
            .record_csat(conversation, score, comment.as_deref())
            .await?;
        Ok(())
    }
}
