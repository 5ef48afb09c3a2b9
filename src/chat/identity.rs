//! Customer identities signed by the company's backend, so agents can trust who they talk to.
//!
//! The widget cannot be trusted to say who the customer is, so the company's backend signs it:
//! `<payload>.<signature>`, where `payload` is the identity as a JSON object encoded in base64url
//! (padding optional) and `signature` is the lower- or upper-case hex HMAC-SHA256 of the payload
//! *as encoded* (the characters before the dot), keyed with a secret shared with tandem. Anything
//! that does not verify makes the customer anonymous; it is never an error, so a misconfigured
//! backend degrades to anonymous chat instead of breaking it. `docs/protocol.md` shows how to sign.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::alphabet::URL_SAFE;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Payloads are small (an id, a name, an email); anything bigger is refused before decoding.
const MAX_TOKEN_LEN: usize = 8 * 1024;

/// base64url that accepts the payload with or without `=` padding: backends differ.
const PAYLOAD_ENCODING: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// A verified customer identity.
#[derive(Debug, Clone, PartialEq)]
pub struct Identity {
    /// The payload's `id` (a string or a number, kept as text): the customer's id in the
    /// company's systems.
    pub id: Option<String>,
    /// Every other payload field except `exp` (name, email, plan...), as the backend sent it.
    pub attributes: serde_json::Map<String, serde_json::Value>,
}

/// Verifies a signed identity token against `secret`; `None` (anonymous) unless the signature is
/// right, the payload is a JSON object and its optional `exp` (Unix seconds) is in the future.
/// An empty secret verifies nothing, since anyone could sign with it.
pub fn verify_identity(token: &str, secret: &[u8]) -> Option<Identity> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    verify_identity_at(token, secret, now)
}

/// [`verify_identity`] at a given time, in Unix seconds.
pub fn verify_identity_at(token: &str, secret: &[u8], now: u64) -> Option<Identity> {
    if secret.is_empty() || token.len() > MAX_TOKEN_LEN {
        return None;
    }
    let (payload, signature) = token.split_once('.')?;
    let signature = hex::decode(signature).ok()?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).ok()?;
    mac.update(payload.as_bytes());
    // Constant-time comparison: a timing leak would let an attacker forge byte by byte.
    mac.verify_slice(&signature).ok()?;

    let json = PAYLOAD_ENCODING.decode(payload).ok()?;
    let serde_json::Value::Object(mut attributes) = serde_json::from_slice(&json).ok()? else {
        return None;
    };
    if let Some(exp) = attributes.remove("exp") {
        // A signed token without a usable expiry is treated as expired: the backend meant one.
        if exp.as_u64().is_none_or(|exp| exp <= now) {
            return None;
        }
    }
    let id = match attributes.remove("id") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(id)) => Some(id),
        Some(serde_json::Value::Number(id)) => Some(id.to_string()),
        Some(_) => return None,
    };
    Some(Identity { id, attributes })
}

/// Signs `payload` the way the company's backend must; for tests and the documentation's example.
pub fn sign_identity(payload: &serde_json::Value, secret: &[u8]) -> String {
    let encoded =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(payload.to_string().as_bytes());
    sign_encoded(&encoded, secret)
}

/// `encoded.hex(HMAC-SHA256(secret, encoded))`.
fn sign_encoded(encoded: &str, secret: &[u8]) -> String {
    // HMAC takes keys of any length, so `new_from_slice` cannot fail; an empty signature (which
    // never verifies) keeps this free of panics all the same.
    let signature = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mut mac) => {
            mac.update(encoded.as_bytes());
            hex::encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    };
    format!("{encoded}.{signature}")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const SECRET: &[u8] = b"shared-with-the-backend";
    const NOW: u64 = 1_800_000_000;

    #[test]
    fn a_well_signed_identity_is_trusted() {
        let token = sign_identity(&json!({ "id": "cust-42", "name": "Ada" }), SECRET);

        let identity = verify_identity_at(&token, SECRET, NOW);

        let identity = identity.expect("verifies");
        assert_eq!(identity.id.as_deref(), Some("cust-42"));
        assert_eq!(identity.attributes.get("name"), Some(&json!("Ada")));
        assert!(!identity.attributes.contains_key("id"));
    }

    #[test]
    fn the_documented_example_token_verifies() {
        // The same token and secret appear in docs/protocol.md for backend authors to check
        // their signing code against.
        let token = "eyJpZCI6ImN1c3QtNDIiLCJuYW1lIjoiQWRhIn0.\
                     407389105abee85657d97f20dce3157a23e69a543a2104afa2b9ceb5dc85ab93";
        let signed = sign_identity(&json!({ "id": "cust-42", "name": "Ada" }), b"test-secret");

        assert_eq!(signed, token, "the documented example is stale");
        assert!(verify_identity_at(token, b"test-secret", NOW).is_some());
    }

    #[test]
    fn anything_that_does_not_verify_is_anonymous() {
        let good = sign_identity(&json!({ "id": "cust-42" }), SECRET);
        let (payload, signature) = good.split_once('.').expect("dot");
        let forged_payload = sign_identity(&json!({ "id": "admin" }), b"attacker");
        let (forged, _) = forged_payload.split_once('.').expect("dot");
        let mut flipped = signature.to_owned();
        flipped.replace_range(0..1, if signature.starts_with('0') { "1" } else { "0" });
        let not_an_object = sign_identity(&json!(["cust-42"]), SECRET);
        let not_base64 = sign_encoded("not*base64", SECRET);
        let not_json = sign_encoded("bm90IGpzb24", SECRET);
        let expired = sign_identity(&json!({ "id": "c", "exp": NOW - 1 }), SECRET);
        let bad_exp = sign_identity(&json!({ "id": "c", "exp": "tomorrow" }), SECRET);
        let bad_id = sign_identity(&json!({ "id": { "nested": true } }), SECRET);

        let cases = [
            (format!("{payload}.{flipped}"), SECRET, "tampered signature"),
            (format!("{forged}.{signature}"), SECRET, "tampered payload"),
            (good.clone(), b"another-secret".as_slice(), "wrong secret"),
            (good.clone(), b"".as_slice(), "empty secret"),
            (payload.to_owned(), SECRET, "no signature"),
            (format!("{payload}.zz"), SECRET, "signature not hex"),
            ("garbage".to_owned(), SECRET, "garbage"),
            (String::new(), SECRET, "empty"),
            (not_an_object, SECRET, "payload not an object"),
            (not_base64, SECRET, "payload not base64url"),
            (not_json, SECRET, "payload not JSON"),
            (expired, SECRET, "expired"),
            (bad_exp, SECRET, "exp not a number"),
            (bad_id, SECRET, "id not a string or number"),
        ];
        for (token, secret, case) in cases {
            assert_eq!(verify_identity_at(&token, secret, NOW), None, "{case}");
        }
    }

    #[test]
    fn an_unexpired_identity_verifies_and_a_numeric_id_is_kept_as_text() {
        let token = sign_identity(&json!({ "id": 42, "exp": NOW + 60 }), SECRET);

        let identity = verify_identity_at(&token, SECRET, NOW).expect("verifies");

        assert_eq!(identity.id.as_deref(), Some("42"));
        assert!(identity.attributes.is_empty(), "exp is not an attribute");
    }
}
