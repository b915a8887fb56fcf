// Loads the wasm and hands over to it; all logic lives in Rust. boot.js has already started
// the wasm's compile and the first browser reads (`previewSwitchEarly`); a compile that
// failed there is retried here from the file. The marks let the end-to-end suite split
// popup-open-to-rows into loading and rendering.
import init, { start_popup } from "./pkg/preview_switch_extension.js";

const early = globalThis.previewSwitchEarly ?? {};
const file = chrome.runtime.getURL("pkg/preview_switch_extension_bg.wasm");

Promise.resolve(early.module)
  .catch(() => undefined)
  .then((module) => init({ module_or_path: module ?? file }))
  .then(() => {
    performance.mark("wasm-ready");
    start_popup(early);
  })
  .catch((e) => {
    document.getElementById("app").textContent = chrome.i18n.getMessage("failed_to_start", [String(e)]);
  });
