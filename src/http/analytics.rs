//! `GET /api/analytics`, `/api/analytics/unanswered` and `/api/analytics/unanswered.csv`:
//! the managers' figures, for admins. Ranges are whole UTC days, `from` and `to` included
//! (`YYYY-MM-DD`); without them, the last 14 days up to today.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use jiff::civil::Date;
use serde::Deserialize;

use super::ApiError;
use super::auth::AdminAgent;
use crate::analytics::{self, Range, unanswered};
use crate::app::App;

/// Days in the default range.
const DEFAULT_DAYS: i64 = 14;

/// The range parameters.
#[derive(Debug, Deserialize)]
pub struct RangeQuery {
    from: Option<String>,
    to: Option<String>,
}

impl RangeQuery {
    fn range(&self) -> Result<Range, ApiError> {
        let parse = |name: &str, value: &str| {
            value.parse::<Date>().map_err(|_| {
                ApiError::BadQuery(format!(
                    "`{name}` must be a date like 2026-11-23, got {value:?}"
                ))
            })
        };
        let today = jiff::Timestamp::now()
            .to_zoned(jiff::tz::TimeZone::UTC)
            .date();
        let to = match &self.to {
            Some(to) => parse("to", to)?,
            None => today,
        };
        let from = match &self.from {
            Some(from) => parse("from", from)?,
            None => to
                .checked_sub(jiff::Span::new().days(DEFAULT_DAYS - 1))
                .map_err(|e| ApiError::BadQuery(e.to_string()))?,
        };
        Range::new(from, to).map_err(|e| ApiError::BadQuery(e.to_string()))
    }
}

/// `GET /api/analytics?from&to`.
pub async fn report(
    _admin: AdminAgent,
    State(app): State<App>,
    Query(query): Query<RangeQuery>,
) -> Result<Response, ApiError> {
    let range = query.range()?;
    let bot = app.bot.load_full();
    let report = analytics::report(&app.store, bot.knowledge(), range)
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok(Json(report).into_response())
}

/// `GET /api/analytics/unanswered?from&to`.
pub async fn unanswered_json(
    _admin: AdminAgent,
    State(app): State<App>,
    Query(query): Query<RangeQuery>,
) -> Result<Response, ApiError> {
    let clusters = clusters(&app, query.range()?).await?;
    Ok(Json(serde_json::json!({ "clusters": clusters })).into_response())
}

/// `GET /api/analytics/unanswered.csv?from&to`: the same list for a spreadsheet.
pub async fn unanswered_csv(
    _admin: AdminAgent,
    State(app): State<App>,
    Query(query): Query<RangeQuery>,
) -> Result<Response, ApiError> {
    let range = query.range()?;
    let clusters = clusters(&app, range).await?;
    let csv = unanswered::to_csv(&clusters).map_err(|e| ApiError::Internal(e.into()))?;
    let disposition = format!(
        "attachment; filename=\"unanswered-{}-to-{}.csv\"",
        range.from, range.to
    );
    Ok((
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (CONTENT_DISPOSITION, disposition),
        ],
        csv,
    )
        .into_response())
}

async fn clusters(app: &App, range: Range) -> Result<Vec<unanswered::Cluster>, ApiError> {
    unanswered::unanswered(&app.store, &app.embedder, range)
        .await
        .map_err(|e| match e {
            unanswered::UnansweredError::Model(crate::model::ModelError::Busy) => ApiError::Busy,
            other => ApiError::Internal(other.into()),
        })
}
