//! Pagination headers: `Range` in, `Content-Range` and the status out.
//! Reference: PostgREST docs, "Limits and Pagination" and "Exact Count".

use axum::http::StatusCode;

/// The window of rows a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub offset: u64,
    pub limit: Option<u64>,
}

/// Combines a `Range: a-b` header with `limit`/`offset` and the server's
/// maximum rows per reply (Supabase's default is 1000). `None` when the
/// window cannot be expressed: an offset past PostgreSQL's `bigint`
/// (answered 416, as PostgREST does for ranges it cannot satisfy).
pub fn window(
    range: Option<&str>,
    limit: Option<u64>,
    offset: Option<u64>,
    max_rows: u64,
) -> Option<Window> {
    let (mut start, mut end) = (0u64, None::<u64>);
    if let Some((a, b)) = range.and_then(|r| r.trim().split_once('-')) {
        if let Ok(a) = a.trim().parse() {
            start = a;
            end = b.trim().parse().ok().filter(|b: &u64| *b >= a);
        }
    }
    let offset = start
        .checked_add(offset.unwrap_or(0))
        .filter(|&o| o <= i64::MAX as u64)?;
    // `end >= start`, so this is at least 1 and overflows only at u64::MAX.
    let from_range = end.map(|end| (end - start).saturating_add(1));
    let limit = match (from_range, limit) {
        (Some(a), Some(b)) => a.min(b),
        (a, b) => a.or(b).unwrap_or(max_rows),
    };
    Some(Window {
        offset,
        limit: Some(limit.min(max_rows)),
    })
}

/// `Content-Range` and status for `returned` rows at `offset`, with the total
/// when it was counted.
pub fn content_range(offset: u64, returned: u64, total: Option<i64>) -> (StatusCode, String) {
    let total_text = total.map_or("*".to_string(), |t| t.to_string());
    let range = if returned == 0 {
        format!("*/{total_text}")
    } else {
        format!("{offset}-{}/{total_text}", offset + returned - 1)
    };
    let status = match total {
        Some(total) if returned < total as u64 => StatusCode::PARTIAL_CONTENT,
        _ => StatusCode::OK,
    };
    (status, range)
}

/// Whether `Prefer` asks for an exact count, and for the inserted rows back.
pub fn prefer(header: Option<&str>) -> (bool, bool) {
    let prefs: Vec<&str> = header
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .collect();
    (
        prefs.contains(&"count=exact"),
        prefs.contains(&"return=representation"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_header_and_limit_combine() {
        assert_eq!(
            window(None, None, None, 1000).unwrap(),
            Window {
                offset: 0,
                limit: Some(1000)
            }
        );
        assert_eq!(
            window(Some("0-9"), None, None, 1000).unwrap(),
            Window {
                offset: 0,
                limit: Some(10)
            }
        );
        assert_eq!(
            window(Some("10-"), Some(5), None, 1000).unwrap(),
            Window {
                offset: 10,
                limit: Some(5)
            }
        );
        assert_eq!(
            window(Some("0-99"), Some(5), Some(20), 1000).unwrap(),
            Window {
                offset: 20,
                limit: Some(5)
            }
        );
        assert_eq!(
            window(None, Some(5000), None, 1000).unwrap(),
            Window {
                offset: 0,
                limit: Some(1000)
            }
        );
        assert_eq!(
            window(Some("junk"), Some(3), None, 1000).unwrap(),
            Window {
                offset: 0,
                limit: Some(3)
            }
        );
    }

    #[test]
    fn ranges_at_the_edge_of_u64_are_refused_not_overflowed() {
        let max = u64::MAX;
        assert_eq!(
            window(Some(&format!("0-{max}")), None, None, 1000)
                .unwrap()
                .limit,
            Some(1000)
        );
        assert_eq!(
            window(Some(&format!("{max}-{max}")), None, None, 1000),
            None
        );
        assert_eq!(window(Some(&format!("{max}-")), None, None, 1000), None);
        assert_eq!(window(Some("5-"), None, Some(max), 1000), None);
        let edge = i64::MAX as u64;
        assert_eq!(
            window(Some(&format!("{edge}-")), None, None, 1000)
                .unwrap()
                .offset,
            edge
        );
    }

    #[test]
    fn content_range_follows_postgrest() {
        assert_eq!(content_range(0, 3, None), (StatusCode::OK, "0-2/*".into()));
        assert_eq!(content_range(0, 0, None), (StatusCode::OK, "*/*".into()));
        assert_eq!(content_range(0, 0, Some(0)), (StatusCode::OK, "*/0".into()));
        assert_eq!(
            content_range(0, 3, Some(3)),
            (StatusCode::OK, "0-2/3".into())
        );
        assert_eq!(
            content_range(5, 3, Some(50)),
            (StatusCode::PARTIAL_CONTENT, "5-7/50".into())
        );
    }

    #[test]
    fn prefer_header() {
        assert_eq!(prefer(Some("count=exact")), (true, false));
        assert_eq!(
            prefer(Some("return=representation, count=exact")),
            (true, true)
        );
        assert_eq!(prefer(None), (false, false));
    }
}
