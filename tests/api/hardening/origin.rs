//! Finding 11: state-changing requests from another site's page. The session cookie is
//! `SameSite=Strict`, which a sibling subdomain gets past; the server itself must refuse them.

use crate::helpers::spawn_app;

use super::{admin_cookie, get_with};

#[tokio::test]
async fn posts_from_another_sites_page_are_refused_and_change_nothing() {
    // Tried: an admin's browser, with the admin's cookie, posting a knowledge reload and a
    // logout from pages on another origin (`Origin`) and on a sibling subdomain
    // (`Sec-Fetch-Site: same-site`), then the same from the server's own page.
    let app = spawn_app().await;
    let admin = admin_cookie(&app).await;
    let post = |path: &str, headers: &[(&str, &str)]| {
        let mut request = app
            .client
            .post(format!("{}{path}", app.address))
            .header("cookie", &admin);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send()
    };
    let elsewhere: [&[(&str, &str)]; 2] = [
        &[("origin", "https://blog.example")],
        &[
            ("origin", "https://blog.example"),
            ("sec-fetch-site", "same-site"),
        ],
    ];
    for headers in elsewhere {
        for path in ["/api/knowledge/reload", "/api/agent/logout"] {
            let response = post(path, headers).await.expect("request");
            assert_eq!(response.status(), 403, "{path} with {headers:?}");
            let body: serde_json::Value = response.json().await.expect("json");
            assert_eq!(body["code"], "forbidden", "{body}");
        }
    }
    let me = get_with(&app, &admin, "/api/agent/me").await;
    assert_eq!(
        me.status(),
        200,
        "the refused logout did not end the session"
    );

    let own = app.address.clone();
    let reload = post(
        "/api/knowledge/reload",
        &[("origin", &own), ("sec-fetch-site", "same-origin")],
    )
    .await
    .expect("request");
    assert_eq!(reload.status(), 200, "the console's own page may reload");
}
