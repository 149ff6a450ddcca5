//! Finds the field path (`credentials[1].confirm`) at a byte offset, so parse errors name the field.
//!
//! The file is read a second time into a tree of spanned nodes; the innermost node whose span holds the offset
//! gives the path. Best effort: a file that is not valid TOML, or that uses dotted keys or headers (implicit
//! tables have no span), yields an empty path, and the error still carries its line and column.

use std::fmt;
use std::ops::Range;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use toml::Spanned;

/// The field path of the innermost value or table holding byte `offset`; empty for the top level.
pub(crate) fn path_at(source: &str, offset: usize) -> String {
    innermost(source, offset)
        .map(|(path, _)| path)
        .unwrap_or_default()
}

/// The path of the table that holds the key written at `offset`. Unlike [`path_at`], a key in a table header
/// (`[name]` or `[[name]]`) belongs to the enclosing table, not to the table it opens.
pub(crate) fn table_of_key_at(source: &str, offset: usize) -> String {
    let Some((path, span)) = innermost(source, offset) else {
        return String::new();
    };
    let opens_header = source
        .get(span.start..offset)
        .is_some_and(|head| head.starts_with('[') && !head.contains(['\n', '=']));
    if !opens_header {
        return path;
    }
    let path = path
        .strip_suffix(']')
        .and_then(|p| p.rsplit_once('['))
        .map_or(path.as_str(), |(p, _)| p);
    path.rsplit_once('.')
        .map(|(parent, _)| parent.to_string())
        .unwrap_or_default()
}

fn innermost(source: &str, offset: usize) -> Option<(String, Range<usize>)> {
    let root = toml::from_str::<Node>(source).ok()?;
    let mut best = None;
    search(&root, "", offset, &mut best);
    best.map(|(span, path)| (path, span))
}

enum Node {
    Leaf,
    Table(Vec<(String, Spanned<Node>)>),
    Array(Vec<Spanned<Node>>),
}

/// Visits every child, not only those holding the offset: a `[a.b]` table's span lies outside `[a]`'s.
fn search(node: &Node, path: &str, offset: usize, best: &mut Option<(Range<usize>, String)>) {
    let children: Vec<(String, &Spanned<Node>)> = match node {
        Node::Leaf => return,
        Node::Table(entries) => entries
            .iter()
            .map(|(key, child)| {
                let child_path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                (child_path, child)
            })
            .collect(),
        Node::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, child)| (format!("{path}[{i}]"), child))
            .collect(),
    };
    for (child_path, child) in children {
        let span = child.span();
        let holds =
            span.start <= offset && (offset < span.end || span.is_empty() && offset == span.start);
        if holds
            && best
                .as_ref()
                .is_none_or(|(inner, _)| span.len() <= inner.len())
        {
            *best = Some((span.clone(), child_path.clone()));
        }
        search(child.get_ref(), &child_path, offset, best);
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any TOML value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Node, E> {
        Ok(Node::Leaf)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Node, E> {
        Ok(Node::Leaf)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Node, E> {
        Ok(Node::Leaf)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Node, E> {
        Ok(Node::Leaf)
    }

    fn visit_str<E>(self, _: &str) -> Result<Node, E> {
        Ok(Node::Leaf)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            entries.push((key, map.next_value()?));
        }
        Ok(Node::Table(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::{path_at, table_of_key_at};

    const SOURCE: &str =
        "[a]\nx = 1\n\n[[b]]\ny = [1, { z = 2 }]\n\n[[b]]\nd = 'q'\n\n[b.c]\ne = 1\n";

    fn at(needle: &str) -> String {
        path_at(SOURCE, SOURCE.find(needle).expect("needle is in SOURCE"))
    }

    #[test]
    fn finds_keys_tables_and_array_entries() {
        assert_eq!(at("1\n\n"), "a.x");
        assert_eq!(at("[a]"), "a", "a header belongs to its table");
        assert_eq!(at("2 }"), "b[0].y[1].z");
        assert_eq!(at("'q'"), "b[1].d");
        assert_eq!(
            at("e = 1"),
            "b[1].c",
            "a sub-table outside its parent's span is still found"
        );
    }

    #[test]
    fn a_header_key_belongs_to_the_enclosing_table() {
        let key = |needle: &str| {
            table_of_key_at(SOURCE, SOURCE.find(needle).expect("needle is in SOURCE"))
        };
        assert_eq!(key("a]"), "", "[a] is a key of the top level");
        assert_eq!(key("b]]"), "", "[[b]] is a key of the top level");
        assert_eq!(key("c]"), "b[1]", "[b.c] is a key of the last b entry");
        assert_eq!(key("d = "), "b[1]");
    }

    #[test]
    fn broken_toml_gives_an_empty_path() {
        assert_eq!(path_at("[a\n", 1), "");
    }
}
