//! Keyboard shortcuts: one list, read by the key handler and the help overlay.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shortcut {
    TogglePause,
    OpenSource,
    FocusFilter,
    Help,
}

/// Key (as `KeyboardEvent.key`), what the help overlay calls it, and what it does.
pub const SHORTCUTS: [(&str, &str, Shortcut, &str); 4] = [
    (
        " ",
        "Space",
        Shortcut::TogglePause,
        "Pause or resume draining",
    ),
    ("s", "S", Shortcut::OpenSource, "Open the source dialog"),
    (
        "/",
        "/",
        Shortcut::FocusFilter,
        "Filter history and dead letters",
    ),
    ("?", "?", Shortcut::Help, "Show these shortcuts"),
];

/// Where the key was pressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    /// Nothing that takes keys.
    Page,
    /// A button, link or the like, which Space activates.
    Control,
    /// A field that takes typing, or an open dialog.
    TextEntry,
}

/// The shortcut a key press means. Keys with a modifier or typed into a
/// field are left alone, and so is Space on a control it activates.
pub fn shortcut_for(key: &str, modified: bool, focus: Focus) -> Option<Shortcut> {
    if modified || focus == Focus::TextEntry || (key == " " && focus == Focus::Control) {
        return None;
    }
    SHORTCUTS
        .iter()
        .find(|(k, ..)| k.eq_ignore_ascii_case(key))
        .map(|(_, _, shortcut, _)| *shortcut)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_shortcuts_only_where_they_type_nothing() {
        use Focus::*;
        assert_eq!(shortcut_for(" ", false, Page), Some(Shortcut::TogglePause));
        assert_eq!(shortcut_for("S", false, Page), Some(Shortcut::OpenSource));
        assert_eq!(shortcut_for("?", false, Control), Some(Shortcut::Help));
        assert_eq!(shortcut_for(" ", false, Control), None);
        assert_eq!(shortcut_for("s", false, TextEntry), None);
        assert_eq!(shortcut_for("s", true, Page), None);
        assert_eq!(shortcut_for("x", false, Page), None);
    }
}
