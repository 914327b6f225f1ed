//! `btauth/1` against the real Bittensor SDK, both ways:
//!
//! - `btauth_vectors.json`: requests signed by `bittensor.http_auth.sign`
//!   (`tools/sdk_vectors/btauth_vectors.py`). Our payload bytes must equal the SDK's, and our
//!   verifier must reach the SDK verifier's verdict on each request and its tampered,
//!   expired, future-dated, misaddressed and malformed variants.
//! - `btauth_rust_signed.json`: requests signed here (`examples/btauth_sign.rs`) that
//!   `bittensor.http_auth.verify` accepted (`tools/sdk_vectors/verify_rust_signed.py` records
//!   its verdict in the file; this test needs no Python).

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use whetstone_chain::auth::{AuthError, AuthHeaders, ManualClock, RequestParts, Verifier, VerifierConfig, build_payload, sign_request};
use whetstone_chain::wallet::dev::DevKey;
use whetstone_chain::wallet::{HotkeyPair, Scheme};
use whetstone_tasks::Hotkey;

use crate::support::{hex_of, i128_of, opt_str, read_json, str_of};

const SECOND: i128 = 1_000_000_000;

fn headers_of(value: &Value) -> AuthHeaders {
    let map = value.as_object().expect("headers object");
    AuthHeaders::from_pairs(map.iter().map(|(k, v)| (k.as_str(), v.as_str().expect("header value"))))
}

fn verifier_at(receiver: &str, now_ns: i128, require_receiver: bool) -> Verifier {
    let mut config = VerifierConfig::new(Hotkey::new(receiver));
    config.require_receiver = require_receiver;
    Verifier::with_clock(config, Arc::new(ManualClock::new(i64::try_from(now_ns).expect("fits i64"))))
}

fn outcome(result: Result<whetstone_chain::auth::Caller, AuthError>) -> String {
    match result {
        Ok(_) => "ok".into(),
        Err(error) => error.kind().into(),
    }
}

#[test]
fn sdk_signed_requests_verify_byte_for_byte() {
    let vectors = read_json("btauth_vectors.json");
    let signed = vectors["signed"].as_array().expect("signed vectors");
    assert_eq!(signed.len(), 8);
    let bob = DevKey::Bob.address();
    let alice = DevKey::Alice.address();
    for vector in signed {
        let name = str_of(vector, "name");
        let method = str_of(vector, "method");
        let wire_method = method.to_uppercase();
        let path = str_of(vector, "path");
        let body = hex_of(vector, "body_hex");
        let nonce = i128_of(vector, "nonce_ns");
        let sender = str_of(vector, "sender_ss58");
        let receiver = opt_str(vector, "receiver_ss58");
        let scheme = if vector["signer"]["crypto_type"] == 0 { Scheme::Ed25519 } else { Scheme::Sr25519 };

        // The exact signed bytes.
        let payload = build_payload(scheme, method, path, &body, nonce, sender, receiver);
        assert_eq!(hex::encode(&payload), str_of(vector, "payload_hex"), "{name}: payload bytes");

        let headers = headers_of(&vector["headers"]);
        let now = i128_of(vector, "verify_now_ns");
        let bound = receiver.is_some();
        let check = |method: &str, path: &str, body: &[u8], receiver: &str, now: i128, require: bool| {
            outcome(verifier_at(receiver, now, require).verify(&headers, RequestParts { method, path, body }))
        };
        let mut tampered_body = body.clone();
        tampered_body.push(b'!');
        let ours = [
            ("as_signed", check(&wire_method, path, &body, bob, now, bound)),
            ("receiver_required", check(&wire_method, path, &body, bob, now, true)),
            ("tampered_body", check(&wire_method, path, &tampered_body, bob, now, bound)),
            ("tampered_path", check(&wire_method, &format!("{path}x"), &body, bob, now, bound)),
            ("tampered_method", check("PATCH", path, &body, bob, now, bound)),
            ("other_receiver", check(&wire_method, path, &body, alice, now, true)),
            ("expired", check(&wire_method, path, &body, bob, nonce + 10 * SECOND + 1, bound)),
            ("oldest_accepted", check(&wire_method, path, &body, bob, nonce + 10 * SECOND, bound)),
            ("future_dated", check(&wire_method, path, &body, bob, nonce - 2 * SECOND - 1, bound)),
            ("newest_accepted", check(&wire_method, path, &body, bob, nonce - 2 * SECOND, bound)),
        ];
        for (check_name, got) in ours {
            assert_eq!(got, str_of(&vector["sdk_verify"], check_name), "{name}: {check_name}");
        }

        let caller = verifier_at(bob, now, bound)
            .verify(&headers, RequestParts { method: &wire_method, path, body: &body })
            .expect("the SDK accepted it, so must we");
        assert_eq!(caller.hotkey.as_str(), sender);
        assert_eq!(caller.scheme, scheme);
        assert_eq!(caller.nonce_ns, nonce);
    }
}

#[test]
fn header_shapes_get_the_sdks_verdicts() {
    let vectors = read_json("btauth_vectors.json");
    let bob = DevKey::Bob.address();
    let now = 1_760_000_000_123_456_789 + SECOND;
    let shapes = vectors["header_shapes"].as_array().expect("shapes");
    assert!(shapes.len() >= 20);
    for shape in shapes {
        let got = outcome(
            verifier_at(bob, now, true).verify(&headers_of(&shape["headers"]), RequestParts { method: "POST", path: "/p", body: b"hello" }),
        );
        assert_eq!(got, str_of(shape, "sdk_verify"), "{}", str_of(shape, "name"));
    }
}

#[test]
fn a_replayed_request_is_refused_as_the_sdk_refuses_it() {
    let vectors = read_json("btauth_vectors.json");
    let replay = &vectors["replay"];
    let verifier = verifier_at(str_of(replay, "receiver_ss58"), i128_of(replay, "now_ns"), true);
    let body = hex_of(replay, "body_hex");
    let request = RequestParts { method: str_of(replay, "method"), path: str_of(replay, "path"), body: &body };
    let headers = headers_of(&replay["headers"]);
    let got: Vec<String> = (0..2).map(|_| outcome(verifier.verify(&headers, request))).collect();
    let want: Vec<String> =
        replay["sdk_verify"].as_array().expect("outcomes").iter().map(|v| v.as_str().expect("text").to_owned()).collect();
    assert_eq!(got, want);
}

#[test]
fn requests_signed_here_were_accepted_by_the_sdk_and_verify_here() {
    let document = read_json("btauth_rust_signed.json");
    assert!(str_of(&document["sdk"], "bittensor").starts_with("11."), "checked with SDK 11");
    let requests = document["requests"].as_array().expect("requests");
    // Four signers (sr25519 from a seed, sr25519 from a private key only, ed25519, a dev key)
    // times four request shapes.
    assert_eq!(requests.len(), 16);
    for request in requests {
        let name = str_of(request, "name");
        assert_eq!(str_of(request, "sdk_verify"), "ok", "{name}: the SDK's verdict");
        assert_eq!(request["sdk_payload_equal"], true, "{name}: the SDK's payload");
        let receiver = opt_str(request, "receiver_ss58");
        let verifier = verifier_at(receiver.unwrap_or(DevKey::Bob.address()), i128_of(request, "nonce_ns") + SECOND, receiver.is_some());
        let body = hex_of(request, "body_hex");
        let method = str_of(request, "method").to_uppercase();
        let caller = verifier
            .verify(&headers_of(&request["headers"]), RequestParts { method: &method, path: str_of(request, "path"), body: &body })
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(caller.hotkey.as_str(), str_of(request, "sender_ss58"));
    }
}

/// A verifier for Bob at a clock the test moves, and a request signed by `pair` for Bob now.
fn signed_now(pair: &HotkeyPair, clock: &ManualClock, body: &[u8]) -> AuthHeaders {
    let receiver = Hotkey::new(DevKey::Bob.address());
    sign_request(pair, RequestParts { method: "POST", path: "/whetstone.v1.Agents/Submit", body }, Some(&receiver), {
        use whetstone_chain::auth::Clock;
        clock.now_ns()
    })
}

#[test]
fn round_trips_for_both_schemes_and_every_tampering_is_caught() {
    const T0: i64 = 1_800_000_000_000_000_000;
    for pair in [DevKey::Dave.pair(), HotkeyPair::ed25519_from_seed([3; 32])] {
        let clock = Arc::new(ManualClock::new(T0));
        let verifier = Verifier::with_clock(VerifierConfig::new(Hotkey::new(DevKey::Bob.address())), clock.clone());
        fn submit(body: &[u8]) -> RequestParts<'_> {
            RequestParts { method: "POST", path: "/whetstone.v1.Agents/Submit", body }
        }

        let headers = signed_now(&pair, &clock, b"package");
        let refusals = [
            verifier.verify(&headers, submit(b"packagf")),
            verifier.verify(&headers, RequestParts { method: "POST", path: "/whetstone.v1.Agents/Get", body: b"package" }),
            verifier.verify(&headers, RequestParts { method: "GET", path: "/whetstone.v1.Agents/Submit", body: b"package" }),
        ];
        for refusal in refusals {
            assert!(matches!(refusal, Err(AuthError::BadSignature(_))), "{refusal:?}");
        }
        let caller = verifier.verify(&headers, submit(b"package")).expect("the untouched request verifies");
        assert_eq!(&caller.hotkey, pair.hotkey());
        let replay = verifier.verify(&headers, submit(b"package")).expect_err("a replay");
        assert!(matches!(replay, AuthError::Replayed(_)));
        assert!(replay.to_string().contains("afresh"), "{replay}");

        // Ten seconds is the oldest accepted; a moment more is stale.
        let headers = signed_now(&pair, &clock, b"later");
        clock.advance(Duration::from_secs(10) + Duration::from_nanos(1));
        let stale = verifier.verify(&headers, submit(b"later")).expect_err("too old");
        assert!(matches!(stale, AuthError::Stale(_)) && stale.to_string().contains("clock"), "{stale}");

        // Signed by a machine whose clock runs three seconds fast.
        clock.advance(Duration::from_secs(3));
        let future = signed_now(&pair, &clock, b"early");
        clock.set(T0 + 10 * 1_000_000_001);
        let early = verifier.verify(&future, submit(b"early")).expect_err("from the future");
        assert!(matches!(early, AuthError::Stale(_)) && early.to_string().contains("future"), "{early}");
    }
}

#[test]
fn requests_for_another_receiver_or_none_are_refused_with_this_servers_hotkey() {
    let clock = Arc::new(ManualClock::new(1_800_000_000_000_000_000));
    let verifier = Verifier::with_clock(VerifierConfig::new(Hotkey::new(DevKey::Alice.address())), clock.clone());
    let pair = DevKey::Eve.pair();
    let request = RequestParts { method: "POST", path: "/p", body: b"" };

    let for_bob = signed_now(&pair, &clock, b"");
    let error = verifier.verify(&for_bob, request).expect_err("signed for Bob, sent to Alice");
    assert!(matches!(error, AuthError::WrongReceiver(_)));
    assert!(error.to_string().contains(DevKey::Alice.address()), "tells the caller whom to sign for: {error}");

    use whetstone_chain::auth::Clock;
    let unbound = sign_request(&pair, request, None, clock.now_ns());
    assert!(matches!(verifier.verify(&unbound, request), Err(AuthError::WrongReceiver(_))));

    let mut lenient = verifier.config().clone();
    lenient.require_receiver = false;
    let lenient = Verifier::with_clock(lenient, clock);
    assert!(lenient.verify(&unbound, request).is_ok(), "unbound requests pass where the server allows them");
}

#[test]
fn refused_senders_do_not_use_up_the_replay_cache_and_the_cache_is_bounded() {
    let clock = Arc::new(ManualClock::new(1_800_000_000_000_000_000));
    let mut config = VerifierConfig::new(Hotkey::new(DevKey::Bob.address()));
    config.nonce_capacity = 3;
    let verifier = Verifier::with_clock(config, clock.clone());
    let request = |body: &'static [u8]| RequestParts { method: "POST", path: "/whetstone.v1.Agents/Submit", body };
    let pair = DevKey::Ferdie.pair();

    let headers = signed_now(&pair, &clock, b"a");
    let refused = verifier
        .verify_admitting(&headers, request(b"a"), |caller| Err(AuthError::Forbidden(format!("{} is not registered", caller.hotkey))));
    assert!(matches!(refused, Err(AuthError::Forbidden(_))));
    assert_eq!(verifier.remembered_nonces(), 0);
    verifier.verify(&headers, request(b"a")).expect("the same request, admitted, is not a replay");

    for body in [b"b", b"c"] {
        clock.advance(Duration::from_millis(1));
        let headers = signed_now(&pair, &clock, body);
        verifier.verify(&headers, request(body)).expect("room for three");
    }
    clock.advance(Duration::from_millis(1));
    let headers = signed_now(&pair, &clock, b"d");
    assert_eq!(verifier.verify(&headers, request(b"d")), Err(AuthError::Overloaded));

    // Once the window has passed, the old nonces are forgotten and there is room again.
    clock.advance(Duration::from_secs(11));
    let headers = signed_now(&pair, &clock, b"e");
    verifier.verify(&headers, request(b"e")).expect("room again");
    assert_eq!(verifier.remembered_nonces(), 1);
}
