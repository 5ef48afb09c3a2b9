//! The decision policy's thresholds, with the defaults measured for the default encoder.

use crate::config::{ConfigError, Settings};

/// The policy's thresholds. Defaults suit the fused scores of [`super::Bot::retrieve`].
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyConfig {
    /// Lowest fused candidate score worth answering with. An exact or close phrasing of an FAQ
    /// question scores 0.7–0.95 (the phrasing embedding carries 60% of the fusion); unrelated
    /// messages score around 0.1–0.35, so 0.5 sits in the gap between the two.
    pub min_answer_score: f32,
    /// Two candidates whose fused scores are closer than this are a coin toss: asking which was
    /// meant costs the customer one click, a wrong answer costs a lost customer.
    pub clarify_margin: f32,
    /// Lowest probability of the top intent for its action (handoff, small talk) to be taken:
    /// below it the intent model is guessing and the FAQ decides.
    pub min_intent_probability: f32,
    /// Misses (out of scope or no good candidate) in a row after which a person takes over: the
    /// issue's default of 2, since a customer asked to rephrase twice is a customer lost.
    pub max_misses: u32,
    /// Most choices in a clarification: more than three buttons read as a menu, not a question.
    pub max_choices: usize,
    /// Fused score above which the best entry is answered even when the intent model reads the
    /// message as another topic: at this level the message is close to one of the entry's own
    /// phrasings (exact phrasings score 0.8–0.95), which beats a topic guess.
    pub strong_answer_score: f32,
    /// Answers marked not helpful after which a person takes over: the default of 2;
    /// one thumbs-down may be a misclick or a near miss, two are a pattern.
    pub max_unhelpful: u32,
    /// Cosine similarity of two consecutive customer messages' embeddings from which the second
    /// counts as a repeat. Measured with the default encoder (`cargo run --example
    /// encoder_probe -- pairs`): the same words with other case or punctuation score
    /// 0.905–0.997, paraphrases of one question 0.61–0.79, other questions on the same topic
    /// 0.25–0.48; with the Chinese model (`cargo run --release --example similarity_scales`),
    /// repeats 0.970–0.988, paraphrases 0.595–0.679. 0.85 sits between repeats and paraphrases
    /// in both languages: a customer saying it again is caught, one rephrasing is not.
    pub repeat_similarity: f32,
    /// The clarify margin when the best entry scores below `strong_answer_score`: an unsure
    /// best reading with another almost as likely is asked about, not answered.
    pub unsure_margin: f32,
    /// Lowest probability of the top intent for a vague message to be narrowed down to its
    /// topic's entries ([`Decision::Narrow`]) rather than asked to be rephrased.
    pub min_topic_probability: f32,
    /// Lowest fused score of an entry offered when narrowing down.
    pub min_offer_score: f32,
    /// Lowest complaint tone ([`super::super::tone`]) that hands a message to the complaint
    /// intent's queue whatever its topic. Measured on the sample's `tests.yaml` and the two
    /// probes (tuned encoder): complaints 0.45–1.0 (one threat of a chargeback at 0.10), every
    /// other message ≤ 0.13 except "tell me a joke" (0.54, which confident chit-chat guards):
    /// 0.3 sits in the gap.
    pub min_complaint_tone: f32,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        use crate::config::policy_defaults as settings;
        PolicyConfig {
            min_answer_score: settings::MIN_ANSWER_SCORE,
            clarify_margin: settings::CLARIFY_MARGIN,
            min_intent_probability: 0.5,
            max_misses: settings::MAX_MISSES,
            max_choices: 3,
            strong_answer_score: 0.8,
            max_unhelpful: settings::MAX_UNHELPFUL,
            repeat_similarity: settings::REPEAT_SIMILARITY,
            unsure_margin: 0.05,
            min_topic_probability: 0.3,
            min_offer_score: 0.35,
            min_complaint_tone: 0.3,
        }
    }
}

impl PolicyConfig {
    /// The decision policy `settings` describe (thresholds not exposed keep their
    /// defaults), or what is out of range.
    pub fn from_settings(settings: &Settings) -> Result<PolicyConfig, ConfigError> {
        for (name, value) in [
            ("policy_min_answer_score", settings.policy_min_answer_score),
            ("policy_clarify_margin", settings.policy_clarify_margin),
            (
                "policy_repeat_similarity",
                settings.policy_repeat_similarity,
            ),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(ConfigError::OutOfRange { name, value });
            }
        }
        Ok(PolicyConfig {
            min_answer_score: settings.policy_min_answer_score,
            clarify_margin: settings.policy_clarify_margin,
            max_misses: settings.policy_max_misses,
            max_unhelpful: settings.policy_max_unhelpful,
            repeat_similarity: settings.policy_repeat_similarity,
            ..PolicyConfig::default()
        })
    }
}
