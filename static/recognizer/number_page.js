// The Number page (a wide drawing pad and an upload, read as a whole number) and a number's own page: the
// number panel fills itself from POST /api/v1/numbers/ and corrects through PUT .../{id}/correction/, the
// whole number typed or one digit fixed. Elements are found by data- hooks, never by test ids.

import { callApi } from "./api.js";
import { Panel, percent, withId } from "./result_panel.js";
import { Predictor, wireDrawing, wireUpload } from "./workspace.js";

const MAX_DIGITS = 12;

// What the panel says of a number's correction, as recognizer/views/people.py writes it.
function correctionText(s) {
  if (!s.is_corrected) return "";
  if (s.segmentation_wrong) {
    return (
      `Corrected to ${s.corrected_number}: another count of digits than were found, so the segmentation is ` +
      "marked wrong; the digits were not used for training."
    );
  }
  if (s.corrected_number === s.number) return `Confirmed: ${s.corrected_number}`;
  return `Corrected to ${s.corrected_number}`;
}

class NumberPanel extends Panel {
  constructor(root) {
    super(root);
    this.unsureBelow = Number(root.dataset.unsureBelow);
    this.list = this.q("[data-number-digits]");
    this.template = this.q("[data-digit-template]");
    this.digitForm = this.q("[data-digit-form]");
    this.confirmForm = this.q("[data-confirm-form]");
    this.numberForm = this.q("[data-number-form]");
    this.input = this.q("[data-true-number-input]");
    this.state = this.q("[data-correction-state]");

    this.digitForm.addEventListener("change", () => this.showFixLabel());
    this.digitForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const chosen = this.digitForm.querySelector("[data-digit-choice]:checked");
      if (!event.submitter || !chosen) return this.say("Pick the digit to fix first.", true);
      this.correct({ position: Number(chosen.value), true_digit: Number(event.submitter.value) });
    });
    this.confirmForm.addEventListener("submit", (event) => {
      event.preventDefault();
      if (this.submission && this.submission.number) this.correct({ true_number: this.submission.number });
    });
    this.numberForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const typed = this.input.value.trim();
      if (!new RegExp(`^[0-9]{1,${MAX_DIGITS}}$`).test(typed)) {
        this.say(`Type the number with the digits 0–9 only, 1 to ${MAX_DIGITS} of them.`, true);
        return;
      }
      this.correct({ true_number: typed });
    });
    // Digits only: anything else typed or pasted is dropped where it lands.
    this.input.addEventListener("input", () => {
      const clean = this.input.value.replace(/[^0-9]/g, "");
      if (clean === this.input.value) return;
      const caret = Math.max(0, (this.input.selectionStart ?? clean.length) - (this.input.value.length - clean.length));
      this.input.value = clean;
      this.input.setSelectionRange(caret, caret);
    });
  }

  error(message, code) {
    super.error(code === "no_digit" ? "No digit: write a number, or choose an image of one." : message);
  }

  isUnsure(d) {
    return Boolean(d.refused) || d.confidence < this.unsureBelow;
  }

  show(s) {
    this.submission = s;
    const refused = Boolean(s.not_a_number);
    this.root.dataset.answer = refused ? "not-a-number" : "number";
    this.q("[data-number-value]").textContent = refused ? "" : s.number;
    this.q("[data-number-confidence]").textContent = refused ? "" : percent(s.confidence);
    this.q("[data-number-reason]").textContent = s.reason || "";
    const unsure = s.digits.filter((d) => this.isUnsure(d));
    const fixAt = unsure.length ? unsure[0].position : 0;
    this.list.replaceChildren(...s.digits.map((d) => this.digitItem(d, d.position === fixAt)));
    const detail = this.q("[data-result-detail]");
    if (detail) detail.href = withId(this.root.dataset.detailUrl, s.id);
    for (const form of [this.digitForm, this.confirmForm, this.numberForm]) {
      form.action = withId(this.root.dataset.correctUrl, s.id); // only used without the script
    }
    this.input.value = "";
    this.markProvisional(false);
    this.showCorrection(s);
    this.setState("ready");
  }

  digitItem(d, checked) {
    const item = this.template.content.firstElementChild.cloneNode(true);
    const unsure = this.isUnsure(d);
    item.dataset.position = String(d.position);
    item.classList.toggle("is-unsure", unsure);
    const choice = item.querySelector("[data-digit-choice]");
    choice.value = String(d.position);
    choice.checked = checked;
    const crop = item.querySelector("[data-digit-input]");
    crop.src = d.links.input_image;
    crop.alt = `Digit ${d.position + 1} as the model saw it (28×28)`;
    item.querySelector("[data-digit-value]").textContent = String(d.digit);
    item.querySelector("[data-digit-confidence]").textContent = percent(d.confidence);
    item.querySelector("[data-digit-unsure]").hidden = !unsure;
    return item;
  }

  // The correction as it stands: the sentence, each digit's true digit where it differs, and which corrections
  // are offered (one digit only while the digits found are the digits written).
  showCorrection(s) {
    const byPosition = new Map(s.digits.map((d) => [d.position, d]));
    this.list.querySelectorAll("[data-digit-item]").forEach((item) => {
      const d = byPosition.get(Number(item.dataset.position));
      const to = d ? d.corrected_digit : null;
      const changed = to !== null && to !== undefined && to !== d.digit;
      const mark = item.querySelector("[data-digit-corrected]");
      mark.hidden = !changed;
      mark.textContent = changed ? `→ ${to}` : "";
    });
    const refused = Boolean(s.not_a_number);
    this.q("[data-digit-fix]").hidden = refused || !s.digits.length || Boolean(s.segmentation_wrong);
    this.confirmForm.hidden = refused;
    const confirmed = Boolean(s.is_corrected) && s.corrected_number === s.number;
    this.q("[data-confirm-button]").setAttribute("aria-pressed", String(confirmed));
    this.say(correctionText(s), false);
    this.showFixLabel();
  }

  showFixLabel() {
    const chosen = this.digitForm.querySelector("[data-digit-choice]:checked");
    this.q("[data-fix-label]").textContent = chosen ? String(Number(chosen.value) + 1) : "…";
  }

  say(text, isError) {
    this.state.textContent = text;
    this.state.classList.toggle("is-error", isError);
  }

  async correct(body) {
    const s = this.submission;
    if (!s || !s.id) return;
    try {
      const corrected = await callApi(`${this.apiUrl}${s.id}/correction/`, { method: "PUT", body });
      if (!this.submission || this.submission.id !== corrected.id) return; // another number is shown by now
      this.submission = corrected;
      this.showCorrection(corrected);
    } catch (error) {
      this.say(`Could not save: ${error.message}`, true);
    }
  }
}

// A number's page was rendered by the server: what the panel needs to correct it, from its data- attributes.
function renderedNumber(root) {
  const { numberId, number } = root.dataset;
  return numberId ? { id: Number(numberId), number: number || null } : null;
}

const panelRoot = document.querySelector("[data-number-panel]");
const page = document.querySelector("[data-number-page]");
if (panelRoot) {
  const panel = new NumberPanel(panelRoot);
  if (page) {
    const predictor = new Predictor(panel);
    const drawing = wireDrawing(page, panel, predictor);
    // A file chosen is the number now: the drawing goes, as with Clear (what it stored stays in History).
    wireUpload(page, panel, predictor, { onFile: () => drawing.clear() });
  } else {
    panel.submission = renderedNumber(panelRoot);
  }
}
