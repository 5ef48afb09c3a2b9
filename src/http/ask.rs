//! `POST /api/ask`: the FAQ entries that best answer a question.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};

use super::{ApiError, ApiJson};
use crate::app::App;
use crate::bot::{ReadError, Understanding};
use crate::model::ModelError;

/// Most results a client may ask for.
const MAX_LIMIT: usize = 10;

/// Request body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AskRequest {
    /// The customer's question.
    pub text: String,
    /// How many matches to return (1–10, default 3).
    #[serde(default = "default_limit")]
    pub limit: usize,
}

fn default_limit() -> usize {
    3
}

/// One FAQ entry that may answer the question.
#[derive(Debug, Serialize)]
pub struct Match {
    /// Entry id.
    pub id: String,
    /// Its canonical question.
    pub question: String,
    /// Fused retrieval score in [0, 1] (BM25 score while the model is training).
    pub score: f32,
    /// BM25 score of the entry (0 when the words do not match).
    pub bm25: f32,
    /// Embedding similarity to the entry's question or alternatives.
    pub similarity: Option<f32>,
    /// Language of the entry.
    pub lang: String,
    /// The answer as Markdown.
    pub answer_markdown: String,
    /// The answer as HTML that is safe to insert into a page.
    pub answer_html: String,
    /// Follow-up suggestions.
    pub related: Vec<Related>,
}

/// A follow-up suggestion.
#[derive(Debug, Serialize)]
pub struct Related {
    /// Entry id.
    pub id: String,
    /// Its question, to show as a quick reply.
    pub question: String,
}

/// Response body.
#[derive(Debug, Serialize)]
pub struct AskResponse {
    /// The question as received.
    pub query: String,
    /// What the model understood: top intents, out-of-scope score (absent while training).
    pub understanding: Option<Understanding>,
    /// Best matches first; empty when nothing in the knowledge base matches.
    pub matches: Vec<Match>,
}

/// Answers a question from the FAQ.
///
/// A public endpoint sharing the model with the chats, so it is held to two limits: requests
/// per client address (`Throttles::ask_address`, 429 with `Retry-After`), and at most
/// [`crate::app::ASK_SHARE`] reads in the model's queue at once (503 `busy` beyond), so that a
/// burst of long questions cannot delay a chat turn by more than a few texts.
pub async fn ask(
    State(app): State<App>,
    super::ClientAddr(address): super::ClientAddr,
    ApiJson(request): ApiJson<AskRequest>,
) -> Result<Json<AskResponse>, ApiError> {
    app.throttles
        .ask_address
        .check(&address)
        .map_err(|wait| ApiError::TooManyRequests {
            message: "too many questions from this address; wait before asking again",
            retry_after_secs: wait.as_secs_f64().ceil() as u64,
        })?;
    let text = request.text.trim();
    if text.is_empty() {
        return Err(ApiError::Invalid {
            code: "empty_text",
            message: "`text` is empty: send the customer's question".into(),
        });
    }
    let max_chars = app.settings.max_message_chars;
    if text.chars().count() > max_chars {
        return Err(ApiError::Invalid {
            code: "text_too_long",
            message: format!("`text` is longer than {max_chars} characters"),
        });
    }
    if !(1..=MAX_LIMIT).contains(&request.limit) {
        return Err(ApiError::Invalid {
            code: "bad_limit",
            message: format!("`limit` must be between 1 and {MAX_LIMIT}"),
        });
    }
    let limit = request.limit;
    let Ok(_slot) = app.ask_slots.clone().try_acquire_owned() else {
        return Err(ApiError::Busy);
    };
    let read = crate::bot::read(
        app.bot.load_full(),
        &app.embedder,
        &app.metrics,
        text,
        limit,
        |bot, reading| {
            let knowledge = bot.knowledge();
            let matches = reading
                .candidates
                .iter()
                .map(|c| Match {
                    id: c.entry.id.clone(),
                    question: c.entry.question.clone(),
                    score: c.score,
                    bm25: c.bm25,
                    similarity: c.similarity,
                    lang: c.entry.lang.clone(),
                    answer_markdown: c.entry.answer_markdown.clone(),
                    answer_html: c.entry.answer_html.clone(),
                    related: c
                        .entry
                        .related
                        .iter()
                        .filter_map(|id| knowledge.faq(id))
                        .map(|r| Related {
                            id: r.id.clone(),
                            question: r.question.clone(),
                        })
                        .collect(),
                })
                .collect();
            (reading.understanding.cloned(), matches)
        },
    )
    .await;
    let (understanding, matches) = match read {
        Ok(read) => read,
        Err(ReadError::Model(ModelError::Busy)) => return Err(ApiError::Busy),
        Err(e) => return Err(ApiError::Internal(e.into())),
    };
    Ok(Json(AskResponse {
        query: text.to_owned(),
        understanding,
        matches,
    }))
}
