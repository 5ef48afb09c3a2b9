//! The agent console's files (`console/`), compiled into the binary so that the server serves
//! them wherever it runs from.

use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, X_FRAME_OPTIONS};
use axum::response::{IntoResponse, Redirect, Response};

const INDEX: &str = include_str!("../../console/index.html");
const SCRIPT: &str = include_str!("../../console/console.js");
const STYLE: &str = include_str!("../../console/console.css");
const INSIGHTS_SCRIPT: &str = include_str!("../../console/insights.js");
const INSIGHTS_STYLE: &str = include_str!("../../console/insights.css");

/// The page's own origin only, and never inside a frame: the console acts with an agent's
/// rights, so clickjacking it must be impossible (`frame-ancestors` only works as a header).
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; \
     img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

fn file(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (CONTENT_TYPE, content_type),
            (CONTENT_SECURITY_POLICY, CSP),
            (X_FRAME_OPTIONS, "DENY"),
            // Small files, and a new version must show at once after an upgrade.
            (CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

/// `GET /console`: the relative asset URLs need the trailing slash.
pub async fn redirect() -> Redirect {
    Redirect::permanent("/console/")
}

/// `GET /console/`.
pub async fn index() -> Response {
    file("text/html; charset=utf-8", INDEX)
}

/// `GET /console/console.js`.
pub async fn script() -> Response {
    file("text/javascript; charset=utf-8", SCRIPT)
}

/// `GET /console/console.css`.
pub async fn style() -> Response {
    file("text/css; charset=utf-8", STYLE)
}

/// `GET /console/insights.js`: the managers' insights page.
pub async fn insights_script() -> Response {
    file("text/javascript; charset=utf-8", INSIGHTS_SCRIPT)
}

/// `GET /console/insights.css`.
pub async fn insights_style() -> Response {
    file("text/css; charset=utf-8", INSIGHTS_STYLE)
}
