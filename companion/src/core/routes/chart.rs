//! Renders the `examples/chart/` templates as Helm would, for the small subset they use, so
//! tests can check them without Helm or a cluster: `{{ .Values.KEY }}` and
//! `{{ .Release.Namespace }}` substitutions, and whole-line `{{- if eq .Values.KEY "X" }}`,
//! `{{- if .Values.KEY }}` and `{{- end }}` blocks. Used by `examples.rs` (the discovery
//! test) and, included by path, by `companion/tests/it/share.rs` (the share rule through
//! nginx). Anything else in a template panics: the examples must stay within what this reads.

/// `template` with `values` (`KEY` for `.Values.KEY`, `Release.Namespace` for the namespace;
/// a flag is on when its value is `true`).
pub fn render(template: &str, values: &[(&str, &str)]) -> String {
    let value = |key: &str| {
        values
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("no value for {key}"))
    };
    let mut open: Vec<bool> = Vec::new();
    let mut out = Vec::new();
    for line in template.lines() {
        let trimmed = line.trim();
        if let Some(directive) = trimmed
            .strip_prefix("{{-")
            .and_then(|d| d.strip_suffix("}}"))
        {
            let words: Vec<&str> = directive.split_whitespace().collect();
            match words.as_slice() {
                ["if", "eq", key, want] => open.push(
                    value(key.strip_prefix(".Values.").expect(".Values")) == want.trim_matches('"'),
                ),
                ["if", key] => {
                    open.push(value(key.strip_prefix(".Values.").expect(".Values")) == "true")
                }
                ["end"] => {
                    open.pop().expect("an {{- end }} without its if");
                }
                _ => panic!("a directive the examples must not use: {trimmed}"),
            }
            continue;
        }
        if open.iter().all(|on| *on) {
            out.push(line);
        }
    }
    assert!(open.is_empty(), "an if without its end");
    let mut text = out.join("\n");
    for (key, v) in values {
        let placeholder = if key.starts_with("Release.") {
            format!("{{{{ .{key} }}}}")
        } else {
            format!("{{{{ .Values.{key} }}}}")
        };
        text = text.replace(&placeholder, v);
    }
    assert!(!text.contains("{{"), "a placeholder is left: {text}");
    text
}

#[cfg(test)]
mod tests {
    use super::render;

    #[test]
    fn blocks_follow_their_values_and_placeholders_are_filled() {
        let t = "{{- if eq .Values.routing \"a\" }}\nx: {{ .Values.n }}\n{{- if .Values.share }}\ny: {{ .Release.Namespace }}\n{{- end }}\n{{- end }}\n{{- if eq .Values.routing \"b\" }}\nz: 1\n{{- end }}";
        let on = [
            ("routing", "a"),
            ("n", "7"),
            ("share", "true"),
            ("Release.Namespace", "ns"),
        ];
        assert_eq!(render(t, &on), "x: 7\ny: ns");
        let off = [
            ("routing", "a"),
            ("n", "7"),
            ("share", "false"),
            ("Release.Namespace", "ns"),
        ];
        assert_eq!(render(t, &off), "x: 7");
    }
}
