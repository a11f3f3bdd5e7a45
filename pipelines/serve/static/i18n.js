// How numbers, periods and times read in Vietnamese (default) and English, and the wall's words, loaded from
// the platform's wording. Times are always shown in Asia/Ho_Chi_Minh, whatever the screen's own time zone.

export const TIME_ZONE = "Asia/Ho_Chi_Minh";
export const LOCALES = { vi: "vi-VN", en: "en-GB" };

// The wall's words in each language, as the page uses them: filled by loadWording() from the platform's
// catalogues (pipelines/wording/locales/<lang>/LC_MESSAGES/ioc.po), served at GET /api/wording.
export const STRINGS = {};

// The status words of KPIs and of reports are the platform's own (the command line and the briefing say the
// same); the wall's badge for a period still running says it shorter.
const SHARED = {
  status: {
    green: "kpi.status.green", amber: "kpi.status.amber", red: "kpi.status.red", no_data: "kpi.status.no_data",
    running: "kpi.status.running_brief",
  },
  cell: {
    on_time: "report.status.on_time", late: "report.status.late", missing: "report.status.missing",
    pending: "report.status.pending", not_expected: "report.status.not_expected",
  },
};

// Fetch the wording and build each language's words: the messages whose id starts with `prefix` ("wall."),
// nested by the dots of the rest of the id (wall.batch.failed → batch.failed), and the status words as `status`
// (KPIs) and `cell` (reports).
export async function loadWording(prefix = "wall.") {
  const response = await fetch("/api/wording", { headers: { Accept: "application/json" } });
  if (!response.ok) throw new Error(`/api/wording: HTTP ${response.status}`);
  const { messages } = await response.json();
  for (const [lang, catalogue] of Object.entries(messages)) {
    const words = {};
    for (const [id, message] of Object.entries(catalogue)) {
      if (!id.startsWith(prefix)) continue;
      const path = id.slice(prefix.length).split(".");
      let node = words;
      for (const part of path.slice(0, -1)) node = node[part] ??= {};
      node[path[path.length - 1]] = message;
    }
    for (const [group, ids] of Object.entries(SHARED)) {
      words[group] = Object.fromEntries(Object.entries(ids).map(([key, id]) => [key, catalogue[id]]));
    }
    STRINGS[lang] = words;
  }
}

export const STATUS_SYMBOL = { green: "●", amber: "▲", red: "✖", no_data: "○", running: "◌" };

const UNIT_SUFFIX = {
  vi: { percent: " %", count: "", days: " ngày", hours: " giờ", seconds: "", vnd: " ₫", ratio: "" },
  en: { percent: " %", count: "", days: " days", hours: " h", seconds: "", vnd: " ₫", ratio: "" },
};

// A message with its {placeholders} filled; an English message with a singular and a plural form is
// a pair [one, other], chosen by {n} (Vietnamese has no plural forms).
export function fill(text, values) {
  if (Array.isArray(text)) text = new Intl.PluralRules("en").select(Number(values.n)) === "one" ? text[0] : text[1];
  return text.replace(/\{(\w+)\}/g, (_, k) => (k in values ? values[k] : `{${k}}`));
}

export function number(lang, value, decimals = 0, options = {}) {
  return new Intl.NumberFormat(LOCALES[lang], { minimumFractionDigits: decimals, maximumFractionDigits: decimals, ...options }).format(value);
}

export function duration(lang, seconds) {
  const s = Math.abs(seconds);
  const parts = lang === "vi"
    ? [[86400, "ngày"], [3600, "giờ"], [60, "phút"], [1, "giây"]]
    : [[86400, "d"], [3600, "h"], [60, "min"], [1, "s"]];
  const out = [];
  let rest = Math.round(s);
  for (const [size, name] of parts) {
    if (rest >= size && out.length < 2) {
      out.push(`${Math.floor(rest / size)} ${name}`);
      rest %= size;
    }
  }
  const sign = seconds < 0 ? "−" : "";
  return out.length ? sign + out.join(" ") : (lang === "vi" ? "0 giây" : "0 s");
}

// A KPI value in its unit of measure, with the declared decimals.
export function kpiValue(lang, kpi, value) {
  if (value === null || value === undefined) return "—";
  if (kpi.unit_of_measure === "seconds") return duration(lang, value);
  if (kpi.unit_of_measure === "vnd" && Math.abs(value) >= 1e6) {
    return number(lang, value, 1, { notation: "compact", compactDisplay: "short" }) + " ₫";
  }
  return number(lang, value, kpi.decimals) + UNIT_SUFFIX[lang][kpi.unit_of_measure];
}

export function kpiChange(lang, kpi, change) {
  const sign = change > 0 ? "+" : change < 0 ? "−" : "±";
  if (kpi.unit_of_measure === "seconds") return sign + duration(lang, change);
  const suffix = kpi.unit_of_measure === "percent" ? (lang === "vi" ? " điểm %" : " pts") : UNIT_SUFFIX[lang][kpi.unit_of_measure];
  return sign + number(lang, Math.abs(change), kpi.decimals) + suffix;
}

const MONTHS_EN = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

// A period key (2026-10, 2026-Q3, 2026-W41, 2026-H1, 2026-9M, 2026, 2026-10-05) as people say it.
export function periodLabel(lang, key) {
  let m;
  if ((m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(key))) return lang === "vi" ? `${m[3]}/${m[2]}/${m[1]}` : `${+m[3]} ${MONTHS_EN[+m[2] - 1]} ${m[1]}`;
  if ((m = /^(\d{4})-(\d{2})$/.exec(key))) return lang === "vi" ? `T${+m[2]}/${m[1]}` : `${MONTHS_EN[+m[2] - 1]} ${m[1]}`;
  if ((m = /^(\d{4})-Q(\d)$/.exec(key))) return lang === "vi" ? `Quý ${m[2]}/${m[1]}` : `Q${m[2]} ${m[1]}`;
  if ((m = /^(\d{4})-W(\d{2})$/.exec(key))) return lang === "vi" ? `Tuần ${+m[2]}/${m[1]}` : `Week ${+m[2]}, ${m[1]}`;
  if ((m = /^(\d{4})-H(\d)$/.exec(key))) return lang === "vi" ? `6 tháng ${m[2] === "1" ? "đầu" : "cuối"} năm ${m[1]}` : `H${m[2]} ${m[1]}`;
  if ((m = /^(\d{4})-9M$/.exec(key))) return lang === "vi" ? `9 tháng ${m[1]}` : `9 months ${m[1]}`;
  return key;
}

export function dateTime(lang, iso, withDate = true) {
  const options = withDate
    ? { timeZone: TIME_ZONE, day: "2-digit", month: "2-digit", year: "numeric", hour: "2-digit", minute: "2-digit", hour12: false }
    : { timeZone: TIME_ZONE, hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false };
  return new Intl.DateTimeFormat(LOCALES[lang], options).format(new Date(iso));
}

// A calendar day (ISO date) as dd/mm, as "to date 03/12" says it.
export function dayMonth(isoDay) {
  const [, m, d] = isoDay.split("-");
  return `${d}/${m}`;
}

// A calendar day (ISO date) as dd/mm/yyyy: a day has no time zone to convert.
export function day(lang, isoDay) {
  const [y, m, d] = isoDay.split("-");
  return `${d}/${m}/${y}`;
}

export function ago(lang, seconds) {
  return new Intl.RelativeTimeFormat(LOCALES[lang], { numeric: "auto" }).format(
    ...(seconds < 3600 ? [-Math.round(seconds / 60), "minute"] : seconds < 172800 ? [-Math.round(seconds / 3600), "hour"] : [-Math.round(seconds / 86400), "day"]));
}
