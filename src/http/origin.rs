//! Which web pages may open the server's websockets, judged by the `Origin` header browsers
//! send with every websocket upgrade.
//!
//! - The agent socket only from the server's own origin: a page elsewhere must not act with an
//!   agent's cookie (cross-site websocket hijacking).
//! - The chat socket from the server's own origin (the demo page) and the sites listed in
//!   `allowed_origins`; any site when that list is empty (the default, warned about at start).

use axum::http::HeaderMap;
use axum::http::header::{HOST, ORIGIN};

/// Whether the `Origin` header, if any, names this server (scheme aside).
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(ORIGIN) else {
        // Browsers always send it on websockets; tools (and the tests' clients) may not, and
        // they cannot carry a victim's cookie anyway.
        return true;
    };
    let host = headers.get(HOST).and_then(|h| h.to_str().ok());
    let origin = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, rest)| rest);
    matches!((origin, host), (Some(origin), Some(host)) if origin.eq_ignore_ascii_case(host))
}

/// Whether a chat websocket from this request's origin is allowed by `allowed` (origins such as
/// `https://shop.example`; empty allows every origin).
pub fn chat_allowed(headers: &HeaderMap, allowed: &[String]) -> bool {
    if allowed.is_empty() || same_origin(headers) {
        return true;
    }
    let Some(origin) = headers.get(ORIGIN).and_then(|o| o.to_str().ok()) else {
        return false;
    };
    let origin = origin.trim_end_matches('/');
    allowed
        .iter()
        .any(|a| a.trim().trim_end_matches('/').eq_ignore_ascii_case(origin))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(HOST, host.parse().expect("host"));
        if let Some(origin) = origin {
            h.insert(ORIGIN, origin.parse().expect("origin"));
        }
        h
    }

    #[test]
    fn listed_sites_and_the_server_itself_may_open_a_chat() {
        let allowed = vec!["https://shop.example".to_owned()];
        let host = "support.example";
        assert!(chat_allowed(
            &headers(Some("https://shop.example"), host),
            &allowed
        ));
        assert!(chat_allowed(
            &headers(Some("https://SHOP.example/"), host),
            &allowed
        ));
        assert!(chat_allowed(
            &headers(Some("https://support.example"), host),
            &allowed
        ));
        assert!(!chat_allowed(
            &headers(Some("https://evil.example"), host),
            &allowed
        ));
        assert!(
            !chat_allowed(&headers(Some("http://shop.example"), host), &allowed),
            "scheme counts"
        );
        assert!(
            chat_allowed(&headers(Some("https://evil.example"), host), &[]),
            "empty: any"
        );
    }
}
