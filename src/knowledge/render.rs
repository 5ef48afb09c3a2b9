//! Markdown answers rendered for the web: safe HTML for browsers, plain text for the index.
//!
//! Two layers keep answers safe to insert into a page. Raw HTML in the Markdown is never passed
//! through: pulldown-cmark's HTML events are turned into text, so an editor's `<script>` shows as
//! literal text. The rendered HTML is then cleaned by ammonia, which removes what Markdown itself
//! can produce but a page must not run (e.g. `javascript:` links).

use pulldown_cmark::{Event, Options, Parser, TagEnd, html};

fn parser(markdown: &str) -> Parser<'_> {
    Parser::new_ext(
        markdown,
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS,
    )
}

/// Renders Markdown to HTML that is safe to insert into a page.
pub fn markdown_to_safe_html(markdown: &str) -> String {
    let events = parser(markdown).map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        other => other,
    });
    let mut unsafe_html = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut unsafe_html, events);
    ammonia::Builder::default()
        .link_rel(Some("noopener noreferrer nofollow"))
        .clean(&unsafe_html)
        .to_string()
}

/// The words of a Markdown text without its markup, for indexing and embeddings.
pub fn markdown_to_plain_text(markdown: &str) -> String {
    let mut text = String::with_capacity(markdown.len());
    for event in parser(markdown) {
        match event {
            Event::Text(t) | Event::Code(t) | Event::Html(t) | Event::InlineHtml(t) => {
                text.push_str(&t)
            }
            // The end of bold or a link is inside a sentence: a space there would show as
            // "a link ." in the transcript agents read.
            Event::End(
                TagEnd::Emphasis | TagEnd::Strong | TagEnd::Strikethrough | TagEnd::Link,
            ) => {}
            Event::SoftBreak | Event::HardBreak | Event::End(_) => text.push(' '),
            _ => {}
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_becomes_html() {
        let html = markdown_to_safe_html("Use **bold**\n\n- one\n- two");
        assert!(html.contains("<strong>bold</strong>"), "{html}");
        assert!(html.contains("<li>one</li>"), "{html}");
    }

    #[test]
    fn raw_html_is_shown_as_text_not_run() {
        for payload in [
            "<script>alert(1)</script>",
            "hello <img src=x onerror=alert(1)>",
            "<iframe src=\"https://evil.example\"></iframe>",
        ] {
            let html = markdown_to_safe_html(payload);
            assert!(!html.contains("<script"), "{payload} -> {html}");
            assert!(!html.contains("<img"), "{payload} -> {html}");
            assert!(!html.contains("<iframe"), "{payload} -> {html}");
        }
    }

    #[test]
    fn javascript_links_are_removed_and_others_kept_safe() {
        let html = markdown_to_safe_html("[x](javascript:alert(1)) [y](https://shop.example/a)");
        assert!(!html.contains("javascript:"), "{html}");
        assert!(html.contains("href=\"https://shop.example/a\""), "{html}");
        assert!(html.contains("noopener"), "{html}");
    }

    #[test]
    fn plain_text_drops_markup() {
        let text =
            markdown_to_plain_text("# Title\n\nUse **bold** and [a link](https://x.example).");
        assert_eq!(text, "Title Use bold and a link.");
        assert_eq!(
            markdown_to_plain_text("The **warranty**, usually *1 year*.\n\n- one\n- two"),
            "The warranty, usually 1 year. one two"
        );
    }
}
