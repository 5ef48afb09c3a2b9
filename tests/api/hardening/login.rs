//! Finding 4: sign-in had no rate limit (300 wrong passwords at 66/s were all checked), and
//! every attempt ran argon2 at full concurrency.

use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn guessing_one_accounts_password_is_throttled_with_retry_after() {
    // Tried: 50 wrong passwords for one account as fast as the server answers, then the right
    // one; and a wrong password for another account from the same address.
    let app = spawn_app().await;
    let password = app.add_admin("boss@example.com", "Boss").await;
    let login = |email: &str, password: &str| {
        app.client
            .post(format!("{}/api/agent/login", app.address))
            .json(&json!({"email": email, "password": password}))
            .send()
    };
    let mut statuses = Vec::new();
    for n in 0..50 {
        let response = login("Boss@Example.com", &format!("guess-{n}"))
            .await
            .expect("login");
        let status = response.status().as_u16();
        if status == 429 {
            let retry: u64 = response.headers()["retry-after"]
                .to_str()
                .expect("ascii")
                .parse()
                .expect("seconds");
            assert!((1..=60).contains(&retry), "Retry-After {retry}");
            let body: serde_json::Value = response.json().await.expect("json");
            assert_eq!(body["code"], "rate_limited", "{body}");
        }
        statuses.push(status);
    }
    assert_eq!(statuses[0], 401, "the first wrong password is simply wrong");
    assert_eq!(
        statuses[49], 429,
        "the 50th within seconds is refused: {statuses:?}"
    );
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert!(
        refused >= 35,
        "most guesses are refused unchecked: {statuses:?}"
    );
    let right = login("boss@example.com", &password).await.expect("login");
    assert_eq!(
        right.status(),
        429,
        "while throttled even the right password is not checked"
    );
}
