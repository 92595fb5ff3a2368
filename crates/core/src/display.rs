//! What a person sees of another participant: a name and a colour. Names come from peers and
//! are sanitised in this one place before any view shows them; colours never come from the
//! wire at all — they are picked from a fixed palette by participant id.

/// Longest name shown, in characters.
pub const MAX_NAME_CHARS: usize = 40;

/// What is shown for someone whose name is missing or empty after sanitising.
pub const UNNAMED: &str = "Someone";

/// A peer-supplied name made safe to show: control and formatting characters (including the
/// bidirectional overrides that can reverse how the rest of a line reads, and zero-width
/// characters) removed, runs of whitespace collapsed to one space, trimmed, and cut to
/// [`MAX_NAME_CHARS`] characters.
pub fn display_name(raw: Option<&str>) -> String {
    let Some(raw) = raw else {
        return UNNAMED.to_owned();
    };
    let mut out = String::new();
    let mut count = 0;
    let mut pending_space = false;
    // Look at a bounded prefix only: a megabyte of whitespace costs nothing.
    for c in raw.chars().take(MAX_NAME_CHARS * 8) {
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            continue;
        }
        if c.is_control() || is_format(c) {
            continue;
        }
        if pending_space {
            if count + 1 >= MAX_NAME_CHARS {
                break;
            }
            out.push(' ');
            count += 1;
            pending_space = false;
        }
        if count >= MAX_NAME_CHARS {
            break;
        }
        out.push(c);
        count += 1;
    }
    if out.is_empty() {
        UNNAMED.to_owned()
    } else {
        out
    }
}

/// What a person typed as their name, sanitised; `None` when nothing showable is left (the
/// person wants no name of their own).
pub fn chosen_name(typed: &str) -> Option<String> {
    let name = display_name(Some(typed));
    (name != UNNAMED || typed.trim() == UNNAMED).then_some(name)
}

/// Unicode format characters (general category Cf) that matter for display spoofing.
fn is_format(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}' | '\u{E0000}'..='\u{E007F}')
}

/// `x` with `decimals` digits after the point (at most 9), rounded half away from zero; "–" for
/// a value that is not finite. For figures shown to people and in diagnostics attributes: it
/// keeps `core::fmt`'s float formatting (and its tables) out of the app's wasm.
pub fn fixed(x: f64, decimals: u32) -> String {
    if !x.is_finite() {
        return "–".to_owned();
    }
    let decimals = decimals.min(9);
    let scale = 10u64.pow(decimals);
    let scaled = (x.abs() * scale as f64).round();
    if scaled >= u64::MAX as f64 / 2.0 {
        // Beyond 2^63 units of the last digit: no figure of ours gets here.
        return "–".to_owned();
    }
    let units = scaled as u64;
    let mut out = String::new();
    if x.is_sign_negative() && units != 0 {
        out.push('-');
    }
    out.push_str(&(units / scale).to_string());
    if decimals > 0 {
        let frac = (units % scale).to_string();
        out.push('.');
        for _ in frac.len()..decimals as usize {
            out.push('0');
        }
        out.push_str(&frac);
    }
    out
}

/// Colours for remote cursors and name chips: distinct, legible on light and dark.
pub const PALETTE: [&str; 8] = [
    "#e11d48", "#2563eb", "#16a34a", "#d97706", "#7c3aed", "#0891b2", "#db2777", "#65a30d",
];

/// The palette colour of a participant (stable for its id; ids are new for every join).
pub fn colour_for(id: &str) -> &'static str {
    let h = id
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    PALETTE[(h % PALETTE.len() as u32) as usize]
}

/// Four letters or digits of `id`, upper-cased (ASCII only: `str::to_uppercase` would link
/// Unicode's case tables, ~16 KB): a short tag to tell people apart (`Viewer 3F2A`).
pub fn short_tag(id: &str) -> String {
    tag(id, 4)
}

/// The first `len` letters or digits of `id`, upper-cased.
fn tag(id: &str, len: usize) -> String {
    id.chars()
        .filter(char::is_ascii_alphanumeric)
        .take(len)
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Names that tell people apart: each `(key, name)` as its name, or, where two share one, the
/// name and a tag of eight letters or digits of `key` (`Sam · 3F2AK9QX`; four, as default
/// names have, a participant making keys could match in seconds). Pass the key a
/// participant's metas are verified under, not its presence key: its id (derived from that key
/// and a join epoch and salt the participant picks) can be ground for a prefix like someone else's.
/// Names are compared as shown, so a look-alike (another script's
/// letters) gets no tag.
pub fn distinct_names(people: &[(String, String)]) -> Vec<String> {
    people
        .iter()
        .map(|(id, name)| {
            if people.iter().filter(|(_, n)| n == name).count() < 2 {
                return name.clone();
            }
            format!("{name} · {}", tag(id, 8))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_names_get_a_tag_of_their_id() {
        let people = [("a-b1cd2_e9fgh", "Sam"), ("zz9y", "Sam"), ("q", "Ana")]
            .map(|(id, name)| (id.to_owned(), name.to_owned()));
        assert_eq!(
            distinct_names(&people),
            ["Sam · AB1CD2E9", "Sam · ZZ9Y", "Ana"]
        );
        assert!(distinct_names(&[]).is_empty());
    }

    #[test]
    fn fixed_point_figures() {
        assert_eq!(fixed(0.0, 0), "0");
        assert_eq!(fixed(29.96, 0), "30");
        assert_eq!(fixed(2.5, 1), "2.5");
        assert_eq!(fixed(0.05, 1), "0.1");
        assert_eq!(fixed(1234.0004, 3), "1234.000");
        assert_eq!(fixed(-0.25, 2), "-0.25");
        assert_eq!(fixed(-0.0001, 2), "0.00");
        assert_eq!(fixed(12.5, 4), "12.5000");
        assert_eq!(fixed(1_733_200_000_123.456, 3), "1733200000123.456");
        assert_eq!(fixed(f64::NAN, 1), "–");
        assert_eq!(fixed(f64::INFINITY, 0), "–");
        assert_eq!(fixed(1e300, 2), "–");
    }
    use proptest::prelude::*;

    #[test]
    fn names_are_cleaned_and_capped() {
        assert_eq!(display_name(Some("  Ada   Lovelace \n")), "Ada Lovelace");
        assert_eq!(display_name(Some("evil\u{202E}gnp.exe")), "evilgnp.exe");
        assert_eq!(display_name(Some("a\u{0}b\u{7}c\u{200B}d")), "abcd");
        assert_eq!(display_name(Some("\u{202E}\u{200B} \t")), UNNAMED);
        assert_eq!(display_name(None), UNNAMED);
        assert_eq!(
            display_name(Some(&"x".repeat(100))).chars().count(),
            MAX_NAME_CHARS
        );
        assert_eq!(display_name(Some("Zoë 🦀")), "Zoë 🦀");
        // Markup is text: the view escapes it; nothing here interprets it.
        assert_eq!(display_name(Some("<b>hi</b>")), "<b>hi</b>");
    }

    #[test]
    fn a_chosen_name_is_none_when_blank() {
        assert_eq!(chosen_name("  Ada "), Some("Ada".into()));
        assert_eq!(chosen_name(" \t"), None);
        assert_eq!(chosen_name("\u{202E}"), None);
        assert_eq!(chosen_name("Someone"), Some("Someone".into()));
    }

    #[test]
    fn colours_come_from_the_palette() {
        for id in ["a", "b", "AAECAwQFBgcICQoLDA0ODw", ""] {
            assert!(PALETTE.contains(&colour_for(id)));
        }
        assert_eq!(colour_for("x"), colour_for("x"));
    }

    proptest! {
        #[test]
        fn any_name_is_bounded_and_clean(s in "\\PC{0,200}|.{0,200}") {
            let name = display_name(Some(&s));
            prop_assert!(name.chars().count() <= MAX_NAME_CHARS);
            prop_assert!(!name.chars().any(|c| c.is_control() || is_format(c)));
            prop_assert_eq!(name.trim(), name.as_str());
        }
    }
}
