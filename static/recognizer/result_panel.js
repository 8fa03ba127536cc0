// The result panel shared by the Draw, Upload and detail pages: fills itself from the API's answers and sends
// corrections through it. Panel is what every result panel does (the Number page's too, number_page.js).

import { callApi, fetchImage } from "./api.js";

// The same rule as the pages' `percent` template filter (recognizer/templatetags/digitvision.py): one decimal,
// never a flat "100.0%" or "0.0%" that is not exactly so.
export function percent(p) {
  const text = (p * 100).toFixed(1);
  if (text === "100.0" && p < 1) return ">99.9%";
  if (text === "0.0" && p > 0) return "<0.1%";
  return text + "%";
}

// The reason the API gives when the ink looks like several digits (ml/refusal.py): the panel offers to read the
// same image as a number.
const SEVERAL_DIGITS = "looks like several digits";

// The small print under a refusal, as the pages write it (recognizer/views/people.py).
function closestText(s) {
  return `closest digit: ${s.closest_digit}, ${percent(s.closest_probability)}`;
}

// A page URL rendered with 0 for the id (e.g. /submissions/0/input/), for submission `id`.
export function withId(template, id) {
  return template
    .split("/")
    .map((part) => (part === "0" ? String(id) : part))
    .join("/");
}

// A panel's states (data-state: empty, loading, error, ready, "ready loading"), which the stylesheet shows, and
// the answer it holds (`submission`: what the API said). The API's endpoint is data-api-url: POST here to
// read an image, {id}/correction/ to correct.
export class Panel {
  constructor(root) {
    this.root = root;
    this.q = (sel) => root.querySelector(sel);
    this.apiUrl = root.dataset.apiUrl;
    this.submission = null;
  }

  setState(state) {
    this.root.dataset.state = state;
  }

  // The drawing is changing (a new stroke): the answer shown is for the drawing as it was.
  markProvisional(provisional) {
    this.root.dataset.provisional = provisional && this.submission ? "true" : "false";
  }

  reset() {
    this.submission = null;
    this.setState("empty");
  }

  loading() {
    this.setState(this.submission ? "ready loading" : "loading");
  }

  // The Predictor passes the API's error code too, for a panel that words some errors its own way.
  error(message) {
    this.submission = null;
    this.q("[data-result-error]").textContent = message;
    this.setState("error");
  }
}

export class ResultPanel extends Panel {
  constructor(root) {
    super(root);
    this.form = this.q("[data-correction-form]");
    // The Draw page's compact answer beside the canvas (small screens, where the panel is below the fold).
    this.compact = document.querySelector("[data-result-compact]");
    this.form.addEventListener("submit", (event) => this.onCorrect(event));
    this.q("[data-result-number-hint]").addEventListener("submit", (event) => {
      event.preventDefault();
      this.readAsNumber();
    });
  }

  setState(state) {
    super.setState(state);
    if (this.compact) this.compact.dataset.state = state;
  }

  markProvisional(provisional) {
    super.markProvisional(provisional);
    if (this.compact) this.compact.dataset.provisional = this.root.dataset.provisional;
  }

  show(s) {
    this.submission = s;
    // A refusal ("not a digit") shows no digit and no confidence: why, and the closest digit in small print.
    const refused = Boolean(s.not_a_digit);
    const answer = refused ? "not-a-digit" : "digit";
    this.root.dataset.answer = answer;
    this.q(".result-digit").textContent = refused ? "" : String(s.digit);
    this.q(".result-confidence").textContent = refused ? "" : percent(s.confidence);
    const closest = refused ? closestText(s) : "";
    this.q("[data-result-closest]").textContent = closest;
    if (refused) this.showReason(s.reason);
    if (this.compact) {
      this.compact.dataset.answer = answer;
      this.compact.querySelector("[data-compact-digit]").textContent = refused ? "" : String(s.digit);
      this.compact.querySelector("[data-compact-confidence]").textContent = refused ? "" : percent(s.confidence);
      this.compact.querySelector("[data-compact-closest]").textContent = closest;
    }
    this.markProvisional(false);
    this.q("[data-result-input]").src = withId(this.root.dataset.inputUrl, s.id);
    this.q("[data-result-detail]").href = withId(this.root.dataset.detailUrl, s.id);
    this.root.querySelectorAll("[data-result-probs] li").forEach((li) => {
      const d = Number(li.dataset.digit);
      const p = s.probabilities[d] ?? 0;
      li.querySelector(".probs-fill").style.width = (p * 100).toFixed(2) + "%";
      li.querySelector(".probs-value").textContent = percent(p);
      li.classList.toggle("top", !refused && d === s.digit);
    });
    this.form.action = withId(this.root.dataset.correctUrl, s.id); // only used without the script
    this.q("[data-result-number-hint]").action = withId(this.root.dataset.readAsNumberUrl, s.id);
    const confirm = this.q("[data-confirm-button]");
    confirm.name = refused ? "not_a_digit" : "digit";
    confirm.value = refused ? "true" : String(s.digit);
    this.showCorrection(s);
    this.setState("ready");
  }

  // The sentence of the refusal's reason (the page carries one per reason; an unknown one reads as the first).
  showReason(reason) {
    const sentences = [...this.root.querySelectorAll("[data-result-refusal] [data-reason]")];
    const known = sentences.some((p) => p.dataset.reason === reason) ? reason : sentences[0].dataset.reason;
    sentences.forEach((p) => {
      p.hidden = p.dataset.reason !== known;
    });
    this.q("[data-result-number-hint]").hidden = reason !== SEVERAL_DIGITS;
    this.q("[data-read-as-number]").hidden = false;
    this.q("[data-number-answer]").hidden = true;
  }

  // "Read as a number": the image this answer was read from (the API's copy of the original) sent again, to
  // the numbers' endpoint; the number read is shown with a link to its page, where it can be corrected.
  async readAsNumber() {
    const s = this.submission;
    if (!s || !s.id) return;
    const button = this.q("[data-read-as-number]");
    const answer = this.q("[data-number-answer]");
    button.disabled = true;
    answer.textContent = "Reading it as a number…";
    answer.hidden = false;
    try {
      const data = new FormData();
      data.append("image", await fetchImage(`${this.apiUrl}${s.id}/image/`), "image");
      data.append("source", s.source || "api");
      const n = await callApi(this.root.dataset.numbersUrl, { body: data });
      if (!this.submission || this.submission.id !== s.id) return; // another answer is shown by now
      if (n.not_a_number) {
        answer.textContent = "It doesn't read as a number either.";
      } else {
        const link = document.createElement("a");
        link.href = withId(this.root.dataset.numberDetailUrl, n.id);
        link.textContent = "See its digits and correct it";
        const number = document.createElement("strong");
        number.className = "result-number-value";
        number.textContent = n.number;
        answer.replaceChildren("Read as a number: ", number, ` (${percent(n.confidence)}) · `, link);
        button.hidden = true;
      }
    } catch (error) {
      answer.textContent = `Could not read it as a number: ${error.message}`;
    } finally {
      button.disabled = false;
    }
  }

  showCorrection(s) {
    const refused = Boolean(s.not_a_digit);
    const toDigit = s.corrected_digit ?? null;
    const toNotADigit = Boolean(s.corrected_not_a_digit);
    // What the model said, confirmed; else the other answer picked.
    const confirmed = refused ? toNotADigit : toDigit !== null && toDigit === s.digit;
    this.q("[data-confirm-button]").setAttribute("aria-pressed", String(confirmed));
    this.root.querySelectorAll("[data-digit-button]").forEach((b) => {
      b.setAttribute("aria-pressed", String(!confirmed && toDigit !== null && Number(b.value) === toDigit));
    });
    this.q("[data-not-a-digit-button]").setAttribute("aria-pressed", String(!confirmed && toNotADigit));
    let text = "";
    if (confirmed) text = refused ? "Confirmed: not a digit" : `Confirmed as ${toDigit}`;
    else if (toNotADigit) text = "Corrected to not a digit";
    else if (toDigit !== null) text = `Corrected to ${toDigit}`;
    this.q("[data-correction-state]").textContent = text;
  }

  async onCorrect(event) {
    event.preventDefault();
    const button = event.submitter;
    if (!button || button.value === "") return;
    if (!this.submission || !this.submission.id) return;
    const url = `${this.apiUrl}${this.submission.id}/correction/`;
    const state = this.q("[data-correction-state]");
    try {
      const body = button.name === "not_a_digit" ? { not_a_digit: true } : { true_digit: Number(button.value) };
      const s = await callApi(url, { method: "PUT", body });
      // The detail page was rendered by the server: keep what the panel shows, take the correction.
      this.submission = { ...this.submission, ...s };
      this.showCorrection(this.submission);
    } catch (error) {
      state.textContent = `Could not save: ${error.message}`;
    }
  }
}
