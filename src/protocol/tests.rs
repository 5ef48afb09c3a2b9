//! Tests for the protocol frames: JSON round trips, names on the wire, readable errors.

use serde_json::json;

use super::*;

fn round_trip_server(frame: &ServerFrame) -> ServerFrame {
    let text = serde_json::to_string(frame).expect("serialises");
    serde_json::from_str(&text).expect("parses back")
}

#[test]
fn client_frames_round_trip_through_json() {
    let frames = [
        ClientFrame::Hello(Hello {
            protocol: PROTOCOL_VERSION,
            resume_token: Some("tok".into()),
            last_seq: Some(7),
            locale: Some("en".into()),
            page_url: None,
            identity: None,
        }),
        ClientFrame::Message {
            client_id: "m1".into(),
            text: "hi".into(),
        },
        ClientFrame::Typing { active: true },
        ClientFrame::Feedback {
            seq: 3,
            helpful: false,
        },
        ClientFrame::Choose {
            client_id: "m2".into(),
            choice_id: "returns".into(),
            label: "Returns".into(),
        },
        ClientFrame::RequestHuman { client_id: None },
        ClientFrame::Close {},
        ClientFrame::LeaveMessage {
            client_id: "m3".into(),
            email: "ada@example.com".into(),
            text: "call me".into(),
        },
        ClientFrame::Rate {
            score: 4,
            comment: Some("quick".into()),
        },
    ];
    let mut types = Vec::new();
    for frame in frames {
        let text = serde_json::to_string(&frame).expect("serialises");
        let parsed = ClientFrame::parse(&text);
        assert_eq!(parsed.as_ref(), Ok(&frame), "{text}");
        let value: serde_json::Value = serde_json::from_str(&text).expect("json");
        types.push(value["type"].as_str().expect("type").to_owned());
    }
    assert_eq!(types, ClientFrame::TYPES, "TYPES lists every variant");
}

#[test]
fn server_frames_round_trip_through_json_and_report_their_seq() {
    let choice = Choice {
        id: "returns".into(),
        label: "How do I return an item?".into(),
    };
    let cases = [
        (
            ServerFrame::Welcome {
                protocol: 1,
                conversation_id: "c".into(),
                resume_token: "t".into(),
                last_seq: 4,
                resumed: true,
                identified: false,
                quick_replies: Vec::new(),
            },
            None,
        ),
        (
            ServerFrame::Answer {
                seq: 2,
                text: "t".into(),
                html: "<p>t</p>".into(),
                faq_id: Some("f".into()),
                also: vec![],
                quick_replies: vec![],
                related: vec![choice.clone()],
                feedback: true,
            },
            Some(2),
        ),
        (
            ServerFrame::Clarify {
                seq: 3,
                text: "which?".into(),
                choices: vec![choice.clone(), choice],
            },
            Some(3),
        ),
        (
            ServerFrame::Handoff {
                seq: 4,
                reason: HandoffReason::LowConfidence,
                text: "t".into(),
                queue: "general".into(),
                position: Some(2),
            },
            Some(4),
        ),
        (
            ServerFrame::AgentMessage {
                seq: 5,
                agent_name: "Sam".into(),
                text: "hello".into(),
                html: None,
            },
            Some(5),
        ),
        (
            ServerFrame::Typing {
                who: Typist::Agent,
                active: true,
            },
            None,
        ),
        (
            ServerFrame::Notice {
                seq: None,
                text: "t".into(),
                serving: None,
                agent_name: None,
            },
            None,
        ),
        (
            ServerFrame::error(ErrorCode::RateLimited, "slow down"),
            None,
        ),
        (
            ServerFrame::Ack {
                client_id: "m1".into(),
                seq: 6,
            },
            None,
        ),
        (
            ServerFrame::FeedbackAck {
                seq: 3,
                helpful: false,
            },
            None,
        ),
        (ServerFrame::RateAck { score: 5 }, None),
        (
            ServerFrame::CustomerMessage {
                seq: 6,
                client_id: "m1".into(),
                text: "hi".into(),
                choice_id: None,
            },
            Some(6),
        ),
        (
            ServerFrame::QueueUpdate {
                queue: "general".into(),
                position: 2,
                wait_secs: Some(60),
            },
            None,
        ),
        (
            ServerFrame::Offline {
                seq: 8,
                text: "Nobody is online".into(),
                reason: OfflineReason::NobodyOnline,
                opens_at: None,
            },
            Some(8),
        ),
        (
            ServerFrame::CsatRequest {
                seq: 9,
                text: "Rate us".into(),
            },
            Some(9),
        ),
    ];
    let mut types = Vec::new();
    for (frame, seq) in cases {
        assert_eq!(round_trip_server(&frame), frame);
        assert_eq!(frame.seq(), seq, "{frame:?}");
        let value = serde_json::to_value(&frame).expect("json");
        types.push(value["type"].as_str().expect("type").to_owned());
    }
    assert_eq!(types, ServerFrame::TYPES, "TYPES lists every variant");
}

#[test]
fn enums_are_written_as_their_documented_names() {
    for reason in HandoffReason::ALL {
        assert_eq!(
            serde_json::to_value(reason).expect("json"),
            json!(reason.as_str())
        );
        assert_eq!(
            serde_json::from_value::<HandoffReason>(json!(reason.as_str())).expect("parses"),
            reason
        );
    }
    let codes = [
        ErrorCode::BadFrame,
        ErrorCode::UnknownType,
        ErrorCode::TooLarge,
        ErrorCode::RateLimited,
        ErrorCode::BadState,
        ErrorCode::UnsupportedProtocol,
        ErrorCode::Busy,
        ErrorCode::Internal,
    ];
    for code in codes {
        assert_eq!(
            serde_json::to_value(code).expect("json"),
            json!(code.as_str())
        );
    }
}

#[test]
fn an_unknown_type_is_rejected_with_a_readable_error() {
    let error = ClientFrame::parse(r#"{"type": "shout", "text": "HI"}"#).expect_err("unknown");

    assert_eq!(error.code(), ErrorCode::UnknownType);
    let message = error.to_string();
    assert!(
        message.contains("\"shout\"") && message.contains("message"),
        "{message}"
    );
}

#[test]
fn malformed_frames_are_bad_frames_that_say_what_is_wrong() {
    let cases = [
        ("not json", "not valid JSON"),
        ("[1, 2]", "\"type\""),
        (r#"{"text": "hi"}"#, "\"type\""),
        (r#"{"type": 7}"#, "must be a string"),
        (
            r#"{"type": "message", "text": "hi"}"#,
            "missing field `client_id`",
        ),
        (
            r#"{"type": "message", "client_id": "m", "text": 5}"#,
            "invalid type",
        ),
        (
            r#"{"type": "hello", "protocol": 1, "lastSeq": 3}"#,
            "unknown field `lastSeq`",
        ),
        (
            r#"{"type": "feedback", "seq": -1, "helpful": true}"#,
            "invalid value",
        ),
        (
            r#"{"type": "close", "reason": "bye"}"#,
            "unknown field `reason`",
        ),
    ];
    for (text, expected) in cases {
        let error = ClientFrame::parse(text).expect_err(text);
        assert_eq!(error.code(), ErrorCode::BadFrame, "{text}");
        let message = error.to_string();
        assert!(
            message.contains(expected),
            "{text}: {message:?} lacks {expected:?}"
        );
    }
}

#[test]
fn an_error_becomes_an_error_frame_without_seq() {
    let error = ClientFrame::parse("{").expect_err("bad");

    let frame = serde_json::to_value(error.to_frame()).expect("json");

    assert_eq!(frame["type"], "error");
    assert_eq!(frame["code"], "bad_frame");
    assert!(frame.get("seq").is_none());
}
