//! Which web pages may open the server's websockets, judged by the `Origin` header browsers
//! send with every websocket upgrade.
//!
//! - The agent socket only from the server's own origin: a page elsewhere must not act with an
//!   agent's cookie (cross-site websocket hijacking).
//! - The chat socket from the server's own origin (the demo page) and the sites listed in
//!   `allowed_origins`; any site when that list is empty (the default, warned about at start).
//! - State-changing requests (POST and the like) only from the server's own pages
//!   ([`cross_site`]): the session cookie is `SameSite=Strict`, but a sibling subdomain counts
//!   as the same *site*, so the cookie alone does not stop a page on `blog.example.com` from
//!   posting to `support.example.com`.

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

/// Whether a request comes from a page of another origin: `Sec-Fetch-Site` when the browser
/// sends it (every current one does; `same-site` is refused too, see the module header), else
/// `Origin`. Requests with neither come from tools, which hold no victim's cookie.
pub fn cross_site(headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.to_str(), Ok("same-origin" | "none"));
    }
    headers.contains_key(ORIGIN) && !same_origin(headers)
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
    fn only_the_servers_own_pages_may_post() {
        let host = "support.example";
        assert!(!cross_site(&headers(None, host)), "a tool");
        assert!(!cross_site(&headers(Some("https://support.example"), host)));
        assert!(cross_site(&headers(Some("https://blog.example"), host)));
        let mut fetch = headers(Some("https://support.example"), host);
        fetch.insert("sec-fetch-site", "same-site".parse().expect("value"));
        assert!(cross_site(&fetch), "a sibling subdomain is not this origin");
        fetch.insert("sec-fetch-site", "same-origin".parse().expect("value"));
        assert!(!cross_site(&fetch));
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
