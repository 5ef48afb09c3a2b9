//! The attacks of the hardening issue, each tried against the real server the way an attacker
//! would, with the outcome the fix guarantees. One file per kind of attack; each test says what
//! it tried.

mod ask_burst;
mod at_rest;
mod close_codes;
mod connections;
mod exports;
mod fields;
mod login;
mod origin;
mod proxies;
mod skills;
mod states;
mod two_tabs;

use crate::helpers::TestApp;

/// Signs in a new admin; returns the `Cookie` header value.
pub async fn admin_cookie(app: &TestApp) -> String {
    let password = app.add_admin("boss@example.com", "Boss").await;
    app.sign_in("boss@example.com", &password).await
}

/// `GET path` with a cookie.
pub async fn get_with(app: &TestApp, cookie: &str, path: &str) -> reqwest::Response {
    app.get_with(cookie, path).await
}

/// Today in UTC by the server's clock, as the analytics ranges want it.
pub fn today(app: &TestApp) -> String {
    app.clock
        .now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .date()
        .to_string()
}
