// A department's upload page (/submit): its token kept in this browser after it is entered once, the file sent
// to POST /api/submissions/<feed>, then its outcome polled from GET /api/submissions/<id> until it is loaded.
const $ = (id) => document.getElementById(id);
const TOKEN_KEY = "ioc.submitToken";
const FEED_KEY = "ioc-submit-feed";
let words = {}; // the page's words (Vietnamese), by message id: GET /api/wording, the platform's catalogues
const say = (id, values = {}) => (words[id] || id).replace(/\{(\w+)\}/g, (_, k) => (k in values ? values[k] : `{${k}}`));

// An element's fixed text from the wording: its data-i18n message, each {name} in it the element's child marked
// data-slot="name", kept as it is (its own text is filled elsewhere). The page's HTML holds the same Vietnamese
// for the moment before the wording loads.
function render(node) {
  const slots = Object.fromEntries([...node.querySelectorAll("[data-slot]")].map((s) => [s.dataset.slot, s]));
  const parts = say(node.dataset.i18n).split(/\{(\w+)\}/); // odd parts: the names of the slots
  node.replaceChildren(...parts.map((part, i) => (i % 2 ? slots[part] ?? `{${part}}` : part)));
}

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (cls) node.className = cls;
  return node;
}

function showToken() {
  const saved = Boolean(localStorage.getItem(TOKEN_KEY));
  $("token-form").hidden = saved;
  $("token-saved").hidden = !saved;
}

function show(answer) {
  const box = $("result");
  box.replaceChildren();
  const status = words[`submit.status.${answer.status}`] || answer.status;
  box.append(el("p", `${answer.file || ""} — ${status}`, `outcome s-${answer.status}`));
  if (answer.reason && answer.reason.vi) box.append(el("p", answer.reason.vi, "why"));
  if (answer.error && answer.error.vi) box.append(el("p", answer.error.vi, "why"));
  if (answer.rows_received !== undefined) {
    box.append(el("p", say("submit.rows", {
      received: answer.rows_received, loaded: answer.rows_loaded, quarantined: answer.rows_quarantined,
    })));
  }
  if (answer.reasons && answer.reasons.length) {
    const list = el("ul", undefined, "reasons");
    for (const reason of answer.reasons) list.append(el("li", reason.vi));
    box.append(list);
  }
}

async function follow(url, token) {
  // An outcome is answered only to the unit that sent it: the same token goes with every question.
  for (let i = 0; i < 100; i += 1) {
    const response = await fetch(url, { headers: { Authorization: `Bearer ${token}`, Accept: "application/json" } });
    if (response.ok) {
      const answer = await response.json();
      show(answer);
      if (answer.status !== "waiting" && answer.status !== "accepted") return;
    }
    await new Promise((resolve) => setTimeout(resolve, 3000));
  }
}

async function start() {
  words = (await (await fetch("/api/wording", { headers: { Accept: "application/json" } })).json()).messages.vi;
  for (const node of document.querySelectorAll("[data-i18n]")) render(node);
  const feeds = (await (await fetch("/api/feeds")).json()).feeds.filter((f) => f.submissions);
  for (const feed of feeds) {
    const option = el("option", feed.name.vi);
    option.value = feed.id;
    $("feed").append(option);
  }
  const describe = () => {
    const feed = feeds.find((f) => f.id === $("feed").value);
    if (!feed) return;
    $("types").textContent = feed.submissions.file_types.map((t) => `.${t}`).join(", ");
    $("max").textContent = `${(feed.submissions.max_bytes / 1e6).toLocaleString("vi-VN")} MB`;
    $("file").accept = feed.submissions.file_types.map((t) => `.${t}`).join(",");
  };
  // the report last sent from this browser stays chosen (a department sends the same report every month)
  const last = localStorage.getItem(FEED_KEY);
  if (feeds.some((f) => f.id === last)) $("feed").value = last;
  $("feed").addEventListener("change", () => { localStorage.setItem(FEED_KEY, $("feed").value); describe(); });
  describe();
  showToken();
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    localStorage.setItem(TOKEN_KEY, $("token").value.trim());
    $("token").value = "";
    showToken();
  });
  $("token-forget").addEventListener("click", () => { localStorage.removeItem(TOKEN_KEY); showToken(); });
  $("file-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = localStorage.getItem(TOKEN_KEY);
    if (!token) { show({ status: "refused", reason: { vi: say("submit.no_token") } }); return; }
    const form = new FormData();
    form.append("file", $("file").files[0]);
    $("send").disabled = true;
    try {
      const response = await fetch(`/api/submissions/${encodeURIComponent($("feed").value)}`, {
        method: "POST", body: form, headers: { Authorization: `Bearer ${token}`, Accept: "application/json" },
      });
      const answer = await response.json();
      show({ ...answer, file: $("file").files[0].name });
      if (response.ok) await follow(answer.outcome, token);
    } finally {
      $("send").disabled = false;
    }
  });
  document.body.dataset.ready = "1";
}

start();
