//! Server-rendered pages: one layout and an escaping function. Every value that came from a user
//! or a request goes through [`escape`].

use axum::response::Html;

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f}
h1{font-size:1.5rem}label{display:block;margin:.6rem 0 .2rem}input{font-size:1rem;padding:.4rem;width:100%;box-sizing:border-box}
button{font-size:1rem;padding:.5rem 1rem;margin-top:.8rem;cursor:pointer}.error{color:#b00020}.ok{color:#0a7d32}
.number{font-size:4rem;font-weight:700;letter-spacing:.3rem;text-align:center;margin:1rem 0}
.muted{color:#666}pre{white-space:pre-wrap;word-break:break-all;background:#f4f4f4;padding:.6rem}
table{border-collapse:collapse}td,th{padding:.2rem .6rem;text-align:left}nav{margin-bottom:1rem}
body.wide{max-width:64rem}.bar{display:flex;flex-wrap:wrap;justify-content:space-between;align-items:center;gap:.5rem;border-bottom:1px solid #ddd;padding-bottom:.5rem}
.bar nav{margin:0;display:flex;gap:1rem}.bar a{font-weight:600}form.inline{display:inline}form.inline button,button.link{margin:0}
button.link{background:none;border:none;color:#0645ad;text-decoration:underline;padding:0}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(14rem,1fr));gap:.8rem;margin:1rem 0}
.card{display:block;border:1px solid #ccc;border-radius:.5rem;padding:.8rem;text-decoration:none;color:inherit}
.card.alert{border-color:#b00020;background:#fff4f4}.card .count{font-size:2rem;font-weight:700;display:block}
.badge{display:inline-block;border-radius:1rem;padding:.05rem .5rem;margin:.1rem .2rem .1rem 0;font-size:.8rem;background:#eee}
.badge.locked,.badge.suspended{background:#fde0e0;color:#8a0015}.badge.mfa-removed,.badge.password{background:#fff1c2;color:#6b4e00}
.badge.enrolled{background:#dff3e4;color:#0a5d26}.badge.role{background:#e3ecff;color:#1f3f8f}
.warning{background:#fff1c2;border-left:4px solid #d49b00;padding:.6rem}
a.button{display:inline-block;border:1px solid #888;border-radius:.3rem;padding:.45rem .8rem;margin:.2rem .3rem .2rem 0;text-decoration:none;color:inherit}
a.button.quiet{opacity:.65}button.danger{background:#b00020;color:#fff;border:none;border-radius:.3rem}
.actions{display:flex;flex-wrap:wrap}.filters a{margin-right:.6rem}.filters a.on{font-weight:700}
.search{display:flex;flex-wrap:wrap;align-items:end;gap:.4rem}.search label{width:100%}.search input{flex:1;width:auto}.search button{margin:0}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem}dd{margin:0}.scroll{overflow-x:auto}
table.list{width:100%}table.list tr{border-bottom:1px solid #eee}select{font-size:1rem;padding:.3rem}
@media (max-width:600px){table.list thead{display:none}table.list tr{display:block;padding:.4rem 0}table.list td{display:block;padding:.1rem 0}}";

/// A whole page: `body` is trusted HTML built by this crate.
pub fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{title} · Assent portal</title><style>{STYLE}</style></head>\
         <body><main>{body}</main></body></html>",
        title = escape(title),
    ))
}

/// Unix seconds as an RFC 3339 UTC time (`2026-12-02T01:23:45Z`), for people reading it.
pub fn utc(at: u64) -> String {
    i64::try_from(at)
        .ok()
        .and_then(|at| time::OffsetDateTime::from_unix_timestamp(at).ok())
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{at} (Unix seconds)"))
}

/// A page for wide content (the console): the same layout, a wider column.
pub fn wide_page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{title} · Assent console</title><style>{STYLE}</style></head>\
         <body class=\"wide\"><main>{body}</main></body></html>",
        title = escape(title),
    ))
}

/// A hidden CSRF field for a form.
pub fn csrf_field(csrf: &str) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        escape(csrf)
    )
}

/// An error or notice paragraph, if any.
pub fn notice(error: Option<&str>, message: Option<&str>) -> String {
    let mut out = String::new();
    if let Some(e) = error {
        out.push_str(&format!(
            "<p class=\"error\" role=\"alert\">{}</p>",
            escape(e)
        ));
    }
    if let Some(m) = message {
        out.push_str(&format!(
            "<p class=\"ok\" role=\"status\">{}</p>",
            escape(m)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_utc() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(1_796_175_602), "2026-12-02T01:40:02Z");
        assert_eq!(utc(u64::MAX), format!("{} (Unix seconds)", u64::MAX));
    }

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<script>alert('x')&\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;)&amp;&quot;&lt;/script&gt;"
        );
    }
}
