// Clearframe review page: the moderation review API through the gateway, with a session cookie.
// Plain JavaScript, no build step, nothing from elsewhere. Every value from the API reaches the page as
// text (textContent, attributes set one by one), never as HTML.
"use strict";

(function () {
  const UNDO_MS = 4000;
  const LIVE_MS = 10000;
  const PAGE_SIZE = 200;

  const state = {
    session: null,       // {subject, permissions, expire_time, csrf_token}
    cases: [],           // the queue as loaded (server order: urgent first, then oldest)
    shown: [],           // after the intent/model filters
    current: -1,         // index into shown
    detail: null,        // the open case (GetReviewCase) and its audit entries
    selected: new Set(), // case ids for bulk decisions
    pending: null,       // {ids, verdict, notes, timer, deadline, ticker}
    inFlight: new Set(), // case ids whose decision is being sent or waits for undo
    viewed: new Set(),
    lastStatement: null,
    assets: {},          // case id → its asset's metadata, as read when the case was opened
    unblurred: false,
    gray: false,
    frame: -1,           // index (into the scan's frames) of the frame shown
    frameUrl: null,      // blob: URL of the frame shown (fetched with the session, never cached)
    frameLoad: 0,        // counter: a late answer for a frame no longer wanted is dropped
    watch: null,         // {controller, revision, connected} of the decision feed stream
  };

  const $ = (id) => document.getElementById(id);

  function el(tag, text, className) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (className) node.className = className;
    return node;
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
  }

  function flash(text, isError) {
    const box = $("flash");
    box.textContent = text;
    box.classList.toggle("error", Boolean(isError));
    box.hidden = !text;
  }

  // -------------------------------------------------------------------------------------------- API

  class ApiError extends Error {
    constructor(status, reason, message) {
      super(message || reason || String(status));
      this.status = status;
      this.reason = reason;
    }
  }

  async function api(method, path, body, extraHeaders) {
    const headers = Object.assign({ Accept: "application/json" }, extraHeaders || {});
    if (method !== "GET" && method !== "HEAD") {
      headers["Content-Type"] = "application/json";
      if (state.session) headers["X-CSRF-Token"] = state.session.csrf_token;
    }
    const response = await fetch(path, {
      method: method,
      headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
    let data = null;
    try {
      data = await response.json();
    } catch (e) {
      data = null;
    }
    if (!response.ok) {
      const details = (data && data.details) || [];
      const info = details.find((d) => d && d.reason) || {};
      const error = new ApiError(response.status, info.reason || "", (data && data.message) || response.statusText);
      if (response.status === 401 && state.session) signedOut("Your session has ended: sign in again.");
      throw error;
    }
    return data || {};
  }

  // ----------------------------------------------------------------------------------------- session

  async function loadSession() {
    try {
      const answer = await api("GET", "/v1/reviewSession");
      signedIn(answer.session);
    } catch (e) {
      signedOut("");
    }
  }

  function signedIn(session) {
    state.session = session;
    $("subject").textContent = session.subject;
    $("expires").textContent = new Date(session.expire_time).toLocaleTimeString();
    const stored = sessionStorage.getItem(viewedKey());
    state.viewed = new Set(stored ? JSON.parse(stored) : []);
    $("viewed").textContent = String(state.viewed.size);
    $("whoami").hidden = false;
    $("sign-in").hidden = true;
    $("desk").hidden = false;
    const mayDecide = session.permissions.indexOf("moderation.review") >= 0;
    for (const id of ["approve", "reject"]) $(id).disabled = !mayDecide;
    document.body.classList.toggle("read-only", !mayDecide);
    refreshQueue();
    startWatch();
  }

  function signedOut(message) {
    cancelPending();
    state.session = null;
    state.cases = [];
    state.shown = [];
    state.detail = null;
    state.current = -1;
    state.selected.clear();
    $("whoami").hidden = true;
    $("desk").hidden = true;
    $("case").hidden = true;
    stopWatch();
    dropFrame();
    $("sign-in").hidden = false;
    flash(message, Boolean(message));
  }

  function viewedKey() {
    return state.session ? "clearframe-review-viewed:" + state.session.subject + ":" + state.session.expire_time : "";
  }

  async function signIn(event) {
    event.preventDefault();
    const input = $("credential");
    const secret = input.value.trim();
    input.value = "";  // the key lives only in this request's header
    if (!secret) return;
    try {
      const answer = await api("POST", "/v1/reviewSession", {}, { Authorization: "Bearer " + secret });
      flash("");
      signedIn(answer.session);
    } catch (e) {
      const why = e.status === 403 ? "This credential does not hold moderation.read." : "The key or token was not accepted.";
      flash(why, true);
    }
  }

  async function signOut() {
    await flushPending();
    try {
      await api("DELETE", "/v1/reviewSession");
    } catch (e) {
      // An ended session is signed out already.
    }
    sessionStorage.removeItem(viewedKey());
    signedOut("Signed out.");
  }

  // ------------------------------------------------------------------------------------------- queue

  async function refreshQueue() {
    if (!state.session) return;
    const priority = $("filter-priority").value;
    const query = new URLSearchParams({ page_size: String(PAGE_SIZE) });
    if (priority) query.set("priority", priority);
    let answer;
    try {
      answer = await api("GET", "/v1/reviews?" + query.toString());
    } catch (e) {
      if (e.status !== 401) flash("The queue could not be loaded: " + e.message, true);
      return;
    }
    const currentId = currentCase() ? currentCase().case_id : null;
    state.cases = answer.cases || [];
    $("count-total").textContent = String(answer.total_size || 0);
    const known = new Set(state.cases.map((c) => c.case_id));
    for (const id of Array.from(state.selected)) if (!known.has(id)) state.selected.delete(id);
    applyFilters(currentId);
  }

  function applyFilters(keepId) {
    const intent = $("filter-intent").value;
    const model = $("filter-model").value.trim();
    state.shown = state.cases.filter((c) => {
      const reasons = c.reasons || {};
      return (!intent || reasons.usage_intent === intent) && (!model || reasons.model_id === model);
    });
    const urgent = state.cases.filter((c) => c.priority === "REVIEW_PRIORITY_URGENT").length;
    $("count-urgent").textContent = String(urgent);
    $("count-normal").textContent = String(state.cases.length - urgent);
    $("count-shown").textContent = String(state.shown.length);
    let index = keepId ? state.shown.findIndex((c) => c.case_id === keepId) : -1;
    if (index < 0) index = state.shown.length ? Math.min(Math.max(state.current, 0), state.shown.length - 1) : -1;
    renderQueue();
    select(index, index >= 0 && (!state.detail || !currentIs(state.shown[index])));
  }

  function currentCase() {
    return state.current >= 0 ? state.shown[state.current] : null;
  }

  function currentIs(reviewCase) {
    return state.detail && reviewCase && state.detail.review_case.case_id === reviewCase.case_id;
  }

  function age(time) {
    const seconds = Math.max(0, (Date.now() - new Date(time).getTime()) / 1000);
    if (seconds < 90) return Math.round(seconds) + " s";
    if (seconds < 5400) return Math.round(seconds / 60) + " min";
    if (seconds < 172800) return Math.round(seconds / 3600) + " h";
    return Math.round(seconds / 86400) + " d";
  }

  function renderQueue() {
    const list = $("cases");
    clear(list);
    state.shown.forEach((c, index) => {
      const item = el("li");
      item.dataset.caseId = c.case_id;
      item.dataset.index = String(index);
      const urgent = c.priority === "REVIEW_PRIORITY_URGENT";
      if (state.selected.has(c.case_id)) item.classList.add("checked");
      if (state.inFlight.has(c.case_id)) item.classList.add("pending");
      const mark = el("input", null, "mark");
      mark.type = "checkbox";
      mark.checked = state.selected.has(c.case_id);
      mark.tabIndex = -1;
      mark.addEventListener("click", (event) => {
        event.stopPropagation();
        toggleSelected(c.case_id);
      });
      item.appendChild(mark);
      const title = el("span", c.asset_id ? "asset " + c.asset_id : "scan " + c.scan_id, "title");
      item.appendChild(title);
      item.appendChild(el("span", urgent ? "urgent" : "normal", urgent ? "badge urgent" : "badge"));
      const result = c.result || {};
      const reasons = c.reasons || {};
      const parts = [
        "risk " + Number(result.risk_score || 0).toFixed(1),
        reasons.usage_intent || "",
        reasons.model_id ? "model " + reasons.model_id : "",
        age(c.create_time) + " ago",
      ].filter(Boolean);
      item.appendChild(el("span", parts.join(" · "), "sub"));
      item.addEventListener("click", () => select(index, true));
      list.appendChild(item);
    });
    $("empty").hidden = state.shown.length > 0;
    updateBulk();
  }

  function select(index, open) {
    state.current = index;
    for (const item of $("cases").children) {
      item.classList.toggle("current", Number(item.dataset.index) === index);
    }
    const chosen = currentCase();
    if (!chosen) {
      state.detail = null;
      $("case").hidden = true;
      dropFrame();
      return;
    }
    const item = $("cases").children[index];
    if (item && item.scrollIntoView) item.scrollIntoView({ block: "nearest" });
    if (open) openCase(chosen.case_id);
  }

  function move(step) {
    if (!state.shown.length) return;
    const next = Math.min(Math.max(state.current + step, 0), state.shown.length - 1);
    if (next !== state.current) select(next, true);
  }

  function toggleSelected(caseId) {
    if (state.selected.has(caseId)) state.selected.delete(caseId);
    else state.selected.add(caseId);
    renderQueue();
    select(state.current, false);
  }

  function updateBulk() {
    const count = state.selected.size;
    $("selected-count").textContent = String(count);
    const mayDecide = state.session && state.session.permissions.indexOf("moderation.review") >= 0;
    $("bulk-approve").disabled = !count || !mayDecide;
    $("bulk-reject").disabled = !count || !mayDecide;
  }

  // -------------------------------------------------------------------------------------------- case

  async function openCase(caseId) {
    let answer;
    let audit = { entries: [] };
    try {
      answer = await api("GET", "/v1/reviews/" + encodeURIComponent(caseId));
      const scan = answer.review_case.scan_id;
      audit = await api("GET", "/v1/auditEntries?" + new URLSearchParams({ scan_id: scan, page_size: "50" }).toString());
    } catch (e) {
      if (e.status !== 401) flash("The case could not be loaded: " + e.message, true);
      return;
    }
    let asset = null;
    if (answer.review_case.asset_id) {
      try {
        asset = (await api("GET", "/v1/assets/" + encodeURIComponent(answer.review_case.asset_id))).asset || null;
      } catch (e) {
        asset = null;  // a scan of bytes that were never an asset (or one since deleted): no metadata
      }
    }
    if (!currentCase() || currentCase().case_id !== caseId) return;  // moved on meanwhile
    state.detail = { review_case: answer.review_case, audit: audit.entries || [], asset: asset };
    state.assets[caseId] = asset;
    if (!state.viewed.has(caseId)) {
      state.viewed.add(caseId);
      sessionStorage.setItem(viewedKey(), JSON.stringify(Array.from(state.viewed)));
      $("viewed").textContent = String(state.viewed.size);
    }
    renderCase();
  }

  function renderCase() {
    const c = state.detail.review_case;
    const result = c.result || {};
    const reasons = c.reasons || result.reasons || {};
    $("case").hidden = false;
    $("case-id").textContent = c.case_id;
    const urgent = c.priority === "REVIEW_PRIORITY_URGENT";
    $("case-priority").textContent = urgent ? "urgent" : "normal";
    $("case-priority").className = urgent ? "badge urgent" : "badge";
    $("notes").value = "";

    // Media: the real frames (unblurred by the server, served to the session only), blurred here by
    // default on every case; the frame that drove the decision (the riskiest) is shown first.
    state.unblurred = false;
    applyView();
    const frames = result.frames || [];
    if (c.asset_id) {
      $("media").hidden = false;
      $("no-media").hidden = true;
      showFrame(drivingFrame(frames));
    } else {
      dropFrame();
      $("media").hidden = true;
      $("no-media").hidden = false;
      state.frame = frames.length ? 0 : -1;
      drawBoxes(frames[0] || null);
    }
    renderFrames(frames, result.frames_total || 0);

    $("summary").textContent = reasons.summary || "";
    const meta = $("meta");
    clear(meta);
    const thresholds = reasons.thresholds || {};
    const facts = [
      ["asset", c.asset_id || "—"],
      ["scan", c.scan_id],
      ["opened", new Date(c.create_time).toLocaleString() + " (" + age(c.create_time) + " ago)"],
      ["risk", Number(result.risk_score || 0).toFixed(1) + " (" + String(result.risk_level || "").replace("RISK_LEVEL_", "").toLowerCase() + ")"],
      ["nudity score", Number(result.nudity_score || 0).toFixed(1)],
      ["intent", reasons.usage_intent || "—"],
      ["model", reasons.model_id || "global"],
      ["configuration", "version " + (reasons.config_version || 0)],
      ["thresholds", "approve ≤ " + (thresholds.auto_approve_under || 0) + ", flag ≥ " + (thresholds.auto_flag_over || 0) +
        ", reject ≥ " + (thresholds.auto_reject_over || 0)],
      ["frames", (result.frames_analyzed || 0) + " of " + (result.frames_total || 0) + " analysed"],
      ["pipeline", result.analysis_version || ""],
    ];
    const age_ = result.age || {};
    if (age_.underage_signal || age_.child_content_signal) {
      facts.push(["age signal", (age_.underage_signal ? "under " + age_.threshold_years + " estimated; " : "") +
        (age_.child_content_signal ? "child keywords: " + (age_.matched_keywords || []).join(", ") : "")]);
    }
    const asset = state.detail.asset;
    if (asset) {
      facts.unshift(
        ["title", asset.title || "—"],
        ["tags", (asset.tags || []).join(", ") || "—"],
        ["description", asset.description || "—"],
        ["file", (asset.filename || "—") + " · " + asset.content_type + " · " + asset.width + "×" + asset.height +
          (asset.frame_count > 1 ? " · " + asset.frame_count + " frames" : "") + " · " + asset.size_bytes + " bytes"],
        ["uploaded", new Date(asset.create_time).toLocaleString() + (asset.owner ? " by " + asset.owner : "")],
      );
    }
    for (const [name, value] of facts) {
      meta.appendChild(el("dt", name));
      meta.appendChild(el("dd", value));
    }

    const rules = $("rules");
    clear(rules);
    for (const rule of reasons.rules || []) {
      const labels = (rule.labels || []).length ? " [" + rule.labels.join(", ") + "]" : "";
      rules.appendChild(el("li", rule.rule + ": " + (rule.description || "") + labels));
    }

    const analyzers = $("analyzers");
    clear(analyzers);
    for (const name of Object.keys(result.analyzers || {}).sort()) {
      const a = result.analyzers[name];
      const row = el("tr");
      row.appendChild(el("td", name));
      row.appendChild(el("td", a.model_version || ""));
      let text;
      if (a.skipped) text = "skipped by the configuration";
      else if (a.error && a.error.code) text = "failed: " + (a.error.message || a.error.code);
      else {
        const scores = Object.keys(a.scores || {}).sort().map((k) => k + " " + Number(a.scores[k]).toFixed(3));
        const labels = (a.labels || []).slice(0, 6).map((l) => l.label + " " + Number(l.score).toFixed(2));
        text = scores.concat(labels).join(", ") || "—";
      }
      row.appendChild(el("td", text));
      analyzers.appendChild(row);
    }

    const hashes = $("hashes");
    clear(hashes);
    for (const m of result.hash_matches || []) {
      // Side by side: this media's hash on the matching frame and the bank entry's own hash (banks keep a
      // hash and an id per entry, no image and no label).
      const item = el("li", null, "match");
      const pair = el("dl", null, "pair");
      const frame = m.frame_index || 0;
      const ours = m.hash || (frame === 0 && result.pdq_hash) || "(hash of frame " + frame + " not kept)";
      for (const [term, mine, theirs] of [
        ["", "this media", "bank entry"],
        ["hash", ours, m.matched_hash || "(not kept with the match)"],
        ["where", "frame " + frame, "list " + m.list],
        ["id", c.scan_id, m.matched_id || "—"],
      ]) {
        pair.appendChild(el("dt", term));
        pair.appendChild(el("dd", mine));
        pair.appendChild(el("dd", theirs));
      }
      item.appendChild(el("p", m.algorithm + ": distance " + m.distance + " ≤ " + m.threshold + " bits"));
      item.appendChild(pair);
      hashes.appendChild(item);
    }
    if (!hashes.children.length) hashes.appendChild(el("li", "none" + (result.pdq_hash ? " (this media's pdq " + result.pdq_hash + ")" : ""), "empty"));

    const text = $("text");
    clear(text);
    for (const f of (result.text && result.text.fields) || []) {
      const terms = (f.matched_terms || []).length ? " — terms: " + f.matched_terms.join(", ") : "";
      text.appendChild(el("li", f.field + ": " + (f.flagged ? "flagged" : "clean") + ", p=" +
        Number(f.probability || 0).toFixed(2) + terms));
    }
    if (!text.children.length) text.appendChild(el("li", "no text supplied", "empty"));

    const audit = $("audit");
    clear(audit);
    for (const entry of state.detail.audit) {
      const verdict = String(entry.verdict || "").replace("VERDICT_", "").toLowerCase();
      const action = String(entry.action || "").replace("AUDIT_ACTION_", "").toLowerCase().replace(/_/g, " ");
      const line = new Date(entry.create_time).toLocaleString() + " — " + action + (verdict && verdict !== "unspecified" ? " " + verdict : "") +
        " by " + entry.actor + (entry.notes ? ": " + entry.notes : "");
      audit.appendChild(el("li", line));
    }
  }

  function drivingFrame(frames) {
    // The frame that drove the decision: the highest risk, the first of equals (frame 0 for a still).
    let best = frames.length ? 0 : -1;
    frames.forEach((f, i) => {
      if ((f.risk_score || 0) > (frames[best].risk_score || 0)) best = i;
    });
    return best;
  }

  function dropFrame() {
    state.frameLoad += 1;
    const media = $("media");
    media.removeAttribute("src");
    if (state.frameUrl) URL.revokeObjectURL(state.frameUrl);
    state.frameUrl = null;
    clear($("boxes"));
  }

  async function showFrame(position) {
    // One frame of the case's asset, fetched with the session cookie (the route refuses anything else)
    // and shown from a blob: URL, so the same bytes serve the image and the boxes' unblurred crops.
    const c = state.detail && state.detail.review_case;
    if (!c || !c.asset_id) return;
    const frames = (c.result && c.result.frames) || [];
    const frame = position >= 0 ? frames[position] : null;
    const index = frame ? (frame.index || 0) : 0;
    state.frame = position;
    markFrame();
    const ticket = ++state.frameLoad;
    let blob;
    try {
      const response = await fetch("/v1/assets/" + encodeURIComponent(c.asset_id) + "/frames/" + index, {
        credentials: "same-origin",
        cache: "no-store",
      });
      if (response.status === 401 && state.session) signedOut("Your session has ended: sign in again.");
      if (!response.ok) throw new Error("HTTP " + response.status);
      blob = await response.blob();
    } catch (e) {
      if (ticket === state.frameLoad) flash("The frame could not be loaded: " + e.message, true);
      return;
    }
    if (ticket !== state.frameLoad || !state.detail || state.detail.review_case.case_id !== c.case_id) return;
    if (state.frameUrl) URL.revokeObjectURL(state.frameUrl);
    state.frameUrl = URL.createObjectURL(blob);
    const media = $("media");
    media.dataset.frameIndex = String(index);
    media.src = state.frameUrl;
    drawBoxes(frame);
  }

  function pct(value) {
    return value + "%";
  }

  function drawBoxes(frame) {
    const layer = $("boxes");
    clear(layer);
    if (!frame || !frame.width || !frame.height) return;
    for (const d of frame.detections || []) {
      const b = d.box || {};
      const left = 100 * (b.x || 0) / frame.width;
      const top = 100 * (b.y || 0) / frame.height;
      const width = 100 * (b.width || 0) / frame.width;
      const height = 100 * (b.height || 0) / frame.height;
      if (width <= 0 || height <= 0) continue;
      const box = el("div", null, "box");
      box.style.left = pct(left);
      box.style.top = pct(top);
      box.style.width = pct(width);
      box.style.height = pct(height);
      box.title = d.label + " — click to unblur inside the box";
      // The same frame, unblurred, cropped to the box: shown when the box is clicked (the rest stays blurred).
      if (state.frameUrl) {
        const cropper = el("div", null, "cropper");
        const crop = el("img", null, "crop");
        crop.alt = "";
        crop.src = state.frameUrl;
        crop.style.width = pct(100 * 100 / width);
        crop.style.height = pct(100 * 100 / height);
        crop.style.left = pct(-100 * left / width);
        crop.style.top = pct(-100 * top / height);
        cropper.appendChild(crop);
        box.appendChild(cropper);
      }
      box.appendChild(el("span", (d.mapped_label || d.label) + " " + Math.round(100 * (d.score || 0)) + "%", "label"));
      box.addEventListener("click", () => box.classList.toggle("peek"));
      layer.appendChild(box);
    }
  }

  function renderFrames(frames, total) {
    const strip = $("frames");
    clear(strip);
    $("timeline").hidden = frames.length <= 1;
    if (frames.length <= 1) return;
    const top = Math.max.apply(null, frames.map((f) => f.risk_score || 0));
    const driving = drivingFrame(frames);
    frames.forEach((f, position) => {
      const seconds = parseFloat(String(f.timestamp || "0s")) || 0;
      const item = el("li");
      const button = el("button", null, "frame");
      button.type = "button";
      button.dataset.position = String(position);
      button.dataset.frameIndex = String(f.index || 0);
      button.dataset.risk = Number(f.risk_score || 0).toFixed(1);
      const bar = el("span", null, "risk");
      bar.style.height = pct(Math.max(4, Math.min(100, f.risk_score || 0)));
      button.appendChild(bar);
      button.appendChild(el("span", "#" + (f.index || 0), "at"));
      button.appendChild(el("span", seconds.toFixed(2) + " s", "at"));
      button.appendChild(el("span", "risk " + Number(f.risk_score || 0).toFixed(1), "at"));
      button.appendChild(el("span", (f.detections || []).length + " det.", "at"));
      button.title = "frame " + (f.index || 0) + " at " + seconds.toFixed(2) + " s: risk " +
        Number(f.risk_score || 0).toFixed(1) + " ([ and ] step through the frames)";
      if (position === driving && top > 0) button.classList.add("hot");
      button.addEventListener("click", () => showFrame(position));
      item.appendChild(button);
      strip.appendChild(item);
    });
    $("frames-note").textContent = frames.length + " of " + total + " frames sampled; the marked one drove the decision";
    markFrame();
  }

  function markFrame() {
    for (const button of $("frames").querySelectorAll("button.frame")) {
      button.classList.toggle("current", Number(button.dataset.position) === state.frame);
    }
    const c = state.detail && state.detail.review_case;
    const frames = (c && c.result && c.result.frames) || [];
    const f = state.frame >= 0 ? frames[state.frame] : null;
    $("frame-info").textContent = f && frames.length > 1
      ? "frame " + (f.index || 0) + " · risk " + Number(f.risk_score || 0).toFixed(1) + " · " + (f.detections || []).length + " detections"
      : "";
  }

  function stepFrame(step) {
    const c = state.detail && state.detail.review_case;
    const frames = (c && c.result && c.result.frames) || [];
    if (frames.length <= 1 || !c.asset_id) return;
    const next = Math.min(Math.max(state.frame + step, 0), frames.length - 1);
    if (next !== state.frame) showFrame(next);
  }

  function applyView() {
    const stage = $("stage");
    stage.classList.toggle("blurred", !state.unblurred);
    stage.classList.toggle("gray", state.gray);
    $("unblur").textContent = state.unblurred ? "Blur (u)" : "Unblur (u)";
    $("grayscale").textContent = state.gray ? "Colour (g)" : "Grayscale (g)";
    $("media").alt = state.unblurred ? "media under review" : "media under review (blurred)";
  }

  // --------------------------------------------------------------------------------------- decisions

  function decide(verdict, ids) {
    if (!state.session || state.session.permissions.indexOf("moderation.review") < 0) {
      flash("Deciding needs moderation.review.", true);
      return;
    }
    const chosen = ids || (currentCase() ? [currentCase().case_id] : []);
    const open = chosen.filter((id) => !state.inFlight.has(id));
    if (!open.length) return;
    flushPending();
    const notes = $("notes").value;
    for (const id of open) state.inFlight.add(id);
    const word = verdict === "VERDICT_APPROVED" ? "Approving" : "Rejecting";
    const pending = { ids: open, verdict: verdict, notes: notes, deadline: Date.now() + UNDO_MS };
    pending.timer = setTimeout(() => sendPending(pending), UNDO_MS);
    pending.ticker = setInterval(() => showPending(pending, word), 250);
    state.pending = pending;
    showPending(pending, word);
    if (ids) state.selected.clear();
    renderQueue();
    // Move on to the next case still open.
    const next = state.shown.findIndex((c, i) => i >= state.current && !state.inFlight.has(c.case_id));
    const fallback = state.shown.findIndex((c) => !state.inFlight.has(c.case_id));
    select(next >= 0 ? next : fallback, true);
  }

  function showPending(pending, word) {
    const left = Math.max(0, Math.ceil((pending.deadline - Date.now()) / 1000));
    $("pending-text").textContent = word + " " + pending.ids.length + " case" + (pending.ids.length > 1 ? "s" : "") +
      " in " + left + " s…";
    $("pending").hidden = false;
  }

  function stopPending(pending) {
    clearTimeout(pending.timer);
    clearInterval(pending.ticker);
    if (state.pending === pending) state.pending = null;
    $("pending").hidden = true;
  }

  function cancelPending() {
    const pending = state.pending;
    if (!pending) return false;
    stopPending(pending);
    for (const id of pending.ids) state.inFlight.delete(id);
    renderQueue();
    const index = state.shown.findIndex((c) => c.case_id === pending.ids[0]);
    if (index >= 0) select(index, true);
    $("notes").value = pending.notes;
    flash("Undone: nothing was sent.");
    return true;
  }

  async function flushPending() {
    if (state.pending) await sendPending(state.pending);
  }

  async function sendPending(pending) {
    if (pending.sent) return;
    pending.sent = true;
    stopPending(pending);
    let last = null;
    const failures = [];
    for (const id of pending.ids) {
      const known = state.cases.find((c) => c.case_id === id);
      const body = { verdict: pending.verdict, notes: pending.notes };
      if (known && known.etag) body.etag = known.etag;
      try {
        const answer = await api("POST", "/v1/reviews/" + encodeURIComponent(id) + ":decide", body);
        last = { decision: answer.decision, review_case: answer.review_case || known };
      } catch (e) {
        failures.push(id + ": " + (e.reason || e.message));
      } finally {
        state.inFlight.delete(id);
      }
    }
    if (last) showStatement(last.review_case, last.decision, pending.ids.length - failures.length);
    if (failures.length) flash("Not decided — " + failures.join("; "), true);
    else flash("");
    await refreshQueue();
  }

  // ------------------------------------------------------------------------- DSA statement of reasons

  function isoDate(time) {
    return time ? new Date(time).toISOString().slice(0, 10) : "";
  }

  function contentType(asset, result) {
    const type = (asset && asset.content_type) || "";
    if (type.startsWith("video/")) return "CONTENT_TYPE_VIDEO";
    if (type.startsWith("image/")) return "CONTENT_TYPE_IMAGE";
    return (result.frames_total || 1) > 1 ? "CONTENT_TYPE_VIDEO" : "CONTENT_TYPE_IMAGE";
  }

  function statementOfReasons(reviewCase, decision, asset) {
    // The EU DSA Transparency Database's fields (Art. 17 and 24(5) DSA) for a restriction. An approval
    // restricts nothing, so it implies no statement.
    if (decision.verdict !== "VERDICT_REJECTED") return null;
    const result = (reviewCase && reviewCase.result) || {};
    const flagged = (reviewCase && reviewCase.reasons) || result.reasons || {};
    const rules = (flagged.rules || []).map((r) => r.rule);
    const age_ = result.age || {};
    let category = "STATEMENT_CATEGORY_PORNOGRAPHY_OR_SEXUALIZED_CONTENT";
    if (age_.underage_signal || age_.child_content_signal) category = "STATEMENT_CATEGORY_PROTECTION_OF_MINORS";
    else if (rules.length && rules.every((r) => r === "text.profanity")) category = "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH";
    const facts = [flagged.summary || "", ...(flagged.rules || []).map((r) => r.rule + ": " + (r.description || ""))];
    if (decision.notes) facts.push("Reviewer's notes: " + decision.notes);
    return {
      decision_visibility: ["DECISION_VISIBILITY_CONTENT_REMOVED"],
      decision_ground: "DECISION_GROUND_INCOMPATIBLE_CONTENT",
      incompatible_content_ground: "Content rules for usage intent " + (flagged.usage_intent || "unknown") +
        (flagged.model_id ? " (model " + flagged.model_id + ")" : "") + ", configuration version " + (flagged.config_version || 0),
      incompatible_content_explanation: flagged.summary || "",
      category: category,
      content_type: [contentType(asset, result)],
      source_type: "SOURCE_VOLUNTARY",
      automated_detection: "Yes",
      automated_decision: "AUTOMATED_DECISION_NOT_AUTOMATED",
      decision_facts: facts.filter(Boolean).join("\n"),
      content_date: isoDate(reviewCase && reviewCase.create_time),
      application_date: isoDate(decision.create_time),
      puid: decision.decision_id,
      clearframe: {
        scan_id: decision.scan_id,
        asset_id: decision.asset_id || "",
        reviewer: decision.reviewer,
        rules: rules,
        thresholds: flagged.thresholds || {},
        risk_score: result.risk_score || 0,
      },
    };
  }

  function showStatement(reviewCase, decision, count) {
    const verdict = decision.verdict === "VERDICT_APPROVED" ? "approved" : "rejected";
    $("last").hidden = false;
    $("last-text").textContent = (count > 1 ? count + " cases " : "Case ") + verdict + " by " + decision.reviewer +
      " (decision " + decision.decision_id + ")" + (decision.notes ? ": " + decision.notes : "");
    const asset = (reviewCase && state.assets[reviewCase.case_id]) || null;
    const statement = statementOfReasons(reviewCase, decision, asset);
    state.lastStatement = statement;
    const text = statement === null
      ? "An approval restricts nothing: no statement of reasons is due (Art. 17 DSA)."
      : JSON.stringify(statement, null, 2);
    $("sor").textContent = text;
    const link = $("sor-export");
    if (link.dataset.url) URL.revokeObjectURL(link.dataset.url);
    if (statement === null) {
      link.hidden = true;
      return;
    }
    const url = URL.createObjectURL(new Blob([JSON.stringify(statement, null, 2)], { type: "application/json" }));
    link.dataset.url = url;
    link.href = url;
    link.download = "statement-of-reasons-" + decision.decision_id + ".json";
    link.hidden = false;
  }

  // ------------------------------------------------------------------------------------ live updates

  // The decision feed (WatchDecisions over REST: NDJSON, one message a line) pushes every decision made
  // anywhere; each one reloads the queue. While the stream is down the queue is polled instead.
  const FEED_END = "9223372036854775807";

  function sleep(ms) {
    return new Promise((resolve) => setTimeout(resolve, ms));
  }

  function setLive(connected) {
    $("live-state").textContent = !$("live").checked ? "off" : connected ? "push" : "polling";
    $("live-state").classList.toggle("on", connected);
  }

  async function feedHead(signal) {
    // The feed's current revision, so the stream starts now rather than replaying the whole feed: a watch
    // from beyond the end is refused at once (REVISION_AHEAD) and names the current revision.
    const response = await fetch("/v1/decisions:watch?since_revision=" + FEED_END, {
      credentials: "same-origin", cache: "no-store", signal: signal,
    });
    let data = null;
    try {
      data = await response.json();
    } catch (e) {
      data = null;
    }
    const info = ((data && data.details) || []).find((d) => d && d.reason === "REVISION_AHEAD");
    const head = info && info.metadata ? info.metadata.current_revision : undefined;
    if (response.status === 401 && state.session) signedOut("Your session has ended: sign in again.");
    // Without it (an older scanner), replay from 0: events before the first heartbeat are skipped.
    return head === undefined ? null : String(head);
  }

  async function follow(watch) {
    const response = await fetch("/v1/decisions:watch?since_revision=" + encodeURIComponent(watch.revision), {
      credentials: "same-origin", cache: "no-store", signal: watch.controller.signal,
    });
    if (response.status === 401 && state.session) signedOut("Your session has ended: sign in again.");
    if (!response.ok || !response.body) throw new Error("the decision feed answered HTTP " + response.status);
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) return;
      buffer += decoder.decode(chunk.value, { stream: true });
      let newline;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline).trim();
        buffer = buffer.slice(newline + 1);
        if (line) onFeed(watch, JSON.parse(line));
      }
    }
  }

  function onFeed(watch, message) {
    if (message.revision === undefined && message.code !== undefined) throw new Error(message.message || "feed error");
    if (message.revision !== undefined) watch.revision = String(message.revision);
    if (!watch.connected) {
      watch.connected = true;
      watch.retry = 1000;
      setLive(true);
    }
    if (message.heartbeat) watch.replaying = false;
    else if (watch.replaying) return;
    if (message.decision || message.scan_failed) liveChanged();
  }

  function liveChanged() {
    if (state.liveTimer) return;
    // A burst of decisions (a bulk decision elsewhere) reloads the queue once; a decision of ours that
    // waits for its undo window reloads it when sent.
    state.liveTimer = setTimeout(() => {
      state.liveTimer = null;
      if (state.session && !state.pending) refreshQueue();
    }, 250);
  }

  async function startWatch() {
    stopWatch();
    if (!state.session || !$("live").checked || !window.ReadableStream) return;
    const watch = { controller: new AbortController(), revision: null, connected: false, retry: 1000 };
    state.watch = watch;
    while (state.watch === watch && state.session) {
      try {
        if (watch.revision === null) {
          const head = await feedHead(watch.controller.signal);
          watch.revision = head === null ? "0" : head;
          watch.replaying = head === null;
        }
        await follow(watch);
      } catch (e) {
        if (watch.controller.signal.aborted) return;
      }
      watch.connected = false;
      if (state.watch !== watch) return;
      setLive(false);
      await sleep(watch.retry);
      watch.retry = Math.min(watch.retry * 2, 30000);
    }
  }

  function stopWatch() {
    const watch = state.watch;
    state.watch = null;
    if (watch) watch.controller.abort();
    setLive(false);
  }

  // ---------------------------------------------------------------------------------------- keyboard

  function toggleHelp(show) {
    $("help").hidden = show === undefined ? !$("help").hidden : !show;
  }

  function onKey(event) {
    const target = event.target;
    const typing = target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT");
    if (typing) {
      if (event.key === "Escape") target.blur();
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || !state.session) return;
    const actions = {
      j: () => move(1),
      k: () => move(-1),
      a: () => decide("VERDICT_APPROVED"),
      r: () => decide("VERDICT_REJECTED"),
      A: () => decide("VERDICT_APPROVED", Array.from(state.selected)),
      R: () => decide("VERDICT_REJECTED", Array.from(state.selected)),
      z: () => cancelPending(),
      Escape: () => (!$("help").hidden ? toggleHelp(false) : cancelPending()),
      x: () => currentCase() && toggleSelected(currentCase().case_id),
      u: () => { state.unblurred = !state.unblurred; applyView(); },
      g: () => { state.gray = !state.gray; applyView(); },
      b: () => { $("show-boxes").checked = !$("show-boxes").checked; boxesToggled(); },
      n: () => $("notes").focus(),
      e: () => { if (state.lastStatement && !$("sor-export").hidden) $("sor-export").click(); },
      ".": () => refreshQueue(),
      "[": () => stepFrame(-1),
      "]": () => stepFrame(1),
      "?": () => toggleHelp(),
    };
    const action = actions[event.key];
    if (action) {
      event.preventDefault();
      action();
    }
  }

  function boxesToggled() {
    $("boxes").classList.toggle("off", !$("show-boxes").checked);
  }

  // ------------------------------------------------------------------------------------------- start

  function start() {
    $("sign-in-form").addEventListener("submit", signIn);
    $("sign-out").addEventListener("click", signOut);
    $("refresh").addEventListener("click", refreshQueue);
    $("filter-priority").addEventListener("change", refreshQueue);
    $("filter-intent").addEventListener("change", () => applyFilters(currentCase() && currentCase().case_id));
    $("filter-model").addEventListener("input", () => applyFilters(currentCase() && currentCase().case_id));
    $("filters").addEventListener("submit", (event) => event.preventDefault());
    $("approve").addEventListener("click", () => decide("VERDICT_APPROVED"));
    $("reject").addEventListener("click", () => decide("VERDICT_REJECTED"));
    $("bulk-approve").addEventListener("click", () => decide("VERDICT_APPROVED", Array.from(state.selected)));
    $("bulk-reject").addEventListener("click", () => decide("VERDICT_REJECTED", Array.from(state.selected)));
    $("undo").addEventListener("click", cancelPending);
    $("unblur").addEventListener("click", () => { state.unblurred = !state.unblurred; applyView(); });
    $("grayscale").addEventListener("click", () => { state.gray = !state.gray; applyView(); });
    $("show-boxes").addEventListener("change", boxesToggled);
    $("help-button").addEventListener("click", () => toggleHelp());
    $("help-close").addEventListener("click", () => toggleHelp(false));
    document.addEventListener("keydown", onKey);
    $("live").addEventListener("change", () => ($("live").checked ? startWatch() : stopWatch()));
    setInterval(() => {
      const pushed = state.watch && state.watch.connected;
      if (state.session && $("live").checked && !pushed && !state.pending && document.visibilityState === "visible") {
        refreshQueue();
      }
    }, LIVE_MS);
    loadSession();
  }

  document.addEventListener("DOMContentLoaded", start);
})();
