//! A reader for the EDN subset Jepsen and Knossos histories use: maps,
//! vectors, lists, sets, keywords, strings, numbers, nil/true/false, symbols,
//! characters, tagged literals, `;` comments and `#_` discards.

use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum Edn {
    Nil,
    Bool(bool),
    Int(i64),
    /// A number that is not a plain integer (float, ratio, big), as written.
    Number(String),
    Str(String),
    Keyword(String),
    Symbol(String),
    Char(char),
    List(Vec<Edn>),
    Vector(Vec<Edn>),
    Set(Vec<Edn>),
    Map(Vec<(Edn, Edn)>),
    Tagged(String, Box<Edn>),
}

impl Edn {
    /// The value under keyword `key` in a map.
    pub fn get(&self, key: &str) -> Option<&Edn> {
        match self {
            Edn::Map(entries) => entries
                .iter()
                .find(|(k, _)| matches!(k, Edn::Keyword(name) if name == key))
                .map(|(_, v)| v),
            _ => None,
        }
    }
}

impl fmt::Display for Edn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn seq(f: &mut fmt::Formatter<'_>, open: &str, items: &[Edn], close: &str) -> fmt::Result {
            write!(f, "{open}")?;
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    write!(f, " ")?;
                }
                write!(f, "{item}")?;
            }
            write!(f, "{close}")
        }
        match self {
            Edn::Nil => write!(f, "nil"),
            Edn::Bool(b) => write!(f, "{b}"),
            Edn::Int(i) => write!(f, "{i}"),
            Edn::Number(n) | Edn::Symbol(n) => write!(f, "{n}"),
            Edn::Str(s) => write!(f, "{s:?}"),
            Edn::Keyword(k) => write!(f, ":{k}"),
            Edn::Char(c) => write!(f, "\\{c}"),
            Edn::List(items) => seq(f, "(", items, ")"),
            Edn::Vector(items) => seq(f, "[", items, "]"),
            Edn::Set(items) => seq(f, "#{", items, "}"),
            Edn::Map(entries) => {
                write!(f, "{{")?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{k} {v}")?;
                }
                write!(f, "}}")
            }
            Edn::Tagged(tag, v) => write!(f, "#{tag} {v}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct EdnError {
    pub line: usize,
    pub message: String,
}

/// A top-level form as [`read_each_map`] gives it.
#[derive(Debug, Clone, PartialEq)]
pub enum TopForm<const N: usize> {
    /// A map: the values of the keyword keys asked for, in the order of
    /// their names (a key written twice: its first value, as [`Edn::get`]).
    Map([Option<Edn>; N]),
    /// Any other form, read whole.
    Other(Edn),
}

impl Edn {
    /// The values of the keyword keys `names` of a map, taken out of it as
    /// [`TopForm::Map`] holds them; any other form is given back.
    pub fn into_fields<const N: usize>(self, names: &[&str; N]) -> Result<[Option<Edn>; N], Edn> {
        let Edn::Map(entries) = self else {
            return Err(self);
        };
        let mut fields: [Option<Edn>; N] = std::array::from_fn(|_| None);
        for (k, v) in entries {
            if let Edn::Keyword(name) = &k
                && let Some(i) = names.iter().position(|n| n == name)
                && fields[i].is_none()
            {
                fields[i] = Some(v);
            }
        }
        Ok(fields)
    }
}

/// Every top-level form of `text`, each with the line it starts on (1-based).
pub fn read_all(text: &str) -> Result<Vec<(usize, Edn)>, EdnError> {
    let mut forms = Vec::new();
    read_each(
        text,
        |e| e,
        |line, form| {
            forms.push((line, form));
            Ok(())
        },
    )?;
    Ok(forms)
}

/// Calls `each` on every top-level form of `text` as soon as it is read,
/// with the line it starts on: a history of thousands of forms is turned
/// into events one form at a time, never held whole as forms (a fresh
/// process then touches far less memory). A reading error becomes an `E`
/// by `error`; `each`'s error stops the reading.
pub fn read_each<E>(
    text: &str,
    error: impl Fn(EdnError) -> E,
    each: impl FnMut(usize, Edn) -> Result<(), E>,
) -> Result<(), E> {
    each_top_level(text, error, Reader::form, each)
}

/// As [`read_each`], but a top-level map is read straight into the values
/// of its keyword keys `names` asks for ([`TopForm::Map`]): no map, no key
/// and no other entry's value is kept, so a history of one map per line is
/// read without building (and dropping) a tree per line. Every entry is
/// still read, with the same errors as [`read_each`].
pub fn read_each_map<const N: usize, E>(
    text: &str,
    names: &[&str; N],
    error: impl Fn(EdnError) -> E,
    each: impl FnMut(usize, TopForm<N>) -> Result<(), E>,
) -> Result<(), E> {
    let read = |r: &mut Reader<'_>| {
        if r.peek() == Some(b'{') {
            r.map_fields(names).map(|f| Some(TopForm::Map(f)))
        } else {
            r.form().map(|f| f.map(TopForm::Other))
        }
    };
    each_top_level(text, error, read, each)
}

/// Calls `each` on every top-level form `read` reads (None: a discarded one).
fn each_top_level<'a, T, E>(
    text: &'a str,
    error: impl Fn(EdnError) -> E,
    mut read: impl FnMut(&mut Reader<'a>) -> Result<Option<T>, EdnError>,
    mut each: impl FnMut(usize, T) -> Result<(), E>,
) -> Result<(), E> {
    let mut r = Reader {
        src: text.as_bytes(),
        text,
        pos: 0,
        line: 1,
        depth: 0,
    };
    loop {
        r.skip_blank().map_err(&error)?;
        if r.pos >= r.src.len() {
            return Ok(());
        }
        let line = r.line;
        if let Some(form) = read(&mut r).map_err(&error)? {
            each(line, form)?;
        }
    }
}

/// One form from `text` (used for single fields such as a log line's value).
pub fn read_one(text: &str) -> Result<Edn, String> {
    let forms = read_all(text).map_err(|e| e.message)?;
    let mut it = forms.into_iter();
    match (it.next(), it.next()) {
        (Some((_, f)), None) => Ok(f),
        (None, _) => Err("an empty value".to_string()),
        (Some(_), Some(_)) => Err(format!("more than one value in {text:?}")),
    }
}

/// Forms nested deeper than this are refused: the reader recurses once per
/// level, and no history nests anywhere near it (Jepsen's deepest values
/// are a few levels), so a deeper input is an error, not a stack overflow.
pub const MAX_DEPTH: usize = 256;

struct Reader<'a> {
    src: &'a [u8],
    text: &'a str,
    pos: usize,
    line: usize,
    /// Forms being read right now, outermost included.
    depth: usize,
}

/// Which bytes a symbol, keyword or number token is made of: a table, as
/// every byte of every token is looked up in it.
const SYMBOL_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || c >= 0x80;
        b += 1;
    }
    let punctuation = b".*+!-_?$%&=<>/':#";
    let mut i = 0;
    while i < punctuation.len() {
        table[punctuation[i] as usize] = true;
        i += 1;
    }
    table
};

fn is_symbol_byte(b: u8) -> bool {
    SYMBOL_BYTES[b as usize]
}

impl<'a> Reader<'a> {
    fn err<T>(&self, line: usize, message: impl Into<String>) -> Result<T, EdnError> {
        Err(EdnError {
            line,
            message: message.into(),
        })
    }

    fn peek(&self) -> Option<u8> {
        self.src.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let b = self.peek()?;
        self.pos += 1;
        if b == b'\n' {
            self.line += 1;
        }
        Some(b)
    }

    fn skip_blank(&mut self) -> Result<(), EdnError> {
        while let Some(b) = self.peek() {
            match b {
                b' ' | b'\t' | b'\r' | b'\n' | b',' => {
                    self.bump();
                }
                b';' => {
                    while let Some(c) = self.bump() {
                        if c == b'\n' {
                            break;
                        }
                    }
                }
                _ => break,
            }
        }
        Ok(())
    }

    /// Reads one form; None for a discarded (`#_`) form.
    fn form(&mut self) -> Result<Option<Edn>, EdnError> {
        if self.depth >= MAX_DEPTH {
            return self.err(
                self.line,
                format!("values nested more than {MAX_DEPTH} deep"),
            );
        }
        self.depth += 1;
        let form = self.form_at_depth();
        self.depth -= 1;
        form
    }

    fn form_at_depth(&mut self) -> Result<Option<Edn>, EdnError> {
        let line = self.line;
        let Some(b) = self.peek() else {
            return self.err(line, "the input ends where a value was expected");
        };
        let value = match b {
            b'(' => Edn::List(self.seq(b')', "list")?),
            b'[' => Edn::Vector(self.seq(b']', "vector")?),
            b'{' => self.map()?,
            b')' | b']' | b'}' => {
                return self.err(line, format!("unexpected {:?}", b as char));
            }
            b'"' => Edn::Str(self.string()?),
            b'\\' => self.character()?,
            b'#' => {
                self.bump();
                match self.peek() {
                    Some(b'{') => Edn::Set(self.seq(b'}', "set")?),
                    Some(b'_') => {
                        self.bump();
                        self.skip_blank()?;
                        self.form()?;
                        return Ok(None);
                    }
                    _ => {
                        let tag = self.token();
                        if tag.is_empty() {
                            return self.err(line, "a '#' not followed by a tag, '{' or '_'");
                        }
                        self.skip_blank()?;
                        let inner = self.required_form(line, "a tagged value")?;
                        Edn::Tagged(tag.to_string(), Box::new(inner))
                    }
                }
            }
            b':' => {
                self.bump();
                let name = self.token();
                if name.is_empty() {
                    return self.err(line, "a ':' not followed by a keyword name");
                }
                Edn::Keyword(name.to_string())
            }
            _ => {
                let tok = self.token();
                if tok.is_empty() {
                    return self.err(
                        line,
                        format!("unexpected character {:?}", self.char_at_pos()),
                    );
                }
                atom(tok)
            }
        };
        Ok(Some(value))
    }

    fn char_at_pos(&self) -> char {
        self.text[self.pos..].chars().next().unwrap_or('?')
    }

    fn required_form(&mut self, line: usize, what: &str) -> Result<Edn, EdnError> {
        loop {
            if self.peek().is_none() {
                return self.err(line, format!("the input ends before {what}"));
            }
            if let Some(f) = self.form()? {
                return Ok(f);
            }
            self.skip_blank()?;
        }
    }

    /// The symbol-like token at the position, borrowed from the input: only
    /// what keeps it (a keyword, a symbol) copies it.
    fn token(&mut self) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(is_symbol_byte) {
            self.pos += 1;
        }
        &self.text[start..self.pos]
    }

    fn seq(&mut self, close: u8, what: &str) -> Result<Vec<Edn>, EdnError> {
        let line = self.line;
        self.bump();
        let mut items = Vec::new();
        loop {
            self.skip_blank()?;
            match self.peek() {
                None => {
                    return self.err(line, format!("a {what} opened here is never closed"));
                }
                Some(b) if b == close => {
                    self.bump();
                    return Ok(items);
                }
                Some(_) => {
                    if let Some(f) = self.form()? {
                        items.push(f);
                    }
                }
            }
        }
    }

    fn map(&mut self) -> Result<Edn, EdnError> {
        let line = self.line;
        let items = self.seq(b'}', "map")?;
        if items.len() % 2 != 0 {
            return self.err(line, "a map with a key but no value");
        }
        let mut entries = Vec::with_capacity(items.len() / 2);
        let mut it = items.into_iter();
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            entries.push((k, v));
        }
        Ok(Edn::Map(entries))
    }

    /// A map (at the position's `{`) read into the values of the keyword
    /// keys `names` asks for, the first of a repeated key; other entries
    /// are read and dropped. The forms it accepts and the errors it gives
    /// are [`Reader::map`]'s.
    fn map_fields<const N: usize>(
        &mut self,
        names: &[&str; N],
    ) -> Result<[Option<Edn>; N], EdnError> {
        if self.depth >= MAX_DEPTH {
            return self.err(
                self.line,
                format!("values nested more than {MAX_DEPTH} deep"),
            );
        }
        self.depth += 1;
        let fields = self.map_fields_at_depth(names);
        self.depth -= 1;
        fields
    }

    fn map_fields_at_depth<const N: usize>(
        &mut self,
        names: &[&str; N],
    ) -> Result<[Option<Edn>; N], EdnError> {
        /// What the next form read is.
        enum Next {
            Key,
            /// A value, kept in this field (None: dropped).
            Value(Option<usize>),
        }
        let line = self.line;
        self.bump();
        let mut fields: [Option<Edn>; N] = std::array::from_fn(|_| None);
        let mut next = Next::Key;
        loop {
            self.skip_blank()?;
            match (self.peek(), &next) {
                (None, _) => return self.err(line, "a map opened here is never closed"),
                (Some(b'}'), _) => {
                    self.bump();
                    return match next {
                        Next::Key => Ok(fields),
                        Next::Value(_) => self.err(line, "a map with a key but no value"),
                    };
                }
                // A keyword key, looked up where it is written: not copied.
                (Some(b':'), Next::Key) => {
                    let key_line = self.line;
                    self.bump();
                    let name = self.token();
                    if name.is_empty() {
                        return self.err(key_line, "a ':' not followed by a keyword name");
                    }
                    let field = names.iter().position(|n| *n == name);
                    next = Next::Value(field.filter(|&i| fields[i].is_none()));
                }
                (Some(_), _) => {
                    let Some(form) = self.form()? else {
                        continue;
                    };
                    next = match next {
                        Next::Key => Next::Value(None),
                        Next::Value(field) => {
                            if let Some(i) = field {
                                fields[i] = Some(form);
                            }
                            Next::Key
                        }
                    };
                }
            }
        }
    }

    fn string(&mut self) -> Result<String, EdnError> {
        let line = self.line;
        self.bump();
        // Most strings hold no escape: copied once, at their size.
        let rest = &self.src[self.pos..];
        if let Some(end) = rest.iter().position(|&b| b == b'"' || b == b'\\')
            && rest[end] == b'"'
        {
            let out = self.text[self.pos..self.pos + end].to_string();
            self.line += rest[..end].iter().filter(|&&b| b == b'\n').count();
            self.pos += end + 1;
            return Ok(out);
        }
        let mut out = String::new();
        loop {
            let start = self.pos;
            while self.peek().is_some_and(|b| b != b'"' && b != b'\\') {
                self.bump();
            }
            out.push_str(&self.text[start..self.pos]);
            match self.bump() {
                None => return self.err(line, "a string opened here is never closed"),
                Some(b'"') => return Ok(out),
                Some(_) => {
                    let esc = self.bump();
                    match esc {
                        Some(b'n') => out.push('\n'),
                        Some(b't') => out.push('\t'),
                        Some(b'r') => out.push('\r'),
                        Some(b'"') => out.push('"'),
                        Some(b'\\') => out.push('\\'),
                        Some(b'u') => {
                            let hex = self.text.get(self.pos..self.pos + 4).unwrap_or("");
                            let c = u32::from_str_radix(hex, 16).ok().and_then(char::from_u32);
                            match c {
                                Some(c) => {
                                    out.push(c);
                                    self.pos += 4;
                                }
                                None => return self.err(self.line, "a bad \\u escape in a string"),
                            }
                        }
                        _ => return self.err(self.line, "an unknown escape in a string"),
                    }
                }
            }
        }
    }

    fn character(&mut self) -> Result<Edn, EdnError> {
        let line = self.line;
        self.bump();
        let tok = self.token();
        let c = match tok {
            "newline" => '\n',
            "space" => ' ',
            "tab" => '\t',
            "return" => '\r',
            "" => match self.text[self.pos..].chars().next() {
                Some(c) => {
                    for _ in 0..c.len_utf8() {
                        self.bump();
                    }
                    c
                }
                None => return self.err(line, "the input ends after a backslash"),
            },
            t if t.chars().count() == 1 => t.chars().next().unwrap_or('?'),
            t => return self.err(line, format!("an unknown character literal \\{t}")),
        };
        Ok(Edn::Char(c))
    }
}

fn atom(tok: &str) -> Edn {
    match tok {
        "nil" => return Edn::Nil,
        "true" => return Edn::Bool(true),
        "false" => return Edn::Bool(false),
        _ => {}
    }
    let bytes = tok.as_bytes();
    let numeric = match bytes {
        [b'+' | b'-', d, ..] => d.is_ascii_digit(),
        [d, ..] => d.is_ascii_digit(),
        [] => false,
    };
    if numeric {
        match tok.trim_end_matches('N').parse::<i64>() {
            Ok(i) => Edn::Int(i),
            Err(_) => Edn::Number(tok.to_string()),
        }
    } else {
        Edn::Symbol(tok.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_jepsen_operation() {
        let forms = read_all(
            "; a comment\n{:process 3, :type :ok, :f :cas, :value [1 2], :key \"k\\\"\"}\n",
        )
        .unwrap();
        assert_eq!(forms.len(), 1);
        let (line, m) = &forms[0];
        assert_eq!(*line, 2);
        assert_eq!(m.get("process"), Some(&Edn::Int(3)));
        assert_eq!(m.get("type"), Some(&Edn::Keyword("ok".into())));
        assert_eq!(
            m.get("value"),
            Some(&Edn::Vector(vec![Edn::Int(1), Edn::Int(2)]))
        );
        assert_eq!(m.get("key"), Some(&Edn::Str("k\"".into())));
    }

    #[test]
    fn reads_nested_and_tagged_forms() {
        let forms =
            read_all("[#inst \"2020\" #{1 2} (a b) #_ ignored -3 2.5 \\x nil true]").unwrap();
        let Edn::Vector(items) = &forms[0].1 else {
            panic!("not a vector");
        };
        assert_eq!(items.len(), 8);
        assert_eq!(items[3], Edn::Int(-3));
        assert_eq!(items[4], Edn::Number("2.5".into()));
        assert_eq!(items[5], Edn::Char('x'));
    }

    #[test]
    fn refuses_deep_nesting_with_an_error_instead_of_overflowing_the_stack() {
        for open in ["[", "(", "{:a ", "#{", "#_", "#tag "] {
            let text = open.repeat(1_000_000);
            let e = read_all(&text).expect_err("a million levels are refused");
            assert!(
                e.message.contains("nested more than"),
                "{open}: {}",
                e.message
            );
        }
        let ok = format!(
            "{}1{}",
            "[".repeat(MAX_DEPTH - 1),
            "]".repeat(MAX_DEPTH - 1)
        );
        assert!(read_all(&ok).is_ok());
    }

    /// Reading a map straight into fields gives what reading it whole and
    /// then taking the fields does, errors (and their lines) included.
    #[test]
    fn maps_read_into_fields_match_maps_read_whole() {
        const NAMES: [&str; 3] = ["a", "b", "c"];
        fn whole(text: &str) -> Result<Vec<(usize, TopForm<3>)>, EdnError> {
            Ok(read_all(text)?
                .into_iter()
                .map(|(line, form)| match form.into_fields(&NAMES) {
                    Ok(fields) => (line, TopForm::Map(fields)),
                    Err(other) => (line, TopForm::Other(other)),
                })
                .collect())
        }
        fn direct(text: &str) -> Result<Vec<(usize, TopForm<3>)>, EdnError> {
            let mut forms = vec![];
            read_each_map(
                text,
                &NAMES,
                |e| e,
                |line, form| {
                    forms.push((line, form));
                    Ok(())
                },
            )?;
            Ok(forms)
        }
        let cases = [
            "{:a 1 :b \"x\" :c [1 {:a 2}]}\n{:c nil}\n[{:a 1}]",
            "{:a 1 :a 2 :b 3 :b 4}",
            "{:z 1 :a #_ 7 2 #_ :b :c 3}",
            "{\"a\" 1 a 2 :c 3 {:a 1} 4 nil 5}",
            "{:a :b :c :a}",
            "#_ {:a 1} {:b 2} ; done\n",
            "{:a 1 :b}",
            "{:a 1 #_ 2}",
            "{: 1}",
            "{:a 1\n:b [1 2\n",
            "{:a 1 ) }",
            "{:a \"open}",
            "{:a #tag}",
            "\n\n{:a\n1}\n{:b}",
        ];
        for text in cases {
            assert_eq!(direct(text), whole(text), "{text:?}");
        }
        // The map is a level: its value's vectors and their element fill
        // the rest.
        let nested =
            |levels: usize| format!("{{:a {}1{}}}", "[".repeat(levels), "]".repeat(levels));
        let deep = nested(MAX_DEPTH - 1);
        assert!(direct(&deep).is_err());
        assert_eq!(direct(&deep), whole(&deep));
        let deepest = nested(MAX_DEPTH - 2);
        assert!(direct(&deepest).is_ok());
        assert_eq!(direct(&deepest), whole(&deepest));
    }

    #[test]
    fn reads_strings_with_and_without_escapes_and_counts_their_lines() {
        let forms = read_all("\"plain\" \"two\nlines\" \"a\\\"b\\u00e9\\n\" \"\"\n:after").unwrap();
        let strings: Vec<&Edn> = forms.iter().map(|(_, f)| f).collect();
        assert_eq!(
            strings,
            [
                &Edn::Str("plain".into()),
                &Edn::Str("two\nlines".into()),
                &Edn::Str("a\"b\u{e9}\n".into()),
                &Edn::Str(String::new()),
                &Edn::Keyword("after".into()),
            ]
        );
        // The string over two lines moves what follows down a line.
        assert_eq!(forms[4].0, 3);
        assert_eq!(read_all("\"open\n\nnever closed").unwrap_err().line, 1);
        assert!(read_all("{\"}").unwrap_err().message.contains("string"));
    }

    #[test]
    fn symbol_bytes_are_the_documented_ones() {
        for b in 0..=255u8 {
            let expected =
                b.is_ascii_alphanumeric() || b".*+!-_?$%&=<>/':#".contains(&b) || b >= 0x80;
            assert_eq!(is_symbol_byte(b), expected, "{b}");
        }
    }

    #[test]
    fn reports_unterminated_forms_with_their_line() {
        let err = read_all("{:a 1}\n{:b [1 2\n").unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("never closed"), "{}", err.message);
        let err = read_all("{:a \"x}").unwrap_err();
        assert!(err.message.contains("string"));
        let err = read_all("{:a}").unwrap_err();
        assert!(err.message.contains("no value"));
        let err = read_all("]").unwrap_err();
        assert!(err.message.contains("unexpected"));
    }
}
