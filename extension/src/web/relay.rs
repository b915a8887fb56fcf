//! The team relay's glue: `fetch` with the browser's cookies for the relay (its sign-in),
//! and the `/v1/events` stream read as text with `fetch` and a stream reader, because an
//! MV3 service worker has no `EventSource`. JSON is read with the browser's `JSON.parse`
//! into the protocol types, as native-messaging replies are. It reports what came back as
//! worker events and decides nothing: when to fetch, what an answer means and when to
//! reconnect are `worker::relay`'s (which also cuts the stream into frames).

use std::cell::RefCell;

use js_sys::{Object, Promise, Reflect, Uint8Array};
use serde::Serialize;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{JsFuture, spawn_local};

use super::chrome::{self, JsError};
use super::dispatch;
use crate::settings::Managed;
use crate::worker::relay::{Body, SseParser, interpret};
use crate::worker::{Event, HttpAnswer};

mod raw {
    use super::*;

    #[wasm_bindgen]
    extern "C" {
        /// `fetch`, in pages and workers alike.
        #[wasm_bindgen(js_name = fetch, catch)]
        pub fn fetch(url: &str, init: &JsValue) -> Result<Promise, JsValue>;

        pub type Response;
        #[wasm_bindgen(method, getter)]
        pub fn status(this: &Response) -> u16;
        #[wasm_bindgen(method, catch)]
        pub fn text(this: &Response) -> Result<Promise, JsValue>;
        #[wasm_bindgen(method, getter)]
        pub fn body(this: &Response) -> Option<ReadableStream>;

        pub type ReadableStream;
        #[wasm_bindgen(method, js_name = getReader, catch)]
        pub fn get_reader(this: &ReadableStream) -> Result<Reader, JsValue>;

        pub type Reader;
        #[wasm_bindgen(method, catch)]
        pub fn read(this: &Reader) -> Result<Promise, JsValue>;

        pub type TextDecoder;
        #[wasm_bindgen(constructor, catch)]
        pub fn new() -> Result<TextDecoder, JsValue>;
        #[wasm_bindgen(method, catch)]
        pub fn decode(
            this: &TextDecoder,
            bytes: &Uint8Array,
            options: &JsValue,
        ) -> Result<String, JsValue>;

        pub type AbortController;
        #[wasm_bindgen(constructor)]
        pub fn new() -> AbortController;
        #[wasm_bindgen(method, getter)]
        pub fn signal(this: &AbortController) -> JsValue;
        #[wasm_bindgen(method)]
        pub fn abort(this: &AbortController);

        #[wasm_bindgen(js_namespace = ["chrome", "storage", "managed"], js_name = get, catch)]
        pub fn managed_get(keys: &JsValue) -> Result<Promise, JsValue>;
        #[wasm_bindgen(js_namespace = ["chrome", "runtime"], js_name = getPlatformInfo, catch)]
        pub fn get_platform_info() -> Result<Promise, JsValue>;
    }
}

thread_local! {
    /// The open event stream's controller: aborting it closes the stream.
    static STREAM: RefCell<Option<raw::AbortController>> = const { RefCell::new(None) };
}

/// `fetch`'s options: the relay's cookies (its sign-in) go along; nothing is cached.
#[derive(Serialize)]
struct Init<'a> {
    credentials: &'a str,
    cache: &'a str,
    headers: Headers<'a>,
}

#[derive(Serialize)]
struct Headers<'a> {
    #[serde(rename = "Accept")]
    accept: &'a str,
    #[serde(rename = "Last-Event-ID", skip_serializing_if = "Option::is_none")]
    last_event_id: Option<&'a str>,
}

fn init(
    accept: &str,
    last_event_id: Option<&str>,
    signal: Option<&JsValue>,
) -> Result<JsValue, JsError> {
    let init = chrome::to_js(&Init {
        credentials: "include",
        cache: "no-store",
        headers: Headers {
            accept,
            last_event_id,
        },
    })?;
    if let Some(signal) = signal {
        Reflect::set(&init, &"signal".into(), signal).map_err(JsError::from)?;
    }
    Ok(init)
}

/// JSON text as a protocol type.
fn json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, JsError> {
    chrome::decode(js_sys::JSON::parse(text)?)
}

/// The answer, its body read as the relay's list (200) or its error (anything else).
async fn answer_of(response: &raw::Response) -> Result<HttpAnswer, JsError> {
    let status = response.status();
    let text = JsFuture::from(response.text()?)
        .await?
        .as_string()
        .unwrap_or_default();
    let body = if status == 200 {
        json(&text).map(Body::List)
    } else {
        json(&text).map(Body::Error)
    };
    Ok(HttpAnswer {
        status,
        body: body.unwrap_or_else(|e| Body::Unreadable(e.into_message())),
    })
}

async fn get(url: &str) -> Result<HttpAnswer, JsError> {
    let response: raw::Response =
        JsFuture::from(raw::fetch(url, &init("application/json", None, None)?)?)
            .await?
            .unchecked_into();
    answer_of(&response).await
}

/// `GET url`; the answer goes to the worker as [`Event::Fetched`].
pub fn fetch(id: u64, url: String) {
    spawn_local(async move {
        let answer = get(&url).await.map_err(JsError::into_message);
        dispatch(Event::Fetched { id, answer });
    });
}

/// Opens the event stream `id` (closing the one open), reporting it as it goes.
pub fn follow(id: u64, url: String, last_event_id: Option<String>) {
    unfollow();
    let controller = raw::AbortController::new();
    let signal = controller.signal();
    STREAM.with_borrow_mut(|s| *s = Some(controller));
    spawn_local(async move {
        let why = match read_stream(id, &url, last_event_id.as_deref(), &signal).await {
            Ok(Some(answer)) => {
                return dispatch(Event::StreamClosed {
                    id,
                    why: format!("HTTP {}", answer.status),
                    answer: Some(answer),
                });
            }
            Ok(None) => "the relay ended the stream".to_owned(),
            Err(e) => e.into_message(),
        };
        // Closed on purpose: the worker already moved on.
        if Reflect::get(&signal, &"aborted".into()).is_ok_and(|a| a.is_truthy()) {
            return;
        }
        dispatch(Event::StreamClosed {
            id,
            answer: None,
            why,
        });
    });
}

/// Reads the stream to its end; `Some`: it was refused with this answer.
async fn read_stream(
    id: u64,
    url: &str,
    last_event_id: Option<&str>,
    signal: &JsValue,
) -> Result<Option<HttpAnswer>, JsError> {
    let response: raw::Response = JsFuture::from(raw::fetch(
        url,
        &init("text/event-stream", last_event_id, Some(signal))?,
    )?)
    .await?
    .unchecked_into();
    if response.status() != 200 {
        return Ok(Some(answer_of(&response).await?));
    }
    let Some(body) = response.body() else {
        return Ok(None);
    };
    let reader = body.get_reader()?;
    let decoder = raw::TextDecoder::new()?;
    let streaming = Object::new();
    Reflect::set(&streaming, &"stream".into(), &JsValue::TRUE)?;
    let mut parser = SseParser::default();
    dispatch(Event::StreamOpened { id });
    loop {
        let chunk = JsFuture::from(reader.read()?).await?;
        if Reflect::get(&chunk, &"done".into())?.is_truthy() {
            return Ok(None);
        }
        let bytes: Uint8Array = Reflect::get(&chunk, &"value".into())?.unchecked_into();
        let text = decoder.decode(&bytes, &streaming)?;
        dispatch(Event::StreamAlive { id });
        for frame in parser.feed(&text) {
            let streamed = interpret(frame, |data| json(data).ok());
            dispatch(Event::Streamed { id, streamed });
        }
    }
}

/// Closes the event stream, if one is open.
pub fn unfollow() {
    if let Some(controller) = STREAM.with_borrow_mut(Option::take) {
        controller.abort();
    }
}

/// What the team preset through policy; `None` where there is no policy (Firefox rejects
/// the call then) or it cannot be read.
pub async fn managed() -> Option<Managed> {
    managed_from(managed_get()).await
}

/// `storage.managed.get(null)`, started now.
pub fn managed_get() -> chrome::Call {
    chrome::Call::started(raw::managed_get(&JsValue::NULL))
}

/// What a `storage.managed.get` call answered, as `managed` reads it.
pub async fn managed_from(call: chrome::Call) -> Option<Managed> {
    call.decoded().await.ok()
}

/// Any extension call resets the service worker's idle timer.
pub fn stay_awake() {
    if let Ok(promise) = raw::get_platform_info() {
        spawn_local(async move {
            let _ = JsFuture::from(promise).await;
        });
    }
}
