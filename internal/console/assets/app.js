// quell's console: the incident list and one incident's page, over the
// same API as every other client. Text from alerts is only ever set as
// text, never parsed as HTML.
"use strict";

const main = document.getElementById("main");
const notice = document.getElementById("notice");
const actorInput = document.getElementById("actor");
const login = document.getElementById("login");
const refreshEvery = 5000;
let timer = null;

actorInput.value = localStorage.getItem("quell.actor") || "";
actorInput.addEventListener("change", () => localStorage.setItem("quell.actor", actorInput.value.trim()));

login.addEventListener("submit", (ev) => {
  ev.preventDefault();
  sessionStorage.setItem("quell.token", document.getElementById("token").value.trim());
  login.hidden = true;
  route();
});

// h builds an element: h("a", {href: "#/"}, "text", child, ...).
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

function svg(tag, attrs, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  for (const c of children) el.append(c instanceof Node ? c : String(c));
  return el;
}

class APIError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

async function api(path, body) {
  const headers = { "Accept": "application/json", "X-Requested-With": "quell-console" };
  const token = sessionStorage.getItem("quell.token");
  if (token) headers["Authorization"] = "Bearer " + token;
  const opts = { headers };
  if (body !== undefined) {
    opts.method = "POST";
    headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const resp = await fetch(path, opts);
  let data = null;
  try { data = await resp.json(); } catch (e) { /* an empty or non-JSON answer */ }
  if (resp.status === 401) {
    login.hidden = false;
    throw new APIError(401, "the API wants a token");
  }
  if (!resp.ok) throw new APIError(resp.status, (data && data.error) || resp.statusText);
  return data;
}

function say(text, bad) {
  notice.textContent = text;
  notice.className = bad ? "bad" : "good";
  notice.hidden = false;
}

function ago(t) {
  const s = Math.max(0, (Date.now() - new Date(t).getTime()) / 1000);
  if (s < 90) return Math.round(s) + "s";
  if (s < 5400) return Math.round(s / 60) + "m";
  if (s < 172800) return Math.round(s / 3600) + "h";
  return Math.round(s / 86400) + "d";
}

// link makes an anchor for a URL from an alert or a tool, only for http(s):
// an annotation could hold a javascript: URL.
function link(url, text) {
  return /^https?:\/\//i.test(url || "") ? h("a", { href: url, target: "_blank", rel: "noopener noreferrer" }, text) : text;
}

function when(t) {
  return t && !t.startsWith("0001-") ? new Date(t).toLocaleString() : "";
}

// entity is what an alert is about, as quell names it.
function entity(labels) {
  for (const k of ["service", "job", "instance", "host", "pod", "namespace"]) {
    if (labels && labels[k]) return labels[k];
  }
  return "";
}

function services(inc) {
  return [...new Set(inc.alerts.map((a) => entity(a.labels)).filter(Boolean))];
}

function state(inc) {
  if (inc.mergedInto) return "merged";
  if (inc.evicted) return "evicted";
  if (inc.status === "resolved") return "resolved";
  return inc.resolving ? "resolving" : "open";
}

function actor() {
  const who = actorInput.value.trim();
  if (!who) {
    actorInput.focus();
    say("Say who you are (acting as) before you act: every action is recorded with its actor.", true);
    return null;
  }
  localStorage.setItem("quell.actor", who);
  return who;
}

// act posts one feedback action and tells what became of it.
async function act(path, body) {
  const who = actor();
  if (!who) return null;
  try {
    const res = await api(path, Object.assign({ actor: who }, body));
    say(res.result === "unchanged" ? "Nothing to change: " + res.message : "Done: " + res.result + ".");
    return res;
  } catch (e) {
    say(e.message, true);
    return null;
  }
}

// ---- the list ----

function listPage() {
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  const status = params.get("status") ?? "open";
  const filter = params.get("filter") || "";
  const statusSel = h("select", { id: "status" },
    ["open", "resolved", ""].map((s) => h("option", { value: s, selected: s === status }, s || "all")));
  const filterIn = h("input", { id: "filter", value: filter, size: 50, placeholder: 'matchers, e.g. service="checkout",severity=~"crit.*"' });
  const live = h("input", { id: "live", type: "checkbox", checked: true });
  const apply = () => {
    const q = new URLSearchParams();
    q.set("status", statusSel.value);
    if (filterIn.value.trim()) q.set("filter", filterIn.value.trim());
    location.hash = "#/?" + q.toString();
  };
  const tbody = h("tbody", { id: "incidents" });
  const count = h("span", { id: "count" });
  main.replaceChildren(
    h("section", { class: "controls" },
      h("form", { onsubmit: (ev) => { ev.preventDefault(); apply(); } },
        h("label", {}, "status ", statusSel), " ",
        h("label", {}, "filter ", filterIn), " ",
        h("button", { type: "submit" }, "Apply"), " ",
        h("label", {}, live, " live"), " ", count)),
    h("table", { class: "incidents" },
      h("thead", {}, h("tr", {}, ["severity", "incident", "alerts", "services", "age", "state", "acknowledged"].map((c) => h("th", {}, c)))),
      tbody));
  statusSel.addEventListener("change", apply);
  const load = async () => {
    const q = new URLSearchParams({ limit: "200" });
    if (status) q.set("status", status);
    if (filter) q.set("filter", filter);
    let page;
    try {
      page = await api("/api/v1/incidents?" + q.toString());
    } catch (e) {
      say(e.message, true);
      return;
    }
    tbody.replaceChildren(...page.incidents.map((inc) => h("tr", { class: "incident sev-" + inc.severity, dataset: { id: inc.id },
      onclick: () => { location.hash = "#/incidents/" + inc.id; } },
      h("td", {}, h("span", { class: "sev" }, inc.severity)),
      h("td", {}, h("a", { href: "#/incidents/" + inc.id }, inc.title || inc.id)),
      h("td", { class: "num" }, inc.alerts.length),
      h("td", {}, services(inc).slice(0, 4).join(", ")),
      h("td", { title: when(inc.createdAt) }, ago(inc.createdAt)),
      h("td", {}, h("span", { class: "state " + state(inc) }, state(inc))),
      h("td", {}, inc.acknowledgedBy || ""))));
    count.textContent = page.incidents.length + (page.next ? "+" : "") + " incidents";
    if (!page.incidents.length) tbody.append(h("tr", {}, h("td", { colspan: 7, class: "empty" }, "No incidents here.")));
  };
  load();
  timer = setInterval(() => { if (live.checked) load(); }, refreshEvery);
}

// ---- one incident ----

async function incidentPage(id) {
  let inc;
  try {
    inc = await api("/api/v1/incidents/" + encodeURIComponent(id));
  } catch (e) {
    main.replaceChildren(h("p", { class: "empty" }, "Incident " + id + ": " + e.message), h("a", { href: "#/" }, "back to the list"));
    return;
  }
  const [timeline, graph, tickets, open] = await Promise.all([
    api("/api/v1/incidents/" + id + "/timeline").catch(() => null),
    api("/api/v1/incidents/" + id + "/graph").catch(() => null),
    api("/api/v1/incidents/" + id + "/tickets").catch(() => null),
    api("/api/v1/incidents?status=open&limit=200").catch(() => ({ incidents: [] })),
  ]);
  const others = open.incidents.filter((o) => o.id !== id);
  // The last incident of its kind: who resolved it and in which ticket.
  const last = inc.recurrence ? await api("/api/v1/incidents/" + inc.recurrence.last + "/tickets").catch(() => null) : null;
  const lastTickets = last ? last.tickets.map((k) => link(k.url, k.number || k.id)) : [];
  if (!location.hash.startsWith("#/incidents/" + id)) return; // the person went elsewhere meanwhile
  const reload = route;
  const isOpen = inc.status === "open" && !inc.mergedInto;

  const head = h("section", { class: "head sev-" + inc.severity },
    h("h1", { id: "title" }, inc.title || inc.id),
    h("p", { class: "facts" },
      h("span", { class: "sev" }, inc.severity), " ",
      h("span", { id: "state", class: "state " + state(inc) }, state(inc)),
      " · opened ", when(inc.createdAt), " (", ago(inc.createdAt), " ago)",
      inc.closesAt && inc.resolving ? [" · closes ", when(inc.closesAt)] : null,
      inc.evicted ? [" · evicted ", when(inc.resolvedAt), " to stay within quell's memory bound (its alerts may still fire)"]
        : inc.status === "resolved" ? [" · resolved ", when(inc.resolvedAt), inc.resolvedBy ? " by " + inc.resolvedBy : ""] : null,
      inc.acknowledgedBy ? [" · acknowledged by ", h("b", { id: "acked" }, inc.acknowledgedBy), " ", when(inc.acknowledgedAt)] : null,
      inc.assignedTo ? [" · assigned to ", h("b", {}, inc.assignedTo)] : null,
      inc.mergedInto ? [" · merged into ", h("a", { href: "#/incidents/" + inc.mergedInto }, inc.mergedInto)] : null,
      " · id ", h("code", {}, inc.id)),
    inc.recurrence ? h("p", { class: "recurrence", id: "recurrence" }, "Seen ", inc.recurrence.seen === 1 ? "once" : inc.recurrence.seen + " times", " before in 30 days; last ",
      h("a", { href: "#/incidents/" + inc.recurrence.last }, inc.recurrence.last), ", resolved ", when(inc.recurrence.lastResolvedAt),
      inc.recurrence.lastResolvedBy ? " by " + inc.recurrence.lastResolvedBy : "", lastTickets.length ? [", ticket ", lastTickets] : null, ".") : null);

  const mergeSel = h("select", { id: "merge-into" }, h("option", { value: "" }, "merge into…"),
    others.map((o) => h("option", { value: o.id }, o.title + " (" + o.alerts.length + " alerts, " + o.id + ")")));
  const comment = h("input", { id: "comment", placeholder: "comment (optional)", size: 40 });
  const actions = isOpen ? h("section", { class: "actions" },
    h("button", { id: "ack", disabled: !!inc.acknowledgedBy, onclick: async () => {
      if (await act("/api/v1/incidents/" + id + "/ack", { comment: comment.value })) reload();
    } }, inc.acknowledgedBy ? "Acknowledged" : "Acknowledge"), " ",
    h("button", { id: "resolve", onclick: async () => {
      if (await act("/api/v1/incidents/" + id + "/resolve", { comment: comment.value })) reload();
    } }, "Resolve"), " ",
    mergeSel, " ",
    h("button", { id: "merge", onclick: async () => {
      if (!mergeSel.value) { say("Pick the incident to merge this one into.", true); return; }
      const res = await act("/api/v1/incidents/" + id + "/merge", { into: mergeSel.value, comment: comment.value });
      if (res) location.hash = "#/incidents/" + mergeSel.value;
    } }, "Merge"), " ", comment) : null;

  const alertRows = inc.alerts.map((a) => {
    const moveSel = h("select", { class: "move-to" }, h("option", { value: "" }, "move to…"), h("option", { value: "new" }, "a new incident"),
      others.map((o) => h("option", { value: o.id }, o.title + " (" + o.id + ")")));
    const labels = Object.entries(a.labels || {}).sort().map(([k, v]) => h("span", { class: "label" }, k + "=" + v));
    const ann = a.annotations || {};
    return h("tr", { class: "alert " + a.status, dataset: { fingerprint: a.fingerprint } },
      h("td", {}, a.status, a.flapping ? " (flapping)" : ""),
      h("td", {}, h("b", {}, a.labels.alertname || ""), ann.summary ? h("div", { class: "summary" }, ann.summary) : null,
        ann.description ? h("div", { class: "description" }, ann.description) : null, h("div", { class: "labels" }, labels)),
      h("td", { class: "reason" }, a.reason),
      h("td", { class: "num" }, a.count),
      h("td", {}, ann.runbook_url ? link(ann.runbook_url, "runbook") : ""),
      // An evicted incident's alerts are no longer the correlator's to move.
      h("td", {}, (isOpen || others.length) && !inc.evicted ? [moveSel, h("button", { class: "move", onclick: async () => {
        if (!moveSel.value) { say("Pick where to move the alert.", true); return; }
        const res = await act("/api/v1/alerts/" + a.fingerprint + "/move", { to: moveSel.value, comment: comment.value });
        if (res && res.incident) location.hash = "#/incidents/" + res.incident.id;
        else if (res) reload();
      } }, "Move")] : null));
  });

  // The timeline grows as decisions come (those of a young incident wait
  // out group_wait): it refreshes on its own, leaving the controls alone.
  const timelineSection = h("section", { id: "timeline" }, h("h2", {}, "Timeline"), timelineList(timeline));
  timer = setInterval(async () => {
    const tl = await api("/api/v1/incidents/" + id + "/timeline").catch(() => null);
    if (tl) timelineSection.replaceChildren(h("h2", {}, "Timeline"), timelineList(tl));
  }, refreshEvery);
  // replaceChildren writes a null as text: drop the sections this page leaves out.
  main.replaceChildren(...[
    h("a", { href: "#/", class: "back" }, "← incidents"),
    head, actions,
    h("section", {}, h("h2", {}, "Alerts (", inc.alerts.length, ")"),
      h("table", { class: "alerts", id: "alerts" },
        h("thead", {}, h("tr", {}, ["status", "alert", "why it is here", "occurrences", "runbook", ""].map((c) => h("th", {}, c)))),
        h("tbody", {}, alertRows))),
    inc.runbooks && inc.runbooks.length ? h("section", {}, h("h2", {}, "Runbooks"),
      h("ul", {}, inc.runbooks.map((u) => h("li", {}, link(u, u))))) : null,
    h("div", { class: "split" },
      timelineSection,
      h("section", { id: "graph" }, h("h2", {}, "Service graph around it"), graphPicture(graph))),
    h("section", { id: "tickets" }, h("h2", {}, "Tickets"), ticketList(tickets))].filter(Boolean));
}

function timelineList(tl) {
  if (!tl) return h("p", { class: "empty" }, "No timeline here (the embedded default keeps one; in split mode see ClickHouse).");
  if (!tl.events.length) return h("p", { class: "empty" }, "Nothing recorded yet.");
  return h("ol", { class: "timeline" },
    tl.dropped ? h("li", { class: "empty" }, tl.dropped + " earlier events let go") : null,
    tl.events.map((e) => h("li", { class: "event " + e.kind.replace(/\s+/g, "-") },
      h("time", { datetime: e.at }, new Date(e.at).toLocaleTimeString()), " ",
      h("span", { class: "kind" }, e.kind), " ",
      e.title ? h("b", {}, e.title) : null,
      e.actor ? [" by ", h("i", {}, e.actor), e.via ? " in " + e.via : null] : null,
      e.reason ? h("div", { class: "reason" }, e.reason) : null)));
}

// graphPicture draws the neighbourhood: the incident's own nodes in the
// middle, each further hop on a wider ring.
function graphPicture(g) {
  if (!g || !g.nodes.length) return h("p", { class: "empty" }, "No graph nodes: its alerts name nothing quell knows in a topology.");
  const W = 520, H = 360, cx = W / 2, cy = H / 2;
  const rings = {};
  g.nodes.forEach((n, i) => { (rings[n.hops] = rings[n.hops] || []).push(i); });
  const pos = [];
  for (const [hops, members] of Object.entries(rings)) {
    const r = hops == 0 && members.length === 1 ? 0 : 50 + 100 * Number(hops);
    members.forEach((i, k) => {
      const a = (2 * Math.PI * k) / members.length + Number(hops) * 0.4;
      pos[i] = [cx + r * Math.cos(a), cy + r * 0.75 * Math.sin(a)];
    });
  }
  const pic = svg("svg", { viewBox: "0 0 " + W + " " + H, width: W, height: H, role: "img", "aria-label": "service graph" });
  for (const [a, b] of g.edges || []) {
    pic.append(svg("line", { x1: pos[a][0], y1: pos[a][1], x2: pos[b][0], y2: pos[b][1], class: "edge" }));
  }
  g.nodes.forEach((n, i) => {
    pic.append(svg("circle", { cx: pos[i][0], cy: pos[i][1], r: n.hops === 0 ? 9 : 6, class: "node hops" + n.hops }));
    pic.append(svg("text", { x: pos[i][0] + 11, y: pos[i][1] + 4, class: "node-label" }, n.name));
  });
  return pic;
}

function ticketList(t) {
  if (!t || !t.tickets.length) return h("p", { class: "empty" }, "No tickets from this process's ITSM sinks.");
  return h("ul", {}, t.tickets.map((k) => h("li", {}, k.sink, ": ", link(k.url, k.number || k.id))));
}

// ---- routing ----

function route() {
  clearInterval(timer);
  timer = null;
  const m = location.hash.match(/^#\/incidents\/([^?\/]+)/);
  if (m) incidentPage(decodeURIComponent(m[1]));
  else listPage();
}

window.addEventListener("hashchange", route);
route();
