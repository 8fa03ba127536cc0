// What the Draw, Upload and Number pages share: sending images to the API (a digit's endpoint or a number's,
// whichever the panel names), the drawing pad with its tools and its reading after a pause, and the upload
// form with drag-and-drop. A panel is anything with the Panel interface of result_panel.js.

import { DrawingPad } from "./drawing_pad.js";
import { callApi } from "./api.js";

// The pause after a stroke before the page predicts on its own. People lift the pen between the strokes of
// one digit (a 4, a 5, a 7 with a bar) for some 200-500 ms; at 250 ms the half-drawn digit was read and
// flashed a wrong answer. 700 ms waits out that pause; Predict answers at once.
export const AUTO_PREDICT_DELAY_MS = 700;

export class Predictor {
  // Uploads: a newer file aborts the request in flight, so a stale answer never shows.
  // Drawings: the page predicts after every stroke, and each prediction of a drawing replaces the one
  // before it, so History holds one submission per drawing. A request already sent cannot be taken back
  // (the server may store it although the page stopped listening), so a newer image of the drawing waits
  // for the one in flight and then replaces what it stored; of several waiting images only the newest goes.
  constructor(panel) {
    this.url = panel.apiUrl;
    this.panel = panel;
    this.controller = null;
    this.inFlight = Promise.resolve(); // the drawing's request on its way, settled once it is answered
    this.revision = 0; // the newest image of the drawing
    this.drawing = 0; // bumped when the drawing is cleared: answers for an earlier drawing are ignored
    this.drawnId = null; // what the drawing last stored: only that is replaced (never an upload shown since)
  }

  // Resolves true once the answer is shown, false when it failed or a newer file took over.
  async send(blob, filename, source, startedAt) {
    if (this.controller) this.controller.abort();
    const controller = new AbortController();
    this.controller = controller;
    const data = new FormData();
    data.append("image", blob, filename);
    data.append("source", source);
    this.panel.loading();
    try {
      const s = await callApi(this.url, { body: data, signal: controller.signal });
      if (controller.signal.aborted) return false;
      this.show(s, startedAt);
      return true;
    } catch (error) {
      if (error.name === "AbortError") return false;
      this.panel.error(error.message, error.code);
      return false;
    } finally {
      if (this.controller === controller) this.controller = null;
    }
  }

  sendRevision(blob, startedAt) {
    const revision = ++this.revision;
    const drawing = this.drawing;
    this.panel.loading();
    this.inFlight = this.inFlight.then(async () => {
      if (revision !== this.revision || drawing !== this.drawing) return; // superseded while waiting
      const previous = this.panel.submission;
      const ours = previous && previous.id && previous.id === this.drawnId;
      const replaces = ours && !previous.is_corrected ? previous.id : null;
      try {
        let s;
        try {
          s = await callApi(this.url, { body: this.canvasForm(blob, replaces) });
        } catch (error) {
          // Corrected (or deleted elsewhere) while this image was on its way: that one stays, this one is new.
          if (replaces === null || error.code !== "not_replaceable") throw error;
          s = await callApi(this.url, { body: this.canvasForm(blob, null) });
        }
        if (drawing !== this.drawing) return; // the drawing was cleared: its last submission stays as it is
        this.drawnId = s.id;
        if (revision === this.revision) this.show(s, startedAt);
        else this.panel.submission = s; // not shown (a newer image is coming), but that one replaces it
      } catch (error) {
        if (revision === this.revision && drawing === this.drawing) this.panel.error(error.message, error.code);
      }
    });
    return this.inFlight;
  }

  canvasForm(blob, replaces) {
    const data = new FormData();
    data.append("image", blob, "canvas.png");
    data.append("source", "canvas");
    if (replaces !== null) data.append("replaces", String(replaces));
    return data;
  }

  // The drawing changed (undo): an answer on its way is kept for replacing, not shown.
  supersede() {
    this.revision += 1;
  }

  cancel() {
    if (this.controller) this.controller.abort();
    this.controller = null;
    this.drawing += 1;
    this.drawnId = null;
  }

  show(s, startedAt) {
    this.panel.show(s);
    this.panel.root.dataset.lastLatencyMs = String(Math.round(performance.now() - startedAt));
  }
}

// The drawing pad of `page` (its canvas, pen width, Predict, Clear and Undo) read through `predictor` a
// moment after each stroke. Returns { clear }, which forgets the drawing as Clear does but leaves the panel.
export function wireDrawing(page, panel, predictor) {
  const canvas = page.querySelector(".draw-canvas");
  const hint = page.querySelector("[data-canvas-hint]");
  const slider = page.querySelector("[data-stroke-width]");
  const emptyMessage = page.dataset.emptyMessage || "Draw a digit first.";
  let timer = null;
  let strokeEndedAt = 0;

  const predictNow = async (startedAt) => {
    clearTimeout(timer);
    if (pad.isEmpty()) {
      predictor.cancel();
      panel.error(emptyMessage);
      return;
    }
    await predictor.sendRevision(await pad.toBlob(), startedAt);
  };

  const pad = new DrawingPad(canvas, {
    onStrokeEnd: () => {
      strokeEndedAt = performance.now();
      clearTimeout(timer);
      timer = setTimeout(() => predictNow(strokeEndedAt), AUTO_PREDICT_DELAY_MS);
    },
    onChange: () => {
      hint.hidden = !pad.isEmpty();
      clearTimeout(timer); // a new stroke started: wait for it to end
      panel.markProvisional(true); // what is shown was read from the drawing before this stroke
    },
  });
  pad.width = Number(slider.value);
  slider.addEventListener("input", () => {
    pad.width = Number(slider.value);
  });

  const forget = () => {
    clearTimeout(timer);
    predictor.cancel();
    pad.clear();
  };
  page.querySelector("[data-predict-button]").addEventListener("click", () => predictNow(performance.now()));
  page.querySelector("[data-clear-button]").addEventListener("click", () => {
    forget();
    panel.reset();
  });
  page.querySelector("[data-undo-button]").addEventListener("click", () => {
    pad.undo();
    if (pad.isEmpty()) {
      predictor.cancel();
      panel.reset();
    } else {
      predictor.supersede();
      strokeEndedAt = performance.now();
      timer = setTimeout(() => predictNow(strokeEndedAt), AUTO_PREDICT_DELAY_MS);
    }
  });
  return {
    clear: () => {
      if (!pad.isEmpty()) forget();
    },
  };
}

// The upload form of `page` (templates/recognizer/_upload_form.html): a file chosen or dropped is checked
// here (type, size), previewed and sent through `predictor`. `onFile(file)` is called as one is sent.
export function wireUpload(page, panel, predictor, { onFile = () => {} } = {}) {
  const maxBytes = Number(page.dataset.maxBytes);
  const form = page.querySelector("[data-upload-form]");
  const input = page.querySelector(".upload-input");
  const zone = page.querySelector("[data-dropzone]");
  const preview = page.querySelector("[data-upload-preview]");
  const text = page.querySelector("[data-dropzone-text]");
  const errorBox = page.querySelector("[data-upload-error]");
  const serverError = page.querySelector("[data-upload-server-error]");
  const submit = form.querySelector("[data-upload-submit]");
  const accepted = (input.getAttribute("accept") || "").split(",");
  let previewUrl = null;
  let sent = null; // the file last sent: choosing it recognises it, so Recognise must not store it again

  const fail = (message) => {
    errorBox.textContent = message;
    errorBox.hidden = false;
    panel.reset();
    sent = null;
    submit.hidden = false;
  };

  const handle = (file) => {
    errorBox.hidden = true;
    if (serverError) serverError.hidden = true;
    if (!file) return;
    // The server decides for real; this only stops obvious non-images early (browsers name some types oddly).
    if (file.type && !accepted.includes(file.type) && !file.type.startsWith("image/")) {
      fail(`"${file.name}" is not a supported image (PNG, JPEG, HEIC, AVIF, WebP, GIF, BMP or TIFF).`);
      return;
    }
    if (file.size > maxBytes) {
      const mb = (n) => (n / (1024 * 1024)).toFixed(1) + " MB";
      fail(`"${file.name}" is too large (${mb(file.size)}); the limit is ${mb(maxBytes)}.`);
      return;
    }
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = URL.createObjectURL(file);
    preview.src = previewUrl;
    preview.hidden = false;
    const name = document.createElement("strong");
    name.textContent = file.name;
    text.replaceChildren(name, " · choose another or drop it here");
    sent = file;
    submit.hidden = true; // choosing the file sent it; Recognise comes back only if that failed
    onFile(file);
    predictor.send(file, file.name, "upload", performance.now()).then((shown) => {
      if (!shown && sent === file) {
        sent = null;
        submit.hidden = false;
      }
    });
  };

  // Some formats the server reads (HEIC in most browsers) cannot be shown here: no broken image, just the name.
  preview.addEventListener("error", () => {
    preview.hidden = true;
  });
  input.addEventListener("change", () => handle(input.files[0]));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (!input.files[0]) fail("Choose an image first.");
    else if (input.files[0] !== sent) handle(input.files[0]);
  });
  for (const type of ["dragenter", "dragover"]) {
    zone.addEventListener(type, (e) => {
      e.preventDefault();
      zone.classList.add("dragging");
    });
  }
  for (const type of ["dragleave", "drop"]) {
    zone.addEventListener(type, () => zone.classList.remove("dragging"));
  }
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    const file = e.dataTransfer.files[0];
    if (file) handle(file);
  });
}
