//! Comments on tasks (API.md §10): the body type, mentions, and the endpoints.

pub mod handlers;
pub mod store;

use crate::error::FieldError;

pub const BODY_MAX: usize = 10_000;

/// A comment's Markdown: 1–10,000 characters once trimmed, stored trimmed; no NUL (PostgreSQL
/// text cannot hold one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentBody(String);

impl CommentBody {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let body = raw.trim();
        if body.is_empty() {
            return Err(FieldError::new("body", "required", "must not be empty"));
        }
        if body.chars().count() > BODY_MAX {
            return Err(FieldError::new(
                "body",
                "too_long",
                format!("must be at most {BODY_MAX} characters"),
            ));
        }
        if body.contains('\0') {
            return Err(FieldError::new(
                "body",
                "invalid",
                "must not contain NUL characters",
            ));
        }
        Ok(Self(body.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The addresses written as `@email`, lower-cased, each once, in order of appearance. An
    /// `@` inside a word (`ana@example.com` itself) does not start a mention.
    pub fn mentioned_emails(&self) -> Vec<String> {
        let text = self.0.as_str();
        let mut found: Vec<String> = Vec::new();
        let bytes = text.as_bytes();
        for (at, _) in text.match_indices('@') {
            let preceded_by_word = at > 0 && is_email_char(bytes[at - 1] as char);
            if preceded_by_word {
                continue;
            }
            let rest = &text[at + 1..];
            let end = rest
                .char_indices()
                .find(|(_, c)| !is_email_char(*c) && *c != '@')
                .map_or(rest.len(), |(i, _)| i);
            // Sentence punctuation after an address is not part of it.
            let candidate = rest[..end].trim_end_matches(['.', '-']);
            if let Some((local, domain)) = candidate.split_once('@') {
                if !local.is_empty() && domain.contains('.') && !domain.contains('@') {
                    let email = candidate.to_lowercase();
                    if !found.contains(&email) {
                        found.push(email);
                    }
                }
            }
        }
        found
    }
}

fn is_email_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-')
}

crate::deserialize_by_parse!(CommentBody, String, |raw| CommentBody::parse(&raw)
    .map_err(|e| vec![e]));

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_are_trimmed_and_bounded() {
        assert_eq!(CommentBody::parse("  hi \n").unwrap().as_str(), "hi");
        assert_eq!(CommentBody::parse(" \n\t ").unwrap_err().code, "required");
        assert!(CommentBody::parse(&"x".repeat(BODY_MAX)).is_ok());
        assert_eq!(
            CommentBody::parse(&"é".repeat(BODY_MAX + 1))
                .unwrap_err()
                .code,
            "too_long"
        );
        assert_eq!(CommentBody::parse("a\0b").unwrap_err().code, "invalid");
    }

    #[test]
    fn mentions_are_at_emails_not_emails() {
        let body = CommentBody::parse(
            "@Ana@Example.com, see this. cc (@bo+x@ex.org). mail me at me@home.net or @ana@example.com.\n@nobody @x@nodot",
        )
        .unwrap();
        assert_eq!(body.mentioned_emails(), ["ana@example.com", "bo+x@ex.org"]);
    }
}
