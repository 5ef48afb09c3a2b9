//! Finding 7: customer texts planted as spreadsheet formulas in the unanswered export.

use crate::customer::Customer;
use crate::helpers::spawn_app;

use super::{admin_cookie, get_with, today};

#[tokio::test]
async fn a_formula_typed_into_the_chat_is_text_in_the_csv_export() {
    // Tried: a customer types a HYPERLINK formula the bot cannot answer, so it lands in the
    // unanswered list that admins open in a spreadsheet.
    let app = spawn_app().await;
    app.wait_for_model().await.expect("model");
    let formula = r#"=HYPERLINK("http://evil.example/steal","Claim your refund")"#;
    let mut customer = Customer::connect(&app).await;
    customer.hello(None).await;
    let (_, reply) = customer.ask("m1", formula).await;
    // Asked to rephrase, or asked back which topic: either way no entry answered it.
    assert!(
        reply["faq_id"].is_null(),
        "the bot cannot answer it: {reply}"
    );

    let admin = admin_cookie(&app).await;
    let today = today(&app);
    let csv = get_with(
        &app,
        &admin,
        &format!("/api/analytics/unanswered.csv?from={today}&to={today}"),
    )
    .await
    .text()
    .await
    .expect("csv");
    let row = csv
        .lines()
        .find(|line| line.contains("HYPERLINK"))
        .unwrap_or_else(|| panic!("the message is in the export: {csv}"));
    let cells = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(row.as_bytes())
        .records()
        .next()
        .expect("one record")
        .expect("a valid CSV record");
    let example = cells.get(1).expect("example cell").to_owned();
    assert_eq!(
        example,
        format!("'{formula}"),
        "the cell starts with an apostrophe"
    );
}
