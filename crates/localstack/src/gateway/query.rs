//! PostgREST's URL grammar, parsed into a plain tree: `select`, `order`,
//! `limit`/`offset`, column filters and nested `or=(...)`/`and=(...)`.
//! Nothing here touches SQL; see `sql.rs` for that.
//!
//! Reference: PostgREST docs, "Tables and Views" → "Horizontal Filtering",
//! "Logical operators", "Reserved characters", "Ordering", "Limits and Pagination".

use thiserror::Error;

/// A malformed request: PostgREST answers these with 400 and code PGRST100.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{message}")]
pub struct ParseError {
    pub message: String,
    pub details: String,
}

fn parse_error(message: impl Into<String>, details: impl Into<String>) -> ParseError {
    ParseError {
        message: message.into(),
        details: details.into(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Neq,
    Gt,
    Gte,
    Lt,
    Lte,
    Like,
    Ilike,
    In,
    Is,
    /// Full-text search: `fts`, `plfts`, `phfts`, `wfts` (no language option).
    Fts(TsQuery),
}

/// Which PostgreSQL function turns the search text into a `tsquery`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TsQuery {
    Plain,
    PlainWords,
    Phrase,
    Web,
}

impl TsQuery {
    pub fn function(self) -> &'static str {
        match self {
            Self::Plain => "to_tsquery",
            Self::PlainWords => "plainto_tsquery",
            Self::Phrase => "phraseto_tsquery",
            Self::Web => "websearch_to_tsquery",
        }
    }
}

impl Op {
    fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "eq" => Self::Eq,
            "neq" => Self::Neq,
            "gt" => Self::Gt,
            "gte" => Self::Gte,
            "lt" => Self::Lt,
            "lte" => Self::Lte,
            "like" => Self::Like,
            "ilike" => Self::Ilike,
            "in" => Self::In,
            "is" => Self::Is,
            "fts" => Self::Fts(TsQuery::Plain),
            "plfts" => Self::Fts(TsQuery::PlainWords),
            "phfts" => Self::Fts(TsQuery::Phrase),
            "wfts" => Self::Fts(TsQuery::Web),
            _ => return None,
        })
    }
}

/// The right-hand side of `is.`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsValue {
    Null,
    True,
    False,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operand {
    Value(String),
    List(Vec<String>),
    Is(IsValue),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logic {
    And,
    Or,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    Filter {
        column: String,
        negated: bool,
        op: Op,
        operand: Operand,
    },
    Group {
        logic: Logic,
        negated: bool,
        children: Vec<Condition>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderTerm {
    pub column: String,
    pub descending: bool,
    /// `None` keeps PostgreSQL's default for the direction.
    pub nulls_first: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectItem {
    All,
    Column { name: String, alias: Option<String> },
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReadQuery {
    pub select: Vec<SelectItem>,
    pub order: Vec<OrderTerm>,
    pub limit: Option<u64>,
    pub offset: Option<u64>,
    /// Every condition must hold (query parameters are ANDed).
    pub conditions: Vec<Condition>,
}

/// Parses the decoded query-string pairs of a GET.
pub fn parse_read(pairs: &[(String, String)]) -> Result<ReadQuery, ParseError> {
    let mut query = ReadQuery {
        select: vec![SelectItem::All],
        ..ReadQuery::default()
    };
    for (key, value) in pairs {
        match key.as_str() {
            "select" => query.select = parse_select(value)?,
            "order" => query.order = parse_order(value)?,
            "limit" => query.limit = Some(parse_count("limit", value)?),
            "offset" => query.offset = Some(parse_count("offset", value)?),
            // Kong accepts the key as a query parameter; it is not a filter.
            "apikey" | "columns" | "on_conflict" => {}
            "or" | "and" | "not.or" | "not.and" => {
                let negated = key.starts_with("not.");
                let logic = if key.ends_with("or") {
                    Logic::Or
                } else {
                    Logic::And
                };
                let mut cursor = Cursor::new(value);
                let children = cursor.group_body()?;
                cursor.expect_end()?;
                query.conditions.push(Condition::Group {
                    logic,
                    negated,
                    children,
                });
            }
            column => query.conditions.push(parse_column_filter(column, value)?),
        }
    }
    Ok(query)
}

fn parse_count(name: &str, value: &str) -> Result<u64, ParseError> {
    value.parse().map_err(|_| {
        parse_error(
            format!("\"failed to parse {name} parameter ({value})\""),
            "expecting a non-negative integer",
        )
    })
}

fn valid_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.chars().all(|c| c.is_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

fn identifier<'a>(name: &'a str, context: &str) -> Result<&'a str, ParseError> {
    if valid_identifier(name) {
        Ok(name)
    } else {
        Err(parse_error(
            format!("\"failed to parse {context} ({name})\""),
            format!("unexpected {name:?} expecting a column name"),
        ))
    }
}

fn parse_select(value: &str) -> Result<Vec<SelectItem>, ParseError> {
    value
        .split(',')
        .map(|item| {
            let item = item.trim();
            if item == "*" {
                return Ok(SelectItem::All);
            }
            let (alias, name) = match item.split_once(':') {
                Some((alias, name)) => (Some(identifier(alias, "select")?.to_string()), name),
                None => (None, item),
            };
            Ok(SelectItem::Column {
                name: identifier(name, "select")?.to_string(),
                alias,
            })
        })
        .collect()
}

fn parse_order(value: &str) -> Result<Vec<OrderTerm>, ParseError> {
    value
        .split(',')
        .map(|term| {
            let mut parts = term.split('.');
            let column = identifier(parts.next().unwrap_or_default(), "order")?.to_string();
            let mut order = OrderTerm {
                column,
                descending: false,
                nulls_first: None,
            };
            for modifier in parts {
                match modifier {
                    "asc" => order.descending = false,
                    "desc" => order.descending = true,
                    "nullsfirst" => order.nulls_first = Some(true),
                    "nullslast" => order.nulls_first = Some(false),
                    other => {
                        return Err(parse_error(
                            format!("\"failed to parse order ({value})\""),
                            format!("unexpected {other:?} expecting \"asc\", \"desc\", \"nullsfirst\" or \"nullslast\""),
                        ))
                    }
                }
            }
            Ok(order)
        })
        .collect()
}

/// `column=[not.]op.value`: at the top level the value is taken whole.
fn parse_column_filter(column: &str, value: &str) -> Result<Condition, ParseError> {
    let column = identifier(column, "filter")?;
    let (negated, rest) = match value.strip_prefix("not.") {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let (op_name, raw) = rest.split_once('.').ok_or_else(|| filter_error(value))?;
    let op = Op::parse(op_name).ok_or_else(|| filter_error(value))?;
    let operand = match op {
        Op::In => {
            let mut cursor = Cursor::new(raw);
            let list = cursor.list()?;
            cursor.expect_end()?;
            Operand::List(list)
        }
        Op::Is => Operand::Is(parse_is(raw).ok_or_else(|| filter_error(value))?),
        _ => Operand::Value(raw.to_string()),
    };
    Ok(Condition::Filter {
        column: column.to_string(),
        negated,
        op,
        operand,
    })
}

fn parse_is(raw: &str) -> Option<IsValue> {
    Some(match raw.to_ascii_lowercase().as_str() {
        "null" => IsValue::Null,
        "true" => IsValue::True,
        "false" => IsValue::False,
        "unknown" => IsValue::Unknown,
        _ => return None,
    })
}

fn filter_error(filter: &str) -> ParseError {
    parse_error(
        format!("\"failed to parse filter ({filter})\""),
        "expecting an operator such as eq, gt, in or is, then a value",
    )
}

/// Logic trees nested deeper than this are refused: the reader recurses,
/// and one request must not be able to overflow the server's stack.
const MAX_NESTING: usize = 64;

/// A recursive-descent reader for the grammar inside `or=(...)`.
struct Cursor<'a> {
    text: &'a str,
    at: usize,
    depth: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Self {
        Self {
            text,
            at: 0,
            depth: 0,
        }
    }

    fn peek(&self) -> Option<char> {
        self.text[self.at..].chars().next()
    }

    fn error(&self, expecting: &str) -> ParseError {
        let found = self
            .peek()
            .map_or("end of input".to_string(), |c| format!("{c:?}"));
        parse_error(
            format!(
                "\"failed to parse logic tree ({})\" (column {})",
                self.text,
                self.at + 1
            ),
            format!("unexpected {found} expecting {expecting}"),
        )
    }

    fn eat(&mut self, expected: char) -> Result<(), ParseError> {
        if self.peek() == Some(expected) {
            self.at += expected.len_utf8();
            Ok(())
        } else {
            Err(self.error(&format!("{expected:?}")))
        }
    }

    fn expect_end(&self) -> Result<(), ParseError> {
        if self.at == self.text.len() {
            Ok(())
        } else {
            Err(self.error("end of input"))
        }
    }

    /// `(cond,cond,...)`
    fn group_body(&mut self) -> Result<Vec<Condition>, ParseError> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(parse_error(
                format!("\"failed to parse logic tree\" (nested deeper than {MAX_NESTING})"),
                "unnest the and(...)/or(...) groups",
            ));
        }
        self.eat('(')?;
        let mut children = vec![self.condition()?];
        while self.peek() == Some(',') {
            self.at += 1;
            children.push(self.condition()?);
        }
        self.eat(')')?;
        self.depth -= 1;
        Ok(children)
    }

    /// Reads up to the next `.`, `(`, `,` or `)`.
    fn word(&mut self) -> &'a str {
        let start = self.at;
        while let Some(c) = self.peek() {
            if matches!(c, '.' | '(' | ',' | ')') {
                break;
            }
            self.at += c.len_utf8();
        }
        &self.text[start..self.at]
    }

    fn condition(&mut self) -> Result<Condition, ParseError> {
        let mut negated = false;
        let mut first = self.word();
        if first == "not" && self.peek() == Some('.') {
            self.at += 1;
            negated = true;
            first = self.word();
        }
        if matches!(first, "and" | "or") && self.peek() == Some('(') {
            let logic = if first == "or" { Logic::Or } else { Logic::And };
            let children = self.group_body()?;
            return Ok(Condition::Group {
                logic,
                negated,
                children,
            });
        }
        if negated {
            return Err(self.error("\"and(\" or \"or(\" after \"not.\""));
        }
        let column = identifier(first, "logic tree")?.to_string();
        self.eat('.')?;
        let mut op_name = self.word();
        let mut negated = false;
        if op_name == "not" {
            self.eat('.')?;
            negated = true;
            op_name = self.word();
        }
        let op = Op::parse(op_name).ok_or_else(|| self.error("an operator"))?;
        self.eat('.')?;
        let operand = match op {
            Op::In => Operand::List(self.list()?),
            Op::Is => {
                let raw = self.value()?;
                Operand::Is(
                    parse_is(&raw).ok_or_else(|| self.error("null, true, false or unknown"))?,
                )
            }
            _ => Operand::Value(self.value()?),
        };
        Ok(Condition::Filter {
            column,
            negated,
            op,
            operand,
        })
    }

    /// `(v1,"v,2",...)`
    fn list(&mut self) -> Result<Vec<String>, ParseError> {
        self.eat('(')?;
        let mut items = Vec::new();
        if self.peek() == Some(')') {
            self.at += 1;
            return Ok(items);
        }
        loop {
            items.push(self.value()?);
            match self.peek() {
                Some(',') => self.at += 1,
                Some(')') => {
                    self.at += 1;
                    return Ok(items);
                }
                _ => return Err(self.error("\",\" or \")\"")),
            }
        }
    }

    /// A value ends at `,` or `)` unless it is wrapped in double quotes,
    /// inside which `\"` and `\\` are escapes.
    fn value(&mut self) -> Result<String, ParseError> {
        if self.peek() == Some('"') {
            self.at += 1;
            let mut out = String::new();
            loop {
                match self.peek() {
                    None => return Err(self.error("a closing '\"'")),
                    Some('"') => {
                        self.at += 1;
                        return Ok(out);
                    }
                    Some('\\') => {
                        self.at += 1;
                        let escaped = self
                            .peek()
                            .ok_or_else(|| self.error("an escaped character"))?;
                        out.push(escaped);
                        self.at += escaped.len_utf8();
                    }
                    Some(c) => {
                        out.push(c);
                        self.at += c.len_utf8();
                    }
                }
            }
        }
        let start = self.at;
        while let Some(c) = self.peek() {
            if matches!(c, ',' | ')') {
                break;
            }
            self.at += c.len_utf8();
        }
        Ok(self.text[start..self.at].to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn filter(column: &str, op: Op, value: &str) -> Condition {
        Condition::Filter {
            column: column.into(),
            negated: false,
            op,
            operand: Operand::Value(value.into()),
        }
    }

    #[test]
    fn logic_trees_nested_too_deep_are_refused_not_recursed_into() {
        let nested = |depth: usize| {
            format!(
                "({}id.eq.1{})",
                "and(".repeat(depth - 1),
                ")".repeat(depth - 1)
            )
        };
        assert!(parse_read(&pairs(&[("or", &nested(MAX_NESTING))])).is_ok());
        let error = parse_read(&pairs(&[("or", &nested(100_000))])).unwrap_err();
        assert!(
            format!("{error:?}").contains("nested deeper than"),
            "{error:?}"
        );
    }

    #[test]
    fn the_keyset_query_parses_with_quoted_timestamps() {
        let q = parse_read(&pairs(&[
            ("select", "*"),
            ("order", "created_at.asc,id.asc"),
            ("limit", "100"),
            (
                "or",
                r#"(created_at.gt."2024-05-01 10:00:00.123456+00:00",and(created_at.eq."2024-05-01 10:00:00.123456+00:00",id.gt.41))"#,
            ),
        ]))
        .unwrap();
        assert_eq!(q.limit, Some(100));
        assert_eq!(q.order.len(), 2);
        let ts = "2024-05-01 10:00:00.123456+00:00";
        assert_eq!(
            q.conditions,
            vec![Condition::Group {
                logic: Logic::Or,
                negated: false,
                children: vec![
                    filter("created_at", Op::Gt, ts),
                    Condition::Group {
                        logic: Logic::And,
                        negated: false,
                        children: vec![
                            filter("created_at", Op::Eq, ts),
                            filter("id", Op::Gt, "41")
                        ],
                    },
                ],
            }]
        );
    }

    #[test]
    fn quoted_values_keep_reserved_characters_and_escapes() {
        let q = parse_read(&pairs(&[(
            "or",
            r#"(type.eq."a,b)c",type.eq."say \"hi\" \\o/")"#,
        )]))
        .unwrap();
        let Condition::Group { children, .. } = &q.conditions[0] else {
            panic!()
        };
        assert_eq!(children[0], filter("type", Op::Eq, "a,b)c"));
        assert_eq!(children[1], filter("type", Op::Eq, r#"say "hi" \o/"#));
    }

    #[test]
    fn top_level_values_are_taken_whole() {
        let q = parse_read(&pairs(&[("type", "eq.a,b(c)")])).unwrap();
        assert_eq!(q.conditions, vec![filter("type", Op::Eq, "a,b(c)")]);
    }

    #[test]
    fn in_lists_is_and_negation() {
        let q = parse_read(&pairs(&[
            ("id", r#"in.(1,"2,3",4)"#),
            ("metadata", "is.null"),
            ("type", "not.eq.x"),
        ]))
        .unwrap();
        assert_eq!(
            q.conditions[0],
            Condition::Filter {
                column: "id".into(),
                negated: false,
                op: Op::In,
                operand: Operand::List(vec!["1".into(), "2,3".into(), "4".into()]),
            }
        );
        assert!(matches!(
            q.conditions[1],
            Condition::Filter {
                operand: Operand::Is(IsValue::Null),
                ..
            }
        ));
        assert!(matches!(
            q.conditions[2],
            Condition::Filter {
                negated: true,
                op: Op::Eq,
                ..
            }
        ));
    }

    #[test]
    fn order_modifiers() {
        let q = parse_read(&pairs(&[("order", "a.desc.nullslast,b,c.nullsfirst")])).unwrap();
        assert_eq!(
            q.order,
            vec![
                OrderTerm {
                    column: "a".into(),
                    descending: true,
                    nulls_first: Some(false)
                },
                OrderTerm {
                    column: "b".into(),
                    descending: false,
                    nulls_first: None
                },
                OrderTerm {
                    column: "c".into(),
                    descending: false,
                    nulls_first: Some(true)
                },
            ]
        );
    }

    #[test]
    fn select_with_aliases() {
        let q = parse_read(&pairs(&[("select", "id,when:created_at")])).unwrap();
        assert_eq!(
            q.select,
            vec![
                SelectItem::Column {
                    name: "id".into(),
                    alias: None
                },
                SelectItem::Column {
                    name: "created_at".into(),
                    alias: Some("when".into())
                },
            ]
        );
    }

    #[test]
    fn malformed_requests_are_refused() {
        for (key, value) in [
            ("or", "(created_at.gt.1"),
            ("or", "created_at.gt.1)"),
            ("or", "(created_at.zz.1)"),
            ("or", r#"(type.eq."unterminated)"#),
            ("id", "gt"),
            ("id", "between.1"),
            ("id", "is.maybe"),
            ("order", "id.sideways"),
            ("limit", "-1"),
            ("select", "id;drop table events"),
            ("id\"; drop table x; --", "eq.1"),
        ] {
            assert!(
                parse_read(&pairs(&[(key, value)])).is_err(),
                "{key}={value}"
            );
        }
    }
}
