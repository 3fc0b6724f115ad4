//! Turns a parsed request into SQL. Identifiers are checked against the
//! table's columns from the catalogue and then quoted; every value travels as
//! a bind parameter (text, cast to the column's type by PostgreSQL), so a URL
//! can never inject SQL.

use super::query::{Condition, IsValue, Logic, Op, Operand, OrderTerm, ReadQuery, SelectItem};

/// A table as the catalogue describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Table {
    pub name: String,
    /// (column name, type as `format_type` prints it), in table order.
    pub columns: Vec<(String, String)>,
}

impl Table {
    fn column_type(&self, name: &str) -> Result<&str, UnknownColumn> {
        self.columns
            .iter()
            .find(|(column, _)| column == name)
            .map(|(_, ty)| ty.as_str())
            .ok_or_else(|| UnknownColumn {
                table: self.name.clone(),
                column: name.to_string(),
            })
    }
}

/// PostgREST answers this with 400 and code 42703.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownColumn {
    pub table: String,
    pub column: String,
}

/// A statement and its text parameters, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    pub sql: String,
    pub params: Vec<String>,
}

pub fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

struct Builder<'a> {
    table: &'a Table,
    params: Vec<String>,
}

impl Builder<'_> {
    fn bind(&mut self, value: String) -> String {
        self.params.push(value);
        format!("${}", self.params.len())
    }

    fn condition(&mut self, condition: &Condition) -> Result<String, UnknownColumn> {
        match condition {
            Condition::Group {
                logic,
                negated,
                children,
            } => {
                let joiner = match logic {
                    Logic::And => " AND ",
                    Logic::Or => " OR ",
                };
                let parts = children
                    .iter()
                    .map(|child| self.condition(child))
                    .collect::<Result<Vec<_>, _>>()?;
                let group = format!("({})", parts.join(joiner));
                Ok(if *negated {
                    format!("NOT {group}")
                } else {
                    group
                })
            }
            Condition::Filter {
                column,
                negated,
                op,
                operand,
            } => {
                let ty = self.table.column_type(column)?.to_string();
                let col = quote(column);
                let sql = match (op, operand) {
                    (Op::Is, Operand::Is(value)) => {
                        let what = match value {
                            IsValue::Null => "NULL",
                            IsValue::True => "TRUE",
                            IsValue::False => "FALSE",
                            IsValue::Unknown => "UNKNOWN",
                        };
                        format!("{col} IS {what}")
                    }
                    (Op::In, Operand::List(items)) => {
                        let param = self.bind(array_literal(items));
                        format!("{col} = ANY({param}::text::{ty}[])")
                    }
                    (Op::Like | Op::Ilike, Operand::Value(pattern)) => {
                        let param = self.bind(pattern.replace('*', "%"));
                        let verb = if *op == Op::Like { "LIKE" } else { "ILIKE" };
                        format!("{col}::text {verb} {param}")
                    }
                    // PostgREST 13 applies to_tsvector to text and json columns.
                    (Op::Fts(query), Operand::Value(text)) => {
                        let param = self.bind(text.clone());
                        let document = if ty == "tsvector" {
                            col.clone()
                        } else {
                            format!("to_tsvector({col})")
                        };
                        format!("{document} @@ {}({param})", query.function())
                    }
                    (_, Operand::Value(value)) => {
                        let param = self.bind(value.clone());
                        let symbol = match op {
                            Op::Eq => "=",
                            Op::Neq => "<>",
                            Op::Gt => ">",
                            Op::Gte => ">=",
                            Op::Lt => "<",
                            _ => "<=",
                        };
                        format!("{col} {symbol} {param}::text::{ty}")
                    }
                    // The parser only pairs `in` with lists and `is` with IsValue.
                    _ => "FALSE".to_string(),
                };
                Ok(if *negated {
                    format!("NOT ({sql})")
                } else {
                    sql
                })
            }
        }
    }

    fn where_clause(&mut self, conditions: &[Condition]) -> Result<String, UnknownColumn> {
        if conditions.is_empty() {
            return Ok(String::new());
        }
        let parts = conditions
            .iter()
            .map(|c| self.condition(c))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(format!(" WHERE {}", parts.join(" AND ")))
    }
}

/// `{"a","b,c"}`: a PostgreSQL array literal, quoted so any value is safe.
fn array_literal(items: &[String]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|item| format!("\"{}\"", item.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    format!("{{{}}}", quoted.join(","))
}

fn order_clause(table: &Table, order: &[OrderTerm]) -> Result<String, UnknownColumn> {
    if order.is_empty() {
        return Ok(String::new());
    }
    let terms = order
        .iter()
        .map(|term| {
            table.column_type(&term.column)?;
            let direction = if term.descending { "DESC" } else { "ASC" };
            let nulls = match term.nulls_first {
                Some(true) => " NULLS FIRST",
                Some(false) => " NULLS LAST",
                None => "",
            };
            Ok(format!("{} {direction}{nulls}", quote(&term.column)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(format!(" ORDER BY {}", terms.join(", ")))
}

fn select_list(table: &Table, select: &[SelectItem]) -> Result<String, UnknownColumn> {
    let items = select
        .iter()
        .map(|item| match item {
            SelectItem::All => Ok("*".to_string()),
            SelectItem::Column { name, alias } => {
                table.column_type(name)?;
                Ok(match alias {
                    Some(alias) => format!("{} AS {}", quote(name), quote(alias)),
                    None => quote(name),
                })
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(items.join(", "))
}

/// The rows as one JSON array (PostgreSQL does the JSON, as in PostgREST),
/// and, when asked for, the count of all rows matching the filters.
pub fn read(
    table: &Table,
    query: &ReadQuery,
    limit: Option<u64>,
    offset: u64,
) -> Result<(Statement, Statement), UnknownColumn> {
    let mut builder = Builder {
        table,
        params: Vec::new(),
    };
    let filter = builder.where_clause(&query.conditions)?;
    let params = builder.params;
    let from = format!("FROM public.{}{filter}", quote(&table.name));
    let limit = limit.map_or(String::new(), |n| format!(" LIMIT {n}"));
    let rows = Statement {
        sql: format!(
            "SELECT coalesce(json_agg(_row), '[]')::text FROM (SELECT {} {from}{}{limit} OFFSET {offset}) _row",
            select_list(table, &query.select)?,
            order_clause(table, &query.order)?,
        ),
        params: params.clone(),
    };
    let count = Statement {
        sql: format!("SELECT count(*) {from}"),
        params,
    };
    Ok((rows, count))
}

/// The columns an insert names: every key of every row, in the order they
/// first appear (one set lookup a key, so a row with millions of keys
/// costs millions of steps, not their square). `None` when a row is not a
/// JSON object.
pub fn insert_columns(rows: &[serde_json::Value]) -> Option<Vec<String>> {
    let mut columns = indexmap::IndexSet::new();
    for row in rows {
        columns.extend(row.as_object()?.keys().map(String::as_str));
    }
    Some(columns.into_iter().map(str::to_string).collect())
}

/// Inserts a JSON array of objects; `columns` are the keys they use.
pub fn insert(table: &Table, columns: &[String]) -> Result<Statement, UnknownColumn> {
    let typed = columns
        .iter()
        .map(|c| Ok(format!("{} {}", quote(c), table.column_type(c)?)))
        .collect::<Result<Vec<_>, UnknownColumn>>()?;
    let names: Vec<String> = columns.iter().map(|c| quote(c)).collect();
    let names = names.join(", ");
    Ok(Statement {
        sql: format!(
            "WITH inserted AS (INSERT INTO public.{table} ({names}) SELECT {names} FROM json_to_recordset($1::text::json) AS _in({typed}) RETURNING *) \
             SELECT coalesce(json_agg(inserted), '[]')::text FROM inserted",
            table = quote(&table.name),
            typed = typed.join(", "),
        ),
        params: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::super::query::parse_read;
    use super::*;

    fn events() -> Table {
        Table {
            name: "events".into(),
            columns: vec![
                ("id".into(), "uuid".into()),
                ("occurred_at".into(), "timestamp with time zone".into()),
                ("type".into(), "text".into()),
            ],
        }
    }

    fn parse(list: &[(&str, &str)]) -> ReadQuery {
        let pairs: Vec<(String, String)> = list
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        parse_read(&pairs).unwrap()
    }

    #[test]
    fn keyset_query_binds_every_value() {
        let q = parse(&[
            ("order", "occurred_at.asc,id.asc"),
            (
                "or",
                r#"(occurred_at.gt."2024-01-01 00:00:00+00",and(occurred_at.eq."2024-01-01 00:00:00+00",id.gt.x))"#,
            ),
        ]);
        let (rows, count) = read(&events(), &q, Some(10), 0).unwrap();
        assert!(rows.sql.contains(
            r#"WHERE ("occurred_at" > $1::text::timestamp with time zone OR ("occurred_at" = $2::text::timestamp with time zone AND "id" > $3::text::uuid))"#
        ), "{}", rows.sql);
        assert!(rows
            .sql
            .contains(r#"ORDER BY "occurred_at" ASC, "id" ASC LIMIT 10 OFFSET 0"#));
        assert_eq!(
            rows.params,
            vec!["2024-01-01 00:00:00+00", "2024-01-01 00:00:00+00", "x"]
        );
        assert_eq!(count.params, rows.params);
        assert!(count
            .sql
            .starts_with("SELECT count(*) FROM public.\"events\" WHERE"));
    }

    #[test]
    fn hostile_values_stay_in_parameters() {
        let q = parse(&[
            ("type", "eq.'; drop table events; --"),
            ("id", r#"in.("a\"},{b",c)"#),
        ]);
        let (rows, _) = read(&events(), &q, None, 0).unwrap();
        assert!(!rows.sql.contains("drop"));
        assert_eq!(rows.params[0], "'; drop table events; --");
        assert_eq!(rows.params[1], r#"{"a\"},{b","c"}"#);
    }

    #[test]
    fn unknown_columns_are_named() {
        for q in [
            parse(&[("nope", "eq.1")]),
            parse(&[("order", "nope.asc")]),
            parse(&[("select", "id,nope")]),
            parse(&[("or", "(type.eq.a,nope.eq.b)")]),
        ] {
            assert_eq!(
                read(&events(), &q, None, 0).unwrap_err(),
                UnknownColumn {
                    table: "events".into(),
                    column: "nope".into()
                }
            );
        }
    }

    #[test]
    fn like_uses_stars_as_wildcards_and_is_needs_no_parameter() {
        let q = parse(&[("type", "ilike.*order*"), ("occurred_at", "not.is.null")]);
        let (rows, _) = read(&events(), &q, None, 0).unwrap();
        assert!(rows.sql.contains(r#""type"::text ILIKE $1"#));
        assert!(rows.sql.contains(r#"NOT ("occurred_at" IS NULL)"#));
        assert_eq!(rows.params, vec!["%order%"]);
    }

    #[test]
    fn insert_columns_are_every_key_once_in_first_seen_order() {
        let rows = [
            serde_json::json!({"type": "a", "occurred_at": "t"}),
            serde_json::json!({"type": "b", "id": "x"}),
            serde_json::json!({}),
        ];
        assert_eq!(
            insert_columns(&rows).unwrap(),
            vec!["occurred_at", "type", "id"]
        );
        assert_eq!(
            insert_columns(&[serde_json::json!({"a": 1}), serde_json::json!([1])]),
            None
        );
    }

    #[test]
    fn insert_columns_stay_linear_in_the_number_of_keys() {
        let wide: serde_json::Map<String, serde_json::Value> = (0..200_000)
            .map(|i| (format!("k{i:06}"), serde_json::Value::Null))
            .collect();
        let rows = [
            serde_json::Value::Object(wide.clone()),
            serde_json::Value::Object(wide),
        ];
        let started = std::time::Instant::now();
        let columns = insert_columns(&rows).unwrap();
        assert_eq!(columns.len(), 200_000);
        assert_eq!(columns[0], "k000000");
        assert_eq!(columns[199_999], "k199999");
        // Quadratic collection would take minutes (2·10¹⁰ comparisons).
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }

    #[test]
    fn inserts_name_and_type_each_column() {
        let st = insert(&events(), &["type".into(), "occurred_at".into()]).unwrap();
        assert!(st
            .sql
            .contains(r#"AS _in("type" text, "occurred_at" timestamp with time zone)"#));
        assert!(insert(&events(), &["nope".into()]).is_err());
    }
}
