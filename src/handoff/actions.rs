//! What each agent action does to a conversation: checked against the agent's rights, stored,
//! then announced to the customer and the other agents through the hub.

use std::sync::Arc;

use super::publish::{joined, note_view, notice, publish_frame};
use super::{AgentNews, CustomerNews, announce_positions};
use crate::app::App;
use crate::knowledge::Text;
use crate::protocol::{ServerFrame, Serving, Typist};
use crate::storage::{
    Agent, Conversation, ConversationState, Role, Sender, StorageError, StoredEvent,
};

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
    /// The conversation is in none of the agent's queues (or the bot alone serves it), and the
    /// agent does not hold it: its transcript is not theirs to read.
    #[error("this conversation is not in one of your queues")]
    NotVisible,
    /// A reply or note that is empty or longer than the limit.
    #[error("{0}")]
    BadText(String),
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
            ActionError::NoSkill(_) | ActionError::NotVisible => "no_skill",
            ActionError::BadText(_) => "bad_frame",
            ActionError::AtCapacity(_) => "at_capacity",
            ActionError::NotYours => "not_yours",
            ActionError::BadState(_) => "bad_state",
            ActionError::Storage(_) | ActionError::Json(_) => "internal",
        }
    }
}

/// Takes a waiting conversation: exactly one of several agents claiming at once wins.
pub async fn claim(app: &App, agent: &Agent, id: &str) -> Result<(), ActionError> {
    let conversation = existing(app, id).await?;
    let queue = conversation.queue.clone().unwrap_or_default();
    if agent.role != Role::Admin && !agent.skills.contains(&queue) {
        return Err(ActionError::NoSkill(queue));
    }
    let held = app.store.assigned_to(&agent.id).await?.len();
    if u32::try_from(held).unwrap_or(u32::MAX) >= agent.max_chats {
        return Err(ActionError::AtCapacity(agent.max_chats));
    }
    if !app.store.claim(id, &agent.id).await? {
        return Err(match app.store.holder(id).await? {
            Some(holder) => ActionError::AlreadyClaimed(agent_name(app, &holder).await?),
            None => ActionError::BadState("this conversation is not waiting".to_owned()),
        });
    }
    tracing::info!(conversation = id, agent = agent.id, "claimed");
    joined(app, agent, id).await?;
    app.hub.tell_agents(AgentNews::QueueChanged);
    announce_positions(app).await;
    Ok(())
}

/// The conversation `id` if `agent` may read it: an admin reads every one; an agent those
/// in a queue among their skills and those they hold. A conversation only the bot served has
/// no queue, so it is the admins' alone.
pub async fn readable(app: &App, agent: &Agent, id: &str) -> Result<Conversation, ActionError> {
    let conversation = existing(app, id).await?;
    if agent.role == Role::Admin
        || conversation
            .queue
            .as_ref()
            .is_some_and(|q| agent.skills.contains(q))
        || app.store.holder(id).await?.as_deref() == Some(agent.id.as_str())
    {
        Ok(conversation)
    } else {
        Err(ActionError::NotVisible)
    }
}

/// `text` as an agent's reply or note: trimmed, not empty, at most `max_message_chars`.
fn agent_text<'a>(app: &App, what: &str, text: &'a str) -> Result<&'a str, ActionError> {
    let text = text.trim();
    let max = app.settings.max_message_chars;
    if text.is_empty() {
        return Err(ActionError::BadText(format!("{what}: the text is empty")));
    }
    if text.chars().count() > max {
        return Err(ActionError::BadText(format!(
            "{what}: at most {max} characters"
        )));
    }
    Ok(text)
}

/// Writes to the customer; returns the stored event.
pub async fn reply(
    app: &App,
    agent: &Agent,
    id: &str,
    text: &str,
) -> Result<StoredEvent, ActionError> {
    let text = agent_text(app, "reply", text)?;
    must_hold(app, agent, id).await?;
    let frame = ServerFrame::AgentMessage {
        seq: 0,
        agent_name: agent.name.clone(),
        text: text.to_owned(),
        // Agents write the same Markdown as FAQ answers (a suggestion they "use" is one).
        html: Some(crate::knowledge::markdown_to_safe_html(text)),
    };
    let stored = publish_frame(app, id, Sender::Agent, &frame).await?;
    if app.store.mark_agent_reply(id).await? {
        // The first reply stops the first-response clock the consoles show.
        app.hub.tell_agents(AgentNews::QueueChanged);
    }
    Ok(stored)
}

/// An internal note: stored apart from the transcript and announced to agents only.
pub async fn note(app: &App, agent: &Agent, id: &str, text: &str) -> Result<(), ActionError> {
    let text = agent_text(app, "note", text)?;
    readable(app, agent, id).await?;
    let note = note_view(app.store.add_note(id, &agent.id, text).await?);
    app.hub.tell_agents(AgentNews::Note {
        conversation_id: id.into(),
        note: Arc::new(note),
    });
    Ok(())
}

/// The agent started or stopped typing: the customer sees it (not stored).
pub async fn typing(app: &App, agent: &Agent, id: &str, active: bool) -> Result<(), ActionError> {
    must_hold(app, agent, id).await?;
    let frame = ServerFrame::Typing {
        who: Typist::Agent,
        active,
    };
    app.hub.tell_customer(id, CustomerNews::Transient(frame));
    Ok(())
}

/// Puts a held conversation back in line, in another queue.
pub async fn transfer_to_queue(
    app: &App,
    agent: &Agent,
    id: &str,
    queue: &str,
) -> Result<(), ActionError> {
    let conversation = must_hold(app, agent, id).await?;
    let known = app
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
    app.store
        .enqueue(id, &reason, queue, conversation.priority)
        .await?;
    let from = conversation.queue.unwrap_or_default();
    transfer_note(
        app,
        agent,
        id,
        format!("Transferred from the {from} queue to {queue}."),
    )
    .await?;
    let text = super::publish::customer_text(app, id, Text::Transferred, "").await?;
    notice(app, id, text, Serving::Queued).await?;
    app.hub.tell_agents(AgentNews::QueueChanged);
    announce_positions(app).await;
    Ok(())
}

/// Gives a held conversation straight to another (enabled) agent who serves its queue.
pub async fn transfer_to_agent(
    app: &App,
    agent: &Agent,
    id: &str,
    target: &str,
) -> Result<(), ActionError> {
    let conversation = must_hold(app, agent, id).await?;
    let target = app
        .store
        .agent(target)
        .await?
        .filter(|a| !a.disabled)
        .ok_or_else(|| ActionError::BadState(format!("there is no agent {target:?}")))?;
    let queue = conversation.queue.unwrap_or_default();
    if target.role != Role::Admin && !target.skills.contains(&queue) {
        return Err(ActionError::BadState(format!(
            "{} does not serve the {queue} queue; transfer to the queue instead",
            target.name
        )));
    }
    app.store.assign(id, &target.id).await?;
    transfer_note(
        app,
        agent,
        id,
        format!(
            "Transferred from {} to {} ({queue} queue).",
            agent.name, target.name
        ),
    )
    .await?;
    super::publish::joined(app, &target, id).await?;
    // The receiving console opens it and says who sent it.
    app.hub.tell_agents(AgentNews::Assigned {
        agent_id: target.id.as_str().into(),
        conversation_id: id.into(),
        by: Some(agent.name.as_str().into()),
    });
    app.hub.tell_agents(AgentNews::QueueChanged);
    Ok(())
}

/// Records a transfer as an internal note, so whoever takes the conversation next sees where it
/// came from and who sent it.
async fn transfer_note(
    app: &App,
    agent: &Agent,
    id: &str,
    text: String,
) -> Result<(), ActionError> {
    let note = note_view(app.store.add_note(id, &agent.id, &text).await?);
    app.hub.tell_agents(AgentNews::Note {
        conversation_id: id.into(),
        note: Arc::new(note),
    });
    Ok(())
}

/// Closes the conversation and asks the customer for a rating.
pub async fn resolve(app: &App, agent: &Agent, id: &str) -> Result<(), ActionError> {
    must_hold(app, agent, id).await?;
    // A target that fell due since the watchdog's last look is recorded before it stops
    // looking at this conversation.
    super::sla::check_one(app, id).await?;
    app.store.resolve(id).await?;
    // One read of the conversation's language for both texts.
    let lang = super::publish::customer_language(app, id).await?;
    let (resolved, ask) = {
        let bot = app.bot.load();
        let texts = &bot.knowledge().texts;
        (
            texts.fill(&lang, Text::Resolved, &agent.name),
            texts.get(&lang, Text::CsatRequest).to_owned(),
        )
    };
    notice(app, id, resolved, Serving::Closed).await?;
    let ask = ServerFrame::CsatRequest { seq: 0, text: ask };
    publish_frame(app, id, Sender::System, &ask).await?;
    app.hub.tell_agents(AgentNews::QueueChanged);
    Ok(())
}

/// Gives the conversation back to the bot.
pub async fn hand_back(app: &App, agent: &Agent, id: &str) -> Result<(), ActionError> {
    must_hold(app, agent, id).await?;
    app.store.hand_back(id).await?;
    let text = super::publish::customer_text(app, id, Text::HandedBack, "").await?;
    notice(app, id, text, Serving::Bot).await?;
    app.hub.tell_customer(id, CustomerNews::BotActive(true));
    app.hub.tell_agents(AgentNews::QueueChanged);
    Ok(())
}

/// Marks an offline ticket done (any agent who sees its queue, or an admin).
pub async fn ticket_done(app: &App, agent: &Agent, id: &str) -> Result<(), ActionError> {
    let visible = app
        .store
        .open_tickets()
        .await?
        .into_iter()
        .find(|t| t.id == id)
        .is_some_and(|t| agent.role == Role::Admin || agent.skills.contains(&t.queue));
    if !visible || !app.store.close_ticket(id, &agent.id).await? {
        return Err(ActionError::NoTicket(id.to_owned()));
    }
    tracing::info!(ticket = id, agent = agent.id, "ticket done");
    app.hub.tell_agents(AgentNews::QueueChanged);
    Ok(())
}

/// The conversation `id`, or [`ActionError::NotFound`].
async fn existing(app: &App, id: &str) -> Result<Conversation, ActionError> {
    app.store
        .conversation(id)
        .await?
        .ok_or_else(|| ActionError::NotFound(id.to_owned()))
}

/// Only the holder (or an admin) acts on a held conversation; returns it.
async fn must_hold(app: &App, agent: &Agent, id: &str) -> Result<Conversation, ActionError> {
    let conversation = existing(app, id).await?;
    if conversation.state != ConversationState::Agent {
        return Err(ActionError::BadState(format!(
            "the conversation is {}, not with an agent",
            conversation.state
        )));
    }
    let holder = app.store.holder(id).await?;
    if holder.as_deref() == Some(agent.id.as_str()) || agent.role == Role::Admin {
        Ok(conversation)
    } else {
        Err(ActionError::NotYours)
    }
}

async fn agent_name(app: &App, id: &str) -> Result<String, ActionError> {
    Ok(app
        .store
        .agent(id)
        .await?
        .map_or_else(|| "another agent".to_owned(), |a| a.name))
}
