//! `sotto app` in a real browser: headless Chromium driven through WebDriver (chromedriver),
//! two profiles on a live local testnet (subnet 50: 5 nodes and a file server). Onboarding
//! and restoring in the browser, a chat between two browser sessions with delivery states, a reply, a
//! reaction and the onion route, and an image shown inline on the other side. Screenshots go
//! to `target/app-screenshots/`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod app_common;
mod common;

use app_common::{AppProcess, Browser};
use common::Net;
use serde_json::json;

const SUBNET: u8 = 50;

/// WebDriver's Enter key.
const ENTER: &str = "\u{E007}";

/// Clicks through script (message actions show on hover or focus only).
fn js_click(b: &Browser, css: &str) {
    b.wait_for(css, 20);
    b.js(
        "document.querySelector(arguments[0]).click(); return true;",
        json!([css]),
    );
}

#[test]
fn onboarding_chat_and_an_image_through_the_live_testnet() {
    sotto_testkit::net::fileserver_binary().unwrap();
    let mut net = Net::start(SUBNET, 5, false);
    net.tn.start_file_server("").unwrap();
    let network = net.root().join("network.json");
    std::fs::write(&network, net.tn.network_file().to_string()).unwrap();

    // Bob is made with the command line.
    let bob = net.json("bob", &["account", "new", "--no-qr"]);
    let bob_id = bob["session_id"].as_str().unwrap().to_owned();
    net.ok("bob", &["profile", "set-name", "Bob"]);

    // Alice onboards in the browser: create, see ID, QR and phrase, confirm two words.
    let alice_app = AppProcess::start(net.root(), &network, "alice");
    let a = Browser::start();
    a.go(&alice_app.url);
    a.wait_for("#create", 20);
    a.screenshot("01-onboarding");
    a.click("#create");
    a.wait_for("#phrase-words", 20);
    a.wait_for("svg#qr", 5);
    let alice_id = a.text("#session-id").trim().to_owned();
    assert!(
        alice_id.starts_with("05") && alice_id.len() == 66,
        "{alice_id}"
    );
    let words = a.js(
        "return Array.from(document.querySelectorAll('#phrase-words li'))\
         .map(li => li.lastChild.textContent.trim());",
        json!([]),
    );
    let words: Vec<String> = serde_json::from_value(words).unwrap();
    assert_eq!(words.len(), 13, "{words:?}");
    let asked = |input: &str| -> usize {
        let label = a.text(&format!("label[for={input}]"));
        label.trim_start_matches("Word ").trim().parse().unwrap()
    };
    a.screenshot("02-recovery-phrase");
    // A wrong word is refused, with what to do.
    a.type_into("#w1", "wrong");
    a.type_into("#w2", "words");
    a.click("#confirm");
    a.wait_js(
        "the wrong words to be refused",
        "return document.querySelector('#status').innerText.includes('does not match');",
        10,
    );
    let (w1, w2) = (asked("w1"), asked("w2"));
    a.js(
        "document.querySelector('#w1').value = ''; document.querySelector('#w2').value = ''; return true;",
        json!([]),
    );
    a.type_into("#w1", &words[w1 - 1]);
    a.type_into("#w2", &words[w2 - 1]);
    a.type_into("#name", "Alice");
    a.click("#confirm");
    a.wait_js(
        "the home screen with Alice's name",
        "const l = document.querySelector('#settings-link'); return !!l && l.innerText === 'Alice';",
        60,
    );
    a.screenshot("03-home");

    // Alice starts a conversation with Bob and writes.
    a.type_into("#new-id", &bob_id);
    a.type_into("#new-name", "Bob");
    a.click("form.new button");
    a.wait_for("#text", 20);
    a.type_into("#text", &format!("hello from the browser{ENTER}"));
    a.wait_js(
        "Alice's message to be stored on Bob's swarm",
        "const s = document.querySelector('#history li.msg.out .state');\
         return !!s && s.dataset.state === 'stored';",
        60,
    );
    // Its onion route, on demand.
    js_click(&a, "#history li.msg.out button[data-act=route]");
    a.wait_js(
        "the route to show",
        "const r = document.querySelector('#history li.msg.out .route');\
         return !!r && !r.hidden && r.innerText.includes('via guard');",
        10,
    );
    a.screenshot("04-alice-sent-with-route");

    // Bob opens the app in a second browser: Alice's message is a request, unread.
    let bob_app = AppProcess::start(net.root(), &network, "bob");
    let b = Browser::start();
    b.go(&bob_app.url);
    let conv = format!("#conversations li.conv[data-peer='{alice_id}']");
    b.wait_for(&format!("{conv} .unread"), 60);
    assert!(b.text(&conv).contains("request"), "{}", b.text(&conv));
    assert!(b.text("#requests-count").contains("1 message request"));
    b.screenshot("05-bob-request");
    b.click(&format!("{conv} a"));
    b.wait_for("#history li.msg.in", 20);
    assert!(b.text("#history").contains("hello from the browser"));
    // Bob replies to it (which accepts the request) and reacts.
    js_click(&b, "#history li.msg.in button[data-act=reply]");
    b.type_into("#text", &format!("hi Alice{ENTER}"));
    js_click(
        &b,
        "#history li.msg.in button[data-act=react][data-emoji='👍']",
    );
    b.wait_js(
        "Bob's reply to be stored",
        "const s = document.querySelector('#history li.msg.out .state');\
         return !!s && s.dataset.state === 'stored';",
        60,
    );

    // Alice sees the reply with its quote, and the reaction, live.
    a.wait_js(
        "Bob's reply on Alice's page",
        "const m = document.querySelector('#history li.msg.in');\
         return !!m && m.innerText.includes('hi Alice') && !!m.querySelector('blockquote');",
        60,
    );
    a.wait_js(
        "Bob's reaction on Alice's page",
        "const r = document.querySelector('#history li.msg.out .reactions');\
         return !!r && r.innerText.includes('👍');",
        60,
    );
    a.screenshot("06-alice-reply-and-reaction");

    // Alice sends an image; Bob's page shows it inline.
    let png = net.root().join("picture.png");
    let image = image::RgbImage::from_fn(64, 48, |x, y| {
        image::Rgb([(x * 4) as u8, (y * 5) as u8, 128])
    });
    image.save(&png).unwrap();
    a.type_into("#file", png.to_str().unwrap());
    a.wait_js(
        "the image inline on Alice's side",
        "const i = document.querySelector('#history .att img');\
         return !!i && i.complete && i.naturalWidth === 64;",
        60,
    );
    b.wait_js(
        "the image inline on Bob's side",
        "const i = document.querySelector('#history li.msg.in .att img');\
         return !!i && i.complete && i.naturalWidth === 64 && i.naturalHeight === 48;",
        90,
    );
    let att = b.text("#history li.msg.in .att");
    assert!(att.starts_with("picture.png"), "{att}");
    // Bob's reply accepted Alice's request: the request bar is gone.
    b.wait_js(
        "the request bar to go",
        "return !document.querySelector('.request-bar');",
        20,
    );
    b.screenshot("07-bob-image-inline");
    a.screenshot("08-alice-image-sent");

    // Settings: the theme switches to dark.
    a.click("#settings-link");
    a.wait_for("#display-name", 20);
    a.click("#theme");
    a.wait_js(
        "the dark theme",
        "return document.documentElement.dataset.theme === 'dark';",
        5,
    );
    a.screenshot("09-settings-dark");

    // Bob restores his account from its phrase in the browser, as a new profile: his name
    // arrives through his config messages.
    drop(b);
    drop(bob_app);
    net.ok("bob", &["sync"]);
    let phrase = bob["recovery_phrase"].as_str().unwrap();
    let restored_app = AppProcess::start(net.root(), &network, "bob-restored");
    a.go(&restored_app.url);
    a.type_into("#phrase", phrase);
    a.click("#restore");
    a.wait_js(
        "Bob's name from his config messages",
        "const l = document.querySelector('#settings-link'); return !!l && l.innerText === 'Bob';",
        60,
    );
    a.screenshot("10-restored-from-phrase");
}
