// mmapsim step-through page, part 3: replaying the steps, the controls, the modes.
"use strict";
(function (MM) {
  const h = MM.h;
  const DATA = JSON.parse(document.getElementById("data").textContent);
  const STEPS = DATA.steps;
  const EVERY = 25;           // a full copy of the state is kept every EVERY steps
  const MAX_FRAMES = 40;      // frames drawn with their bytes; the rest are counted
  let current = 0;
  let everything = false;

  // -- the state after each step: the first picture, then one delta per step ------------
  function empty() {
    return { order: [], heads: new Map(), pages: new Map(), frames: new Map(), files: new Map() };
  }
  function clone(s) {
    const pages = new Map();
    for (const [pid, m] of s.pages) pages.set(pid, new Map(m));
    return { order: s.order.slice(), heads: new Map(s.heads), pages, frames: new Map(s.frames),
      files: new Map(s.files) };
  }
  function apply(s, d) {
    if (d.procs) {
      s.order = d.procs;
      for (const pid of Array.from(s.heads.keys())) {
        if (!s.order.includes(pid)) { s.heads.delete(pid); s.pages.delete(pid); }
      }
    }
    for (const head of d.heads || []) s.heads.set(head.pid, head);
    for (const [pid, vpn, pfn, st] of d.pages || []) {
      if (!s.pages.has(pid)) s.pages.set(pid, new Map());
      s.pages.get(pid).set(vpn, [pfn, st]);
    }
    for (const [pid, vpn] of d.unpage || []) { const m = s.pages.get(pid); if (m) m.delete(vpn); }
    for (const f of d.frames || []) s.frames.set(f.pfn, f);
    for (const pfn of d.unframe || []) s.frames.delete(pfn);
    for (const f of d.files || []) s.files.set(f.ino, f);
    for (const ino of d.unfile || []) s.files.delete(ino);
    return s;
  }
  const keyframes = [];
  (function build() {
    let s = apply(empty(), DATA.initial);
    keyframes.push(clone(s));
    STEPS.forEach((step, i) => {
      s = apply(s, step.delta);
      if ((i + 1) % EVERY === 0) keyframes.push(clone(s));
    });
  })();
  // The state drawn last is kept: stepping forward applies the next deltas to it;
  // any other move starts from the nearest full copy before the step.
  let live = null;
  function stateAt(n) {
    const k = Math.floor(n / EVERY);
    if (!live || live.n > n || k * EVERY > live.n) live = { n: k * EVERY, s: clone(keyframes[k]) };
    for (let i = live.n; i < n; i++) apply(live.s, STEPS[i].delta);
    live.n = n;
    return live.s;
  }

  // -- what one step's picture needs beyond the state -------------------------------
  function viewOf(s, index) {
    const step = index === 0 ? null : STEPS[index - 1];
    const names = new Map(Array.from(s.heads.values()).map((p) => [p.pid, p.name]));
    const byFrame = new Map();
    for (const pid of s.order) {
      for (const [vpn, [pfn]] of s.pages.get(pid) || []) {
        if (!byFrame.has(pfn)) byFrame.set(pfn, []);
        byFrame.get(pfn).push([pid, vpn * MM.PAGE]);
      }
    }
    // Pages that share a frame carry the same badge: ↔1, ↔2, ... in frame order.
    const ties = new Map();
    let n = 0;
    for (const pfn of Array.from(byFrame.keys()).sort((a, b) => a - b)) {
      const users = byFrame.get(pfn);
      if (users.length < 2) continue;
      n += 1;
      ties.set(pfn, { label: "↔" + n, users,
        others: () => users.map(([pid, v]) => (names.get(pid) || pid) + " " + MM.hex(v)).join(", ") });
    }
    const changed = new Set(step ? step.events.flatMap(eventPfns) : []);
    // The VMAs this step's events name (a fault, a copy, an unmapping): "pid:start".
    const touched = new Set();
    for (const e of step ? step.events : []) {
      const head = e.pid !== undefined && e.va !== undefined ? s.heads.get(e.pid) : null;
      const vma = head && head.vmas.find((v) => v.start <= e.va && e.va < v.end);
      if (vma) touched.add(e.pid + ":" + vma.start);
    }
    return { frames: s.frames, heads: s.heads, files: s.files, names, ties, changed, touched, everything, byFrame,
      showAll: () => setEverything(true) };
  }
  function eventPfns(e) { return [e.pfn, e.old_pfn, e.new_pfn].filter((p) => p !== undefined); }

  // A frame belongs to the program when only the program's regions map it, or when
  // it caches the program file; focus mode counts those instead of drawing them.
  function programFrame(f, s) {
    if (f.program) return true;
    const users = f.users || [];
    if (!users.length) return false;
    return users.every(([pid, va]) => {
      const head = s.heads.get(pid);
      const vma = head && head.vmas.find((v) => v.start <= va && va < v.end);
      return vma ? vma.program : false;
    });
  }

  // -- the step's text, its events, the step list -------------------------------------
  function eventItem(e) {
    const pfns = eventPfns(e);
    const li = h("li", { class: "event ev-" + e.kind, tabindex: pfns.length ? 0 : null }, e.text);
    if (pfns.length) {
      li.dataset.links = pfns.join(" ");
      const on = (v) => pfns.forEach((p) => MM.hover(p, v));
      li.addEventListener("mouseenter", () => on(true));
      li.addEventListener("mouseleave", () => on(false));
      li.addEventListener("focus", () => on(true));
      li.addEventListener("blur", () => on(false));
      li.addEventListener("click", () => MM.select(pfns[pfns.length - 1]));
      li.addEventListener("keydown", (ev) => { if (ev.key === "Enter") MM.select(pfns[pfns.length - 1]); });
    }
    return li;
  }
  function drawStory(index) {
    const step = index === 0 ? null : STEPS[index - 1];
    const said = step ? step.narration.join(" ").trim() : "The machine before the first step.";
    document.getElementById("narration").replaceChildren(...(said ? [h("p", {}, said)] : []));
    const line = step
      ? String(step.line).padStart(4) + "  " + (step.process ? step.process + ": " : "") + step.source : "";
    document.getElementById("source").textContent = line;
    document.getElementById("barline").textContent = line.trim() || "the machine before the first step";
    document.getElementById("result").replaceChildren(...(step ? step.result : [])
      .map((t) => h("li", { class: step.failed ? "failed" : "" }, t)));
    const events = step ? step.events : [];
    document.getElementById("events").replaceChildren(...(events.length
      ? events.map(eventItem) : [h("li", { class: "none" }, "no kernel events")]));
    const list = document.getElementById("steplist");
    list.querySelectorAll("li.current").forEach((li) => {
      li.classList.remove("current");
      li.removeAttribute("aria-current");
    });
    const li = list.children[index];
    if (li) {
      li.classList.add("current");
      li.setAttribute("aria-current", "step");
    }
  }
  // Keep the current step in view inside the list (the page itself does not move).
  function followList(index) {
    const list = document.getElementById("steplist");
    const li = list.children[index];
    if (li) {
      const top = li.offsetTop, bottom = top + li.offsetHeight;
      if (top < list.scrollTop || bottom > list.scrollTop + list.clientHeight) {
        list.scrollTop = Math.max(0, top - list.clientHeight / 3);
      }
    }
  }

  // -- one step --------------------------------------------------------------------------
  function draw(index) {
    current = Math.max(0, Math.min(STEPS.length, index));
    const s = stateAt(current);
    const view = viewOf(s, current);
    drawStory(current);
    document.getElementById("procs").replaceChildren(...s.order.filter((pid) => s.heads.has(pid))
      .map((pid) => MM.procColumn(s.heads.get(pid), s.pages.get(pid) || new Map(), view)));
    const frames = Array.from(s.frames.values()).sort((a, b) => a.pfn - b.pfn);
    const lesson = everything ? frames : frames.filter((f) => !programFrame(f, s));
    const first = lesson.filter((f) => view.changed.has(f.pfn))
      .concat(lesson.filter((f) => !view.changed.has(f.pfn))).slice(0, MAX_FRAMES)
      .sort((a, b) => a.pfn - b.pfn);
    const rows = first.map((f) => MM.frameRow(f, view));
    if (lesson.length > first.length) rows.push(h("li", { class: "none" }, "+" + (lesson.length - first.length) + " more frames"));
    if (frames.length > lesson.length) {
      rows.push(h("li", { class: "none fold-frames" }, h("button", { type: "button", class: "fold",
        onclick: () => setEverything(true) }, "program: " + (frames.length - lesson.length) + " frames (text, data, stack, its file)")));
    }
    document.getElementById("frames").replaceChildren(...(rows.length ? rows : [h("li", { class: "none" }, "no frames in use")]));
    const files = Array.from(s.files.values()).sort((a, b) => Number(a.program) - Number(b.program) || a.ino - b.ino);
    document.getElementById("files").replaceChildren(...files.map((f) => MM.fileBlock(f, view)));
    document.getElementById("slider").value = String(current);
    document.getElementById("counter").textContent = "step " + current + " of " + STEPS.length;
    document.body.dataset.step = String(current);
    if (MM.selected !== null) MM.mark(MM.selected, "sel", true);
    followList(current);
    // The mapping this step touched is brought on screen when it is below the fold.
    const touched = document.querySelector("#procs .vma.touched");
    if (touched && !document.body.classList.contains("handout")) {
      const r = touched.getBoundingClientRect();
      if (r.bottom > innerHeight && r.height < innerHeight) {
        touched.scrollIntoView({ block: "nearest" });
        document.body.classList.toggle("scrolled", true);
      }
    }
    const frag = "#step-" + current;
    if (location.hash !== frag && !document.body.classList.contains("handout")) history.replaceState(null, "", frag);
  }
  function fromHash() {
    const m = /^#step-(\d+)$/.exec(location.hash);
    return m ? Number(m[1]) : 0;
  }

  // -- the modes ----------------------------------------------------------------------------
  function setEverything(on) {
    everything = !!on;
    const button = document.getElementById("everything");
    button.setAttribute("aria-pressed", String(everything));
    button.textContent = everything ? "Focus on the lesson" : "Show everything";
    document.body.classList.toggle("everything", everything);
    draw(current);
  }
  function setPresent(on) {
    document.documentElement.classList.toggle("present", !!on);
    document.getElementById("present").setAttribute("aria-pressed", String(!!on));
    draw(current);
  }
  // Every step one after the other, for printing (the handout).
  function handout() {
    document.body.classList.add("handout");
    const out = document.getElementById("handout");
    out.replaceChildren();
    for (let i = 0; i <= STEPS.length; i++) {
      draw(i);
      const copy = document.querySelector("main.grid").cloneNode(true);
      copy.removeAttribute("id");
      copy.querySelectorAll("[id]").forEach((el) => el.removeAttribute("id"));
      out.append(h("section", { class: "hstep", "data-step": i },
        h("h2", {}, DATA.title + " — step " + i + " of " + STEPS.length), copy));
    }
    return STEPS.length + 1;
  }

  function tourLinks() {
    const links = DATA.links;
    if (!links) return;
    const nav = document.getElementById("tour");
    const a = (href, text, rel) => h("a", { href, rel }, text);
    nav.append(links.prev ? a(links.prev[0], "← " + links.prev[1], "prev") : h("span", { class: "off" }, "← first slide"),
      a(links.index, "all slides", "index"),
      links.next ? a(links.next[0], links.next[1] + " →", "next") : h("span", { class: "off" }, "last slide →"));
    nav.hidden = false;
  }

  function init() {
    document.getElementById("title").textContent = DATA.title;
    const slider = document.getElementById("slider");
    slider.max = String(STEPS.length);
    slider.addEventListener("input", () => draw(Number(slider.value)));
    document.getElementById("first").addEventListener("click", () => draw(0));
    document.getElementById("prev").addEventListener("click", () => draw(current - 1));
    document.getElementById("next").addEventListener("click", () => draw(current + 1));
    document.getElementById("last").addEventListener("click", () => draw(STEPS.length));
    document.getElementById("everything").addEventListener("click", () => setEverything(!everything));
    document.getElementById("present").addEventListener("click",
      () => setPresent(!document.documentElement.classList.contains("present")));
    document.addEventListener("keydown", (e) => {
      if (e.target === slider || e.altKey || e.ctrlKey || e.metaKey) return;
      const moves = { ArrowLeft: current - 1, ArrowRight: current + 1, Home: 0, End: STEPS.length };
      if (e.key in moves) { e.preventDefault(); draw(moves[e.key]); }
      else if (e.key === "p") setPresent(!document.documentElement.classList.contains("present"));
      else if (e.key === "e") setEverything(!everything);
    });
    window.addEventListener("hashchange", () => draw(fromHash()));
    // Once the step's own panel scrolls away, the bar repeats the step's line.
    const source = document.getElementById("source");
    const scrolled = () => document.body.classList.toggle("scrolled",
      source.getBoundingClientRect().bottom < document.querySelector(".bar").offsetHeight);
    window.addEventListener("scroll", scrolled, { passive: true });
    const list = document.getElementById("steplist");
    list.append(h("li", { value: 0 }, h("a", { href: "#step-0" }, "start")),
      ...STEPS.map((s, i) => h("li", { value: i + 1, class: s.failed ? "failed" : "" },
        h("a", { href: "#step-" + (i + 1) }, "line " + s.line + ": " + (s.process ? s.process + ": " : "") + s.source))));
    tourLinks();
    // For the tests and the exports: the replayed state of step n, as plain data.
    const summary = (n) => {
      const st = stateAt(n);
      const pages = {};
      for (const pid of st.order) {
        pages[pid] = Array.from((st.pages.get(pid) || new Map()).entries())
          .map(([vpn, [pfn, state]]) => [vpn, pfn, state]).sort((a, b) => a[0] - b[0]);
      }
      const frames = Array.from(st.frames.values()).sort((a, b) => a.pfn - b.pfn);
      return { order: st.order, pages, frames, files: Array.from(st.files.values()) };
    };
    MM.page = { draw, summary, steps: STEPS.length, setEverything, setPresent, handout,
      get current() { return current; } };
    draw(fromHash());
  }
  init();
})(window.MM);
