//! The one place that knows which YAML library we use.
//!
//! A YAML text is parsed once, with `saphyr-parser` (a maintained YAML 1.2 parser that
//! reports positions), into a [`Node`] tree in which every node keeps its line and
//! column. Everything after that works on the tree: typed structs are decoded from it
//! with serde ([`from_node`], a small `Deserializer` over the tree), `quick:` and
//! `--set` overrides are edits of it, and a field path is located in it ([`Node::locate`])
//! instead of being searched for in the text.
//!
//! Errors come back as [`YamlError`]: a message, the field path where decoding stopped
//! (e.g. `measure.mixture[1].weight`) and a 1-based line/column *inside the snippet*;
//! callers add the snippet's offset in its file. Because the decoder knows which node
//! it is on, an error raised after a value was read (a custom `try_from`, an untagged
//! enum that matched no variant) is placed at that value, not at the document start.

use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};

use saphyr_parser::{Event, Parser, ScalarStyle};

#[derive(Clone, Debug, PartialEq)]
pub struct YamlError {
    pub message: String,
    /// Dotted field path where the error happened; empty at the top level.
    pub path: String,
    /// 1-based line and column inside the parsed text (0 when unknown).
    pub line: usize,
    pub column: usize,
}

/// A 1-based line and column (in characters) inside the parsed text; 0 when unknown
/// (a value that came from elsewhere, e.g. the command line, takes the position of
/// the field it replaces).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

/// One node of a YAML tree, with where it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub pos: Pos,
    pub value: Value,
    /// The scalar as written (plain scalars): `deserialize_str` reads `2` as "2".
    pub text: String,
}

/// The value of a node. Mapping entries keep their order and their key nodes (so an
/// unknown field is reported at the key).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Node {
    pub fn new(value: Value, pos: Pos) -> Node {
        Node {
            pos,
            value,
            text: String::new(),
        }
    }

    /// A string node (a mapping key made by an edit).
    pub fn string(s: &str, pos: Pos) -> Node {
        Node {
            pos,
            value: Value::Str(s.to_string()),
            text: s.to_string(),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The entries of a mapping (empty for anything else).
    pub fn entries(&self) -> &[(Node, Node)] {
        match &self.value {
            Value::Map(m) => m,
            _ => &[],
        }
    }

    /// The entry `key` of a mapping, as (key node, value node).
    pub fn entry(&self, key: &str) -> Option<&(Node, Node)> {
        self.entries().iter().find(|(k, _)| k.as_str() == Some(key))
    }

    /// The value of `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        match &mut self.value {
            Value::Map(m) => m
                .iter_mut()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// Set `key` of a mapping to `value`, replacing an entry or appending one (at
    /// `pos`). Does nothing on a node that is not a mapping.
    pub fn insert(&mut self, key: &str, value: Node, pos: Pos) {
        if let Value::Map(m) = &mut self.value {
            match m.iter_mut().find(|(k, _)| k.as_str() == Some(key)) {
                Some((_, v)) => *v = value,
                None => m.push((Node::string(key, pos), value)),
            }
        }
    }

    /// Remove `key` from a mapping; returns its value.
    pub fn remove(&mut self, key: &str) -> Option<Node> {
        let Value::Map(m) = &mut self.value else {
            return None;
        };
        let i = m.iter().position(|(k, _)| k.as_str() == Some(key))?;
        Some(m.remove(i).1)
    }

    /// Give this node and everything under it the position `pos` (a value from the
    /// command line, placed at the field it replaces).
    pub fn restamp(&mut self, pos: Pos) {
        self.pos = pos;
        match &mut self.value {
            Value::Seq(items) => items.iter_mut().for_each(|n| n.restamp(pos)),
            Value::Map(m) => m.iter_mut().for_each(|(k, v)| {
                k.restamp(pos);
                v.restamp(pos)
            }),
            _ => {}
        }
    }

    /// The 1-based (line, column) of the field at `path` (dotted, `[i]` for sequence
    /// items): the key of a mapping entry, or the item of a sequence. A path that goes
    /// deeper than the tree gives the deepest part that exists; `None` when not even
    /// the first step exists.
    pub fn locate(&self, path: &str) -> Option<(usize, usize)> {
        let mut node = self;
        let mut found = None;
        for step in parse_path(path) {
            let (at, next) = match (&step, &node.value) {
                (Step::Key(k), Value::Map(_)) => match node.entry(k) {
                    Some((key, value)) => (key.pos, value),
                    None => break,
                },
                (Step::Index(i), Value::Seq(items)) => match items.get(*i) {
                    Some(item) => (item.pos, item),
                    None => break,
                },
                _ => break,
            };
            if at.line > 0 {
                found = Some((at.line, at.column));
            }
            node = next;
        }
        found
    }

    /// A short description for messages: "a mapping", "a list", "a number", …
    pub fn kind_name(&self) -> &'static str {
        match &self.value {
            Value::Null => "empty",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::Float(_) => "a number",
            Value::Str(_) => "a text",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// Largest YAML snippet we accept (a spec block is a few hundred bytes).
pub const MAX_BYTES: usize = 1 << 20;
/// Deepest nesting of `[`/`{`/indentation levels we accept.
pub const MAX_DEPTH: usize = 32;
/// Most nodes a snippet may expand to (aliases included).
pub const MAX_NODES: usize = 1 << 20;

/// Parse `src` into a tree. Nesting deeper than [`MAX_DEPTH`], a document larger than
/// [`MAX_BYTES`] or one expanding (through aliases) to more than [`MAX_NODES`] nodes is
/// refused, so hostile input cannot exhaust the stack or the memory. A repeated key in
/// a mapping is an error (YAML says keys are unique; a silent "last one wins" would
/// hide a typo).
pub fn parse(src: &str) -> Result<Node, YamlError> {
    guard(src)?;
    let mut b = Builder::default();
    for event in Parser::new_from_str(src) {
        let (event, span) = event.map_err(|e| YamlError {
            message: e.info().to_string(),
            path: String::new(),
            line: e.marker().line(),
            column: e.marker().col() + 1,
        })?;
        let pos = Pos {
            line: span.start.line(),
            column: span.start.col() + 1,
        };
        b.event(event, pos)?;
    }
    Ok(b.root
        .unwrap_or(Node::new(Value::Null, Pos { line: 1, column: 1 })))
}

/// Parse `src` and decode it into `T`.
pub fn from_str<T: DeserializeOwned>(src: &str) -> Result<T, YamlError> {
    from_node(&parse(src)?)
}

/// Decode a tree into `T`.
pub fn from_node<T: DeserializeOwned>(node: &Node) -> Result<T, YamlError> {
    T::deserialize(De {
        node,
        path: String::new(),
    })
    .map_err(|e| {
        let pos = e.pos.unwrap_or(node.pos);
        YamlError {
            message: e.message,
            path: e.path.unwrap_or_default(),
            line: pos.line,
            column: pos.column,
        }
    })
}

/// The (line, column) of `path` in the YAML text `src` (see [`Node::locate`]); `None`
/// when the text does not parse or has no such field.
pub fn locate(src: &str, path: &str) -> Option<(usize, usize)> {
    parse(src).ok()?.locate(path)
}

fn guard(src: &str) -> Result<(), YamlError> {
    let refuse = |message: String| {
        Err(YamlError {
            message,
            path: String::new(),
            line: 1,
            column: 1,
        })
    };
    if src.len() > MAX_BYTES {
        return refuse(format!(
            "YAML block of {} bytes is larger than the limit of {MAX_BYTES} bytes",
            src.len()
        ));
    }
    let mut depth: usize = 0;
    for (n, line) in src.lines().enumerate() {
        let indent_depth = (line.len() - line.trim_start().len()) / 2;
        for (col, c) in line.chars().enumerate() {
            match c {
                '[' | '{' => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Err(YamlError {
                            message: format!(
                                "YAML nested deeper than {MAX_DEPTH} levels is refused"
                            ),
                            path: String::new(),
                            line: n + 1,
                            column: col + 1,
                        });
                    }
                }
                ']' | '}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        if indent_depth > MAX_DEPTH {
            return Err(YamlError {
                message: format!("YAML indented deeper than {MAX_DEPTH} levels is refused"),
                path: String::new(),
                line: n + 1,
                column: 1,
            });
        }
    }
    Ok(())
}

/// Builds the tree from the parser's events.
#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<Node>,
    /// Anchored nodes with how many nodes each holds.
    anchors: std::collections::HashMap<usize, (Node, usize)>,
    nodes: usize,
    documents: usize,
}

struct Frame {
    node: Node,
    anchor: usize,
    /// A mapping's key waiting for its value.
    key: Option<Node>,
}

impl Builder {
    fn event(&mut self, event: Event, pos: Pos) -> Result<(), YamlError> {
        let error = |message: String| YamlError {
            message,
            path: String::new(),
            line: pos.line,
            column: pos.column,
        };
        match event {
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(error(
                        "a block holds one YAML document; a second one starts here".into(),
                    ));
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                let str_tag = tag.as_ref().is_some_and(|t| t.suffix == "str");
                let value = if style == ScalarStyle::Plain && !str_tag {
                    resolve(&text)
                } else {
                    Value::Str(text.to_string())
                };
                let node = Node {
                    pos,
                    value,
                    text: text.to_string(),
                };
                self.finish(node, anchor, pos)?;
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if self.stack.len() >= MAX_DEPTH {
                    return Err(error(format!(
                        "YAML nested deeper than {MAX_DEPTH} levels is refused"
                    )));
                }
                let value = if matches!(event, Event::SequenceStart(..)) {
                    Value::Seq(Vec::new())
                } else {
                    Value::Map(Vec::new())
                };
                self.stack.push(Frame {
                    node: Node::new(value, pos),
                    anchor,
                    key: None,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let frame = self
                    .stack
                    .pop()
                    .expect("the parser balances starts and ends");
                self.finish(frame.node, frame.anchor, pos)?;
            }
            Event::Alias(id) => {
                let (node, size) = self
                    .anchors
                    .get(&id)
                    .ok_or_else(|| error("alias to an unknown anchor".into()))?;
                // Counted before it is copied, so a chain of aliases cannot blow up.
                self.nodes += size - 1;
                self.check_size(pos)?;
                let mut node = node.clone();
                node.restamp(pos);
                self.finish(node, 0, pos)?;
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
        }
        Ok(())
    }

    /// A complete node: count it, remember its anchor, and attach it to its parent.
    fn check_size(&self, pos: Pos) -> Result<(), YamlError> {
        if self.nodes > MAX_NODES {
            return Err(YamlError {
                message: format!(
                    "YAML expanding to more than {MAX_NODES} values is refused (aliases `*name` repeat what they name)"
                ),
                path: String::new(),
                line: pos.line,
                column: pos.column,
            });
        }
        Ok(())
    }

    fn finish(&mut self, node: Node, anchor: usize, pos: Pos) -> Result<(), YamlError> {
        self.nodes += 1;
        self.check_size(pos)?;
        if anchor > 0 {
            self.anchors.insert(anchor, (node.clone(), count(&node)));
        }
        let Some(top) = self.stack.last_mut() else {
            self.root = Some(node);
            return Ok(());
        };
        match &mut top.node.value {
            Value::Seq(items) => items.push(node),
            Value::Map(entries) => match top.key.take() {
                None => {
                    if entries.iter().any(|(k, _)| {
                        k.value == node.value
                            && !matches!(node.value, Value::Seq(_) | Value::Map(_))
                    }) {
                        return Err(YamlError {
                            message: format!(
                                "the key `{}` appears twice in this mapping",
                                node.text
                            ),
                            path: String::new(),
                            line: node.pos.line,
                            column: node.pos.column,
                        });
                    }
                    top.key = Some(node);
                }
                Some(key) => entries.push((key, node)),
            },
            _ => unreachable!("only collections are pushed on the stack"),
        }
        Ok(())
    }
}

/// Nodes in a tree (an alias copies its anchor's whole tree).
fn count(node: &Node) -> usize {
    match &node.value {
        Value::Seq(items) => 1 + items.iter().map(count).sum::<usize>(),
        Value::Map(m) => 1 + m.iter().map(|(k, v)| count(k) + count(v)).sum::<usize>(),
        _ => 1,
    }
}

/// The YAML 1.2 core schema for plain scalars: null, booleans, integers, floats, and
/// everything else a string.
fn resolve(s: &str) -> Value {
    match s {
        "" | "~" | "null" | "Null" | "NULL" => return Value::Null,
        "true" | "True" | "TRUE" => return Value::Bool(true),
        "false" | "False" | "FALSE" => return Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Value::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Value::Float(f64::NAN),
        _ => {}
    }
    let unsigned = s.strip_prefix(['-', '+']).unwrap_or(s);
    if !unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()) {
        return match s.parse::<i64>() {
            Ok(i) => Value::Int(i),
            Err(_) => Value::Float(s.parse().unwrap_or(f64::NAN)),
        };
    }
    if let Some(hex) = s.strip_prefix("0x") {
        if let Ok(i) = i64::from_str_radix(hex, 16) {
            return Value::Int(i);
        }
    }
    if let Some(oct) = s.strip_prefix("0o") {
        if let Ok(i) = i64::from_str_radix(oct, 8) {
            return Value::Int(i);
        }
    }
    if is_float(unsigned) {
        if let Ok(f) = s.parse::<f64>() {
            return Value::Float(f);
        }
    }
    Value::Str(s.to_string())
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, the core schema's float.
fn is_float(s: &str) -> bool {
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", frac)) => digits(frac),
        Some((int, frac)) => digits(int) && (frac.is_empty() || digits(frac)),
        None => digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}

/// One step of a field path.
#[derive(Clone, Debug, PartialEq)]
enum Step {
    Key(String),
    Index(usize),
}

fn parse_path(path: &str) -> Vec<Step> {
    let mut steps = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let (key, rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if !key.is_empty() {
            steps.push(Step::Key(key.to_string()));
        }
        for idx in rest.split('[').filter(|s| !s.is_empty()) {
            if let Ok(i) = idx.trim_end_matches(']').parse() {
                steps.push(Step::Index(i));
            }
        }
    }
    steps
}

/// A decoding error, placed at the innermost node that saw it.
#[derive(Debug)]
struct Error {
    message: String,
    path: Option<String>,
    pos: Option<Pos>,
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        Error {
            message: msg.to_string(),
            path: None,
            pos: None,
        }
    }
}

/// Place an error that has no position yet at `node`.
fn at<T>(r: Result<T, Error>, node: &Node, path: &str) -> Result<T, Error> {
    r.map_err(|mut e| {
        if e.pos.is_none() && node.pos.line > 0 {
            e.pos = Some(node.pos);
        }
        if e.path.is_none() {
            e.path = Some(path.to_string());
        }
        e
    })
}

/// Deserialize `node`, found at `path`, with `seed`; an error in it is placed at the
/// node (see [`at`]).
fn seed_at<'de, T: de::DeserializeSeed<'de>>(
    seed: T,
    node: &'de Node,
    path: String,
) -> Result<T::Value, Error> {
    let r = seed.deserialize(De {
        node,
        path: path.clone(),
    });
    at(r, node, &path)
}

fn child_key(path: &str, key: &Node) -> String {
    let k = if key.text.is_empty() {
        key.as_str().unwrap_or("?")
    } else {
        &key.text
    };
    if path.is_empty() {
        k.to_string()
    } else {
        format!("{path}.{k}")
    }
}

/// serde's view of one node.
struct De<'a> {
    node: &'a Node,
    path: String,
}

impl<'de> de::Deserializer<'de> for De<'de> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        let node = self.node;
        let r = match &node.value {
            Value::Null => v.visit_unit(),
            Value::Bool(b) => v.visit_bool(*b),
            Value::Int(i) => v.visit_i64(*i),
            Value::Float(f) => v.visit_f64(*f),
            Value::Str(s) => v.visit_borrowed_str(s),
            Value::Seq(items) => {
                let mut seq = SeqDe {
                    items: items.iter().enumerate(),
                    path: &self.path,
                };
                v.visit_seq(&mut seq).and_then(|out| match seq.items.len() {
                    0 => Ok(out),
                    extra => Err(de::Error::custom(format!(
                        "invalid length {}, expected {} item{}",
                        items.len(),
                        items.len() - extra,
                        if items.len() - extra == 1 { "" } else { "s" }
                    ))),
                })
            }
            Value::Map(entries) => v.visit_map(MapDe {
                entries: entries.iter(),
                value: None,
                path: &self.path,
            }),
        };
        at(r, node, &self.path)
    }

    /// Any scalar reads as the text it was written as (`id: 2` is the id "2").
    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match &self.node.value {
            Value::Int(_) | Value::Float(_) | Value::Bool(_) if !self.node.text.is_empty() => {
                at(v.visit_borrowed_str(&self.node.text), self.node, &self.path)
            }
            _ => self.deserialize_any(v),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_str(v)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_str(v)
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.node.value {
            Value::Null => at(v.visit_none(), self.node, &self.path),
            _ => v.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, Error> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        let node = self.node;
        let r = match &node.value {
            Value::Str(s) => v.visit_enum(s.as_str().into_deserializer()),
            Value::Map(entries) if entries.len() == 1 => v.visit_enum(EnumDe {
                key: &entries[0].0,
                value: &entries[0].1,
                path: &self.path,
            }),
            _ => Err(de::Error::custom(format!(
                "expected a name or a mapping with one key, found {}",
                node.kind_name()
            ))),
        };
        at(r, node, &self.path)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char bytes byte_buf
        unit unit_struct seq tuple tuple_struct map struct ignored_any
    }
}

struct SeqDe<'a, 'p> {
    items: std::iter::Enumerate<std::slice::Iter<'a, Node>>,
    path: &'p str,
}

impl<'de> de::SeqAccess<'de> for &mut SeqDe<'de, '_> {
    type Error = Error;

    fn next_element_seed<T: de::DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        let Some((i, node)) = self.items.next() else {
            return Ok(None);
        };
        let path = format!("{}[{i}]", self.path);
        seed_at(seed, node, path).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct MapDe<'a, 'p> {
    entries: std::slice::Iter<'a, (Node, Node)>,
    value: Option<(&'a Node, String)>,
    path: &'p str,
}

impl<'de> de::MapAccess<'de> for MapDe<'de, '_> {
    type Error = Error;

    fn next_key_seed<K: de::DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        let path = child_key(self.path, key);
        self.value = Some((value, path.clone()));
        seed_at(seed, key, path).map(Some)
    }

    fn next_value_seed<V: de::DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let (node, path) = self
            .value
            .take()
            .expect("serde asks for a value after its key");
        seed_at(seed, node, path)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

struct EnumDe<'a, 'p> {
    key: &'a Node,
    value: &'a Node,
    path: &'p str,
}

impl<'de> de::EnumAccess<'de> for EnumDe<'de, '_> {
    type Error = Error;
    type Variant = De<'de>;

    fn variant_seed<V: de::DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, De<'de>), Error> {
        let path = child_key(self.path, self.key);
        let variant = seed_at(seed, self.key, path.clone())?;
        Ok((
            variant,
            De {
                node: self.value,
                path,
            },
        ))
    }
}

impl<'de> de::VariantAccess<'de> for De<'de> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        match self.node.value {
            Value::Null => Ok(()),
            _ => at(
                Err(de::Error::custom("this name takes no value")),
                self.node,
                &self.path,
            ),
        }
    }

    fn newtype_variant_seed<T: de::DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        let (node, path) = (self.node, self.path.clone());
        at(seed.deserialize(self), node, &path)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, v: V) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_any(self, v)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        de::Deserializer::deserialize_any(self, v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct S {
        id: String,
        n: u32,
    }

    #[test]
    fn reports_unknown_field_with_location() {
        let e = from_str::<S>("id: a\nnn: 3\n").unwrap_err();
        assert!(e.message.contains("unknown field `nn`"), "{e:?}");
        assert_eq!((e.line, e.column), (2, 1));
        assert_eq!(e.path, "nn");
    }

    #[test]
    fn reports_type_error_with_path() {
        let e = from_str::<S>("id: a\nn: minus\n").unwrap_err();
        assert_eq!(e.path, "n");
        assert_eq!((e.line, e.column), (2, 4));
        let e = from_str::<S>("id: a\n").unwrap_err();
        assert!(e.message.contains("missing field `n`"), "{e:?}");
        assert_eq!(e.line, 1);
    }

    #[test]
    fn errors_after_reading_a_value_are_placed_at_it() {
        #[derive(Deserialize, Debug)]
        #[allow(dead_code)]
        struct L {
            x: Vec<crate::spec::Grid>,
        }
        let e = from_str::<L>("x:\n  - [1, 2]\n  - {from: 0, to: 1}\n").unwrap_err();
        assert_eq!((e.line, e.column), (3, 5), "{e:?}");
        assert_eq!(e.path, "x[1]");
    }

    #[test]
    fn scalars_follow_the_core_schema() {
        let v = parse("[1, -2, 1.5, 1e-3, .inf, -.inf, ~, true, inf, \"3\", 0x10, 1.]").unwrap();
        let Value::Seq(items) = v.value else {
            panic!("a list")
        };
        let got: Vec<&Value> = items.iter().map(|n| &n.value).collect();
        assert_eq!(got[0], &Value::Int(1));
        assert_eq!(got[1], &Value::Int(-2));
        assert_eq!(got[2], &Value::Float(1.5));
        assert_eq!(got[3], &Value::Float(1e-3));
        assert_eq!(got[4], &Value::Float(f64::INFINITY));
        assert_eq!(got[5], &Value::Float(f64::NEG_INFINITY));
        assert_eq!(got[6], &Value::Null);
        assert_eq!(got[7], &Value::Bool(true));
        assert_eq!(got[8], &Value::Str("inf".into()));
        assert_eq!(got[9], &Value::Str("3".into()));
        assert_eq!(got[10], &Value::Int(16));
        assert_eq!(got[11], &Value::Float(1.0));
        // A number read as a text keeps its spelling.
        assert_eq!(from_str::<String>("1.50").unwrap(), "1.50");
    }

    #[test]
    fn refuses_deep_nesting_repeated_keys_and_alias_bombs() {
        let deep = "[".repeat(100) + &"]".repeat(100);
        let e = parse(&deep).unwrap_err();
        assert!(e.message.contains("deeper"), "{e:?}");
        let e = parse("a: 1\nb: 2\na: 3\n").unwrap_err();
        assert!(e.message.contains("appears twice"), "{e:?}");
        assert_eq!((e.line, e.column), (3, 1));
        let mut bomb = String::from("a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n");
        for (i, name) in ["b", "c", "d", "e", "f", "g", "h"].iter().enumerate() {
            let prev = ["a", "b", "c", "d", "e", "f", "g"][i];
            bomb.push_str(&format!(
                "{name}: &{name} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
        }
        let e = parse(&bomb).unwrap_err();
        assert!(e.message.contains("more than"), "{e:?}");
        // One alias is fine.
        let v = parse("a: &x {n: 1}\nb: *x\n").unwrap();
        assert_eq!(v.get("b").unwrap().get("n").unwrap().value, Value::Int(1));
    }

    #[test]
    fn syntax_errors_have_positions() {
        let e = parse("id: a\nkind: \"complexity\nr: 1\n").unwrap_err();
        assert!(e.line >= 2, "{e:?}");
        let e = parse("a: b: c\n").unwrap_err();
        assert!(e.message.contains("mapping values"), "{e:?}");
    }

    #[test]
    fn locates_block_and_flow_paths() {
        let src = "id: x\nmeasure:\n  mixture:\n    - {weight: 0.5, mean: -1, var: 0}\n    - {weight: 0.7, mean: 1, var: 0}\nr: [0.5, 1.5, 3]\n";
        assert_eq!(locate(src, "id"), Some((1, 1)));
        assert_eq!(locate(src, "measure.mixture[1].weight"), Some((5, 8)));
        assert_eq!(locate(src, "measure.mixture[0].mean"), Some((4, 21)));
        assert_eq!(locate(src, "r[2]"), Some((6, 15)));
        // Deeper than the tree: the deepest part that exists.
        assert_eq!(locate(src, "measure.mixture[5]"), Some((3, 3)));
        assert_eq!(locate(src, "nothing"), None);
        let block = "tables:\n  summary: a\n  survival: b\n";
        assert_eq!(locate(block, "tables.survival"), Some((3, 3)));
    }
}
