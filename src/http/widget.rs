//! The customer widget (`widget/widget.js`, embedded by sites with one `<script>` tag) and the
//! demo shop page at `/` that shows it, both compiled into the binary.

use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS,
};
use axum::response::{IntoResponse, Response};

const SCRIPT: &str = include_str!("../../widget/widget.js");
const DEMO: &str = include_str!("../../widget/demo.html");

/// The demo page's own scripts only; its styles are inline (it is one file), the widget's are a
/// constructed stylesheet.
const DEMO_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
     connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'self'; \
     frame-ancestors 'none'";

/// `GET /widget.js`: loaded by every page of the embedding sites, so browsers may keep it for a
/// few minutes (an upgrade shows within that time) rather than ask on every page view.
pub async fn script() -> Response {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=300"),
            (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        SCRIPT,
    )
        .into_response()
}

/// `GET /`: a fictional shop with the widget embedded and a link to the agent console.
pub async fn demo() -> Response {
    (
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            (CONTENT_SECURITY_POLICY, DEMO_CSP),
            (CACHE_CONTROL, "no-cache"),
        ],
        DEMO,
    )
        .into_response()
}
