//! What the bot and the server say to customers outside FAQ answers (the fallback, the handoff,
//! the offline offer, the rating request...), per language.
//!
//! English is built in; `intents.yaml` may override any text and adds the texts of other
//! languages under `texts:` (see `knowledge/README.md`). A knowledge base with FAQ entries in a
//! language must give that language every text: a Chinese customer is never answered in
//! English by the server when the knowledge base speaks Chinese.

use std::collections::BTreeMap;
use std::path::Path;

use super::Problem;

/// The language texts fall back to, and the one built in.
pub const DEFAULT_LANG: &str = "en";

/// The language code of a stored language or a browser locale (`zh-CN` → `zh`); English when
/// there is none.
pub fn language_code(lang_or_locale: Option<&str>) -> String {
    lang_or_locale
        .and_then(|l| l.split(['-', '_']).next())
        .map(|l| l.trim().to_lowercase())
        .filter(|l| !l.is_empty())
        .unwrap_or_else(|| DEFAULT_LANG.to_owned())
}

/// One text the customer may read, with its built-in English wording. `{agent}` and `{when}`
/// are filled in where the key says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Text {
    /// The bot did not understand the message.
    Fallback,
    /// The bot asks which of several entries was meant.
    Clarify,
    /// The bot asks what about a topic a vague message is, offering the topic's entries.
    Narrow,
    /// The conversation goes to a person, who will answer here.
    Handoff,
    /// The conversation goes to the team, and the offer to leave a message follows at once.
    HandoffOffline,
    /// Nobody is online for the queue: leave a message, or wait.
    NobodyOnline,
    /// The wait ran past the queue's timeout.
    WaitTimeout,
    /// The queue is closed until `{when}` (a day and time in the queue's time zone).
    ClosedUntil,
    /// The queue never answers chats (no opening hours at all).
    ClosedAlways,
    /// The customer left a message in the offline form.
    MessageLeft,
    /// `{agent}` took the conversation.
    Joined,
    /// An agent transferred the conversation to another queue.
    Transferred,
    /// An agent gave the conversation back to the bot.
    HandedBack,
    /// `{agent}` resolved the conversation.
    Resolved,
    /// The rating request after a resolution.
    CsatRequest,
}

impl Text {
    /// Every text with the name editors write and its built-in English.
    pub const ALL: [(Text, &'static str, &'static str); 15] = [
        (
            Text::Fallback,
            "fallback",
            "Sorry, I did not understand that. Could you rephrase it?",
        ),
        (Text::Clarify, "clarify", "Which of these did you mean?"),
        (
            Text::Narrow,
            "narrow",
            "Could you tell me a little more? Is it about one of these?",
        ),
        (
            Text::Handoff,
            "handoff",
            "I am passing you to a person; they will reply here shortly.",
        ),
        (
            Text::HandoffOffline,
            "handoff_offline",
            "I am passing you to our team.",
        ),
        (
            Text::NobodyOnline,
            "nobody_online",
            "Nobody from our team is online right now. Leave your email and a message, and we \
             will get back to you. You can also stay: someone will answer here as soon as they \
             are back.",
        ),
        (
            Text::WaitTimeout,
            "wait_timeout",
            "Sorry for the wait: everyone on our team is still busy. You can keep waiting, or \
             leave your email and a message and we will get back to you.",
        ),
        (
            Text::ClosedUntil,
            "closed_until",
            "Our team is away right now; we are back {when}. Leave your email and a message, \
             and we will get back to you.",
        ),
        (
            Text::ClosedAlways,
            "closed_always",
            "Our team does not answer chats here. Leave your email and a message, and we will \
             get back to you.",
        ),
        (
            Text::MessageLeft,
            "message_left",
            "Thank you. Our team will reply to you by email.",
        ),
        (Text::Joined, "joined", "{agent} joined the conversation."),
        (
            Text::Transferred,
            "transferred",
            "You are being transferred; someone will be with you shortly.",
        ),
        (
            Text::HandedBack,
            "handed_back",
            "You are chatting with our assistant again.",
        ),
        (
            Text::Resolved,
            "resolved",
            "{agent} resolved the conversation.",
        ),
        (
            Text::CsatRequest,
            "csat_request",
            "How did we do? Rate this conversation from 1 to 5.",
        ),
    ];

    /// The built-in English.
    pub fn english(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(t, _, _)| *t == self)
            .map_or("", |(_, _, text)| text)
    }

    /// The text a language's own wording of which stands in when it lacks this one: a text
    /// added in a later version, so a knowledge base written before it still covers its
    /// languages (the question back about a vague message asks in the words of `clarify`).
    fn stand_in(self) -> Option<Text> {
        match self {
            Text::Narrow => Some(Text::Clarify),
            _ => None,
        }
    }

    /// The placeholder this text must contain, if any.
    fn placeholder(self) -> Option<&'static str> {
        match self {
            Text::Joined | Text::Resolved => Some("{agent}"),
            Text::ClosedUntil => Some("{when}"),
            _ => None,
        }
    }
}

/// The texts of a knowledge base: per language, the editors' wording of each text.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BotTexts {
    by_lang: BTreeMap<String, BTreeMap<Text, String>>,
}

impl BotTexts {
    /// `text` in `lang`: the editors' wording, else the English one (theirs or built in).
    pub fn get(&self, lang: &str, text: Text) -> &str {
        [lang, DEFAULT_LANG]
            .iter()
            .find_map(|l| self.own(l, text))
            .unwrap_or(text.english())
    }

    /// The editors' wording of `text` in `lang`, or of its stand-in.
    fn own(&self, lang: &str, text: Text) -> Option<&str> {
        let own = self.by_lang.get(lang)?;
        own.get(&text)
            .or_else(|| own.get(&text.stand_in()?))
            .map(String::as_str)
    }

    /// `text` in `lang` with `{agent}` (or `{when}`) replaced by `value`.
    pub fn fill(&self, lang: &str, text: Text, value: &str) -> String {
        self.get(lang, text)
            .replace("{agent}", value)
            .replace("{when}", value)
    }

    /// Whether every text has a wording of its own in `lang` (English always has).
    pub fn covers(&self, lang: &str) -> bool {
        lang == DEFAULT_LANG
            || Text::ALL
                .iter()
                .all(|(t, _, _)| self.own(lang, *t).is_some())
    }
}

/// Reads `texts:` of `intents.yaml` (language → text name → wording), appending problems: an
/// unknown language code or text name, a text without its placeholder, an empty one.
pub(super) fn read(
    file: &Path,
    raw: BTreeMap<String, BTreeMap<String, marked_yaml::Spanned<String>>>,
    line: usize,
    problems: &mut Vec<Problem>,
) -> BotTexts {
    let mut texts = BotTexts::default();
    for (lang, wordings) in raw {
        let lang = lang.trim().to_lowercase();
        if lang.is_empty() || !lang.chars().all(|c| c.is_ascii_lowercase() || c == '-') {
            problems.push(Problem::new(
                file,
                line,
                format!("texts: `{lang}` is not a language code (e.g. en, zh)"),
            ));
            continue;
        }
        let mut own = BTreeMap::new();
        for (name, wording) in wordings {
            let at = super::yaml::line_of(&wording, 0);
            let Some((text, _, _)) = Text::ALL.iter().find(|(_, n, _)| *n == name.trim()) else {
                let names: Vec<&str> = Text::ALL.iter().map(|(_, n, _)| *n).collect();
                problems.push(Problem::new(
                    file,
                    at,
                    format!(
                        "texts.{lang}: unknown text `{name}`: use one of {}",
                        names.join(", ")
                    ),
                ));
                continue;
            };
            let value = wording.trim();
            if value.is_empty() {
                problems.push(Problem::new(
                    file,
                    at,
                    format!("texts.{lang}.{name} is empty"),
                ));
            } else if let Some(slot) = text.placeholder().filter(|p| !value.contains(p)) {
                problems.push(Problem::new(
                    file,
                    at,
                    format!("texts.{lang}.{name} must contain {slot}"),
                ));
            } else {
                own.insert(*text, value.to_owned());
            }
        }
        texts.by_lang.insert(lang, own);
    }
    texts
}

/// Reports each language of `langs` (the languages FAQ entries are written in) that lacks some
/// of its texts, naming the missing ones.
pub(super) fn check_coverage<'a>(
    texts: &BotTexts,
    langs: impl IntoIterator<Item = &'a str>,
    file: &Path,
    problems: &mut Vec<Problem>,
) {
    let mut seen: Vec<&str> = langs.into_iter().collect();
    seen.sort_unstable();
    seen.dedup();
    for lang in seen.into_iter().filter(|l| !texts.covers(l)) {
        let missing: Vec<&str> = Text::ALL
            .iter()
            .filter(|(t, _, _)| texts.own(lang, *t).is_none())
            .map(|(_, name, _)| *name)
            .collect();
        problems.push(Problem::new(
            file,
            1,
            format!(
                "FAQ entries are written in `{lang}` but `texts.{lang}` lacks {}: customers \
                 writing {lang} would read them in English",
                missing.join(", ")
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_language_falls_back_to_english_and_placeholders_are_filled() {
        let mut texts = BotTexts::default();
        texts.by_lang.insert(
            "zh".into(),
            BTreeMap::from([(Text::Joined, "{agent} 加入了对话。".to_owned())]),
        );
        assert_eq!(texts.fill("zh", Text::Joined, "Sam"), "Sam 加入了对话。");
        assert_eq!(texts.get("zh", Text::Clarify), Text::Clarify.english());
        assert_eq!(texts.get("fr", Text::Fallback), Text::Fallback.english());
        assert!(texts.covers("en"));
        assert!(!texts.covers("zh"), "one text of fifteen");
        // A language's `clarify` stands in for its `narrow`, added later; English's own
        // `narrow` does not.
        texts
            .by_lang
            .get_mut("zh")
            .map(|zh| zh.insert(Text::Clarify, "哪一个？".to_owned()));
        assert_eq!(texts.get("zh", Text::Narrow), "哪一个？");
        assert_eq!(texts.get("en", Text::Narrow), Text::Narrow.english());
    }
}
