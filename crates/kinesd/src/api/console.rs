//! The web console at `GET /console`: a page and a few assets, all embedded in the binary (no
//! network, no CDN, no library fetched at run time), that a browser runs to look into kinesd.
//!
//! The console is a client of the Kinesis API like any SDK: every call is a POST to `/` with
//! `X-Amz-Target`, signed with SigV4 in the browser, so it can see and do exactly what the API
//! lets its caller see and do (decision 0018). The server tells it only the two things it needs
//! to sign: the region (the signature's scope) and whether credentials are configured (then it
//! asks for a key and secret; else it signs with placeholder keys, which any signature accepts).
//! Charts read the per-stream counters of `/metrics`.
//!
//! Every answer carries a strict content security policy (this origin only; no inline script
//! or style, no frames) and `no-cache`, so a browser revalidates after kinesd is upgraded.

use bytes::Bytes;

use crate::protocol::wire::{CONSOLE_PATH, Page};

/// The page, with `{{region}}` and `{{auth}}` filled in per request (it is small).
const INDEX_HTML: &str = include_str!("../console/index.html");

/// The assets under `/console/`: (file name, content type, body).
const ASSETS: &[(&str, &str, &str)] = &[
    ("app.js", JAVASCRIPT, include_str!("../console/app.js")),
    ("api.js", JAVASCRIPT, include_str!("../console/api.js")),
    ("kpl.js", JAVASCRIPT, include_str!("../console/kpl.js")),
    ("charts.js", JAVASCRIPT, include_str!("../console/charts.js")),
    ("dom.js", JAVASCRIPT, include_str!("../console/dom.js")),
    ("records.js", JAVASCRIPT, include_str!("../console/records.js")),
    ("style.css", "text/css; charset=utf-8", include_str!("../console/style.css")),
];

const JAVASCRIPT: &str = "text/javascript; charset=utf-8";

/// Scripts, styles and requests to this origin only; nothing inline, nothing framed.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// Headers of every console answer.
const HEADERS: &[(&str, &str)] = &[
    ("cache-control", "no-cache"),
    ("content-security-policy", CONTENT_SECURITY_POLICY),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
];

/// What the page needs to know about the server it runs against.
#[derive(Debug, Clone)]
pub struct Console<'a> {
    /// Signatures are scoped to it; a wrong one is refused when credentials are verified.
    pub region: &'a str,
    /// Whether `--credentials` is in force (the console then asks for a key and secret).
    pub credentials: bool,
}

impl Console<'_> {
    /// The answer to a GET or HEAD of `path` under [`CONSOLE_PATH`]: the page, an asset, or a
    /// 404 for any other name.
    pub fn page(&self, path: &str) -> Page {
        let rest = path.strip_prefix(CONSOLE_PATH).unwrap_or(path);
        if matches!(rest, "" | "/" | "/index.html") {
            let html = INDEX_HTML
                .replace("{{region}}", &html_escape(self.region))
                .replace("{{auth}}", if self.credentials { "credentials" } else { "none" });
            return Page { status: 200, content_type: "text/html; charset=utf-8", headers: HEADERS, body: html.into() };
        }
        let name = rest.trim_start_matches('/');
        match ASSETS.iter().find(|(file, _, _)| *file == name) {
            Some((_, content_type, body)) => {
                Page { status: 200, content_type, headers: HEADERS, body: Bytes::from_static(body.as_bytes()) }
            }
            None => Page {
                status: 404,
                content_type: "text/plain; charset=utf-8",
                headers: HEADERS,
                body: Bytes::from_static(b"no such console asset\n"),
            },
        }
    }
}

/// `text` safe inside an HTML attribute value.
fn html_escape(text: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::wire::is_console_route;

    fn console(credentials: bool) -> Console<'static> {
        Console { region: "eu-west-1", credentials }
    }

    fn text(page: &Page) -> &str {
        std::str::from_utf8(&page.body).unwrap()
    }

    #[test]
    fn the_page_names_the_region_and_the_auth_mode() {
        for path in ["/console", "/console/", "/console/index.html"] {
            let page = console(false).page(path);
            assert_eq!((page.status, page.content_type), (200, "text/html; charset=utf-8"), "{path}");
            assert!(text(&page).contains(r#"<meta name="kinesd-region" content="eu-west-1">"#));
            assert!(text(&page).contains(r#"<meta name="kinesd-auth" content="none">"#));
        }
        assert!(text(&console(true).page("/console")).contains(r#"<meta name="kinesd-auth" content="credentials">"#));
        let odd = Console { region: "x\"><script>", credentials: false }.page("/console");
        assert!(!text(&odd).contains("x\"><script>"), "the region is escaped");
    }

    #[test]
    fn every_asset_the_page_names_is_served_with_its_type() {
        let html = text(&console(false).page("/console")).to_owned();
        for (file, content_type, _) in ASSETS {
            let page = console(false).page(&format!("/console/{file}"));
            assert_eq!((page.status, page.content_type), (200, *content_type), "{file}");
            assert!(!page.body.is_empty());
        }
        for reference in html.split("\"/console/").skip(1) {
            let file = &reference[..reference.find('"').unwrap()];
            assert!(ASSETS.iter().any(|(f, _, _)| *f == file), "{file} is embedded");
        }
        // The modules import one another ("./x.js"): every import is embedded too.
        for (file, _, body) in ASSETS {
            for import in body.split("from \"./").skip(1) {
                let name = &import[..import.find('"').unwrap()];
                assert!(ASSETS.iter().any(|(f, _, _)| *f == name), "{file} imports {name}, which is not embedded");
            }
        }
        assert_eq!(console(false).page("/console/../Cargo.toml").status, 404);
        assert_eq!(console(false).page("/console/nope.js").status, 404);
    }

    #[test]
    fn the_policy_allows_this_origin_only_and_nothing_inline() {
        let page = console(false).page("/console");
        let csp = page.headers.iter().find(|(n, _)| *n == "content-security-policy").unwrap().1;
        assert!(csp.starts_with("default-src 'none'"));
        assert!(!csp.contains("unsafe") && !csp.contains("http"), "{csp}");
        assert!(page.headers.contains(&("cache-control", "no-cache")));
        // Inline scripts would be refused by the policy: the page has none.
        let html = text(&page);
        assert!(!html.contains("<script>") && !html.contains("style="), "no inline script or style");
        let handlers = html.match_indices(" on").filter(|(at, _)| {
            let name: String = html[at + 3..].chars().take_while(char::is_ascii_alphabetic).collect();
            !name.is_empty() && html[at + 3 + name.len()..].starts_with('=')
        });
        assert_eq!(handlers.count(), 0, "no inline event handler");
    }

    #[test]
    fn only_gets_of_console_paths_are_console_routes() {
        assert!(is_console_route("GET", "/console"));
        assert!(is_console_route("HEAD", "/console/app.js"));
        assert!(!is_console_route("POST", "/console"), "a Kinesis request");
        assert!(!is_console_route("GET", "/consoles"));
        assert!(!is_console_route("GET", "/"));
    }
}
