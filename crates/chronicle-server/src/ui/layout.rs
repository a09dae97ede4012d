//! The frame every page shares, and its stylesheet.

use maud::{DOCTYPE, Markup, html};

/// A page titled `title`, with the navigation of `namespace` if it is in one.
pub fn page(title: &str, namespace: Option<&str>, body: Markup) -> Markup {
    refreshing(title, namespace, None, body)
}

/// A page that the browser reloads every `every_s` seconds (live refresh
/// without a script: a meta refresh), if set.
pub fn refreshing(title: &str, namespace: Option<&str>, every_s: Option<u32>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if let Some(every) = every_s { meta http-equiv="refresh" content=(every); }
                title { (title) " · Chronicle" }
                link rel="stylesheet" href="/assets/ui.css";
                // No icon: a browser would otherwise ask for /favicon.ico.
                link rel="icon" href="data:,";
            }
            body {
                header {
                    nav aria-label="main" {
                        a.brand href="/" { "Chronicle" }
                        @if let Some(ns) = namespace {
                            a href={ "/namespaces/" (super::encode(ns)) "/workflows" } { "Workflows" }
                            a href={ "/namespaces/" (super::encode(ns)) "/schedules" } { "Schedules" }
                            a href={ "/namespaces/" (super::encode(ns)) "/activities" } { "Activities" }
                            a.namespace href="/namespaces" title="namespace: switch" { (ns) }
                        }
                        a href="/namespaces" { "Namespaces" }
                    }
                }
                main { (body) }
            }
        }
    }
}

/// Plain CSS: readable narrow and at 200 % zoom (tables scroll inside
/// their box, text wraps), visible focus for keyboard users.
pub const CSS: &str = r#"
:root { font-family: system-ui, sans-serif; color: #1b1f24; background: #fff; }
body { margin: 0; }
header { background: #1b1f24; }
header nav { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; padding: .6rem 1rem; }
header nav a, header nav span { color: #fff; text-decoration: none; }
a:focus, button:focus, input:focus, select:focus { outline: 3px solid #f0b429; outline-offset: 2px; }
header nav .brand { font-weight: 700; }
header nav .namespace { opacity: .8; font-family: ui-monospace, monospace; }
main { padding: 1rem; max-width: 100rem; }
h1 { font-size: 1.4rem; overflow-wrap: anywhere; }
h2 { font-size: 1.1rem; margin-top: 1.5rem; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .35rem .5rem; border-bottom: 1px solid #d8dee4; vertical-align: top; }
td.id, td.mono, code, pre { font-family: ui-monospace, monospace; overflow-wrap: anywhere; }
pre { white-space: pre-wrap; background: #f6f8fa; padding: .5rem; margin: 0; max-height: 30rem; overflow: auto; }
form.search { display: flex; flex-wrap: wrap; gap: .5rem; margin-bottom: 1rem; }
form.search input[type=search] { flex: 1 1 20rem; padding: .4rem; font: inherit; }
button, .button { padding: .4rem .8rem; font: inherit; }
.filters { display: flex; flex-wrap: wrap; gap: .75rem; margin-bottom: 1rem; }
.status { font-weight: 600; }
.status-Running { color: #0969da; } .status-Completed { color: #1a7f37; }
.status-Failed, .status-TimedOut, .status-Terminated { color: #cf222e; } .status-Canceled { color: #9a6700; }
dl.summary { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
dl.summary dd { margin: 0; overflow-wrap: anywhere; }
.error { color: #cf222e; }
.pager { display: flex; gap: 1rem; margin-top: 1rem; }
details summary { cursor: pointer; }
.timeline { display: flex; flex-wrap: wrap; gap: 2px; margin: .5rem 0; }
.tl { display: inline-block; width: .55rem; height: 1.1rem; border-radius: 2px; background: #8c959f; }
.legend .tl { height: .8rem; vertical-align: middle; }
.tl-workflow { background: #1a7f37; } .tl-task { background: #8c959f; } .tl-activity { background: #0969da; }
.tl-timer { background: #bf8700; } .tl-message { background: #8250df; } .tl-child { background: #1b7c83; }
"#;
