//! Auto-assignment: in queues that ask for it (`auto_assign: true`), each waiting conversation
//! goes, in queue order, to the online agent with the queue's skill who holds the fewest
//! conversations and has room for one more. Runs when a conversation is handed off, when an
//! agent comes online, and on every watchdog tick (which covers a chat resolved elsewhere).

use std::collections::HashSet;

use super::actions::ActionError;
use super::publish::joined;
use super::{AgentNews, announce_positions};
use crate::app::App;
use crate::storage::{Agent, Duty};

/// Assigns what can be assigned; failures are logged (the next tick tries again).
pub async fn run(app: &App) {
    if let Err(e) = assign(app).await {
        tracing::warn!(error = %e, "auto-assignment failed");
    }
}

async fn assign(app: &App) -> Result<(), ActionError> {
    let auto: HashSet<String> = app
        .bot
        .load()
        .knowledge()
        .queues
        .iter()
        .filter(|q| q.auto_assign)
        .map(|q| q.name.clone())
        .collect();
    if auto.is_empty() {
        return Ok(());
    }
    let _turn = app.hub.assigning.lock().await;
    // And across nodes: one assigns at a time, the others wait their turn (and then see what
    // it assigned), so two nodes never hand one agent their last free place twice.
    let _duty = app.store.wait_exclusive(Duty::Assignment).await?;
    let waiting: Vec<_> = app
        .store
        .waiting()
        .await?
        .into_iter()
        .filter(|w| auto.contains(&w.queue))
        .collect();
    if waiting.is_empty() {
        return Ok(());
    }
    let mut agents: Vec<(Agent, u32)> = Vec::new();
    for id in app.hub.online_agents() {
        if let Some(agent) = app.store.agent(&id).await?.filter(|a| !a.disabled) {
            let held = app.store.assigned_to(&agent.id).await?.len();
            agents.push((agent, u32::try_from(held).unwrap_or(u32::MAX)));
        }
    }
    let mut assigned = false;
    for conversation in waiting {
        let Some((agent, held)) = least_loaded(&mut agents, &conversation.queue) else {
            continue;
        };
        if app
            .store
            .claim(&conversation.conversation_id, &agent.id)
            .await?
        {
            *held += 1;
            assigned = true;
            let id = conversation.conversation_id.as_str();
            tracing::info!(
                conversation = id,
                agent = agent.id,
                "assigned automatically"
            );
            joined(app, agent, id).await?;
            app.hub.tell_agents(AgentNews::Assigned {
                agent_id: agent.id.as_str().into(),
                conversation_id: id.into(),
                by: None,
            });
        }
    }
    if assigned {
        app.hub.tell_agents(AgentNews::QueueChanged);
        announce_positions(app).await;
    }
    Ok(())
}

/// The agent with `queue` among their skills and room for another chat who holds the fewest;
/// ties go to the name first in order, so the choice is predictable.
fn least_loaded<'a>(agents: &'a mut [(Agent, u32)], queue: &str) -> Option<&'a mut (Agent, u32)> {
    agents
        .iter_mut()
        .filter(|(agent, held)| agent.skills.iter().any(|s| s == queue) && *held < agent.max_chats)
        .min_by(|(a, a_held), (b, b_held)| a_held.cmp(b_held).then_with(|| a.name.cmp(&b.name)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::Role;

    fn agent(name: &str, skills: &[&str], max_chats: u32) -> Agent {
        Agent {
            id: name.to_lowercase(),
            email: format!("{}@example.com", name.to_lowercase()),
            name: name.to_owned(),
            role: Role::Agent,
            skills: skills.iter().map(|s| (*s).to_owned()).collect(),
            max_chats,
            disabled: false,
            created_at: 0,
        }
    }

    #[test]
    fn the_least_loaded_agent_with_the_skill_and_room_gets_the_chat() {
        let mut agents = vec![
            (agent("Ann", &["general"], 3), 2),
            (agent("Bo", &["general", "billing"], 3), 1),
            (agent("Cy", &["billing"], 3), 0),
            (agent("Di", &["general"], 1), 1),
        ];
        let chosen = least_loaded(&mut agents, "general").map(|(a, _)| a.name.clone());
        assert_eq!(
            chosen.as_deref(),
            Some("Bo"),
            "Cy lacks the skill, Di is full"
        );
        let chosen = least_loaded(&mut agents, "billing").map(|(a, _)| a.name.clone());
        assert_eq!(chosen.as_deref(), Some("Cy"));
        assert!(least_loaded(&mut agents, "returns").is_none());
    }

    #[test]
    fn ties_go_to_the_first_name_and_full_agents_get_nothing() {
        let mut agents = vec![
            (agent("Zed", &["general"], 2), 1),
            (agent("Amy", &["general"], 2), 1),
        ];
        let chosen = least_loaded(&mut agents, "general").map(|(a, _)| a.name.clone());
        assert_eq!(chosen.as_deref(), Some("Amy"));
        for (_, held) in &mut agents {
            *held = 2;
        }
        assert!(least_loaded(&mut agents, "general").is_none());
    }
}
