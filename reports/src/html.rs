//! HTML text: escaping, and the page frame both reports share (a strict
//! content security policy, so a page cannot fetch anything).

/// Escapes text for element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // NUL and other controls are not allowed in HTML text.
            c if c.is_control() && !matches!(c, '\n' | '\t') => {
                out.push_str(&format!("\\u{{{:x}}}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// Opens a page: doctype, charset, a policy that forbids every fetch
/// (inline style and script only), an empty icon (no favicon request), the
/// title and the inline style sheet. Close it with [`page_end`].
pub fn page_start(title: &str, css: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<link rel=\"icon\" href=\"data:,\">\n<title>{}</title>\n<style>\n{css}\n</style>\n</head>\n<body>\n",
        escape(title)
    )
}

/// Closes a page, with an optional inline script run at the end of the body.
pub fn page_end(script: Option<&str>) -> String {
    match script {
        Some(js) => format!("<script>\n{js}\n</script>\n</body>\n</html>\n"),
        None => "</body>\n</html>\n".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_quotes_and_controls() {
        assert_eq!(
            escape("<a href=\"x\">'&'</a>\0"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;\\u{0}"
        );
    }
}
