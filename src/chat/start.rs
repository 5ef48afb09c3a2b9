//! `hello`: starting or resuming a conversation, the customer's identity, and the replay of
//! what a resuming client missed.

use super::{Chat, ChatError, Out, Outbox, verify_identity};
use crate::app::App;
use crate::bot::policy::Memory;
use crate::protocol::{ErrorCode, Hello, PROTOCOL_VERSION, ServerFrame, close_code};
use crate::storage::{Conversation, ConversationState, NewConversation};

/// Bot decisions read back to rebuild the policy's memory on resume: far more than any rule
/// looks back (two misses, the last answer).
const MEMORY_EVENTS: u32 = 20;

impl Chat {
    /// Starts or resumes the conversation, sends `welcome`, replays what the client missed and
    /// answers a message a crash left unanswered. `None` when the hello was refused (the
    /// customer was told why and the connection is closing).
    pub async fn start(
        app: App,
        hello: Hello,
        out: &mut impl Outbox,
    ) -> Result<Option<Chat>, ChatError> {
        let Hello {
            protocol,
            resume_token,
            last_seq,
            locale,
            page_url,
            identity,
        } = hello;
        if protocol != PROTOCOL_VERSION {
            let message = format!("this server speaks protocol {PROTOCOL_VERSION}");
            out.send(super::error(ErrorCode::UnsupportedProtocol, message))
                .await?;
            out.send(Out::Close(close_code::POLICY, "unsupported protocol"))
                .await?;
            return Ok(None);
        }
        let store = app.store.clone();
        let identity = identity.and_then(|token| {
            let verified = verify_identity(&token, app.settings.identity_secret.expose());
            if verified.is_none() {
                // Anonymous, as the protocol promises; the payload may hold personal data, so
                // only the fact is logged.
                tracing::warn!("a customer identity did not verify; the customer is anonymous");
            }
            verified
        });
        let existing = match &resume_token {
            Some(token) => store.conversation_by_token(token).await?,
            None => None,
        };
        // Attributes are personal data (name, e-mail): stored sealed, opened for agents.
        let sealed_attributes = match &identity {
            Some(identity) => Some(
                app.sealer
                    .seal_attributes(&identity.attributes)
                    .map_err(|e| ChatError::Seal(e.to_string()))?,
            ),
            None => None,
        };
        // A closed conversation is not resumed: the customer starts a new one (docs/protocol.md,
        // "Unknown token"); the closed one stays in the store and in the customer's history.
        let existing = existing.filter(|c| c.state != ConversationState::Closed);
        let (conversation, token, resumed) = match (existing, resume_token) {
            (Some(conversation), Some(token)) => (conversation, token, true),
            _ => {
                let new = NewConversation {
                    customer_id: identity.as_ref().and_then(|i| i.id.clone()),
                    customer_attributes: sealed_attributes.clone(),
                    locale,
                    page_url,
                };
                let (conversation, token) = store.create_conversation(new).await?;
                (conversation, token, false)
            }
        };
        let conversation = match (&identity, resumed) {
            // The customer signed in since the conversation began.
            (Some(identity), true) if conversation.customer_id.is_none() => {
                let attributes = sealed_attributes.unwrap_or_default();
                store
                    .identify(&conversation.id, identity.id.as_deref(), &attributes)
                    .await?
            }
            _ => conversation,
        };
        let mut chat = Chat {
            _active: app.metrics.conversation_active(),
            app,
            id: conversation.id.clone(),
            bot_active: conversation.state == ConversationState::Bot,
            memory: Memory::default(),
            previous: None,
            previous_text: None,
            news: None,
            listening: false,
            sent_seq: 0,
            place: None,
            lang: "en",
        };
        if conversation.state != ConversationState::Bot {
            // Listen before replaying, so nothing stored meanwhile is missed (the seq check in
            // `deliver` drops what the replay already sent).
            chat.listen();
        }
        if resumed {
            chat.restore_memory(&conversation).await?;
        }
        // Something to click before typing: the most asked questions, in the widget's language.
        let quick_replies = if resumed {
            Vec::new()
        } else {
            let topics = chat.app.topics.get(&chat.app.store).await;
            let zh = conversation
                .locale
                .as_deref()
                .is_some_and(|l| l.to_ascii_lowercase().starts_with("zh"));
            chat.lang = if zh { "zh" } else { "en" };
            let bot = chat.app.bot.load();
            super::reply::quick_replies(bot.knowledge(), &topics, chat.lang)
        };
        out.send(Out::Frame(ServerFrame::Welcome {
            protocol: PROTOCOL_VERSION,
            conversation_id: conversation.id.clone(),
            resume_token: token,
            last_seq: conversation.last_seq,
            resumed,
            identified: conversation.customer_id.is_some(),
            quick_replies,
        }))
        .await?;
        if resumed {
            chat.sent_seq = last_seq.unwrap_or(0);
            for event in store.events_after(&conversation.id, chat.sent_seq).await? {
                chat.deliver(out, event.seq, event.frame).await?;
            }
            chat.answer_pending(&conversation, out).await?;
            if conversation.state == ConversationState::Queued
                && let Some(position) = store.queue_position(&conversation.id).await?
            {
                let queue = conversation.queue.clone().unwrap_or_default();
                chat.place = Some((queue.clone(), position));
                let wait_secs = crate::handoff::wait_secs(&chat.app, &queue, position).await;
                out.send(Out::Frame(ServerFrame::QueueUpdate {
                    queue,
                    position,
                    wait_secs,
                }))
                .await?;
            }
        }
        Ok(Some(chat))
    }

    /// Rebuilds what the policy remembers from the stored conversation, so that a reload or a
    /// restart does not give the bot a clean slate (two misses still hand off, one across a
    /// reload).
    async fn restore_memory(&mut self, conversation: &Conversation) -> Result<(), ChatError> {
        let store = &self.app.store;
        let mut memory = Memory::default();
        for (decision, faq_id) in store.bot_decisions(&conversation.id, MEMORY_EVENTS).await? {
            memory.observe_stored(&decision, faq_id.as_deref());
        }
        // A conversation the bot serves again was handed back after its last handoff: votes
        // from before it are the agent's business, not a second strike for the bot.
        let since = store.last_handoff_seq(&conversation.id).await?.unwrap_or(0);
        memory.unhelpful = store
            .unhelpful_answers(&conversation.id)
            .await?
            .into_iter()
            .filter(|&seq| seq > since)
            .collect();
        self.memory = memory;
        self.previous_text = store
            .recent_customer_messages(&conversation.id, 1)
            .await?
            .pop()
            .and_then(|event| event.text);
        Ok(())
    }
}
