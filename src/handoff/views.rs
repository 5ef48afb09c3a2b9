//! What an agent's console is shown: the queue snapshot (waiting, mine, offline tickets) and one
//! conversation with its context (transcript, notes, suggestions, earlier conversations).

use serde_json::{Value, json};

use super::actions::ActionError;
use super::agent_ws::AgentSession;
use super::transcript_entry;
use crate::storage::{Clocked, Role};

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
fn sla_json(clock: &Clocked, queue: &crate::knowledge::Queue) -> Value {
    let (first_due, resolution_due) = super::watch::due(clock, queue);
    json!({
        "first_response_due": clock.first_agent_reply_at.is_none().then_some(first_due),
        "resolution_due": resolution_due,
    })
}

impl AgentSession {
    /// The `queue` frame: what this agent may take, and what they hold.
    pub(super) async fn snapshot(&mut self) {
        let (waiting, mine) = match (
            self.state.store.waiting().await,
            self.state.store.assigned_to(&self.agent.id).await,
        ) {
            (Ok(waiting), Ok(mine)) => (waiting, mine),
            (Err(e), _) | (_, Err(e)) => {
                tracing::error!(error = %e, "cannot read the queue");
                return self.error("internal", "the queue could not be read");
            }
        };
        let now = crate::storage::now_ms();
        let bot = self.state.bot.load_full();
        let knowledge = bot.knowledge();
        let clocks = self.clocks().await;
        let sla = |id: &str| {
            clocks
                .get(id)
                .map(|c| sla_json(c, &knowledge.queue(&c.queue)))
        };
        let mut places = std::collections::HashMap::<String, u32>::new();
        let mut visible = Vec::new();
        for w in waiting {
            let place = places.entry(w.queue.clone()).or_insert(0);
            *place += 1;
            if self.agent.role == Role::Admin || self.agent.skills.contains(&w.queue) {
                visible.push(json!({
                    "conversation_id": w.conversation_id,
                    "queue": w.queue,
                    "priority": priority_name(w.priority),
                    "reason": w.reason,
                    "position": *place,
                    "waiting_secs": (now - w.queued_at).max(0) / 1000,
                    "preview": w.preview,
                    "locale": w.locale,
                    "customer_name": w.customer_attributes.as_ref().and_then(|a| a.get("name")).cloned(),
                    "sla": sla(&w.conversation_id),
                }));
            }
        }
        let mine: Vec<Value> = mine
            .into_iter()
            .map(|(id, queue, preview)| {
                let priority = clocks.get(&id).map_or(1, |c| c.priority);
                json!({"conversation_id": id, "queue": queue, "preview": preview, "priority": priority_name(priority), "sla": sla(&id)})
            })
            .collect();
        let tickets = self.tickets().await;
        let queues = self.queue_states(knowledge);
        self.out.push(json!({
            "type": "queue",
            "now": now,
            "queues": queues,
            "waiting": visible,
            "mine": mine,
            "tickets": tickets,
        }));
    }

    /// Open or closed, agents online, auto-assignment: for each queue this agent may see.
    fn queue_states(&self, knowledge: &crate::knowledge::Knowledge) -> Vec<Value> {
        let now = jiff::Timestamp::now();
        knowledge
            .queues
            .iter()
            .filter(|q| self.agent.role == Role::Admin || self.agent.skills.contains(&q.name))
            .map(|q| {
                let hours = q.hours.as_ref();
                json!({
                    "name": q.name,
                    "open": hours.is_none_or(|h| h.is_open(now)),
                    "opens_at": hours.and_then(|h| h.next_open(now)).filter(|&t| t > now).map(|t| t.as_millisecond()),
                    "closes_at": hours.and_then(|h| h.closes_at(now)).map(|t| t.as_millisecond()),
                    "online": self.state.hub.online_for(&q.name),
                    "auto_assign": q.auto_assign,
                })
            })
            .collect()
    }

    /// The SLA clocks of every conversation in human hands, by id.
    async fn clocks(&self) -> std::collections::HashMap<String, Clocked> {
        match self.state.store.clocked(None).await {
            Ok(clocked) => clocked
                .into_iter()
                .map(|c| (c.conversation_id.clone(), c))
                .collect(),
            Err(e) => {
                tracing::error!(error = %e, "cannot read the SLA clocks");
                std::collections::HashMap::new()
            }
        }
    }

    /// Open offline tickets of the queues this agent may see, contact details opened for them.
    async fn tickets(&self) -> Vec<Value> {
        let tickets = match self.state.store.open_tickets().await {
            Ok(tickets) => tickets,
            Err(e) => {
                tracing::error!(error = %e, "cannot read the tickets");
                return Vec::new();
            }
        };
        tickets
            .into_iter()
            .filter(|t| self.agent.role == Role::Admin || self.agent.skills.contains(&t.queue))
            .map(|t| {
                // A ticket sealed with another key shows without its email rather than failing
                // the whole snapshot; the log says why (without the data).
                let email = self.state.sealer.open(&t.email_sealed).map_err(|e| {
                    tracing::error!(ticket = t.id, error = %e, "cannot open a ticket's email");
                });
                json!({
                    "id": t.id,
                    "conversation_id": t.conversation_id,
                    "queue": t.queue,
                    "email": email.ok(),
                    "text": t.text,
                    "created_at": t.created_at,
                })
            })
            .collect()
    }

    /// The `conversation` frame: transcript, what the bot understood, notes, suggestions,
    /// earlier conversations. From now on this console gets the conversation's live events.
    pub(super) async fn show(&mut self, id: &str) -> Result<(), ActionError> {
        let store = &self.state.store;
        let conversation = store
            .conversation(id)
            .await?
            .ok_or_else(|| ActionError::NotFound(id.to_owned()))?;
        let feedback = store.feedback(id).await?;
        let events = store.events_after(id, 0).await?;
        let transcript: Vec<Value> = events
            .iter()
            .map(|e| transcript_entry(e, feedback.get(&e.seq).copied()))
            .collect();
        let notes = store.notes(id).await?;
        let history = match &conversation.customer_id {
            Some(customer) => store.customer_history(customer, id).await?,
            None => Vec::new(),
        };
        let latest = events
            .iter()
            .rev()
            .find(|e| e.sender == crate::storage::Sender::Customer);
        let suggestions = match latest.and_then(|e| e.text.clone()) {
            Some(text) => self.suggest(&text).await,
            None => Vec::new(),
        };
        let clock = store.clocked(Some(id)).await?.into_iter().next();
        let sla = clock
            .as_ref()
            .map(|c| sla_json(c, &self.state.bot.load().knowledge().queue(&c.queue)));
        self.open.insert(id.to_owned());
        self.out.push(json!({
            "type": "conversation",
            "conversation_id": id,
            "state": conversation.state.as_str(),
            "queue": conversation.queue,
            "reason": conversation.handoff_reason,
            "priority": priority_name(clock.as_ref().map_or(1, |c| c.priority)),
            "sla": sla,
            "assigned_to": store.holder(id).await?,
            "customer": {
                "id": conversation.customer_id,
                "attributes": conversation.customer_attributes,
                "locale": conversation.locale,
                "page_url": conversation.page_url,
            },
            "transcript": transcript,
            "notes": notes,
            "suggestions": suggestions,
            "history": history.into_iter().map(|(id, created_at, state)| json!({"conversation_id": id, "created_at": created_at, "state": state})).collect::<Vec<_>>(),
        }));
        Ok(())
    }

    /// The best FAQ answers for a customer message, for the agent to edit and send.
    async fn suggest(&self, text: &str) -> Vec<Value> {
        let bot = self.state.bot.load_full();
        let embedding = self.state.embedder.embed(text).await.ok();
        let text = text.to_owned();
        // Only entries the bot itself would answer with: "thanks!" deserves no suggestion. (Until
        // the model is ready, scores are BM25's and not comparable, so nothing is filtered.)
        let min = if bot.brain().is_some() {
            self.state.policy.min_answer_score
        } else {
            f32::MIN
        };
        let found = tokio::task::spawn_blocking(move || {
            bot.retrieve(&text, embedding.as_deref(), SUGGESTIONS).map(|candidates| {
                candidates
                    .iter()
                    .filter(|c| c.score >= min)
                    .map(|c| json!({"faq_id": c.entry.id, "question": c.entry.question, "answer": c.entry.answer_markdown, "score": c.score}))
                    .collect::<Vec<_>>()
            })
        })
        .await;
        match found {
            Ok(Ok(found)) => found,
            _ => Vec::new(),
        }
    }
}
