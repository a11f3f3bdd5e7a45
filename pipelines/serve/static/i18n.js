// The wall's words in Vietnamese (default) and English, and how numbers, periods and times read in
// each. Times are always shown in Asia/Ho_Chi_Minh, whatever the screen's own time zone.

export const TIME_ZONE = "Asia/Ho_Chi_Minh";
export const LOCALES = { vi: "vi-VN", en: "en-GB" };

export const STRINGS = {
  vi: {
    title: "Trung tâm giám sát, điều hành thông minh",
    kpis: "Chỉ số KPI", indicators: "Chỉ tiêu kinh tế - xã hội chủ yếu", indicatorsHint: "Theo biểu số liệu các sở gửi", reports: "Báo cáo định kỳ", tasks: "Nhiệm vụ được giao",
    feeds: "Chất lượng và độ mới dữ liệu", close: "Đóng",
    status: { green: "Đạt", amber: "Cảnh báo", red: "Không đạt", no_data: "Không có dữ liệu", running: "Chưa đánh giá" },
    toDate: "đến ngày {d}", notJudged: "chưa đánh giá",
    runningTitle: "Kỳ đang diễn ra: số liệu tạm tính đến ngày {d}, chưa so với mục tiêu tháng. Ô chính là kỳ gần nhất đã kết thúc.",
    target: "Mục tiêu", greenWhen: "Đạt khi", noTarget: "Không đặt mục tiêu", period: "Kỳ",
    change: "so với kỳ trước", noChange: "không đổi so với kỳ trước", was: "kỳ trước", firstPeriod: "kỳ đầu tiên",
    escalated: "Cần xử lý: kéo dài {n} kỳ", streak: "{n} kỳ liên tiếp",
    units: "{n} đơn vị", drill: "Xem theo đơn vị", drillInto: "Xem các đơn vị trực thuộc",
    showWall: "Xem KPI của đơn vị này", unit: "Đơn vị", value: "Giá trị", trend: "Xu hướng",
    noChildren: "Không có đơn vị trực thuộc có số liệu cho chỉ số này.",
    summaryKpis: "KPI thành phố", summaryMissing: "báo cáo chưa nộp", summaryLate: "báo cáo nộp trễ",
    summaryOverdue: "nhiệm vụ quá hạn", summaryDueSoon: "sắp đến hạn", summaryStale: "nguồn chậm cập nhật",
    updated: "Số liệu lúc {t}", stale: "Số liệu đã cũ ({age}): kiểm tra tiến trình nạp dữ liệu",
    noData: "Chưa có số liệu",
    cell: {
      on_time: "Đúng hạn", late: "Nộp trễ", missing: "Chưa nộp", pending: "Chưa đến hạn",
      not_expected: "Không phải nộp (đơn vị chưa thành lập hoặc đã sáp nhập)",
    },
    workdaysLate: "{n} ngày làm việc", due: "Hạn nộp", deadlineAt: "trễ từ", received: "Đã nhận",
    reportsHint: "✓ đúng hạn · +n trễ n ngày làm việc · ✖ chưa nộp · … chưa đến hạn · — không phải nộp",
    overdue: "Quá hạn {n} ngày", overdueWork: "{n} ngày làm việc", dueIn: "Còn {n} ngày", dueToday: "Hạn hôm nay",
    assignee: "Đơn vị chủ trì", source: "Văn bản giao", assignedBy: "Người giao", dueOn: "Hạn",
    tasksHint: "{o} quá hạn · {s} sắp đến hạn", noTasks: "Không có nhiệm vụ quá hạn hoặc sắp đến hạn.",
    feed: "Nguồn dữ liệu", freshness: "Độ mới", lastLoad: "Lần nạp gần nhất", rows: "Số dòng",
    quality: "Kiểm tra không đạt / lý do cách ly",
    fresh: "Đúng nhịp", staleFeed: "Chậm cập nhật", never: "Chưa nạp lần nào", staleAfter: "chậm sau {d}",
    received_: "nhận", loaded: "đã nạp", quarantined: "đang cách ly", withdrawn: "nguồn đã rút",
    reconcileCounts: "nguồn có {s}, kho có {w}", reconcileFewer: "Kho thiếu {n} bản ghi so với nguồn", reconcileMore: "Kho thừa {n} bản ghi so với nguồn (nguồn đã xóa?)",
    batch: { loaded: "Đã nạp", partial: "Nạp một phần", quarantined: "Cách ly", failed: "Lỗi", duplicate: "Trùng lặp", empty: "Rỗng" },
    severity: { blocking: "chặn", warning: "cảnh báo" },
    batches: "{n} lô", rowsCount: "{n} dòng", failedFile: "Tệp lỗi", allGood: "Không có lỗi kiểm tra.",
    expected: "cần", observed: "thực tế",
    ago: "trước", unitsKinds: { province: "Tỉnh/thành phố", department: "Sở, ngành", centre: "Trung tâm", district: "Huyện", commune: "Xã, phường" },
    loadError: "Không tải được số liệu: {e}",
    trustDegraded: "Số liệu chưa đủ tin cậy", trustQuarantined: "{n} dòng đang cách ly", trustBlocked: "{n} lô bị chặn",
    trustStale: "nguồn chậm cập nhật: {f}",
    briefing: "Báo cáo tháng (PDF)",
    why: "Vì sao?", back: "Quay lại", downloadCsv: "Tải danh sách (CSV)", record: "Bản ghi", lineage: "Nguồn gốc",
    sourceRow: "dòng {n}", sourceCell: "ô {cell}", previousPage: "Trang trước", nextPage: "Trang sau", pageOf: "Trang {p}/{n}",
    whyCount: "{n} trong {total} bản ghi làm chỉ tiêu không đạt", ratioInput: { numerator: "Tử số", denominator: "Mẫu số" },
    whyUnavailable: "Chỉ số này chưa khai báo truy vấn bản ghi nên chưa liệt kê được.",
  },
  en: {
    title: "Smart Operations Centre",
    kpis: "KPIs", indicators: "Main socio-economic indicators", indicatorsHint: "As the departments report them on their forms", reports: "Periodic reports", tasks: "Directive tasks",
    feeds: "Data quality and freshness", close: "Close",
    status: { green: "On target", amber: "Warning", red: "Off target", no_data: "No data", running: "Not judged yet" },
    toDate: "to date {d}", notJudged: "not judged yet",
    runningTitle: "The period still running: its value so far, to date {d}, not judged against the target. The tile shows the latest period that has ended.",
    target: "Target", greenWhen: "On target when", noTarget: "No target set", period: "Period",
    change: "since last period", noChange: "unchanged since last period", was: "last period", firstPeriod: "first period",
    escalated: ["Escalated: {n} period running", "Escalated: {n} periods running"], streak: "{n} periods in a row",
    units: ["{n} unit", "{n} units"], drill: "By unit", drillInto: "Show the units under it",
    showWall: "Show this unit's KPIs", unit: "Unit", value: "Value", trend: "Trend",
    noChildren: "No unit under this one has data for this KPI.",
    summaryKpis: "City KPIs", summaryMissing: "reports missing", summaryLate: "reports late",
    summaryOverdue: "tasks overdue", summaryDueSoon: "due soon", summaryStale: "feeds stale",
    updated: "Data as of {t}", stale: "The data is old ({age}): check the loading pipeline",
    noData: "No data yet",
    cell: {
      on_time: "On time", late: "Late", missing: "Missing", pending: "Not yet due",
      not_expected: "Not expected (unit not yet created or merged)",
    },
    workdaysLate: ["{n} working day", "{n} working days"], due: "Due", deadlineAt: "late from", received: "Received",
    reportsHint: "✓ on time · +n late by n working days · ✖ missing · … not yet due · — not expected",
    overdue: ["Overdue {n} day", "Overdue {n} days"], overdueWork: ["{n} working day", "{n} working days"], dueIn: ["Due in {n} day", "Due in {n} days"], dueToday: "Due today",
    assignee: "Lead unit", source: "Assigned by document", assignedBy: "Assigned by", dueOn: "Due",
    tasksHint: "{o} overdue · {s} due soon", noTasks: "No task overdue or due soon.",
    feed: "Feed", freshness: "Freshness", lastLoad: "Latest load", rows: "Rows",
    quality: "Failing checks / quarantine reasons",
    fresh: "Fresh", staleFeed: "Stale", never: "Never loaded", staleAfter: "stale after {d}",
    received_: "received", loaded: "loaded", quarantined: "quarantined", withdrawn: "withdrawn at the source",
    reconcileCounts: "source holds {s}, warehouse {w}", reconcileFewer: ["The warehouse lacks {n} record the source holds", "The warehouse lacks {n} records the source holds"],
    reconcileMore: ["The warehouse holds {n} record more than the source (deleted there?)", "The warehouse holds {n} records more than the source (deleted there?)"],
    batch: { loaded: "Loaded", partial: "Partly loaded", quarantined: "Quarantined", failed: "Failed", duplicate: "Duplicate", empty: "Empty" },
    severity: { blocking: "blocking", warning: "warning" },
    batches: ["{n} batch", "{n} batches"], rowsCount: ["{n} row", "{n} rows"], failedFile: "Failed file", allGood: "No failing check.",
    expected: "expected", observed: "observed",
    ago: "ago", unitsKinds: { province: "Province/city", department: "Department", centre: "Centre", district: "District", commune: "Commune/ward" },
    loadError: "Could not load the data: {e}",
    trustDegraded: "Data may be incomplete", trustQuarantined: ["{n} row in quarantine", "{n} rows in quarantine"],
    trustBlocked: ["{n} blocked batch", "{n} blocked batches"], trustStale: "stale feed: {f}",
    briefing: "Monthly briefing (PDF, in Vietnamese)",
    why: "Why?", back: "Back", downloadCsv: "Download the list (CSV)", record: "Record", lineage: "Lineage",
    sourceRow: "row {n}", sourceCell: "cell {cell}", previousPage: "Previous", nextPage: "Next", pageOf: "Page {p} of {n}",
    whyCount: ["{n} of {total} records keeps it off target", "{n} of {total} records keep it off target"], ratioInput: { numerator: "Numerator", denominator: "Denominator" },
    whyUnavailable: "This KPI declares no record query, so its records cannot be listed.",
  },
};

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
