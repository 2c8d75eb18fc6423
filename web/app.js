// The rowsched web page: reads the JSON API (docs/operations.md, "The web API") and draws the
// instances, the jobs table, the timeline (SVG) and one job's page. Routes live in the URL fragment
// (#/?state=failed&q=backup, #/job/<id>) so every view has an address; /job/<id> works as well.
// Every value from the database goes into the page as text (textContent), never as markup.
"use strict";

const REFRESH_MS = 5000;
const TOKEN = new URLSearchParams(location.search).get("token");
const STATUSES = ["succeeded", "failed", "timeout", "lost", "missed", "skipped", "running", "upcoming"];
let lastJobs = null;   // the last /api/jobs answer, for paging
// The daemon's clock minus this browser's, taken from the answer whose times are on screen, so that
// "in 12 s" is the daemon's view of the data shown, however far the browser's clock is off.
let serverSkewMs = 0;

function synchronize(answer) { serverSkewMs = Date.parse(answer.now) - Date.now(); }

async function api(path) {
  const headers = TOKEN ? { Authorization: "Bearer " + TOKEN } : {};
  const res = await fetch(path, { headers, cache: "no-store" });
  const body = await res.json().catch(() => ({ error: res.statusText }));
  if (!res.ok) throw new Error(body.error || res.statusText);
  return body;
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "text") node.textContent = v;
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) node.append(c);
  return node;
}

function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) node.append(c);
  return node;
}

function now() { return Date.now() + serverSkewMs; }

// "2026-12-04 15:30:05Z": UTC, the same on every operator's screen and in the database.
function absolute(iso) {
  if (!iso) return "";
  return iso.replace("T", " ").replace(/\.\d+Z$/, "Z");
}

// "in 12 s", "3 min ago".
function relative(iso) {
  if (!iso) return "";
  const s = (Date.parse(iso) - now()) / 1000;
  const a = Math.abs(s);
  const text = a < 1 ? "now" : a < 90 ? Math.round(a) + " s" : a < 5400 ? Math.round(a / 60) + " min"
    : a < 172800 ? Math.round(a / 3600) + " h" : Math.round(a / 86400) + " d";
  return text === "now" ? "now" : s > 0 ? "in " + text : text + " ago";
}

function timeCell(iso) {
  if (!iso) return el("td", { class: "muted", text: "—" });
  return el("td", { title: iso }, el("span", { class: "abs", text: absolute(iso) }), el("br"),
    el("span", { class: "rel muted", "data-time": iso, text: relative(iso) }));
}

function badge(kind, value) { return el("span", { class: kind + " " + kind + "-" + value, text: value }); }

function late(seconds) {
  if (seconds === null || seconds === undefined) return "";
  return seconds < 1 ? (seconds * 1000).toFixed(1) + " ms" : seconds.toFixed(2) + " s";
}

// --- routes -------------------------------------------------------------------------------------

function route() {
  const path = location.pathname.startsWith("/job/") ? location.pathname.slice(5) : null;
  const hash = location.hash.replace(/^#/, "");
  if (hash.startsWith("/job/")) return { job: decodeURIComponent(hash.slice(5)) };
  if (path && !hash) return { job: decodeURIComponent(path) };
  const query = new URLSearchParams(hash.includes("?") ? hash.slice(hash.indexOf("?") + 1) : location.search);
  return { state: query.get("state") || "", q: query.get("q") || "", offset: Number(query.get("offset") || 0) };
}

function listQuery(r) {
  const p = new URLSearchParams();
  if (r.state) p.set("state", r.state);
  if (r.q) p.set("q", r.q);
  p.set("limit", "50");
  if (r.offset) p.set("offset", String(r.offset));
  return p.toString();
}

function go(r) { location.hash = "/?" + listQuery(r); }

// --- views --------------------------------------------------------------------------------------

function renderInstances(answer) {
  const body = document.querySelector("#instances tbody");
  body.replaceChildren(...answer.instances.map((i) => el("tr", { "data-instance": i.instance },
    el("td", { text: i.instance }), el("td", { text: i.host || "" }), el("td", { class: "num", text: i.pid ?? "" }),
    el("td", { text: i.version || "" }), el("td", { text: absolute(i.started_at) }),
    el("td", { class: "heartbeat", text: i.heartbeat_age_seconds.toFixed(1) + " s ago" }))));
  if (!answer.instances.length) body.append(el("tr", {}, el("td", { colspan: 6, class: "muted", text: "no live instance" })));
}

function scheduleCell(job) {
  const words = job.schedule.words || job.schedule.trigger || "";
  return el("td", {}, el("span", { class: "words", text: words }), el("br"),
    el("code", { class: "as-written", text: JSON.stringify(job.schedule.as_written) }));
}

function renderJobs(answer) {
  synchronize(answer);
  lastJobs = answer;
  const body = document.querySelector("#jobs tbody");
  body.replaceChildren(...answer.jobs.map((j) => el("tr", { "data-job": j.job_id, "data-state": j.state },
    el("td", {}, el("a", { href: "#/job/" + encodeURIComponent(j.job_id), text: j.job_id }),
      j.description ? el("div", { class: "muted", text: j.description }) : ""),
    el("td", { text: j.owner }), el("td", {}, el("code", { text: j.func })), scheduleCell(j),
    el("td", {}, badge("state", j.state)), timeCell(j.next_run_time),
    j.last_run_time ? el("td", { title: j.last_run_time }, el("span", { text: absolute(j.last_run_time) }), el("br"),
      j.last_status ? badge("status", j.last_status) : "", " ",
      el("span", { class: "rel muted", "data-time": j.last_run_time, text: relative(j.last_run_time) }))
      : el("td", { class: "muted", text: "—" }),
    el("td", { class: "num", text: j.run_count }), el("td", { class: "num", text: j.failure_count }),
    el("td", { class: "error last-error", text: j.last_error || "" }))));
  const first = answer.total ? answer.offset + 1 : 0;
  document.getElementById("job-count").textContent =
    first + "–" + (answer.offset + answer.jobs.length) + " of " + answer.total + " jobs";
  document.getElementById("prev-page").disabled = answer.offset === 0;
  document.getElementById("next-page").disabled = answer.offset + answer.jobs.length >= answer.total;
}

function renderLegend() {
  const legend = document.getElementById("timeline-legend");
  if (!legend.childElementCount) legend.append(...STATUSES.map((s) => badge("status", s)));
}

// One line per job of the page, a mark per fire: past fires from job_run coloured by outcome,
// upcoming ones (hollow) from the trigger engine; the lateness is in each mark's title.
function renderTimeline(answer) {
  const labelWidth = 180, width = Math.max(600, document.getElementById("timeline").clientWidth || 1000);
  const rowHeight = 18, top = 20, jobs = answer.jobs;
  const height = top + Math.max(1, jobs.length) * rowHeight + 4;
  const from = Date.parse(answer.from), to = Date.parse(answer.to), nowMs = Date.parse(answer.now);
  const x = (t) => labelWidth + ((t - from) / (to - from)) * (width - labelWidth - 10);
  const chart = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": "fires of the last hour and the next hour" });
  for (let t = Math.ceil(from / 900000) * 900000; t <= to; t += 900000) {
    chart.append(svg("line", { class: "grid", x1: x(t), x2: x(t), y1: top - 4, y2: height }));
    if (x(t) < width - 40) chart.append(svg("text", { class: "tick", x: x(t) + 2, y: 12 }, new Date(t).toISOString().slice(11, 16)));
  }
  const rowOf = new Map(jobs.map((id, i) => [id, i]));
  jobs.forEach((id, i) => {
    const y = top + i * rowHeight + rowHeight / 2;
    chart.append(svg("line", { class: "row", x1: labelWidth, x2: width, y1: y, y2: y }));
    chart.append(svg("text", { class: "label", x: 4, y: y + 4 }, id.length > 24 ? id.slice(0, 23) + "…" : id));
  });
  chart.append(svg("line", { class: "now", x1: x(nowMs), x2: x(nowMs), y1: top - 6, y2: height }));
  for (const m of answer.marks) {
    const row = rowOf.get(m.job_id);
    if (row === undefined) continue;
    const status = m.status === "running" ? "running" : m.status;
    let title = m.job_id + " — " + absolute(m.at) + " — " + status;
    if (m.lateness_seconds !== undefined && m.lateness_seconds !== null) title += " — late " + late(m.lateness_seconds);
    if (m.error) title += " — " + m.error;
    chart.append(svg("circle", { class: "mark status-" + status, "data-job": m.job_id, "data-status": status,
      "data-at": m.at, cx: x(Date.parse(m.at)), cy: top + row * rowHeight + rowHeight / 2, r: 4 },
      svg("title", {}, title)));
  }
  document.getElementById("timeline").replaceChildren(chart);
}

function renderJob(answer) {
  synchronize(answer);
  const j = answer.job;
  document.getElementById("job-title").textContent = j.job_id;
  const rows = [
    ["state", badge("state", j.state)], ["owner", j.owner], ["func", el("code", { text: j.func })],
    ["func_args", el("code", { class: "func-args", text: typeof j.func_args === "string" ? j.func_args : JSON.stringify(j.func_args) })],
    ["schedule", el("span", {}, el("span", { class: "words", text: j.schedule.words || j.schedule.trigger || "" }), el("br"),
      el("code", { class: "as-written", text: JSON.stringify(j.schedule.as_written) }))],
    ["description", j.description || ""], ["next run", el("span", { text: absolute(j.next_run_time) + "  " + relative(j.next_run_time) })],
    ["last run", el("span", { text: absolute(j.last_run_time) + " " + (j.last_status || "") })],
    ["runs / failures", j.run_count + " / " + j.failure_count],
    ["last error", el("span", { class: "error last-error", text: j.last_error || "" })],
    ["created", absolute(j.create_time)], ["updated", absolute(j.update_time)], ["version", String(j.version)]];
  if (answer.schedule_error) rows.push(["schedule error", el("span", { class: "error", text: answer.schedule_error })]);
  document.getElementById("job-definition").replaceChildren(...rows.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", {}, v)]));
  const next = document.getElementById("job-next");
  next.replaceChildren(...answer.next_fire_times.map((t) => el("li", { class: "fire", "data-time": t, text: absolute(t) })));
  if (!answer.next_fire_times.length) next.append(el("li", { class: "muted", text: "none (the job does not fire)" }));
  document.querySelector("#job-runs tbody").replaceChildren(...answer.runs.map((r) => el("tr", { "data-run": r.run_id, "data-status": r.status },
    el("td", { class: "num", text: r.run_id }), el("td", { text: absolute(r.scheduled_for) }), el("td", {}, badge("status", r.status)),
    el("td", { class: "num", text: late(r.lateness_seconds) }), el("td", { text: r.instance }), el("td", { class: "num", text: r.attempt }),
    el("td", { text: absolute(r.finished_at) }), el("td", {}, el("pre", { class: "output", text: r.output || "" })),
    el("td", {}, el("pre", { class: "error run-error", text: r.error || "" })))));
}

function showProblem(error) {
  const p = document.getElementById("problem");
  p.hidden = !error;
  p.textContent = error ? "cannot refresh: " + error.message : "";
}

async function refresh() {
  const r = route();
  document.getElementById("jobs-view").hidden = !!r.job;
  document.getElementById("job-view").hidden = !r.job;
  try {
    const instances = api("/api/instances").then(renderInstances);
    if (r.job) {
      renderJob(await api("/api/jobs/" + encodeURIComponent(r.job)));
    } else {
      document.getElementById("filter-state").value = r.state;
      const box = document.getElementById("filter-text");
      if (document.activeElement !== box) box.value = r.q;
      const q = listQuery(r);
      const [jobs, timeline] = await Promise.all([api("/api/jobs?" + q), api("/api/timeline?" + q)]);
      renderJobs(jobs);
      renderLegend();
      renderTimeline(timeline);
    }
    await instances;
    showProblem(null);
    document.body.dataset.loaded = "true";
  } catch (error) {
    showProblem(error);
  }
}

function tick() {
  document.getElementById("clock").textContent = new Date(now()).toISOString().slice(0, 19).replace("T", " ") + "Z";
  for (const node of document.querySelectorAll("[data-time].rel")) node.textContent = relative(node.dataset.time);
}

document.getElementById("filter-state").addEventListener("change", (e) => go({ ...route(), state: e.target.value, offset: 0 }));
let typing = null;
document.getElementById("filter-text").addEventListener("input", (e) => {
  clearTimeout(typing);
  typing = setTimeout(() => go({ ...route(), q: e.target.value, offset: 0 }), 300);
});
document.getElementById("filter").addEventListener("submit", (e) => e.preventDefault());
document.getElementById("prev-page").addEventListener("click", () => go({ ...route(), offset: Math.max(0, (lastJobs?.offset || 0) - 50) }));
document.getElementById("next-page").addEventListener("click", () => go({ ...route(), offset: (lastJobs?.offset || 0) + 50 }));
window.addEventListener("hashchange", refresh);
refresh();
setInterval(refresh, REFRESH_MS);
setInterval(tick, 1000);
tick();
