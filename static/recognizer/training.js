// DigitVision staff pages: follow a training run live by polling the API, then reload once to show its verdict.

const POLL_MS = 1000;
const BACKOFF_MS = 5000; // after a failed poll (server busy, throttled, offline): try again, less often
const MAX_LOG_LINES = 200;

function label(state) {
  return state ? state.charAt(0).toUpperCase() + state.slice(1) : "";
}

function setText(el, text) {
  if (el && el.textContent !== text) el.textContent = text;
}

class RunFollower {
  constructor(root) {
    this.root = root;
    this.url = root.dataset.apiUrl;
    this.q = (sel) => root.querySelector(sel);
    this.log = document.querySelector("[data-training-log]");
    this.error = this.q("[data-poll-error]");
  }

  start() {
    this.schedule(POLL_MS);
  }

  schedule(delay) {
    window.setTimeout(() => this.poll(), delay);
  }

  async poll() {
    if (document.hidden) {
      // Nobody is looking: no requests until the tab is visible again.
      document.addEventListener("visibilitychange", () => this.poll(), { once: true });
      return;
    }
    let response;
    try {
      response = await fetch(this.url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    } catch {
      this.showError("Cannot reach the server; retrying…");
      this.schedule(BACKOFF_MS);
      return;
    }
    if (response.status === 401 || response.status === 403 || response.status === 404) {
      this.showError("Live progress is unavailable (the server answered " + response.status + "); reload the page.");
      return; // retrying cannot help
    }
    if (!response.ok) {
      this.showError("The server answered " + response.status + "; retrying…");
      this.schedule(BACKOFF_MS);
      return;
    }
    const run = await response.json();
    this.showError("");
    this.render(run);
    if (run.is_in_progress) {
      this.schedule(POLL_MS);
    } else {
      // The verdict, figures and plots are rendered by the server: one reload shows them.
      window.location.reload();
    }
  }

  render(run) {
    const state = this.q("[data-testid=training-state]");
    if (state) {
      state.dataset.state = run.state;
      setText(state, label(run.state));
    }
    setText(this.q("[data-testid=training-step]"), run.step || "—");
    const percent = Math.max(0, Math.min(100, Number(run.progress) || 0));
    const bar = this.q("[data-testid=training-progress] progress");
    if (bar) bar.value = percent;
    setText(this.q(".run-progress-text"), Math.round(percent) + "%");
    this.renderLog(run.log || []);
  }

  renderLog(lines) {
    if (!this.log || !lines.length) return;
    const shown = lines.slice(-MAX_LOG_LINES);
    const current = Array.from(this.log.children, (li) => li.textContent);
    if (current.length === shown.length && current[current.length - 1] === shown[shown.length - 1]) return;
    const atBottom = this.log.scrollTop + this.log.clientHeight >= this.log.scrollHeight - 8;
    this.log.replaceChildren(
      ...shown.map((line) => {
        const li = document.createElement("li");
        li.textContent = line;
        return li;
      }),
    );
    if (atBottom) this.log.scrollTop = this.log.scrollHeight; // follow the tail unless the reader scrolled up
  }

  showError(message) {
    if (!this.error) return;
    this.error.textContent = message;
    this.error.hidden = !message;
  }
}

for (const root of document.querySelectorAll("[data-training-run]")) {
  if (root.dataset.inProgress === "true" && root.dataset.apiUrl) new RunFollower(root).start();
}
