//! `hello`: starting or resuming a conversation, the customer's identity, and the replay of
//! what a resuming client missed.

use super::{Session, SessionError, close_code};
use crate::bot::policy::Memory;
use crate::storage::{Conversation, ConversationState, NewConversation};
use crate::ws::{ClientFrame, ErrorCode, PROTOCOL_VERSION, ServerFrame, verify_identity};

/// Bot decisions read back to rebuild the policy's memory on resume: far more than any rule
/// looks back (two misses, the last answer).
const MEMORY_EVENTS: u32 = 20;

impl Session {
    /// Starts or resumes the conversation, sends `welcome` and replays what the client missed.
    pub(super) async fn hello(&mut self, frame: ClientFrame) -> Result<(), SessionError> {
        let ClientFrame::Hello {
            protocol,
            resume_token,
            last_seq,
            locale,
            page_url,
            identity,
        } = frame
        else {
            return Ok(());
        };
        if protocol != PROTOCOL_VERSION {
            let message = format!("this server speaks protocol {PROTOCOL_VERSION}");
            self.send(&ServerFrame::error(ErrorCode::UnsupportedProtocol, message))
                .await?;
            self.close(close_code::POLICY, "unsupported protocol").await;
            return Ok(());
        }
        let identity = identity.and_then(|token| {
            let verified = verify_identity(&token, self.state.settings.identity_secret.expose());
            if verified.is_none() {
                // Anonymous, as the protocol promises; the payload may hold personal data, so
                // only the fact is logged.
                tracing::warn!("a customer identity did not verify; the customer is anonymous");
            }
            verified
        });
        let existing = match &resume_token {
            Some(token) => self.store.conversation_by_token(token).await?,
            None => None,
        };
        let (conversation, token, resumed) = match (existing, resume_token) {
            (Some(conversation), Some(token)) => (conversation, token, true),
            _ => {
                let new = NewConversation {
                    customer_id: identity.as_ref().and_then(|i| i.id.clone()),
                    customer_attributes: identity
                        .as_ref()
                        .map(|i| serde_json::Value::Object(i.attributes.clone())),
                    locale,
                    page_url,
                };
                let (conversation, token) = self.store.create_conversation(new).await?;
                (conversation, token, false)
            }
        };
        let conversation = match (&identity, resumed) {
            // The customer signed in since the conversation began.
            (Some(identity), true) if conversation.customer_id.is_none() => {
                let attributes = serde_json::Value::Object(identity.attributes.clone());
                self.store
                    .identify(&conversation.id, identity.id.as_deref(), &attributes)
                    .await?
            }
            _ => conversation,
        };
        self.bot_active = conversation.state == ConversationState::Bot;
        self.conversation = Some(conversation.id.clone());
        if self.active.is_none() {
            self.active = Some(self.state.metrics.conversation_active());
        }
        if conversation.state != ConversationState::Bot {
            // Listen before replaying, so nothing stored meanwhile is missed (the seq check in
            // `on_news` drops what the replay already sent).
            self.listen(&conversation.id);
        }
        if resumed {
            self.restore_memory(&conversation).await?;
        }
        self.send(&ServerFrame::Welcome {
            protocol: PROTOCOL_VERSION,
            conversation_id: conversation.id.clone(),
            resume_token: token,
            last_seq: conversation.last_seq,
            resumed,
            identified: conversation.customer_id.is_some(),
        })
        .await?;
        if resumed {
            let after = last_seq.unwrap_or(0);
            self.sent_seq = after;
            for event in self.store.events_after(&conversation.id, after).await? {
                self.sent_seq = self.sent_seq.max(event.seq);
                self.send_text(event.frame).await?;
            }
            self.answer_pending(&conversation).await?;
            if conversation.state == ConversationState::Queued
                && let Some(position) = self.store.queue_position(&conversation.id).await?
            {
                let queue = conversation.queue.clone().unwrap_or_default();
                self.place = Some((queue.clone(), position));
                let per_place = crate::handoff::seconds_per_place(&self.state, &queue).await;
                self.send(&ServerFrame::QueueUpdate {
                    queue,
                    position,
                    wait_secs: per_place.map(|secs| secs * u64::from(position)),
                })
                .await?;
            }
        }
        Ok(())
    }

    /// Rebuilds what the policy remembers from the stored conversation, so that a reload or a
    /// restart does not give the bot a clean slate (two misses still hand off, one across a
    /// reload).
    async fn restore_memory(&mut self, conversation: &Conversation) -> Result<(), SessionError> {
        let mut memory = Memory::default();
        for (decision, faq_id) in self
            .store
            .bot_decisions(&conversation.id, MEMORY_EVENTS)
            .await?
        {
            memory.observe_stored(&decision, faq_id.as_deref());
        }
        // A conversation the bot serves again was handed back after its last handoff: votes
        // from before it are the agent's business, not a second strike for the bot.
        let since = self
            .store
            .last_handoff_seq(&conversation.id)
            .await?
            .unwrap_or(0);
        memory.unhelpful = self
            .store
            .unhelpful_answers(&conversation.id)
            .await?
            .into_iter()
            .filter(|&seq| seq > since)
            .collect();
        self.memory = memory;
        self.previous_text = self
            .store
            .recent_customer_messages(&conversation.id, 1)
            .await?
            .pop()
            .and_then(|event| event.text);
        Ok(())
    }
}
