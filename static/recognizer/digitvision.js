// DigitVision page script: the Draw, Upload and detail pages of single digits. No build step, no dependencies:
// small modules. It talks to the public API (/api/v1/, session cookie + CSRF token; see api.js), so the pages
// follow the API's rules and error shape; elements are found by the script's own classes and data- hooks,
// never by test ids. The Number page and a number's page have their own script, number_page.js.

import { ResultPanel } from "./result_panel.js";
import { Predictor, wireDrawing, wireUpload } from "./workspace.js";

function initDetailPage(panelRoot) {
  const panel = new ResultPanel(panelRoot);
  const { submissionId, digit, notADigit, correctedDigit, correctedNotADigit, source } = panelRoot.dataset;
  if (!submissionId) return;
  const toDigit = correctedDigit === "" || correctedDigit === undefined ? null : Number(correctedDigit);
  panel.submission = {
    id: Number(submissionId),
    digit: digit === "" || digit === undefined ? null : Number(digit),
    not_a_digit: notADigit === "true",
    corrected_digit: toDigit,
    corrected_not_a_digit: correctedNotADigit === "true",
    is_corrected: toDigit !== null || correctedNotADigit === "true",
    source,
  };
}

const drawPage = document.querySelector("[data-draw-page]");
const uploadPage = document.querySelector("[data-upload-page]");
const panelRoot = document.querySelector("[data-result-panel]");
if (drawPage) {
  const panel = new ResultPanel(panelRoot);
  wireDrawing(drawPage, panel, new Predictor(panel));
} else if (uploadPage) {
  const panel = new ResultPanel(panelRoot);
  wireUpload(uploadPage, panel, new Predictor(panel));
} else if (panelRoot) initDetailPage(panelRoot);
