//! Tests for the hub: counting agents online, here and on other nodes, and channels.

use super::*;

#[test]
fn an_agent_with_two_consoles_counts_once_and_away_consoles_not_at_all() {
    let hub = Hub::default();
    let general = || vec!["general".to_owned()];
    let first = hub.arrive("sam", general());
    hub.arrive("sam", general());
    let kim = hub.arrive("kim", general());
    assert_eq!(hub.online_for("general"), 2);
    hub.set_online(kim, false);
    assert_eq!(hub.online_for("general"), 1);
    assert_eq!(hub.online_agents(), vec!["sam".to_owned()]);
    hub.leave(first);
    assert_eq!(
        hub.online_for("general"),
        1,
        "Sam's other console is online"
    );
    assert_eq!(hub.online_for("billing"), 0);
}

#[test]
fn agents_on_other_nodes_count_once_with_those_here() {
    let hub = Hub::default();
    hub.arrive("sam", vec!["general".to_owned()]);
    let remote = |agent: &str, online: bool| ConsoleRecord {
        console: 0,
        agent_id: agent.to_owned(),
        skills: vec!["general".to_owned()],
        online,
    };
    let changed = hub.set_remote(vec![remote("sam", true), remote("kim", true)]);
    assert!(changed);
    assert_eq!(hub.online_for("general"), 2, "Sam on two nodes counts once");
    assert_eq!(hub.online_agents(), ["kim".to_owned(), "sam".to_owned()]);
    assert!(!hub.set_remote(vec![remote("sam", true), remote("kim", true)]));
    hub.set_remote(vec![remote("kim", false)]);
    assert_eq!(hub.online_for("general"), 1, "Kim is away");
}

#[tokio::test]
async fn news_reaches_listeners_and_a_channel_goes_with_its_last_listener() {
    let hub = Hub::default();
    let mut first = hub.listen("c1");
    let second = hub.listen("c1");
    hub.tell_customer("c1", CustomerNews::BotActive(false));
    hub.tell_customer("c2", CustomerNews::BotActive(true));
    assert!(matches!(
        first.recv().await,
        Ok(CustomerNews::BotActive(false))
    ));
    drop(first);
    hub.forget("c1");
    assert_eq!(hub.lock().len(), 1, "one listener left");
    drop(second);
    hub.forget("c1");
    assert!(
        hub.lock().is_empty(),
        "the channel went with its last listener"
    );
}
