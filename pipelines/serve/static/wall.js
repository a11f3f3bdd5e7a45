// The operations-centre wall: built only on the JSON API under /api/ (see docs/wall.md, "The wall's API"), refreshed on
// its own. State lives in the address (#unit=…&kpi=…&at=…) so a wall screen can be bookmarked.
import {
  STRINGS, STATUS_SYMBOL, loadWording, fill, kpiValue, kpiChange, periodLabel, dateTime, day, dayMonth, ago, duration, number,
} from "./i18n.js";

const params = new URLSearchParams(location.search);
const REFRESH_SECONDS = Math.max(5, Number(params.get("refresh")) || 60);
const STALE_AFTER_SECONDS = 15 * 60; // the snapshot is refreshed each minute: older means no writer and no exporter refresh

const state = {
  lang: params.get("lang") || localStorage.getItem("ioc.lang") || "vi",
  data: null, // the latest responses, by endpoint
  generatedAt: null,
};

const t = () => STRINGS[state.lang];
const $ = (id) => document.getElementById(id);

// A DOM element: h("div", {class: "x", onclick: f}, child, "text", …). Text is never parsed as HTML.
function h(tag, attrs = {}, ...children) {
  const svg = ["svg", "polyline", "circle", "line", "title"].includes(tag);
  const el = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const name = (names) => (names ? names[state.lang] || names.vi : "");

// ---- address state ---------------------------------------------------------------------------
function route() {
  const hash = new URLSearchParams(location.hash.slice(1));
  return { unit: hash.get("unit"), kpi: hash.get("kpi"), at: hash.get("at"), why: hash.get("why"), page: hash.get("page") };
}

function go(next) {
  const current = { ...route(), ...next };
  const hash = new URLSearchParams();
  for (const [k, v] of Object.entries(current)) if (v) hash.set(k, v);
  location.hash = hash.toString();
}

// ---- data ------------------------------------------------------------------------------------
async function getJson(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  const body = await response.json();
  if (!response.ok) throw new Error(body.detail || `${path}: HTTP ${response.status}`);
  return body;
}

async function load() {
  const { unit } = route();
  const query = unit ? `?unit=${encodeURIComponent(unit)}` : "";
  const [summary, kpis, reports, tasks, feeds, units] = await Promise.all([
    getJson("/api/summary"), getJson(`/api/kpis${query}`), getJson("/api/reports"), getJson("/api/tasks"),
    getJson("/api/feeds"), state.units ? null : getJson("/api/units"),
  ]);
  if (units) state.units = Object.fromEntries(units.units.map((u) => [u.code, u]));
  state.data = { summary, kpis, reports, tasks, feeds };
  state.generatedAt = summary.generated_at;
}

async function refresh(force = false) {
  try {
    const summary = force ? null : await getJson("/api/summary");
    if (force || summary.generated_at !== state.generatedAt) {
      await load();
      render();
      await renderDrill();
    } else {
      state.data.summary = summary;
      renderMeta();
    }
    hideBanner();
  } catch (error) {
    showBanner(fill(t().load_error, { e: error.message }));
  } finally {
    if (!document.body.dataset.ready) performance.mark("ioc:wall-ready"); // first full render (bench/wall_page_load.py)
    document.body.dataset.ready = "1";
  }
}

function showBanner(text) {
  const banner = $("banner");
  banner.textContent = text;
  banner.hidden = false;
}

function hideBanner() {
  $("banner").hidden = true;
}

// ---- rendering ---------------------------------------------------------------------------------
function render() {
  document.documentElement.lang = state.lang;
  document.title = t().title;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t()[el.dataset.i18n];
  for (const el of document.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", t()[el.dataset.i18nLabel]);
  for (const button of document.querySelectorAll(".lang button")) {
    button.setAttribute("aria-pressed", String(button.dataset.lang === state.lang));
  }
  if (!state.data) return;
  renderMeta();
  renderSummary();
  renderTiles();
  renderReports();
  renderTasks();
  renderFeeds();
}

function renderMeta() {
  const { summary } = state.data;
  $("province").textContent = name(summary.province.name);
  const age = summary.age_seconds;
  $("asof").textContent = fill(t().updated, { t: dateTime(state.lang, summary.generated_at) });
  $("asof").classList.toggle("old", age > STALE_AFTER_SECONDS);
  if (age > STALE_AFTER_SECONDS) showBanner(fill(t().stale, { age: duration(state.lang, age) }));
}

function statusBadge(status, extra = "") {
  const s = status || "no_data";
  return h("span", { class: `badge s-${s}`, dataset: { status: s } }, `${STATUS_SYMBOL[s]} ${t().status[s]}${extra}`);
}

function renderSummary() {
  const { summary } = state.data;
  const item = (cls, value, label, attrs = {}) =>
    h("li", { class: cls, ...attrs }, h("strong", {}, number(state.lang, value)), " ", label);
  const kpiCounts = ["red", "amber", "green", "no_data", "running"].filter((s) => summary.kpis[s] > 0)
    .map((s) => h("span", { class: `count s-${s}` }, `${STATUS_SYMBOL[s]} ${summary.kpis[s]}`));
  $("summary").replaceChildren(
    h("li", { class: "kpi-counts", title: t().summary_kpis }, h("span", { class: "label" }, t().summary_kpis), ...kpiCounts),
    item(summary.reports.missing ? "bad" : "ok", summary.reports.missing, t().summary_missing,
      { title: summary.reports.units_missing.join(", ") }),
    item(summary.reports.late ? "warn" : "ok", summary.reports.late, t().summary_late),
    item(summary.tasks.overdue ? "bad" : "ok", summary.tasks.overdue, t().summary_overdue),
    item(summary.tasks.due_soon ? "warn" : "ok", summary.tasks.due_soon, t().summary_due_soon),
    item(summary.feeds.stale.length ? "bad" : "ok", summary.feeds.stale.length, t().summary_stale,
      { title: summary.feeds.stale.join(", ") }),
  );
}

function crumbs(path, onPick) {
  return path.flatMap((unit, i) => {
    const last = i === path.length - 1;
    const label = name(unit.name);
    const node = last ? h("span", { class: "here", "aria-current": "page" }, label)
      : h("a", { href: "#", dataset: { unit: unit.code }, onclick: (e) => { e.preventDefault(); onPick(unit.code); } }, label);
    return i ? [h("span", { class: "sep", "aria-hidden": "true" }, " › "), node] : [node];
  });
}

// What the status is judged against (the green bound), and the target where it is another number: a value
// between the two is green yet short of the target, and the tile says so ("Đạt khi ≤ 10 giờ · Mục tiêu ≤ 0 giờ").
function targetText(kpi, current) {
  const known = (v) => v !== null && v !== undefined;
  const target = current && known(current.target) ? current.target : kpi.target;
  const op = kpi.direction === "higher_is_better" ? "≥" : "≤";
  const green = kpi.thresholds.relative_to_target ? (known(target) ? kpi.thresholds.green * target : null)
    : kpi.thresholds.green;
  const parts = [];
  if (known(green)) parts.push(`${t().green_when} ${op} ${kpiValue(state.lang, kpi, green)}`);
  if (known(target) && target !== green) parts.push(`${t().target} ${op} ${kpiValue(state.lang, kpi, target)}`);
  return parts.length ? parts.join(" · ") : t().no_target;
}

function sparkline(kpi, history, width = 132, height = 34) {
  const points = history.filter((p) => p.value !== null && p.value !== undefined);
  const label = history.map((p) => `${periodLabel(state.lang, p.period)}: ${kpiValue(state.lang, kpi, p.value)}`).join("\n");
  const svg = h("svg", { class: "spark", viewBox: `0 0 ${width} ${height}`, width, height, role: "img",
    "aria-label": `${t().trend}: ${label.replaceAll("\n", "; ")}` }, h("title", {}, label));
  if (points.length === 0) return svg;
  const values = points.map((p) => p.value);
  const lo = Math.min(...values), hi = Math.max(...values);
  const span = hi - lo || 1;
  const x = (i) => (history.length === 1 ? width / 2 : 3 + (i * (width - 6)) / (history.length - 1));
  const y = (v) => height - 4 - ((v - lo) / span) * (height - 8);
  const coords = history.map((p, i) => (p.value === null || p.value === undefined ? null : [x(i), y(p.value)])).filter(Boolean);
  svg.append(h("polyline", { points: coords.map(([a, b]) => `${a.toFixed(1)},${b.toFixed(1)}`).join(" "), class: "line" }));
  const lastIndex = history.length - 1;
  history.forEach((p, i) => {
    if (p.value === null || p.value === undefined) return;
    svg.append(h("circle", { cx: x(i).toFixed(1), cy: y(p.value).toFixed(1), r: i === lastIndex ? 3.5 : 2, class: `dot s-${p.status}` }));
  });
  return svg;
}

// A period's label, with "đến ngày 03/12" / "to date 03/12" when it is still running.
function periodText(reading) {
  if (!reading) return "";
  const label = periodLabel(state.lang, reading.period);
  return reading.period_state === "running" && reading.to_date
    ? `${label} ${fill(t().to_date, { d: dayMonth(reading.to_date) })}` : label;
}

// The period still running beside the one shown, when it has a value so far: "◌ T12/2026 đến ngày 03/12: 100 %
// · chưa đánh giá" — judged only when the KPI declares it may be.
function runningLine(kpi, running) {
  if (!running || running.value === null || running.value === undefined) return null;
  const status = running.status || "running";
  const judged = ["green", "amber", "red"].includes(status);
  const text = `${STATUS_SYMBOL.running} ${periodText(running)}: ${kpiValue(state.lang, kpi, running.value)}`;
  const verdict = judged ? `${STATUS_SYMBOL[status]} ${t().status[status]}` : t().not_judged;
  return h("div", { class: "running", dataset: { period: running.period, status },
    title: fill(t().running_title, { d: running.to_date ? dayMonth(running.to_date) : "" }) },
  text, " · ", h("span", { class: judged ? `judged s-${status}` : "to-date" }, verdict));
}

function changeText(kpi, reading) {
  const current = reading.current;
  if (!current) return "";
  const parts = [];
  if (reading.change === null || reading.change === undefined) {
    parts.push(current.previous_status ? "" : t().first_period);
  } else if (Math.abs(reading.change) < 10 ** -(kpi.decimals + 1)) {
    parts.push(`= ${t().no_change}`);
  } else {
    parts.push(`${reading.change > 0 ? "▲" : "▼"} ${kpiChange(state.lang, kpi, reading.change)} ${t().change}`);
  }
  if (current.previous_status && current.previous_status !== current.status) {
    parts.push(`${t().was}: ${STATUS_SYMBOL[current.previous_status]} ${t().status[current.previous_status]}`);
  }
  return parts.filter(Boolean).join(" · ");
}

function changeClass(kpi, reading) {
  if (!reading.change) return "";
  return (reading.change > 0) === (kpi.direction === "higher_is_better") ? "better" : "worse";
}

function renderTiles() {
  const { kpis } = state.data;
  $("crumbs").replaceChildren(...crumbs(kpis.path, (code) => go({ unit: code === state.data.summary.province.code ? null : code })));
  const tiles = kpis.kpis.map((kpi) => {
    const current = kpi.current;
    const status = current ? current.status : "no_data";
    const childCounts = ["red", "amber", "green", "no_data", "running"].filter((s) => kpi.children_status[s] > 0)
      .map((s) => h("span", { class: `count s-${s}` }, `${STATUS_SYMBOL[s]}${kpi.children_status[s]}`));
    const open = () => go({ kpi: kpi.id, at: kpis.unit.code });
    return h("article", {
      class: `tile s-${status}${current?.inputs?.degraded ? " degraded" : ""}`, tabindex: "0", role: "button",
      dataset: { kpi: kpi.id, status, degraded: String(Boolean(current?.inputs?.degraded)) },
      "aria-label": `${name(kpi.name)}: ${current ? kpiValue(state.lang, kpi, current.value) : t().no_data}, ${t().status[status]}`,
      onclick: open, onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); open(); } },
    },
    h("header", {}, h("h3", { title: name(kpi.description) }, name(kpi.name)),
      h("span", { class: "period", dataset: { period: current?.period || "", state: current?.period_state || "" } },
        current ? periodText(current) : "")),
    h("div", { class: "reading" },
      h("span", { class: "value" }, current ? kpiValue(state.lang, kpi, current.value) : "—"),
      sparkline(kpi, kpi.history)),
    h("div", { class: "status-line" }, statusBadge(status), h("span", { class: "target" }, targetText(kpi, current))),
    trustNote(current),
    h("div", { class: `change ${changeClass(kpi, kpi)}` }, changeText(kpi, kpi)),
    runningLine(kpi, kpi.running),
    h("div", { class: "foot" },
      current && current.escalated ? h("span", { class: "escalated" }, `⚑ ${fill(t().escalated, { n: current.streak })}`)
        : current && current.streak > 1 && !["green", "running"].includes(status) ? h("span", { class: "streak" }, fill(t().streak, { n: current.streak })) : null,
      kpi.children ? h("span", { class: "children", title: t().drill }, fill(t().units, { n: kpi.children }), " ", ...childCounts) : null));
  });
  // the socio-economic indicators the departments report on their forms have a panel of their own
  const onForms = kpis.kpis.map((kpi) => Boolean(kpi.indicator));
  $("tiles").replaceChildren(...tiles.filter((_, i) => !onForms[i]));
  $("indicator-tiles").replaceChildren(...tiles.filter((_, i) => onForms[i]));
  document.querySelector(".panel.indicators").hidden = !onForms.some(Boolean);
}

function reportCell(feed, period, cell) {
  const rule = name(feed.deadline_rule);
  const due = `${t().due}: ${day(state.lang, period.due_date)} (${t().deadline_at} ${dateTime(state.lang, period.deadline_at)})`;
  if (!cell) {
    return h("td", { class: "cell c-not_expected", title: `${t().cell.not_expected}\n${rule}`, dataset: { status: "not_expected" } }, "—");
  }
  const lines = [t().cell[cell.status], rule, due];
  if (cell.received_at) lines.push(`${t().received}: ${dateTime(state.lang, cell.received_at)}`);
  let text = "✓";
  if (cell.status === "late") {
    text = `+${cell.working_days_late}`;
    lines[0] += ` — ${fill(t().workdays_late, { n: cell.working_days_late })}`;
  } else if (cell.status === "missing") {
    text = cell.working_days_late ? `✖ ${cell.working_days_late}` : "✖";
    lines[0] += ` — ${fill(t().workdays_late, { n: cell.working_days_late })}`;
  } else if (cell.status === "pending") {
    text = "…";
  }
  return h("td", { class: `cell c-${cell.status}`, title: lines.join("\n"), dataset: { status: cell.status, late: cell.working_days_late } }, text);
}

// Can the value be trusted: what its feeds had when it was computed (stale, blocked batches, quarantined rows).
function trustNote(current) {
  const inputs = current?.inputs;
  if (!inputs || !inputs.degraded) return null;
  const feedName = (id) => name(state.data.feeds.feeds.find((f) => f.id === id)?.name) || id;
  const parts = [
    inputs.quarantined_rows ? fill(t().trust_quarantined, { n: inputs.quarantined_rows }) : null,
    inputs.blocked_batches ? fill(t().trust_blocked, { n: inputs.blocked_batches }) : null,
    inputs.stale_feeds.length ? fill(t().trust_stale, { f: inputs.stale_feeds.map(feedName).join(", ") }) : null,
  ].filter(Boolean);
  return h("div", { class: "trust", role: "note" }, h("b", {}, `⚠ ${t().trust_degraded}`), `: ${parts.join(" · ")}`);
}

function renderReports() {
  const byCode = unitIndex();
  const tables = state.data.reports.feeds.map((feed) => {
    const worst = (row) => {
      const cells = Object.values(row.cells);
      return [cells.filter((c) => c.status === "missing").length, cells.filter((c) => c.status === "late").length,
        Math.max(0, ...cells.map((c) => c.working_days_late || 0))];
    };
    const rows = [...feed.units].sort((a, b) => {
      const [ma, la, da] = worst(a), [mb, lb, db] = worst(b);
      return mb - ma || lb - la || db - da || a.unit.localeCompare(b.unit);
    });
    return h("table", { class: "report-grid", dataset: { feed: feed.feed } },
      h("caption", { title: name(feed.deadline_rule) }, name(feed.name), h("span", { class: "rule" }, ` · ${name(feed.deadline_rule)}`)),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t().unit),
        ...feed.periods.map((p) => h("th", { scope: "col", title: `${name(feed.deadline_rule)}\n${t().due}: ${day(state.lang, p.due_date)}` },
          periodLabel(state.lang, p.period), h("small", {}, day(state.lang, p.due_date).slice(0, 5)))))),
      h("tbody", {}, ...rows.map((row) => h("tr", { dataset: { unit: row.unit } },
        h("th", { scope: "row", title: row.unit }, name(byCode[row.unit]?.name) || row.unit),
        ...feed.periods.map((p) => reportCell(feed, p, row.cells[p.period]))))));
  });
  $("reports").replaceChildren(...tables);
  $("reports-hint").textContent = t().reports_hint;
}

function unitIndex() {
  return state.units || {};
}

function renderTasks() {
  const byCode = unitIndex();
  const tasks = state.data.tasks.tasks;
  const counts = state.data.tasks.counts || {};
  $("tasks-hint").textContent = fill(t().tasks_hint, { o: counts.overdue ?? 0, s: counts.due_soon ?? 0 });
  if (!tasks.length) {
    $("tasks").replaceChildren(h("li", { class: "empty" }, t().no_tasks));
    return;
  }
  $("tasks").replaceChildren(...tasks.map((task) => {
    const late = task.state === "overdue";
    const badge = late
      ? `✖ ${fill(t().overdue, { n: task.days_late })} (${fill(t().overdue_work, { n: task.working_days_late })})`
      : `▲ ${task.days_until_due ? fill(t().due_in, { n: task.days_until_due }) : t().due_today}`;
    return h("li", { class: `task ${late ? "s-red" : "s-amber"}`, dataset: { task: task.task_id, state: task.state } },
      h("span", { class: `badge ${late ? "s-red" : "s-amber"}` }, badge),
      h("p", { class: "task-title" }, task.title),
      h("dl", {},
        h("dt", {}, t().assignee), h("dd", { class: "unit", title: task.unit }, name(byCode[task.unit]?.name) || task.unit),
        h("dt", {}, t().due_on), h("dd", {}, day(state.lang, task.due_on)),
        task.source_document ? [h("dt", {}, t().source), h("dd", {}, task.source_document)] : null,
        task.assigned_by ? [h("dt", {}, t().assigned_by), h("dd", {}, task.assigned_by)] : null,
        h("dt", {}, "ID"), h("dd", { class: "id" }, task.task_id)));
  }));
}

function renderFeeds() {
  const { feeds, checks } = state.data.feeds;
  const checkName = (c) => name(checks[c]) || c;
  $("feeds").replaceChildren(...feeds.map((feed) => {
    const batch = feed.latest_batch;
    const rec = feed.reconciliation;
    const health = feed.stale ? "red" : batch && batch.status === "failed" ? "amber" : feed.failing_checks.length || feed.quarantine_open || (rec && rec.difference) ? "amber" : "green";
    const freshness = feed.last_success_at
      ? `${feed.stale ? "✖ " + t().stale_feed : "● " + t().fresh} · ${ago(state.lang, feed.success_age_seconds)} (${dateTime(state.lang, feed.last_success_at)})`
      : `✖ ${t().never}`;
    const items = [
      rec && rec.difference ? h("li", { class: "reconcile" },
        h("strong", {}, `⚖ ${fill(rec.difference > 0 ? t().reconcile_fewer : t().reconcile_more, { n: number(state.lang, Math.abs(rec.difference)) })}`),
        h("span", { class: "why" }, `${fill(t().reconcile_counts, { s: number(state.lang, rec.source_count), w: number(state.lang, rec.warehouse_count) })} · ${dateTime(state.lang, rec.checked_at)}`)) : null,
      ...feed.failing_checks.map((c) => h("li", { class: `check sev-${c.severity}`, dataset: { check: c.check } },
        h("strong", {}, `${c.severity === "blocking" ? "✖" : "▲"} ${checkName(c.check)}`),
        c.column ? ` (${c.column_label || c.column})` : "", ` · ${t().severity[c.severity] || c.severity} · ${fill(t().batches, { n: c.batches })}`,
        c.file ? ` · ${c.file}` : "",
        c.text ? h("span", { class: "why" }, name(c.text)) : null)),
      ...feed.quarantine_reasons.map((r) => h("li", { class: "reason", dataset: { check: r.check } },
        h("strong", {}, `◆ ${fill(t().rows_count, { n: number(state.lang, r.rows) })}`), ` · ${checkName(r.check)}`,
        r.column ? ` (${r.column_label || r.column})` : "", r.text ? h("span", { class: "why" }, name(r.text)) : null)),
      ...feed.failed_batches.map((b) => h("li", { class: "failed" },
        h("strong", {}, `✖ ${t().failed_file}: ${b.file || b.source || ""}`), " ", dateTime(state.lang, b.at),
        b.text ? h("span", { class: "why" }, name(b.text)) : null)),
    ];
    return h("article", { class: `feed s-${health}`, dataset: { feed: feed.id, stale: String(feed.stale) } },
      h("header", {}, h("h3", {}, name(feed.name)), h("span", { class: "owner" }, `${feed.owner} · ${feed.source_kind}`)),
      h("p", { class: `fresh ${feed.stale ? "is-stale" : ""}` }, freshness,
        feed.stale_after_seconds ? h("small", {}, ` · ${fill(t().stale_after, { d: duration(state.lang, feed.stale_after_seconds) })}`) : null),
      h("p", { class: "counts" },
        batch ? h("span", { class: `batch b-${batch.status}` }, `${t().last_load}: ${t().batch[batch.status] || batch.status}`) : null,
        ` · ${t().rows_received} ${number(state.lang, feed.rows_received)} · ${t().loaded} ${number(state.lang, feed.rows_loaded)}`
        + ` · ${t().quarantined} ${number(state.lang, feed.quarantine_open)}`
        + (feed.withdrawn ? ` · ${t().withdrawn} ${number(state.lang, feed.withdrawn)}` : "")
        + (rec ? ` · ${fill(t().reconcile_counts, { s: number(state.lang, rec.source_count), w: number(state.lang, rec.warehouse_count) })}` : "")),
      items.filter(Boolean).length ? h("ul", { class: "issues" }, ...items.filter(Boolean)) : h("p", { class: "ok" }, `● ${t().all_good}`));
  }));
}

// ---- drill-down ------------------------------------------------------------------------------
async function renderDrill() {
  const dialog = $("drill");
  const { kpi, at } = route();
  if (!kpi) {
    if (dialog.open) dialog.close();
    return;
  }
  let data;
  try {
    data = await getJson(`/api/kpis/${encodeURIComponent(kpi)}${at ? `?unit=${encodeURIComponent(at)}` : ""}`);
  } catch (error) {
    showBanner(fill(t().load_error, { e: error.message }));
    go({ kpi: null, at: null });
    return;
  }
  const def = data.kpi;
  if (route().why) return renderWhy(dialog, def);
  $("drill-title").textContent = name(def.name);
  $("drill-crumbs").replaceChildren(...crumbs(data.path, (code) => go({ at: code })));
  $("drill-desc").textContent = `${name(def.description)} · ${targetText(def, data.current)}`
    + (data.current ? ` · ${t().period} ${periodText(data.current)}` : "");
  const row = (reading, unit, kind, hasChildren, self = false) => {
    const status = reading.current ? reading.current.status : "no_data";
    return h("tr", { class: self ? "self" : "", dataset: { unit, status } },
      h("th", { scope: "row" }, name(unitIndex()[unit]?.name) || unit, h("small", {}, ` ${unit} · ${t().units_kinds[kind] || kind}`)),
      h("td", { class: "num" }, reading.current ? kpiValue(state.lang, def, reading.current.value) : "—",
        reading.current?.period_state === "running" ? h("small", { class: "to-date" }, ` ${periodText(reading.current)}`) : null,
        runningLine(def, reading.running)),
      h("td", {}, statusBadge(status), trustNote(reading.current)),
      h("td", { class: `change ${changeClass(def, reading)}` }, changeText(def, reading)),
      h("td", {}, sparkline(def, reading.history, 110, 28)),
      h("td", { class: "actions" },
        reading.current && reading.current.value !== null
          ? h("button", { type: "button", class: "why", onclick: () => go({ why: unit, page: null }) }, t().why) : null,
        hasChildren ? h("button", { type: "button", class: "drill-into", onclick: () => go({ at: unit }) }, `${t().drill_into} ›`) : null,
        self ? null : h("button", { type: "button", class: "show-wall", onclick: () => go({ unit, kpi: null, at: null }) }, t().show_wall)));
  };
  const body = h("table", { class: "drill-table" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t().unit), h("th", { scope: "col" }, t().value),
      h("th", { scope: "col" }, ""), h("th", { scope: "col" }, t().change), h("th", { scope: "col" }, t().trend), h("th", {}, ""))),
    h("tbody", {}, row(data, data.unit.code, data.unit.kind, false, true),
      ...data.children.map((c) => row(c, c.unit, c.kind, c.has_children))));
  $("drill-body").replaceChildren(body, data.children.length ? "" : h("p", { class: "empty" }, t().no_children));
  if (!dialog.open) dialog.showModal();
}

// "Why?": the records behind one unit's value (GET /api/kpis/{kpi}/explain), those against the KPI first.
async function renderWhy(dialog, def) {
  const { kpi, why, page } = route();
  const query = new URLSearchParams({ unit: why, page: page || "1", page_size: "25" });
  let data;
  try {
    data = await getJson(`/api/kpis/${encodeURIComponent(kpi)}/explain?${query}`);
  } catch (error) {
    showBanner(fill(t().load_error, { e: error.message }));
    go({ why: null, page: null });
    return;
  }
  $("drill-title").textContent = `${t().why} — ${name(def.name)}`;
  $("drill-crumbs").replaceChildren(...crumbs(data.path, (code) => go({ at: code, why: null, page: null })));
  const value = data.value ? kpiValue(state.lang, def, data.value.value) : "—";
  $("drill-desc").textContent = `${name(unitIndex()[why]?.name) || why} · ${data.value ? periodText(data.value) : periodLabel(state.lang, data.period)}: ${value}`
    + (data.value ? ` · ${t().status[data.value.status]}` : "");
  const back = h("button", { type: "button", class: "why-back", onclick: () => go({ why: null, page: null }) }, `‹ ${t().back}`);
  const csv = h("a", { class: "why-csv", href: `/api/kpis/${encodeURIComponent(kpi)}/explain?${new URLSearchParams({ unit: why, period: data.period, format: "csv" })}`,
    download: "" }, t().download_csv);
  const parts = Object.keys(data.inputs || {}).length
    ? Object.entries(data.inputs).map(([role, input]) => whyRecords(input, `${t().ratio_input[role]}: ${name(input.kpi?.name) || input.kpi_id}`))
    : [whyRecords(data, null)];
  $("drill-body").replaceChildren(h("div", { class: "why-tools" }, back, csv), ...parts);
  if (!dialog.open) dialog.showModal();
}

function whyRecords(data, heading) {
  const { page } = route();
  const current = Number(page || 1);
  const pages = Math.max(1, Math.ceil(data.records_total / data.page_size));
  const impact = name(data.impact_name);
  const lineage = (l) => [l.feed, l.file || l.batch_id, l.source_row !== null && l.source_row !== undefined ? fill(t().source_row, { n: l.source_row }) : null,
    l.cell ? fill(t().source_cell, { cell: l.cell }) : null,
    l.received_at ? `${t().received} ${dateTime(state.lang, l.received_at)}` : null].filter(Boolean).join(" · ");
  // what tells records apart: not a field every record on the page has alike (the period, the feed…)
  const alike = new Set(data.records.length > 1 ? Object.keys(data.records[0].fields).filter(
    (k) => data.records.every((r) => r.fields[k] === data.records[0].fields[k])) : []);
  alike.add("feed");
  const said = (fields) => Object.entries(fields).filter(([k, v]) => v !== null && v !== "" && !alike.has(k)).slice(0, 6)
    .map(([k, v]) => h("span", { class: "field" }, h("b", {}, k), " ", String(v)));
  const table = h("table", { class: "drill-table why-table" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t().unit), h("th", { scope: "col" }, impact),
      h("th", { scope: "col" }, t().record), h("th", { scope: "col" }, t().lineage))),
    h("tbody", {}, ...data.records.map((r) => h("tr", { class: r.against ? "against" : "", dataset: { against: String(r.against) } },
      h("th", { scope: "row" }, r.against ? `${STATUS_SYMBOL.red} ` : "", r.unit_code),
      h("td", { class: "num" }, r.impact === null ? "—" : number(state.lang, r.impact, Number.isInteger(r.impact) || Math.abs(r.impact) >= 100 ? 0 : 1)),
      h("td", { class: "fields" }, ...said(r.fields)),
      h("td", { class: "lineage" }, h("small", {}, lineage(r.lineage)))))));
  const pager = pages > 1 ? h("div", { class: "why-pager" },
    current > 1 ? h("button", { type: "button", onclick: () => go({ page: String(current - 1) }) }, `‹ ${t().previous_page}`) : null,
    h("span", {}, fill(t().page_of, { p: current, n: pages })),
    current < pages ? h("button", { type: "button", class: "next-page", onclick: () => go({ page: String(current + 1) }) }, `${t().next_page} ›`) : null) : null;
  return h("section", { class: "why-part" },
    heading ? h("h3", {}, heading) : null,
    data.unavailable && !data.records.length ? h("p", { class: "empty" }, t().why_unavailable) : null,
    h("p", { class: "why-count" }, fill(t().why_count, { n: data.against_total, total: number(state.lang, data.records_total) })),
    data.records.length ? table : null, pager);
}

// ---- wiring ----------------------------------------------------------------------------------
function tick() {
  $("clock").textContent = dateTime(state.lang, new Date().toISOString(), false);
  $("clock").setAttribute("datetime", new Date().toISOString());
}

async function start() {
  // the page's words first (GET /api/wording): nothing is shown before them
  for (;;) {
    try {
      await loadWording();
      break;
    } catch (error) {
      showBanner(error.message);
      await new Promise((resolve) => setTimeout(resolve, 5000));
    }
  }
  if (!STRINGS[state.lang]) state.lang = "vi";
  for (const button of document.querySelectorAll(".lang button")) {
    button.addEventListener("click", async () => {
      state.lang = button.dataset.lang;
      localStorage.setItem("ioc.lang", state.lang);
      render();
      tick();
      await renderDrill();
    });
  }
  const closeDrill = () => go({ kpi: null, at: null, why: null, page: null });
  $("drill-close").addEventListener("click", closeDrill);
  $("drill").addEventListener("cancel", (e) => { e.preventDefault(); closeDrill(); });
  window.addEventListener("hashchange", () => refresh(true));
  render();
  tick();
  setInterval(tick, 1000);
  await refresh(true);
  setInterval(() => refresh(false), REFRESH_SECONDS * 1000);
}

start();
