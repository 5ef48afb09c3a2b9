//! What each agent action does to a conversation: checked against the agent's rights, stored,
//! then announced to the customer and the other agents through the hub.

use std::sync::Arc;

use super::{AgentNews, CustomerNews, announce_positions};
use crate::http::AppState;
use crate::storage::{Agent, ConversationState, NewEvent, Role, Sender, StorageError, StoredEvent};
use crate::ws::{ServerFrame, Typist};

/// Why an agent action was refused (or failed). `code` is the agent protocol's error code.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// No such conversation.
    #[error("there is no conversation {0}")]
    NotFound(String),
    /// No open ticket with this id (among the queues the agent sees).
    #[error("there is no open ticket {0}")]
    NoTicket(String),
    /// Someone else claimed it first.
    #[error("{0} took this conversation first")]
    AlreadyClaimed(String),
    /// The conversation's queue is not among the agent's skills.
    #[error("the {0} queue is not one of your skills")]
    NoSkill(String),
    /// The agent holds as many conversations as they may.
    #[error("you already hold {0} conversations, your maximum")]
    AtCapacity(u32),
    /// Another agent holds the conversation.
    #[error("another agent holds this conversation")]
    NotYours,
    /// Not possible in the conversation's state (or an unknown queue or agent).
    #[error("{0}")]
    BadState(String),
    /// The store failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A frame could not be serialised.
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

impl ActionError {
    /// The error code sent to the console.
    pub fn code(&self) -> &'static str {
        match self {
            ActionError::NotFound(_) | ActionError::NoTicket(_) => "not_found",
            ActionError::AlreadyClaimed(_) => "already_claimed",
            ActionError::NoSkill(_) => "no_skill",
            ActionError::AtCapacity(_) => "at_capacity",
            ActionError::NotYours => "not_yours",
            ActionError::BadState(_) => "bad_state",
            ActionError::Storage(_) | ActionError::Json(_) => "internal",
        }
    }
}

/// Takes a waiting conversation: exactly one of several agents claiming at once wins.
pub async fn claim(state: &AppState, agent: &Agent, id: &str) -> Result<(), ActionError> {
    let conversation = state
        .store
        .conversation(id)
        .await?
        .ok_or_else(|| ActionError::NotFound(id.to_owned()))?;
    let queue = conversation.queue.clone().unwrap_or_default();
    if agent.role != Role::Admin && !agent.skills.contains(&queue) {
        return Err(ActionError::NoSkill(queue));
    }
    let held = state.store.assigned_to(&agent.id).await?.len();
    if u32::try_from(held).unwrap_or(u32::MAX) >= agent.max_chats {
        return Err(ActionError::AtCapacity(agent.max_chats));
    }
    if !state.store.claim(id, &agent.id).await? {
        return Err(match state.store.holder(id).await? {
            Some(holder) => ActionError::AlreadyClaimed(agent_name(state, &holder).await?),
            None => ActionError::BadState("this conversation is not waiting".to_owned()),
        });
    }
    tracing::info!(conversation = id, agent = agent.id, "claimed");
    joined(state, agent, id).await?;
    state.hub.tell_agents(AgentNews::QueueChanged);
    announce_positions(state).await;
    Ok(())
}

/// Tells the customer (and the transcript) that `agent` joined.
pub(super) async fn joined(state: &AppState, agent: &Agent, id: &str) -> Result<(), ActionError> {
    notice(
        state,
        id,
        format!("{} joined the conversation.", agent.name),
    )
    .await?;
    Ok(())
}

/// Writes to the customer; returns the stored event.
pub async fn reply(
    state: &AppState,
    agent: &Agent,
    id: &str,
    text: &str,
) -> Result<StoredEvent, ActionError> {
    must_hold(state, agent, id).await?;
    let frame = ServerFrame::AgentMessage {
        seq: 0,
        agent_name: agent.name.clone(),
        text: text.to_owned(),
    };
    let stored = publish(state, id, Sender::Agent, &frame).await?;
    if state.store.mark_agent_reply(id).await? {
        // The first reply stops the first-response clock the consoles show.
        state.hub.tell_agents(AgentNews::QueueChanged);
    }
    Ok(stored)
}

/// An internal note: stored apart from the transcript and announced to agents only.
pub async fn note(
    state: &AppState,
    agent: &Agent,
    id: &str,
    text: &str,
) -> Result<(), ActionError> {
    if state.store.conversation(id).await?.is_none() {
        return Err(ActionError::NotFound(id.to_owned()));
    }
    let note = state.store.add_note(id, &agent.id, text).await?;
    state.hub.tell_agents(AgentNews::Note {
        conversation_id: id.into(),
        note: Arc::new(serde_json::to_value(note)?),
    });
    Ok(())
}

/// The agent started or stopped typing: the customer sees it (not stored).
pub async fn typing(
    state: &AppState,
    agent: &Agent,
    id: &str,
    active: bool,
) -> Result<(), ActionError> {
    must_hold(state, agent, id).await?;
    let frame = serde_json::to_string(&ServerFrame::Typing {
        who: Typist::Agent,
        active,
    })?;
    state
        .hub
        .tell_customer(id, CustomerNews::Transient(frame.into()));
    Ok(())
}

/// Puts a held conversation back in line, in another queue.
pub async fn transfer_to_queue(
    state: &AppState,
    agent: &Agent,
    id: &str,
    queue: &str,
) -> Result<(), ActionError> {
    let conversation = must_hold(state, agent, id).await?;
    let known = state
        .bot
        .load()
        .knowledge()
        .queues
        .iter()
        .any(|q| q.name == queue);
    if !known {
        return Err(ActionError::BadState(format!(
            "there is no queue {queue:?}"
        )));
    }
    let reason = conversation
        .handoff_reason
        .unwrap_or_else(|| "transfer".to_owned());
    state
        .store
        .enqueue(id, &reason, queue, conversation.priority)
        .await?;
    notice(
        state,
        id,
        "You are being transferred; someone will be with you shortly.".to_owned(),
    )
    .await?;
    state.hub.tell_agents(AgentNews::QueueChanged);
    announce_positions(state).await;
    Ok(())
}

/// Gives a held conversation straight to another (enabled) agent.
pub async fn transfer_to_agent(
    state: &AppState,
    agent: &Agent,
    id: &str,
    target: &str,
) -> Result<(), ActionError> {
    must_hold(state, agent, id).await?;
    let target = state
        .store
        .agent(target)
        .await?
        .filter(|a| !a.disabled)
        .ok_or_else(|| ActionError::BadState(format!("there is no agent {target:?}")))?;
    state.store.assign(id, &target.id).await?;
    notice(
        state,
        id,
        format!("{} joined the conversation.", target.name),
    )
    .await?;
    state.hub.tell_agents(AgentNews::QueueChanged);
    Ok(())
}

/// Closes the conversation and asks the customer for a rating.
pub async fn resolve(state: &AppState, agent: &Agent, id: &str) -> Result<(), ActionError> {
    must_hold(state, agent, id).await?;
    // A target that fell due since the watchdog's last look is recorded before it stops
    // looking at this conversation.
    super::watch::check_one(state, id).await?;
    state.store.resolve(id).await?;
    notice(
        state,
        id,
        format!("{} resolved the conversation.", agent.name),
    )
    .await?;
    let ask = ServerFrame::CsatRequest {
        seq: 0,
        text: "How did we do? Rate this conversation from 1 to 5.".to_owned(),
    };
    publish(state, id, Sender::System, &ask).await?;
    state.hub.tell_agents(AgentNews::QueueChanged);
    Ok(())
}

/// Gives the conversation back to the bot.
pub async fn hand_back(state: &AppState, agent: &Agent, id: &str) -> Result<(), ActionError> {
    must_hold(state, agent, id).await?;
    state.store.hand_back(id).await?;
    notice(
        state,
        id,
        "You are chatting with our assistant again.".to_owned(),
    )
    .await?;
    state.hub.tell_customer(id, CustomerNews::BotActive(true));
    state.hub.tell_agents(AgentNews::QueueChanged);
    Ok(())
}

/// Marks an offline ticket done (any agent who sees its queue, or an admin).
pub async fn ticket_done(state: &AppState, agent: &Agent, id: &str) -> Result<(), ActionError> {
    let visible = state
        .store
        .open_tickets()
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .is_some_and(|t| agent.role == Role::Admin || agent.skills.contains(&t.queue));
    if !visible || !state.store.close_ticket(id, &agent.id).await? {
        return Err(ActionError::NoTicket(id.to_owned()));
    }
    tracing::info!(ticket = id, agent = agent.id, "ticket done");
    state.hub.tell_agents(AgentNews::QueueChanged);
    Ok(())
}

/// Only the holder (or an admin) acts on a held conversation; returns it.
async fn must_hold(
    state: &AppState,
    agent: &Agent,
    id: &str,
) -> Result<crate::storage::Conversation, ActionError> {
    let conversation = state
        .store
        .conversation(id)
        .await?
        .ok_or_else(|| ActionError::NotFound(id.to_owned()))?;
    if conversation.state != ConversationState::Agent {
        return Err(ActionError::BadState(format!(
            "the conversation is {}, not with an agent",
            conversation.state
        )));
    }
    let holder = state.store.holder(id).await?;
    if holder.as_deref() == Some(agent.id.as_str()) || agent.role == Role::Admin {
        Ok(conversation)
    } else {
        Err(ActionError::NotYours)
    }
}

async fn agent_name(state: &AppState, id: &str) -> Result<String, ActionError> {
    Ok(state
        .store
        .agent(id)
        .await?
        .map_or_else(|| "another agent".to_owned(), |a| a.name))
}

/// Stores a notice in the conversation and announces it.
async fn notice(state: &AppState, id: &str, text: String) -> Result<StoredEvent, ActionError> {
    let frame = ServerFrame::Notice { seq: None, text };
    publish(state, id, Sender::System, &frame).await
}

/// Stores a frame in the conversation, then tells the customer and the agents.
async fn publish(
    state: &AppState,
    id: &str,
    sender: Sender,
    frame: &ServerFrame,
) -> Result<StoredEvent, ActionError> {
    let mut value = serde_json::to_value(frame)?;
    if let (ServerFrame::Notice { .. }, Some(object)) = (frame, value.as_object_mut()) {
        // Stored notices carry a seq; the store sets it.
        object.insert("seq".to_owned(), 0.into());
    }
    Ok(super::publish(state, id, NewEvent::new(sender, value)).await?)
}
