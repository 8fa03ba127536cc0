// DigitVision page script: the drawing pad, uploads and the shared result panel. No build step, no dependencies.
// It talks to the public API (/api/v1/, session cookie + CSRF token), so the pages follow the API's rules and
// error shape; elements are found by the script's own classes and data- hooks, never by test ids.

const EXPORT_SIZE = 280; // the canvas is exported at 280x280 px, whatever its size on screen
const AUTO_PREDICT_DELAY_MS = 250;

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

// One API call: FormData goes as multipart, anything else as JSON. Resolves to the answer's JSON; rejects with
// an Error carrying the API's error code and message.
async function callApi(url, { method = "POST", body, signal } = {}) {
  const headers = { "X-CSRFToken": csrfToken(), Accept: "application/json" };
  const isForm = body instanceof FormData;
  if (!isForm) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method,
    body: isForm ? body : JSON.stringify(body),
    headers,
    credentials: "same-origin",
    signal,
  });
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const message = data && data.error ? data.error.message : `The server answered ${response.status}.`;
    const error = new Error(message);
    error.code = data && data.error ? data.error.code : "http_" + response.status;
    throw error;
  }
  return data;
}

function percent(p) {
  return (p * 100).toFixed(1) + "%";
}

// A page URL rendered with 0 for the id (e.g. /submissions/0/input/), for submission `id`.
function withId(template, id) {
  return template
    .split("/")
    .map((part) => (part === "0" ? String(id) : part))
    .join("/");
}

// ------------------------------------------------------------------ result panel

class ResultPanel {
  constructor(root) {
    this.root = root;
    this.q = (sel) => root.querySelector(sel);
    this.form = this.q("[data-correction-form]");
    this.apiUrl = root.dataset.apiUrl; // POST here to predict; {id}/correction/ to correct
    this.submission = null;
    this.form.addEventListener("submit", (event) => this.onCorrect(event));
  }

  setState(state) {
    this.root.dataset.state = state;
  }

  reset() {
    this.submission = null;
    this.setState("empty");
  }

  loading() {
    this.setState(this.submission ? "ready loading" : "loading");
  }

  error(message) {
    this.submission = null;
    this.q("[data-result-error]").textContent = message;
    this.setState("error");
  }

  show(s) {
    this.submission = s;
    this.q(".result-digit").textContent = String(s.digit);
    this.q(".result-confidence").textContent = percent(s.confidence);
    this.q("[data-result-input]").src = withId(this.root.dataset.inputUrl, s.id);
    this.q("[data-result-detail]").href = withId(this.root.dataset.detailUrl, s.id);
    this.root.querySelectorAll("[data-result-probs] li").forEach((li) => {
      const d = Number(li.dataset.digit);
      const p = s.probabilities[d] ?? 0;
      li.querySelector(".probs-fill").style.width = (p * 100).toFixed(2) + "%";
      li.querySelector(".probs-value").textContent = percent(p);
      li.classList.toggle("top", d === s.digit);
    });
    this.form.action = withId(this.root.dataset.correctUrl, s.id); // only used without the script
    this.q("[data-confirm-button]").value = String(s.digit);
    this.showCorrection(s);
    this.setState("ready");
  }

  showCorrection(s) {
    const c = s.corrected_digit;
    const confirmed = c !== null && c === s.digit;
    this.q("[data-confirm-button]").setAttribute("aria-pressed", String(confirmed));
    this.root.querySelectorAll("[data-digit-button]").forEach((b) => {
      b.setAttribute("aria-pressed", String(c !== null && !confirmed && Number(b.value) === c));
    });
    this.q("[data-correction-state]").textContent =
      c === null ? "" : confirmed ? `Confirmed as ${c}` : `Corrected to ${c}`;
  }

  async onCorrect(event) {
    event.preventDefault();
    const button = event.submitter;
    if (!button || button.value === "") return;
    if (!this.submission || !this.submission.id) return;
    const url = `${this.apiUrl}${this.submission.id}/correction/`;
    const state = this.q("[data-correction-state]");
    try {
      const s = await callApi(url, { method: "PUT", body: { true_digit: Number(button.value) } });
      // The detail page was rendered by the server: keep what the panel shows, take the correction.
      this.submission = { ...this.submission, ...s };
      this.showCorrection(this.submission);
    } catch (error) {
      state.textContent = `Could not save: ${error.message}`;
    }
  }
}

// ------------------------------------------------------------------ drawing pad

class DrawingPad {
  constructor(canvas, { onStrokeEnd, onChange }) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.strokes = []; // each {width, points: [[x, y], ...]} in logical 280x280 coordinates
    this.current = null;
    this.pointerId = null;
    this.width = 22;
    this.onStrokeEnd = onStrokeEnd;
    this.onChange = onChange;

    canvas.addEventListener("pointerdown", (e) => this.down(e));
    canvas.addEventListener("pointermove", (e) => this.move(e));
    canvas.addEventListener("pointerup", (e) => this.up(e));
    canvas.addEventListener("pointercancel", (e) => this.up(e));
    canvas.addEventListener("contextmenu", (e) => e.preventDefault());
    new ResizeObserver(() => this.resize()).observe(canvas);
    this.resize();
  }

  resize() {
    // A crisp backing store on high-DPI screens: device pixels, drawn in logical coordinates.
    const size = this.canvas.clientWidth; // the content box, without the border
    if (!size) return;
    const dpr = window.devicePixelRatio || 1;
    const px = Math.round(size * dpr);
    if (this.canvas.width !== px || this.canvas.height !== px) {
      this.canvas.width = px;
      this.canvas.height = px;
    }
    this.redraw();
  }

  point(e) {
    const c = this.canvas;
    const rect = c.getBoundingClientRect();
    const scale = EXPORT_SIZE / c.clientWidth;
    return [(e.clientX - rect.left - c.clientLeft) * scale, (e.clientY - rect.top - c.clientTop) * scale];
  }

  down(e) {
    if (this.pointerId !== null) return; // one pointer at a time (ignore a second finger)
    if (e.pointerType === "mouse" && e.button !== 0) return;
    e.preventDefault();
    this.pointerId = e.pointerId;
    this.canvas.setPointerCapture(e.pointerId);
    this.current = { width: this.width, points: [this.point(e)] };
    this.strokes.push(this.current);
    this.redraw();
    this.onChange();
  }

  move(e) {
    if (e.pointerId !== this.pointerId || !this.current) return;
    e.preventDefault();
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
    for (const ev of events.length ? events : [e]) this.current.points.push(this.point(ev));
    this.redraw();
  }

  up(e) {
    if (e.pointerId !== this.pointerId) return;
    if (this.canvas.hasPointerCapture(e.pointerId)) this.canvas.releasePointerCapture(e.pointerId);
    this.pointerId = null;
    this.current = null;
    this.onStrokeEnd();
  }

  static paint(ctx, strokes, color) {
    ctx.strokeStyle = color;
    ctx.fillStyle = color;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    for (const { width, points } of strokes) {
      ctx.lineWidth = width;
      if (points.length === 1) {
        ctx.beginPath();
        ctx.arc(points[0][0], points[0][1], width / 2, 0, Math.PI * 2);
        ctx.fill();
        continue;
      }
      ctx.beginPath();
      ctx.moveTo(points[0][0], points[0][1]);
      for (let i = 1; i < points.length; i++) ctx.lineTo(points[i][0], points[i][1]);
      ctx.stroke();
    }
  }

  redraw() {
    const { ctx, canvas } = this;
    const scale = canvas.width / EXPORT_SIZE;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.setTransform(scale, 0, 0, scale, 0, 0);
    DrawingPad.paint(ctx, this.strokes, getComputedStyle(canvas).color || "#111");
  }

  undo() {
    this.strokes.pop();
    this.redraw();
    this.onChange();
  }

  clear() {
    this.strokes = [];
    this.current = null;
    this.redraw();
    this.onChange();
  }

  isEmpty() {
    return this.strokes.length === 0;
  }

  // Opaque black strokes on a transparent 280x280 background, as a PNG blob.
  toBlob() {
    const off = document.createElement("canvas");
    off.width = EXPORT_SIZE;
    off.height = EXPORT_SIZE;
    DrawingPad.paint(off.getContext("2d"), this.strokes, "#000");
    return new Promise((resolve) => off.toBlob(resolve, "image/png"));
  }
}

// ------------------------------------------------------------------ pages

class Predictor {
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
  }

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
      if (controller.signal.aborted) return;
      this.show(s, startedAt);
    } catch (error) {
      if (error.name === "AbortError") return;
      this.panel.error(error.message);
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
      const replaces = previous && previous.id && previous.corrected_digit == null ? previous.id : null;
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
        if (revision === this.revision) this.show(s, startedAt);
        else this.panel.submission = s; // not shown (a newer image is coming), but that one replaces it
      } catch (error) {
        if (revision === this.revision && drawing === this.drawing) this.panel.error(error.message);
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
  }

  show(s, startedAt) {
    this.panel.show(s);
    this.panel.root.dataset.lastLatencyMs = String(Math.round(performance.now() - startedAt));
  }
}

function initDrawPage(page) {
  const panel = new ResultPanel(document.querySelector("[data-result-panel]"));
  const predictor = new Predictor(panel);
  const canvas = page.querySelector(".draw-canvas");
  const hint = page.querySelector("[data-canvas-hint]");
  const slider = page.querySelector("[data-stroke-width]");
  let timer = null;
  let strokeEndedAt = 0;

  const predictNow = async (startedAt) => {
    clearTimeout(timer);
    if (pad.isEmpty()) {
      predictor.cancel();
      panel.error("Draw a digit first.");
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
    },
  });
  pad.width = Number(slider.value);
  slider.addEventListener("input", () => {
    pad.width = Number(slider.value);
  });

  page.querySelector("[data-predict-button]").addEventListener("click", () => predictNow(performance.now()));
  page.querySelector("[data-clear-button]").addEventListener("click", () => {
    clearTimeout(timer);
    predictor.cancel();
    pad.clear();
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
}

function initUploadPage(page) {
  const panel = new ResultPanel(document.querySelector("[data-result-panel]"));
  const predictor = new Predictor(panel);
  const maxBytes = Number(page.dataset.maxBytes);
  const form = page.querySelector("[data-upload-form]");
  const input = page.querySelector(".upload-input");
  const zone = page.querySelector("[data-dropzone]");
  const preview = page.querySelector("[data-upload-preview]");
  const text = page.querySelector("[data-dropzone-text]");
  const errorBox = page.querySelector("[data-upload-error]");
  const serverError = page.querySelector("[data-upload-server-error]");
  const accepted = (input.getAttribute("accept") || "").split(",");
  let previewUrl = null;

  const fail = (message) => {
    errorBox.textContent = message;
    errorBox.hidden = false;
    panel.reset();
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
    predictor.send(file, file.name, "upload", performance.now());
  };

  // Some formats the server reads (HEIC in most browsers) cannot be shown here: no broken image, just the name.
  preview.addEventListener("error", () => {
    preview.hidden = true;
  });
  input.addEventListener("change", () => handle(input.files[0]));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (input.files[0]) handle(input.files[0]);
    else fail("Choose an image first.");
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

function initDetailPage(panelRoot) {
  const panel = new ResultPanel(panelRoot);
  const { submissionId, digit, correctedDigit } = panelRoot.dataset;
  if (!submissionId) return;
  panel.submission = {
    id: Number(submissionId),
    digit: Number(digit),
    corrected_digit: correctedDigit === "" || correctedDigit === undefined ? null : Number(correctedDigit),
  };
}

const drawPage = document.querySelector("[data-draw-page]");
const uploadPage = document.querySelector("[data-upload-page]");
const panelRoot = document.querySelector("[data-result-panel]");
if (drawPage) initDrawPage(drawPage);
else if (uploadPage) initUploadPage(uploadPage);
else if (panelRoot) initDetailPage(panelRoot);
