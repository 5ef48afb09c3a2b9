//! Storing an event in a conversation, then telling its customer session(s) and the agents:
//! the one way agent actions, notices and offers reach people.

use std::sync::Arc;

use super::{AgentNews, CustomerNews};
use crate::app::App;
use crate::protocol::agent::{NoteView, TranscriptEntry};
use crate::protocol::{ServerFrame, Serving};
use crate::storage::{Agent, NewEvent, Note, Sender, StorageError, StoredEvent};

/// A stored event as agents see it in a transcript: the text and what the bot made of it.
/// `helpful` is the customer's verdict on an answer, when they gave one.
pub fn transcript_entry(event: &StoredEvent, helpful: Option<bool>) -> TranscriptEntry {
    TranscriptEntry {
        seq: event.seq,
        sender: event.sender.as_str().to_owned(),
        kind: event.kind.clone(),
        text: event.text.clone(),
        created_at: event.created_at,
        intent: event.intent.clone(),
        confidence: event.confidence,
        faq_id: event.faq_id.clone(),
        decision: event.decision.clone(),
        reason: event.reason.clone(),
        helpful,
        agent_name: agent_name(&event.frame),
    }
}

fn agent_name(frame: &str) -> Option<String> {
    match serde_json::from_str::<ServerFrame>(frame).ok()? {
        ServerFrame::AgentMessage { agent_name, .. } => Some(agent_name),
        _ => None,
    }
}

/// A stored note as agents see it.
pub(super) fn note_view(note: Note) -> NoteView {
    NoteView {
        agent_name: note.agent_name,
        text: note.text,
        created_at: note.created_at,
    }
}

/// Stores an event in the conversation, then tells its customer session(s) and the agents.
pub async fn publish(
    app: &App,
    conversation_id: &str,
    event: NewEvent,
) -> Result<StoredEvent, StorageError> {
    let stored = app.store.append(conversation_id, event).await?;
    app.hub.tell_customer(
        conversation_id,
        CustomerNews::Frame {
            seq: stored.seq,
            json: stored.frame.as_str().into(),
        },
    );
    app.hub.tell_agents(AgentNews::Event {
        conversation_id: conversation_id.into(),
        entry: Arc::new(transcript_entry(&stored, None)),
    });
    Ok(stored)
}

/// Stores a frame written by `sender` (an agent's message, a system notice) and announces it.
pub(super) async fn publish_frame(
    app: &App,
    id: &str,
    sender: Sender,
    frame: &ServerFrame,
) -> Result<StoredEvent, super::ActionError> {
    let mut value = serde_json::to_value(frame)?;
    if let (ServerFrame::Notice { .. }, Some(object)) = (frame, value.as_object_mut()) {
        // Stored notices carry a seq; the store sets it.
        object.insert("seq".to_owned(), 0.into());
    }
    Ok(publish(app, id, NewEvent::new(sender, value)).await?)
}

/// Stores a notice in the conversation and announces it; `serving` says who serves the
/// conversation from now on (the widget's status line follows it).
pub(super) async fn notice(
    app: &App,
    id: &str,
    text: String,
    serving: Serving,
) -> Result<StoredEvent, super::ActionError> {
    let frame = ServerFrame::Notice {
        seq: None,
        text,
        serving: Some(serving),
        agent_name: None,
    };
    publish_frame(app, id, Sender::System, &frame).await
}

/// Tells the customer (and the transcript) that `agent` joined: they serve it now.
pub(super) async fn joined(app: &App, agent: &Agent, id: &str) -> Result<(), super::ActionError> {
    let text = customer_text(app, id, crate::knowledge::Text::Joined, &agent.name).await?;
    let frame = ServerFrame::Notice {
        seq: None,
        text,
        serving: Some(Serving::Agent),
        agent_name: Some(agent.name.clone()),
    };
    publish_frame(app, id, Sender::System, &frame).await?;
    Ok(())
}

/// The language the customer of conversation `id` writes in.
pub(super) async fn customer_language(app: &App, id: &str) -> Result<String, super::ActionError> {
    Ok(app.store.conversation(id).await?.map_or_else(
        || crate::knowledge::texts::DEFAULT_LANG.to_owned(),
        |c| c.language(),
    ))
}

/// `text` in the language the customer of conversation `id` writes in, with `{agent}` filled
/// in with `agent` (when the text has it).
pub(super) async fn customer_text(
    app: &App,
    id: &str,
    text: crate::knowledge::Text,
    agent: &str,
) -> Result<String, super::ActionError> {
    let lang = customer_language(app, id).await?;
    Ok(app.bot.load().knowledge().texts.fill(&lang, text, agent))
}
