//! Writing XML documents exactly: elements, attributes and escaped text.
//!
//! Some ERP interfaces take XML (SAP IDocs over HTTP, PI/PO message payloads). Building it by
//! string formatting breaks on the first `&` in a product title or `<` in a buyer's message,
//! so documents are written through [`XmlWriter`], which escapes every text and attribute
//! value, checks names, and refuses what XML 1.0 cannot carry at all (control characters such
//! as U+0001 are not allowed even as character references). The first problem is kept and
//! reported by [`XmlWriter::finish`], so a document is built with plain calls and checked
//! once.

use std::borrow::Cow;

use thiserror::Error;

/// The declaration every document starts with; the bytes are UTF-8.
pub const DECLARATION: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

/// Why a document could not be written.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum XmlError {
    #[error("expected an XML name (a letter or '_' first, then letters, digits, '_', '-', '.'), got {name:?}")]
    BadName { name: String },
    #[error(
        "expected text XML 1.0 can carry in <{element}>, got the control character U+{code:04X} \
         (only tab, line feed and carriage return are allowed)"
    )]
    BadChar { element: String, code: u32 },
    #[error("expected </{open}> before </{closing}>")]
    Mismatched { open: String, closing: String },
    #[error("expected every element closed, got <{open}> still open")]
    Unclosed { open: String },
    #[error("expected one root element, got a second: <{name}>")]
    SecondRoot { name: String },
}

/// Writes one XML document, indented two spaces per level.
#[derive(Debug)]
pub struct XmlWriter {
    out: String,
    open: Vec<String>,
    had_root: bool,
    error: Option<XmlError>,
}

impl Default for XmlWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl XmlWriter {
    /// A document with the UTF-8 declaration and nothing else yet.
    pub fn new() -> Self {
        Self { out: DECLARATION.to_owned(), open: Vec::new(), had_root: false, error: None }
    }

    /// Opens `<name a="v"…>`; children follow until [`XmlWriter::close`].
    pub fn open(&mut self, name: &str, attributes: &[(&str, &str)]) -> &mut Self {
        if self.start_tag(name, attributes) {
            self.out.push('>');
            self.open.push(name.to_owned());
        }
        self
    }

    /// Closes the innermost open element, which must be `name`.
    pub fn close(&mut self, name: &str) -> &mut Self {
        match self.open.pop() {
            Some(open) if open == name => {
                self.newline();
                self.out.push_str("</");
                self.out.push_str(name);
                self.out.push('>');
            }
            other => self.fail(XmlError::Mismatched { open: other.unwrap_or_default(), closing: name.to_owned() }),
        }
        self
    }

    /// `<name>text</name>`, the text escaped.
    pub fn leaf(&mut self, name: &str, text: &str) -> &mut Self {
        if let Err(e) = check_text(name, text) {
            self.fail(e);
            return self;
        }
        if self.start_tag(name, &[]) {
            self.out.push('>');
            self.out.push_str(&escape_text(text));
            self.out.push_str("</");
            self.out.push_str(name);
            self.out.push('>');
        }
        self
    }

    /// `<name>text</name>` when `text` is `Some`, nothing otherwise.
    pub fn opt_leaf(&mut self, name: &str, text: Option<&str>) -> &mut Self {
        if let Some(text) = text {
            self.leaf(name, text);
        }
        self
    }

    /// The document, or the first problem met while writing it.
    pub fn finish(mut self) -> Result<String, XmlError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if let Some(open) = self.open.pop() {
            return Err(XmlError::Unclosed { open });
        }
        self.out.push('\n');
        Ok(self.out)
    }

    /// Writes `<name attrs` (without the closing `>`); false when the name, an attribute or
    /// the document shape is wrong (the error is kept).
    fn start_tag(&mut self, name: &str, attributes: &[(&str, &str)]) -> bool {
        if self.error.is_some() {
            return false;
        }
        if self.open.is_empty() {
            if self.had_root {
                self.fail(XmlError::SecondRoot { name: name.to_owned() });
                return false;
            }
            self.had_root = true;
        }
        if let Err(e) = check_name(name) {
            self.fail(e);
            return false;
        }
        for (key, value) in attributes {
            if let Err(e) = check_name(key).and_then(|()| check_text(name, value)) {
                self.fail(e);
                return false;
            }
        }
        self.newline();
        self.out.push('<');
        self.out.push_str(name);
        for (key, value) in attributes {
            self.out.push(' ');
            self.out.push_str(key);
            self.out.push_str("=\"");
            self.out.push_str(&escape_attribute(value));
            self.out.push('"');
        }
        true
    }

    fn newline(&mut self) {
        self.out.push('\n');
        for _ in 0..self.open.len() {
            self.out.push_str("  ");
        }
    }

    fn fail(&mut self, error: XmlError) {
        if self.error.is_none() {
            self.error = Some(error);
        }
    }
}

/// Escapes element text: `&`, `<`, `>` (so `]]>` cannot appear) and `\r` (which a parser
/// would otherwise normalise away).
pub fn escape_text(text: &str) -> Cow<'_, str> {
    escape(text, |c| match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        '\r' => Some("&#13;"),
        _ => None,
    })
}

/// Escapes a double-quoted attribute value: the text escapes plus quotes, and tab and line
/// feed, which attribute normalisation would turn into spaces.
pub fn escape_attribute(text: &str) -> Cow<'_, str> {
    escape(text, |c| match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        '"' => Some("&quot;"),
        '\'' => Some("&apos;"),
        '\t' => Some("&#9;"),
        '\n' => Some("&#10;"),
        '\r' => Some("&#13;"),
        _ => None,
    })
}

fn escape(text: &str, replacement: impl Fn(char) -> Option<&'static str>) -> Cow<'_, str> {
    if !text.chars().any(|c| replacement(c).is_some()) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match replacement(c) {
            Some(r) => out.push_str(r),
            None => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// Whether `c` may appear in an XML 1.0 document at all (the `Char` production).
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

fn check_text(element: &str, text: &str) -> Result<(), XmlError> {
    match text.chars().find(|&c| !is_xml_char(c)) {
        Some(c) => Err(XmlError::BadChar { element: element.to_owned(), code: u32::from(c) }),
        None => Ok(()),
    }
}

/// ASCII names only: every interface this serves (IDoc segments and fields) uses them, and a
/// narrower rule is easier to be sure of than XML's full `Name` production.
fn check_name(name: &str) -> Result<(), XmlError> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    let reserved = name.len() >= 3 && name[..3].eq_ignore_ascii_case("xml");
    if first_ok && rest_ok && !reserved { Ok(()) } else { Err(XmlError::BadName { name: name.to_owned() }) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_nested_elements_with_escaped_text_and_attributes() {
        let mut w = XmlWriter::new();
        w.open("ORDERS05", &[])
            .open("IDOC", &[("BEGIN", "1")])
            .leaf("KTEXT", "A&B <c> \"q\" 'a' ]]>")
            .opt_leaf("NAME1", None)
            .opt_leaf("ORT01", Some("深圳市"))
            .open("E1", &[("NOTE", "x\"y\tz\n")])
            .close("E1")
            .close("IDOC")
            .close("ORDERS05");
        let doc = w.finish().unwrap();
        assert_eq!(
            doc,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ORDERS05>\n  <IDOC BEGIN=\"1\">\n    \
             <KTEXT>A&amp;B &lt;c&gt; \"q\" 'a' ]]&gt;</KTEXT>\n    <ORT01>深圳市</ORT01>\n    \
             <E1 NOTE=\"x&quot;y&#9;z&#10;\">\n    </E1>\n  </IDOC>\n</ORDERS05>\n"
        );
    }

    #[test]
    fn escaping_borrows_when_nothing_changes() {
        assert!(matches!(escape_text("plain 文本"), Cow::Borrowed(_)));
        assert_eq!(escape_text("a\r\nb"), "a&#13;\nb");
        assert_eq!(escape_attribute("<&>"), "&lt;&amp;&gt;");
    }

    #[test]
    fn refuses_what_xml_cannot_carry() {
        let mut w = XmlWriter::new();
        w.open("A", &[]).leaf("B", "bell\u{7}").close("A");
        assert_eq!(w.finish(), Err(XmlError::BadChar { element: "B".into(), code: 7 }));
        let message = {
            let mut w = XmlWriter::new();
            w.leaf("B", "\u{FFFF}");
            w.finish().unwrap_err().to_string()
        };
        assert!(message.contains("U+FFFF") && message.contains("<B>"), "{message}");
        for bad in ["", "1A", "A B", "a<b", "xmlThing", "É"] {
            let mut w = XmlWriter::new();
            w.leaf(bad, "x");
            assert!(matches!(w.finish(), Err(XmlError::BadName { .. })), "{bad:?}");
        }
        let mut w = XmlWriter::new();
        w.open("A", &[("1x", "v")]);
        assert!(matches!(w.finish(), Err(XmlError::BadName { .. })));
    }

    #[test]
    fn checks_the_document_shape() {
        let mut w = XmlWriter::new();
        w.open("A", &[]).open("B", &[]).close("A");
        assert!(matches!(w.finish(), Err(XmlError::Mismatched { .. })));
        let mut w = XmlWriter::new();
        w.open("A", &[]);
        assert_eq!(w.finish(), Err(XmlError::Unclosed { open: "A".into() }));
        let mut w = XmlWriter::new();
        w.leaf("A", "1").leaf("B", "2");
        assert_eq!(w.finish(), Err(XmlError::SecondRoot { name: "B".into() }));
        let mut w = XmlWriter::new();
        w.close("A");
        assert!(matches!(w.finish(), Err(XmlError::Mismatched { .. })));
    }

    #[test]
    fn keeps_the_first_error() {
        let mut w = XmlWriter::new();
        w.open("A", &[]).leaf("1", "x").leaf("B", "\u{0}").close("A");
        assert!(matches!(w.finish(), Err(XmlError::BadName { name }) if name == "1"));
    }
}
