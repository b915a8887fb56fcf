//! The shared policy corpus (`protocol/tests/policy_corpus.json`) through the extension's
//! own choice: a popup on the route's first host picks "this tab only" for each case. An
//! accepted route asks for the permission to its hosts; a refused one asks for nothing and
//! says why. The verdict is the corpus's, except where the corpus names the extension's own
//! (a suffix only the whole Public Suffix List knows: the extension checks a subset).

#[path = "../../protocol/tests/corpus/mod.rs"]
mod corpus;

use corpus::Case;
use preview_switch_extension::state::{Choice, Config, Effect, Event, State};
use protocol::Preview;

fn verdict(case: &Case) -> (&'static str, Vec<String>) {
    let preview = Preview {
        server: "https://argocd.test".into(),
        context: "dev".into(),
        app: "x-pr-1".into(),
        namespace: "argocd".into(),
        service: "x".into(),
        pr: 1,
        routes: vec![case.route()],
        ..Preview::default()
    };
    let mut st = State::new(Config::default());
    st.update(Event::PopupOpened {
        tab_id: 7,
        url: format!("https://{}/", case.hosts[0]),
        now_secs: 1_000,
    });
    st.update(Event::AppliedLoaded { applied: vec![] });
    st.update(Event::CookiesRead {
        host: case.hosts[0].clone(),
        cookies: vec![],
    });
    st.update(Event::RulesRead { rules: vec![] });
    st.update(Event::ListArrived {
        previews: vec![preview],
        age_secs: 0,
        stale: false,
    });
    let before = st.messages.len();
    let fx = st.update(Event::Choose {
        service: "x".into(),
        choice: Choice::Tab { pr: 1 },
    });
    let told = st.messages[before..].to_vec();
    match fx.first() {
        Some(Effect::RequestHostPermission { .. }) => ("accept", told),
        _ => ("refuse", told),
    }
}

#[test]
fn the_shared_policy_corpus_gets_the_same_verdicts() {
    let cases = corpus::cases();
    assert!(cases.len() >= 100);
    for case in &cases {
        let want = case.extension_verdict();
        let (got, told) = verdict(case);
        assert_eq!(got, want, "{}: {told:?}", case.what);
        if got == "refuse" {
            assert!(
                told.iter().any(|m| m.starts_with("refused ")),
                "{}: refused without the policy's reason: {told:?}",
                case.what
            );
        }
    }
}
