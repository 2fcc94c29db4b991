//! A small ANSI SGR parser for the log tail: turns text with `ESC[…m` colour and
//! style sequences into styled segments. Other escape sequences (cursor movement,
//! erase, OSC titles) are dropped, so they never show as garbage.

/// A colour: one of the 256 indexed colours (0–15 are the classic ones) or RGB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Color {
    /// `30–37`, `90–97`, `38;5;n`.
    Indexed(u8),
    /// `38;2;r;g;b`.
    Rgb(u8, u8, u8),
}

/// The style in effect for a segment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Style {
    /// Foreground colour.
    pub fg: Option<Color>,
    /// Background colour.
    pub bg: Option<Color>,
    /// `1`.
    pub bold: bool,
    /// `2`.
    pub dim: bool,
    /// `3`.
    pub italic: bool,
    /// `4`.
    pub underline: bool,
}

/// A run of text in one style.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// The text (no escape sequences).
    pub text: String,
    /// Its style.
    pub style: Style,
}

impl Style {
    /// CSS classes for the segment (`ansi-fg-1`, `ansi-bold`, …); indexed colours
    /// 0–15 map to the theme's palette in `style/main.css`.
    pub fn classes(&self) -> String {
        let mut c: Vec<String> = Vec::new();
        if let Some(Color::Indexed(n)) = self.fg.filter(|c| matches!(c, Color::Indexed(n) if *n < 16)) {
            c.push(format!("ansi-fg-{n}"));
        }
        if let Some(Color::Indexed(n)) = self.bg.filter(|c| matches!(c, Color::Indexed(n) if *n < 16)) {
            c.push(format!("ansi-bg-{n}"));
        }
        for (on, name) in [
            (self.bold, "ansi-bold"),
            (self.dim, "ansi-dim"),
            (self.italic, "ansi-italic"),
            (self.underline, "ansi-underline"),
        ] {
            if on {
                c.push(name.to_string());
            }
        }
        c.join(" ")
    }

    /// Inline CSS for colours outside the 16-colour palette.
    pub fn inline_css(&self) -> String {
        let mut css = String::new();
        if let Some(rgb) = self.fg.and_then(extended) {
            css.push_str(&format!("color:{rgb};"));
        }
        if let Some(rgb) = self.bg.and_then(extended) {
            css.push_str(&format!("background-color:{rgb};"));
        }
        css
    }

    fn apply(&mut self, params: &[u16]) {
        let mut i = 0;
        if params.is_empty() {
            *self = Style::default();
        }
        while i < params.len() {
            match params[i] {
                0 => *self = Style::default(),
                1 => self.bold = true,
                2 => self.dim = true,
                3 => self.italic = true,
                4 => self.underline = true,
                22 => (self.bold, self.dim) = (false, false),
                23 => self.italic = false,
                24 => self.underline = false,
                n @ 30..=37 => self.fg = Some(Color::Indexed((n - 30) as u8)),
                39 => self.fg = None,
                n @ 40..=47 => self.bg = Some(Color::Indexed((n - 40) as u8)),
                49 => self.bg = None,
                n @ 90..=97 => self.fg = Some(Color::Indexed((n - 90 + 8) as u8)),
                n @ 100..=107 => self.bg = Some(Color::Indexed((n - 100 + 8) as u8)),
                n @ (38 | 48) => {
                    let (color, used) = match params.get(i + 1) {
                        Some(5) => (params.get(i + 2).map(|&c| Color::Indexed(c.min(255) as u8)), 2),
                        Some(2) => match params.get(i + 2..i + 5) {
                            Some(&[r, g, b]) => {
                                (Some(Color::Rgb(r.min(255) as u8, g.min(255) as u8, b.min(255) as u8)), 4)
                            }
                            _ => (None, params.len()),
                        },
                        _ => (None, params.len()),
                    };
                    if n == 38 {
                        self.fg = color.or(self.fg);
                    } else {
                        self.bg = color.or(self.bg);
                    }
                    i += used;
                }
                _ => {}
            }
            i += 1;
        }
    }
}

/// The CSS colour of an indexed colour ≥ 16 or an RGB colour.
fn extended(c: Color) -> Option<String> {
    match c {
        Color::Indexed(n) if n < 16 => None,
        Color::Indexed(n) if n < 232 => {
            let n = n - 16;
            let level = |v: u8| if v == 0 { 0 } else { 55 + v * 40 };
            Some(format!("rgb({},{},{})", level(n / 36), level((n / 6) % 6), level(n % 6)))
        }
        Color::Indexed(n) => {
            let v = 8 + (n - 232) * 10;
            Some(format!("rgb({v},{v},{v})"))
        }
        Color::Rgb(r, g, b) => Some(format!("rgb({r},{g},{b})")),
    }
}

/// Splits `text` into styled segments, starting in `style` and leaving in it the style
/// in effect at the end (so a colour set on one line carries on to the next).
pub fn parse(text: &str, style: &mut Style) -> Vec<Segment> {
    let mut out: Vec<Segment> = Vec::new();
    let mut buf = String::new();
    let mut chars = text.chars().peekable();
    let flush = |buf: &mut String, out: &mut Vec<Segment>, style: Style| {
        if !buf.is_empty() {
            match out.last_mut() {
                Some(last) if last.style == style => last.text.push_str(buf),
                _ => out.push(Segment { text: buf.clone(), style }),
            }
            buf.clear();
        }
    };
    while let Some(c) = chars.next() {
        if c != '\u{1b}' {
            buf.push(c);
            continue;
        }
        match chars.peek() {
            Some('[') => {
                chars.next();
                let mut seq = String::new();
                let mut fin = None;
                for c in chars.by_ref() {
                    if ('\u{40}'..='\u{7e}').contains(&c) {
                        fin = Some(c);
                        break;
                    }
                    seq.push(c);
                }
                if fin == Some('m') {
                    flush(&mut buf, &mut out, *style);
                    let params: Vec<u16> = if seq.is_empty() {
                        Vec::new()
                    } else {
                        seq.split([';', ':']).map(|p| p.parse().unwrap_or(0)).collect()
                    };
                    style.apply(&params);
                }
            }
            Some(']') => {
                // OSC: up to BEL or ST (ESC \).
                chars.next();
                while let Some(c) = chars.next() {
                    if c == '\u{7}' || (c == '\u{1b}' && chars.next_if_eq(&'\\').is_some()) {
                        break;
                    }
                }
            }
            Some(_) => {
                chars.next();
            }
            None => {}
        }
    }
    flush(&mut buf, &mut out, *style);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(text: &str, style: Style) -> Segment {
        Segment { text: text.into(), style }
    }

    #[test]
    fn plain_text_is_one_segment() {
        let mut st = Style::default();
        assert_eq!(parse("hello world", &mut st), [seg("hello world", Style::default())]);
        assert!(parse("", &mut st).is_empty());
    }

    #[test]
    fn colours_and_reset() {
        let mut st = Style::default();
        let red = Style { fg: Some(Color::Indexed(1)), ..Style::default() };
        let bold_green = Style { fg: Some(Color::Indexed(2)), bold: true, ..Style::default() };
        assert_eq!(
            parse("a\x1b[31mred\x1b[0m b \x1b[1;32mok\x1b[m", &mut st),
            [seg("a", Style::default()), seg("red", red), seg(" b ", Style::default()), seg("ok", bold_green)]
        );
        assert_eq!(st, Style::default());
    }

    #[test]
    fn style_carries_across_lines() {
        let mut st = Style::default();
        parse("\x1b[33mwarn", &mut st);
        let yellow = Style { fg: Some(Color::Indexed(3)), ..Style::default() };
        assert_eq!(parse("next line", &mut st), [seg("next line", yellow)]);
    }

    #[test]
    fn table_of_sgr_parameters() {
        let cases: [(&str, Style); 8] = [
            ("\x1b[91m", Style { fg: Some(Color::Indexed(9)), ..Default::default() }),
            ("\x1b[44m", Style { bg: Some(Color::Indexed(4)), ..Default::default() }),
            ("\x1b[103m", Style { bg: Some(Color::Indexed(11)), ..Default::default() }),
            ("\x1b[38;5;208m", Style { fg: Some(Color::Indexed(208)), ..Default::default() }),
            ("\x1b[48;2;10;20;30m", Style { bg: Some(Color::Rgb(10, 20, 30)), ..Default::default() }),
            ("\x1b[2;3;4m", Style { dim: true, italic: true, underline: true, ..Default::default() }),
            ("\x1b[1m\x1b[22m", Style::default()),
            ("\x1b[31m\x1b[39m", Style::default()),
        ];
        for (input, want) in cases {
            let mut st = Style::default();
            parse(input, &mut st);
            assert_eq!(st, want, "{input:?}");
        }
    }

    #[test]
    fn other_escapes_are_dropped() {
        let mut st = Style::default();
        let text: String = parse("\x1b[2K\x1b]0;title\x07done\x1b[1A!", &mut st).into_iter().map(|s| s.text).collect();
        assert_eq!(text, "done!");
        // A truncated sequence at the end neither panics nor leaks.
        assert_eq!(parse("x\x1b[3", &mut st), [seg("x", Style::default())]);
    }

    #[test]
    fn classes_and_css() {
        let st = Style { fg: Some(Color::Indexed(1)), bold: true, bg: Some(Color::Rgb(1, 2, 3)), ..Default::default() };
        assert_eq!(st.classes(), "ansi-fg-1 ansi-bold");
        assert_eq!(st.inline_css(), "background-color:rgb(1,2,3);");
        let st = Style { fg: Some(Color::Indexed(196)), ..Default::default() };
        assert_eq!(st.inline_css(), "color:rgb(255,0,0);");
        let st = Style { fg: Some(Color::Indexed(232)), ..Default::default() };
        assert_eq!(st.inline_css(), "color:rgb(8,8,8);");
    }
}
