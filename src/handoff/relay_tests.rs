//! Tests for the relay's wire format: what travels between nodes, and what does not.

use super::*;
use crate::protocol::agent::TranscriptEntry;

fn entry(seq: u64) -> TranscriptEntry {
    TranscriptEntry {
        seq,
        sender: "agent".to_owned(),
        kind: "agent_message".to_owned(),
        text: Some("hello".to_owned()),
        created_at: 0,
        intent: None,
        confidence: None,
        faq_id: None,
        decision: None,
        reason: None,
        helpful: None,
        agent_name: Some("Sam".to_owned()),
    }
}

#[test]
fn a_stored_frame_travels_as_its_seq_and_reads_back_as_sent() {
    let frame = Outbound::Customer(
        "c1".into(),
        CustomerNews::Frame {
            seq: 7,
            json: r#"{"type":"agent_message","seq":7,"text":"a long reply"}"#.into(),
        },
    );
    let event = Outbound::Agents(AgentNews::Event {
        conversation_id: "c1".into(),
        entry: Arc::new(entry(7)),
    });
    for (news, expected) in [
        (frame, r#"{"node":"n1","t":"stored","c":"c1","seq":7}"#),
        (event, r#"{"node":"n1","t":"event","c":"c1","seq":7}"#),
    ] {
        let envelope = Envelope {
            node: "n1".to_owned(),
            news: Wire::from_outbound(news).expect("relayed"),
        };
        let text = serde_json::to_string(&envelope).expect("serialised");
        assert_eq!(text, expected, "the event itself stays in the store");
        let back: Envelope = serde_json::from_str(&text).expect("parsed");
        assert_eq!(back.node, "n1");
    }
}

#[test]
fn what_is_not_stored_travels_whole_and_catching_up_not_at_all() {
    let typing = Outbound::Customer(
        "c1".into(),
        CustomerNews::Transient(ServerFrame::Typing {
            who: crate::protocol::Typist::Agent,
            active: true,
        }),
    );
    let wire = Wire::from_outbound(typing).expect("relayed");
    let text = serde_json::to_string(&Envelope {
        node: "n1".to_owned(),
        news: wire,
    })
    .expect("serialised");
    let back: Envelope = serde_json::from_str(&text).expect("parsed");
    assert!(
        matches!(back.news, Wire::Transient { ref c, frame: ServerFrame::Typing { active: true, .. } } if c == "c1"),
        "{text}"
    );
    let catch_up = Outbound::Customer("c1".into(), CustomerNews::Stored(3));
    assert!(Wire::from_outbound(catch_up).is_none());
}
