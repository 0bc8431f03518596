// mmapsim step-through page: draws one step's machine state from the embedded data.
"use strict";
(function () {
  const DATA = JSON.parse(document.getElementById("data").textContent);
  const PARTS = DATA.parts;
  const STEPS = DATA.steps;
  const PAGE = 4096;
  const MAX_CELLS = 48;
  const KIND = {
    "shared-file": ["SF", "shared file"], "private-file": ["PF", "private file"],
    "shared-anon": ["SA", "shared anonymous"], "private-anon": ["PA", "private anonymous"],
  };
  const STATE = {
    ro: ["R", "present, read-only"], rw: ["W", "present, writable"],
    cow: ["C", "copy-on-write (read-only until the next write copies it)"],
    zero: ["0", "the zero frame, read-only"], none: ["N", "present, no access"],
  };
  let current = 0;
  let selected = null;

  function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined) continue;
      if (k.startsWith("data-")) el.setAttribute(k, String(v));
      else if (v === false) continue;
      else if (k === "class") el.className = v;
      else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    for (const kid of kids.flat()) {
      if (kid !== null && kid !== undefined) el.append(kid instanceof Node ? kid : String(kid));
    }
    return el;
  }
  const hex = (n) => "0x" + n.toString(16);
  function size(bytes) {
    const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let i = 0;
    while (bytes >= 1024 && i < units.length - 1 && bytes % 1024 === 0) { bytes /= 1024; i++; }
    if (bytes >= 1024 && i < units.length - 1) {
      while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i++; }
      return bytes.toFixed(1) + " " + units[i];
    }
    return bytes + " " + units[i];
  }

  function stateOf(index) {
    const refs = index === 0 ? DATA.initial : STEPS[index - 1].state;
    return {
      procs: refs.procs.map((i) => PARTS[i]),
      frames: PARTS[refs.frames],
      files: refs.files.map((i) => PARTS[i]),
    };
  }

  // -- highlighting: a page, its frame, and every page that maps the frame --------
  function mark(pfn, cls, on) {
    document.querySelectorAll('[data-pfn="' + pfn + '"]').forEach((el) => el.classList.toggle(cls, on));
  }
  function hover(pfn, on) { if (pfn !== undefined && pfn !== null) mark(pfn, "hl", on); }
  function select(pfn) {
    if (selected !== null) mark(selected, "sel", false);
    selected = selected === pfn ? null : pfn;
    if (selected !== null) mark(selected, "sel", true);
    const info = document.getElementById("selection");
    if (info) info.textContent = selected === null ? "" : "selected frame " + hex(selected);
  }
  function linkable(el, pfn) {
    el.dataset.pfn = pfn;
    el.addEventListener("mouseenter", () => hover(pfn, true));
    el.addEventListener("mouseleave", () => hover(pfn, false));
    el.addEventListener("focus", () => hover(pfn, true));
    el.addEventListener("blur", () => hover(pfn, false));
    el.addEventListener("click", () => select(pfn));
    if (el.tagName !== "BUTTON") {
      el.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); select(pfn); }
      });
    }
    return el;
  }

  // -- address spaces ------------------------------------------------------------
  function pageCell(vma, page, frames, changed) {
    const [index, pfn, state] = page;
    const frame = frames.get(pfn);
    const dirty = !!(frame && frame.dirty);
    const [glyph, words] = STATE[state] || ["?", state];
    const va = vma.start + index * PAGE;
    const label = "page " + index + " at " + hex(va) + ": " + words + (dirty ? ", dirty" : "") +
      "; frame " + hex(pfn);
    const cls = "pg st-" + state + (dirty ? " dirty" : "") + (changed.has(pfn) ? " changed" : "");
    const cell = h("button", { type: "button", class: cls, title: label, "aria-label": label,
      "data-state": state, "data-dirty": dirty, "data-va": hex(va) }, dirty ? "D" : glyph);
    return linkable(cell, pfn);
  }
  function absentCell(count) {
    const label = count + (count === 1 ? " page" : " pages") + " not present";
    return h("span", { class: "pg absent", title: label, "aria-label": label }, "·" + count);
  }
  function pageStrip(vma, frames, changed) {
    const total = (vma.end - vma.start) / PAGE;
    const strip = h("div", { class: "strip", role: "group", "aria-label": "pages" });
    let next = 0, shown = 0;
    for (const page of vma.pages) {
      if (shown >= MAX_CELLS) break;
      if (page[0] > next) strip.append(absentCell(page[0] - next));
      strip.append(pageCell(vma, page, frames, changed));
      next = page[0] + 1; shown++;
    }
    if (shown < vma.pages.length) {
      strip.append(h("span", { class: "more" }, "+" + (vma.pages.length - shown) + " present"));
    } else if (next < total) strip.append(absentCell(total - next));
    return strip;
  }
  function vmaBox(vma, frames, changed) {
    const [abbr, words] = KIND[vma.kind];
    const len = vma.end - vma.start;
    return h("div", { class: "vma " + vma.kind + " role-" + vma.role, "data-kind": vma.kind,
      "data-role": vma.role, "data-start": hex(vma.start) },
      h("div", { class: "vhead" },
        h("span", { class: "badge", title: words }, abbr),
        h("span", { class: "role" }, vma.role),
        h("code", { class: "perms", title: "protections" }, vma.perms),
        h("span", { class: "vname" }, vma.name || "(" + words + ")")),
      h("div", { class: "vaddr" }, hex(vma.start) + "–" + hex(vma.end) + " · " + size(len) +
        (vma.kind.endsWith("file") ? " · file page " + vma.pgoff : "")),
      pageStrip(vma, frames, changed));
  }
  function gapRow(bytes) {
    return h("div", { class: "gap", title: "unmapped: " + size(bytes) }, "⋮ gap " + size(bytes));
  }
  function procColumn(proc, frames, changed) {
    const col = h("article", { class: "proc", "data-pid": proc.pid, "aria-label": "process " + proc.name },
      h("h3", {}, proc.name + " ", h("span", { class: "pid" }, "pid " + proc.pid),
        h("span", { class: "count" }, " · " + proc.vmas.length + " mappings")));
    const vmas = proc.vmas.slice().reverse();
    col.append(h("div", { class: "edge" }, "high addresses"));
    vmas.forEach((vma, i) => {
      col.append(vmaBox(vma, frames, changed));
      const below = vmas[i + 1];
      if (below && below.end < vma.start) col.append(gapRow(vma.start - below.end));
    });
    col.append(h("div", { class: "edge" }, "low addresses"));
    return col;
  }

  // -- frames and files ----------------------------------------------------------
  function frameOwner(f) {
    if (f.owner === "zero") return "the zero frame";
    if (f.owner === "anon") return "anonymous";
    return "page cache of " + f.file + " : page " + f.pgoff;
  }
  function frameRow(f, changed) {
    const label = "frame " + hex(f.pfn) + ": " + frameOwner(f) + ", mapped " + f.map +
      (f.map === 1 ? " time" : " times") + (f.dirty ? ", dirty" : "");
    const row = h("li", { class: "frame own-" + f.owner + (changed.has(f.pfn) ? " changed" : ""),
      tabindex: 0, title: label, "aria-label": label, "data-dirty": f.dirty },
      h("code", {}, hex(f.pfn)), " ", frameOwner(f),
      h("span", { class: "map" }, " ×" + f.map),
      f.dirty ? h("span", { class: "flag dirty-flag" }, " dirty") : null);
    return linkable(row, f.pfn);
  }
  function fileRow(page, memoryOnly) {
    const cached = page.pfn === undefined
      ? h("td", { class: "nocache" }, "not cached")
      : linkable(h("td", { class: "cached" + (page.dirty ? " dirty" : ""), tabindex: 0,
          "data-dirty": page.dirty, title: page.dirty ? "dirty: newer than the disk" : "clean" },
        h("code", {}, page.cached), " ", h("span", { class: "flag" + (page.dirty ? " dirty-flag" : "") },
          (page.dirty ? "✎ dirty" : "✓ clean") + " " + hex(page.pfn))), page.pfn);
    return h("tr", { "data-pgoff": page.pgoff },
      h("th", { scope: "row" }, page.pgoff + (page.at ? " +" + page.at : "")),
      h("td", { class: "disk" }, memoryOnly ? h("i", {}, "no disk: memory only") : h("code", {}, page.disk)),
      cached);
  }
  function fileBlock(file) {
    const head = h("h3", {}, file.path, h("span", { class: "count" }, " · " + file.size + " bytes" +
      (file.program ? " · a program (click to open)" : "")));
    const table = h("table", {},
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "page"),
          h("th", { scope: "col" }, "on disk"), h("th", { scope: "col" }, "in the page cache"))),
        h("tbody", {}, file.pages.map((p) => fileRow(p, file.kind === "shmem"))));
    const more = file.more ? h("p", { class: "more" }, "+" + file.more + " more pages") : null;
    if (file.program) {
      return h("details", { class: "file", "data-path": file.path }, h("summary", {}, head), table, more);
    }
    return h("article", { class: "file", "data-path": file.path }, head, table, more);
  }

  // -- the step text and its events ----------------------------------------------
  function eventPfns(e) {
    return [e.pfn, e.old_pfn, e.new_pfn].filter((p) => p !== undefined);
  }
  function eventItem(e) {
    const pfns = eventPfns(e);
    const li = h("li", { class: "event ev-" + e.kind, tabindex: pfns.length ? 0 : null }, e.text);
    if (pfns.length) {
      li.dataset.links = pfns.join(" ");
      const on = (v) => pfns.forEach((p) => hover(p, v));
      li.addEventListener("mouseenter", () => on(true));
      li.addEventListener("mouseleave", () => on(false));
      li.addEventListener("focus", () => on(true));
      li.addEventListener("blur", () => on(false));
      li.addEventListener("click", () => select(pfns[pfns.length - 1]));
      li.addEventListener("keydown", (ev) => { if (ev.key === "Enter") select(pfns[pfns.length - 1]); });
    }
    return li;
  }
  function drawStory(index) {
    const step = index === 0 ? null : STEPS[index - 1];
    const nar = document.getElementById("narration");
    const said = step ? step.narration.join("\n").trim() : "The machine before the first step.";
    nar.replaceChildren(...(said ? [h("p", {}, said)] : []));
    document.getElementById("source").textContent = step
      ? String(step.line).padStart(4) + "  " + (step.process ? step.process + ": " : "") + step.source
      : "";
    document.getElementById("result").replaceChildren(...(step ? step.result : [])
      .map((t) => h("li", { class: step.failed ? "failed" : "" }, t)));
    const events = step ? step.events : [];
    document.getElementById("events").replaceChildren(...(events.length
      ? events.map(eventItem) : [h("li", { class: "none" }, "no kernel events")]));
    document.querySelectorAll("#steplist li").forEach((li, i) => {
      li.classList.toggle("current", i === index);
      if (i === index) li.setAttribute("aria-current", "step"); else li.removeAttribute("aria-current");
    });
  }

  // -- one step ------------------------------------------------------------------
  function draw(index) {
    current = Math.max(0, Math.min(STEPS.length, index));
    const state = stateOf(current);
    const frames = new Map(state.frames.map((f) => [f.pfn, f]));
    const step = current === 0 ? null : STEPS[current - 1];
    const changed = new Set(step ? step.events.flatMap(eventPfns) : []);
    drawStory(current);
    document.getElementById("procs").replaceChildren(...state.procs.map((p) => procColumn(p, frames, changed)));
    document.getElementById("frames").replaceChildren(...(state.frames.length
      ? state.frames.map((f) => frameRow(f, changed)) : [h("li", { class: "none" }, "no frames in use")]));
    const files = state.files.slice().sort((a, b) => Number(a.program) - Number(b.program));
    document.getElementById("files").replaceChildren(...files.map(fileBlock));
    document.getElementById("slider").value = String(current);
    document.getElementById("counter").textContent = "step " + current + " of " + STEPS.length;
    document.body.dataset.step = String(current);
    if (selected !== null) mark(selected, "sel", true);
    const frag = "#step-" + current;
    if (location.hash !== frag) history.replaceState(null, "", frag);
  }
  function fromHash() {
    const m = /^#step-(\d+)$/.exec(location.hash);
    return m ? Number(m[1]) : 0;
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
    document.addEventListener("keydown", (e) => {
      if (e.target === slider || e.altKey || e.ctrlKey || e.metaKey) return;
      const moves = { ArrowLeft: current - 1, ArrowRight: current + 1, Home: 0, End: STEPS.length };
      if (e.key in moves) { e.preventDefault(); draw(moves[e.key]); }
    });
    window.addEventListener("hashchange", () => draw(fromHash()));
    const list = document.getElementById("steplist");
    const start = h("li", { value: 0 }, h("a", { href: "#step-0" }, "start"));
    list.append(start, ...STEPS.map((s, i) => h("li", { value: i + 1, class: s.failed ? "failed" : "" },
      h("a", { href: "#step-" + (i + 1) }, "line " + s.line + ": " + (s.process ? s.process + ": " : "") + s.source))));
    draw(fromHash());
  }
  init();
})();
