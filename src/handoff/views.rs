//! What an agent's console is shown: the queue snapshot (waiting, mine, offline tickets) and one
//! conversation with its context (transcript, notes, suggestions, earlier conversations), as
//! typed frames of the agent protocol.

use std::collections::HashMap;
use std::sync::Arc;

use super::actions::ActionError;
use super::transcript_entry;
use crate::app::App;
use crate::knowledge::{Knowledge, Queue};
use crate::protocol::agent::{
    AgentFrame, AgentProfile, CustomerView, HistoryEntry, MineView, QueueState, Sla, Suggestion,
    TicketView, WaitingView,
};
use crate::storage::{Agent, Clocked, Role, StorageError};

/// FAQ answers suggested to the agent for the customer's latest message.
const SUGGESTIONS: usize = 3;

/// The knowledge base's name for a stored priority rank.
fn priority_name(rank: i64) -> &'static str {
    match rank {
        0 => "low",
        2 => "high",
        3 => "urgent",
        _ => "normal",
    }
}

/// A conversation's SLA due times: the first response's until an agent replied, and the
/// resolution's.
fn sla(clock: &Clocked, queue: &Queue) -> Sla {
    let (first_due, resolution_due) = super::sla::due(clock, queue);
    Sla {
        first_response_due: clock.first_agent_reply_at.is_none().then_some(first_due),
        resolution_due,
    }
}

/// Whether `agent` may see conversations of `queue`.
fn sees(agent: &Agent, queue: &str) -> bool {
    agent.role == Role::Admin || agent.skills.iter().any(|s| s == queue)
}

/// The `welcome` frame: the agent and every queue's name.
pub fn welcome(app: &App, agent: &Agent) -> AgentFrame {
    let queues = app.bot.load().knowledge().queue_names();
    AgentFrame::Welcome {
        agent: AgentProfile {
            id: agent.id.clone(),
            email: agent.email.clone(),
            name: agent.name.clone(),
            role: agent.role.as_str().to_owned(),
            skills: agent.skills.clone(),
            max_chats: agent.max_chats,
        },
        queues,
    }
}

/// The `queue` frame: what `agent` may take, and what they hold.
pub async fn snapshot(app: &App, agent: &Agent) -> Result<AgentFrame, StorageError> {
    let waiting = app.store.waiting().await?;
    let mine = app.store.assigned_to(&agent.id).await?;
    let now = app.clock.now_ms();
    let bot = app.bot.load_full();
    let knowledge = bot.knowledge();
    let clocks: HashMap<String, Clocked> = app
        .store
        .clocked(None)
        .await?
        .into_iter()
        .map(|c| (c.conversation_id.clone(), c))
        .collect();
    let sla_of = |id: &str| clocks.get(id).map(|c| sla(c, &knowledge.queue(&c.queue)));
    let mut places = HashMap::<String, u32>::new();
    let mut visible = Vec::new();
    for w in waiting {
        let place = places.entry(w.queue.clone()).or_insert(0);
        *place += 1;
        if sees(agent, &w.queue) {
            visible.push(WaitingView {
                sla: sla_of(&w.conversation_id),
                priority: priority_name(w.priority).to_owned(),
                position: *place,
                waiting_secs: (now - w.queued_at).max(0) / 1000,
                customer_name: app
                    .sealer
                    .open_attributes(w.customer_attributes)
                    .and_then(|a| a.get("name").cloned()),
                conversation_id: w.conversation_id,
                queue: w.queue,
                reason: w.reason,
                preview: w.preview,
                locale: w.locale,
            });
        }
    }
    let mine = mine
        .into_iter()
        .map(|(id, queue, preview)| MineView {
            priority: priority_name(clocks.get(&id).map_or(1, |c| c.priority)).to_owned(),
            sla: sla_of(&id),
            conversation_id: id,
            queue,
            preview,
        })
        .collect();
    Ok(AgentFrame::Queue {
        now,
        queues: queue_states(app, agent, knowledge),
        waiting: visible,
        mine,
        tickets: tickets(app, agent).await?,
    })
}

/// Open or closed, agents online, auto-assignment: for each queue `agent` may see.
fn queue_states(app: &App, agent: &Agent, knowledge: &Knowledge) -> Vec<QueueState> {
    let now = app.clock.now();
    knowledge
        .queues
        .iter()
        .filter(|q| sees(agent, &q.name))
        .map(|q| {
            let hours = q.hours.as_ref();
            QueueState {
                name: q.name.clone(),
                open: hours.is_none_or(|h| h.is_open(now)),
                opens_at: hours
                    .and_then(|h| h.next_open(now))
                    .filter(|&t| t > now)
                    .map(|t| t.as_millisecond()),
                closes_at: hours
                    .and_then(|h| h.closes_at(now))
                    .map(|t| t.as_millisecond()),
                online: app.hub.online_for(&q.name),
                auto_assign: q.auto_assign,
            }
        })
        .collect()
}

/// Open offline tickets of the queues `agent` may see, contact details opened for them.
async fn tickets(app: &App, agent: &Agent) -> Result<Vec<TicketView>, StorageError> {
    Ok(app
        .store
        .open_tickets()
        .await?
        .into_iter()
        .filter(|t| sees(agent, &t.queue))
        .map(|t| {
            // A ticket sealed with another key shows without its email rather than failing
            // the whole snapshot; the log says why (without the data).
            let email = app.sealer.open(&t.email_sealed).map_err(|e| {
                tracing::error!(ticket = t.id, error = %e, "cannot open a ticket's email");
            });
            TicketView {
                email: email.ok(),
                id: t.id,
                conversation_id: t.conversation_id,
                queue: t.queue,
                text: t.text,
                created_at: t.created_at,
            }
        })
        .collect())
}

/// The `conversation` frame: transcript, what the bot understood, notes, suggestions, earlier
/// conversations.
pub async fn conversation(app: &App, agent: &Agent, id: &str) -> Result<AgentFrame, ActionError> {
    let store = &app.store;
    let conversation = super::actions::readable(app, agent, id).await?;
    let feedback = store.feedback(id).await?;
    let events = store.events_after(id, 0).await?;
    let transcript = events
        .iter()
        .map(|e| transcript_entry(e, feedback.get(&e.seq).copied()))
        .collect();
    let notes = store
        .notes(id)
        .await?
        .into_iter()
        .map(super::publish::note_view)
        .collect();
    let history = match &conversation.customer_id {
        Some(customer) => store.customer_history(customer, id).await?,
        None => Vec::new(),
    };
    let latest = events
        .iter()
        .rev()
        .find(|e| e.sender == crate::storage::Sender::Customer);
    let suggestions = match latest.and_then(|e| e.text.as_deref()) {
        Some(text) => suggest(app, text).await,
        None => Vec::new(),
    };
    let clock = store.clocked(Some(id)).await?.into_iter().next();
    let sla = clock
        .as_ref()
        .map(|c| sla(c, &app.bot.load().knowledge().queue(&c.queue)));
    Ok(AgentFrame::Conversation {
        conversation_id: id.to_owned(),
        state: conversation.state.as_str().to_owned(),
        queue: conversation.queue,
        reason: conversation.handoff_reason,
        priority: priority_name(clock.as_ref().map_or(1, |c| c.priority)).to_owned(),
        sla,
        assigned_to: store.holder(id).await?,
        customer: CustomerView {
            id: conversation.customer_id,
            attributes: app.sealer.open_attributes(conversation.customer_attributes),
            locale: conversation.locale,
            page_url: conversation.page_url,
        },
        transcript,
        notes,
        suggestions,
        history: history
            .into_iter()
            .map(|(conversation_id, created_at, state)| HistoryEntry {
                conversation_id,
                created_at,
                state,
            })
            .collect(),
    })
}

/// The best FAQ answers for a customer message, for the agent to edit and send: read the way
/// the bot reads a chat message, and only entries the bot itself would answer with ("thanks!"
/// deserves no suggestion; until the model is ready, scores are BM25's and not comparable, so
/// nothing is filtered).
async fn suggest(app: &App, text: &str) -> Vec<Suggestion> {
    let bot = app.bot.load_full();
    let min = if bot.brain().is_some() {
        app.policy.min_answer_score
    } else {
        f32::MIN
    };
    let found = crate::bot::read(
        Arc::clone(&bot),
        &app.embedder,
        &app.metrics,
        text,
        SUGGESTIONS,
        move |_, reading| {
            reading
                .candidates
                .iter()
                .filter(|c| c.score >= min)
                .map(|c| Suggestion {
                    faq_id: c.entry.id.clone(),
                    question: c.entry.question.clone(),
                    answer: c.entry.answer_markdown.clone(),
                    score: c.score,
                })
                .collect()
        },
    )
    .await;
    found.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "no suggestions");
        Vec::new()
    })
}
