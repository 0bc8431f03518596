// mmapsim step-through page, part 1: helpers and the address spaces.
"use strict";
window.MM = (function () {
  const MM = {};
  MM.PAGE = 4096;
  MM.MAX_CELLS = 48;
  // The kinds of mapping: badge, words.  A kind not listed here is drawn plain
  // with its own name (see viz/kinds.py for adding one).
  MM.KIND = {
    "shared-file": ["SF", "shared file"], "private-file": ["PF", "private file"],
    "shared-anon": ["SA", "shared anonymous"], "private-anon": ["PA", "private anonymous"],
    "sysv-shm": ["SV", "System V segment"], "memfd": ["MF", "memfd (anonymous file)"],
  };
  MM.STATE = {
    ro: ["R", "present, read-only"], rw: ["W", "present, writable"],
    cow: ["C", "copy-on-write (read-only until the next write copies it)"],
    zero: ["0", "the zero frame, read-only"], none: ["N", "present, no access"],
  };
  MM.kindOf = (kind) => MM.KIND[kind] || [kind.slice(0, 2).toUpperCase(), kind];

  MM.h = function h(tag, attrs, ...kids) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") el.className = v;
      else if (k === "style") el.setAttribute("style", v);
      else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    for (const kid of kids.flat()) {
      if (kid !== null && kid !== undefined && kid !== false) {
        el.append(kid instanceof Node ? kid : String(kid));
      }
    }
    return el;
  };
  const h = MM.h;
  MM.hex = (n) => "0x" + n.toString(16);
  MM.size = function (bytes) {
    const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let i = 0;
    while (bytes >= 1024 && i < units.length - 1 && bytes % 1024 === 0) { bytes /= 1024; i++; }
    if (bytes >= 1024 && i < units.length - 1) {
      while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i++; }
      return bytes.toFixed(1) + " " + units[i];
    }
    return bytes + " " + units[i];
  };
  // Each frame has a colour of its own: a light hue from its number (dark text on
  // it keeps a contrast far above WCAG AA), so equal colours mean one frame.
  MM.frameColour = (pfn) => "hsl(" + Math.round((pfn * 137.508) % 360) + " 80% 86%)";
  MM.shortPfn = (pfn) => pfn.toString(16);

  // -- highlighting: a page, its frame, and every page that maps the frame ----------
  MM.selected = null;
  MM.mark = function (pfn, cls, on) {
    document.querySelectorAll('[data-pfn="' + pfn + '"]').forEach((el) => el.classList.toggle(cls, on));
  };
  MM.hover = (pfn, on) => { if (pfn !== undefined && pfn !== null) MM.mark(pfn, "hl", on); };
  MM.select = function (pfn) {
    if (MM.selected !== null) MM.mark(MM.selected, "sel", false);
    MM.selected = MM.selected === pfn ? null : pfn;
    if (MM.selected !== null) MM.mark(MM.selected, "sel", true);
  };
  MM.linkable = function (el, pfn) {
    el.dataset.pfn = pfn;
    el.addEventListener("mouseenter", () => MM.hover(pfn, true));
    el.addEventListener("mouseleave", () => MM.hover(pfn, false));
    el.addEventListener("focus", () => MM.hover(pfn, true));
    el.addEventListener("blur", () => MM.hover(pfn, false));
    el.addEventListener("click", () => MM.select(pfn));
    if (el.tagName !== "BUTTON") {
      el.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); MM.select(pfn); }
      });
    }
    return el;
  };

  // -- pages ----------------------------------------------------------------------------
  function pageCell(vma, vpn, page, view) {
    const [pfn, state] = page;
    const frame = view.frames.get(pfn);
    const dirty = !!(frame && frame.dirty);
    const [glyph, words] = MM.STATE[state] || ["?", state];
    const va = vpn * MM.PAGE;
    const tie = view.ties.get(pfn);
    const label = "page " + (vpn - vma.start / MM.PAGE) + " at " + MM.hex(va) + ": " + words +
      (dirty ? ", dirty" : "") + "; frame " + MM.hex(pfn) + (tie ? ", frame shared by " + tie.others() : "");
    const cls = "pg st-" + state + (dirty ? " dirty" : "") + (view.changed.has(pfn) ? " changed" : "");
    const cell = h("button", { type: "button", class: cls, title: label, "aria-label": label,
      "data-state": state, "data-dirty": String(dirty), "data-va": MM.hex(va),
      style: "--fc:" + MM.frameColour(pfn) },
      h("span", { class: "st" }, dirty ? "D" : glyph),
      tie ? h("span", { class: "tie", "data-tie": tie.label }, tie.label) : null,
      h("span", { class: "pfn" }, MM.shortPfn(pfn)));
    return MM.linkable(cell, pfn);
  }
  function absentCell(count) {
    const label = count + (count === 1 ? " page" : " pages") + " not present";
    return h("span", { class: "pg absent", title: label, "aria-label": label }, "·" + count);
  }
  function pageStrip(vma, vpns, pages, view) {
    const first = vma.start / MM.PAGE, total = (vma.end - vma.start) / MM.PAGE;
    const strip = h("div", { class: "strip", role: "group", "aria-label": "pages" });
    let next = first, shown = 0;
    for (const vpn of vpns) {
      if (shown >= MM.MAX_CELLS) break;
      if (vpn > next) strip.append(absentCell(vpn - next));
      strip.append(pageCell(vma, vpn, pages.get(vpn), view));
      next = vpn + 1; shown++;
    }
    if (shown < vpns.length) {
      strip.append(h("span", { class: "more" }, "+" + (vpns.length - shown) + " present"));
    } else if (next < first + total) strip.append(absentCell(first + total - next));
    return strip;
  }
  function vmaBox(head, vma, vpns, pages, view) {
    const [abbr, words] = MM.kindOf(vma.kind);
    const len = vma.end - vma.start;
    const known = vma.kind in MM.KIND ? vma.kind : "other-kind";
    const touched = view.touched.has(head.pid + ":" + vma.start);
    return h("div", { class: "vma " + known + (vma.program ? " program" : " lesson") + (touched ? " touched" : ""),
      "data-kind": vma.kind, "data-role": vma.role, "data-start": MM.hex(vma.start) },
      h("div", { class: "vhead", title: vma.maps },
        h("span", { class: "badge", title: words }, abbr),
        h("span", { class: "role" }, vma.role),
        h("code", { class: "perms", title: "protections" }, vma.perms),
        h("span", { class: "vname" }, vma.name || "(" + words + ")"),
        touched ? h("span", { class: "star", title: "this step touched it" }, "★") : null),
      h("div", { class: "vaddr" }, MM.hex(vma.start) + "–" + MM.hex(vma.end) + " · " + MM.size(len) +
        (vma.kind.endsWith("file") ? " · file page " + vma.pgoff : "") + " · " + vpns.length + " present"),
      pageStrip(vma, vpns, pages, view));
  }
  function gapRow(bytes) {
    return h("div", { class: "gap", title: "unmapped: " + MM.size(bytes) }, "⋮ gap " + MM.size(bytes));
  }
  function foldLine(vmas, view) {
    const roles = [];
    for (const v of vmas) if (!roles.includes(v.role)) roles.push(v.role);
    const text = "program: " + roles.join(", ") + " — " + vmas.length +
      (vmas.length === 1 ? " mapping" : " mappings");
    return h("button", { type: "button", class: "fold", title: "Show the program's own regions",
      "aria-label": text + " (folded; show everything)", onclick: () => view.showAll() }, text);
  }
  // Which present pages of a process fall in [start, end): its sorted page numbers.
  function pagesIn(sorted, start, end) {
    let lo = 0, hi = sorted.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (sorted[mid] < start) lo = mid + 1; else hi = mid; }
    const out = [];
    for (let i = lo; i < sorted.length && sorted[i] < end; i++) out.push(sorted[i]);
    return out;
  }
  MM.procColumn = function (head, pages, view) {
    const sorted = Array.from(pages.keys()).sort((a, b) => a - b);
    const lesson = head.vmas.filter((v) => !v.program);
    const col = h("article", { class: "proc", "data-pid": head.pid, "aria-label": "process " + head.name },
      h("h3", {}, head.name + " ", h("span", { class: "pid" }, "pid " + head.pid),
        h("span", { class: "count" }, " · " + head.vmas.length + " mappings")));
    const shown = (view.everything ? head.vmas : lesson).slice().reverse();
    col.append(h("div", { class: "edge" }, "high addresses"));
    if (!shown.length) col.append(h("p", { class: "none" }, "no mappings of its own yet"));
    shown.forEach((vma, i) => {
      col.append(vmaBox(head, vma, pagesIn(sorted, vma.start / MM.PAGE, vma.end / MM.PAGE), pages, view));
      const below = shown[i + 1];
      if (below && below.end < vma.start) col.append(gapRow(vma.start - below.end));
    });
    const folded = head.vmas.filter((v) => v.program);
    if (!view.everything && folded.length) col.append(foldLine(folded, view));
    col.append(h("div", { class: "edge" }, "low addresses"));
    return col;
  };
  return MM;
})();
