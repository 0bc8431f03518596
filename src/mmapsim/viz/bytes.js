// mmapsim step-through page, part 2: frames and files, with the bytes they hold.
"use strict";
(function (MM) {
  const h = MM.h;
  const ROWS_SHOWN = 6;
  const CTYPE = { "1,1": "char", "1,0": "u8", "4,1": "int", "4,0": "u32", "8,1": "long", "8,0": "u64" };

  // Rows are [offset, hex of 16 bytes, repeat]; rows of zeros are left out.
  MM.bytesOf = function (rows) {
    const out = new Uint8Array(MM.PAGE);
    for (const [offset, text, repeat] of rows || []) {
      const row = new Uint8Array(16);
      for (let i = 0; i < 16; i++) row[i] = parseInt(text.substr(2 * i, 2), 16);
      for (let k = 0; k < repeat; k++) out.set(row, offset + k * 16);
    }
    return out;
  };
  MM.intAt = function (bytes, offset, width, signed) {
    let v = 0n;
    for (let i = width - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[offset + i]);
    if (signed && v >= 1n << BigInt(8 * width - 1)) v -= 1n << BigInt(8 * width);
    return v.toString();
  };
  const printable = (b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : b === 0 ? "·" : ".");

  // The rows worth showing: non-zero ones (runs folded), from the first one that
  // differs from `other` when asked, at most ROWS_SHOWN.
  function rowsToShow(rows, bytes, other) {
    let list = (rows || []).flatMap(([offset, , repeat]) =>
      repeat > 2 ? [[offset, repeat]] : Array.from({ length: repeat }, (_, k) => [offset + 16 * k, 1]));
    if (other) {
      const diffRows = new Set();
      for (let i = 0; i < MM.PAGE; i++) if (bytes[i] !== other[i]) diffRows.add(i - (i % 16));
      for (const r of diffRows) if (!list.some(([o, n]) => r >= o && r < o + 16 * n)) list.push([r, 1]);
      list.sort((a, b) => a[0] - b[0]);
      const first = list.findIndex(([o, n]) => [...diffRows].some((r) => r >= o && r < o + 16 * n));
      if (first > 0) list = list.slice(Math.max(0, first - 1));
    }
    return list;
  }
  // A hexdump: offset, 16 bytes in groups of four, the same as text.  Bytes that
  // differ from `other` are marked (bold and underlined, not by colour alone).
  MM.hexdump = function (rows, other, ints) {
    const bytes = MM.bytesOf(rows);
    const list = rowsToShow(rows, bytes, other);
    if (!list.length) return h("div", { class: "hexdump empty" }, "all 4096 bytes are zero");
    const typed = new Set();
    for (const [offset, width] of ints || []) for (let i = 0; i < width; i++) typed.add(offset + i);
    const box = h("div", { class: "hexdump" });
    let last = 0;
    for (const [offset, repeat] of list.slice(0, ROWS_SHOWN)) {
      if (offset > last) box.append(h("div", { class: "hrow zeros" }, "⋮ " + (offset - last) + " zero bytes"));
      const hexPart = h("span", { class: "hx" }), textPart = h("span", { class: "tx" });
      for (let i = 0; i < 16; i++) {
        const at = offset + i, b = bytes[at];
        const diff = other && other[at] !== b;
        const cls = (diff ? "diff" : "") + (typed.has(at) ? " typed" : "");
        const hx = b.toString(16).padStart(2, "0");
        hexPart.append(cls ? h("span", { class: cls.trim(), "data-at": at }, hx) : hx);
        if (i % 4 === 3 && i < 15) hexPart.append(" ");
        textPart.append(cls ? h("span", { class: cls.trim() }, printable(b)) : printable(b));
      }
      box.append(h("div", { class: "hrow", "data-offset": offset },
        h("span", { class: "off" }, offset.toString(16).padStart(3, "0")), " ", hexPart, " ", textPart,
        repeat > 1 ? h("span", { class: "rep", title: repeat + " identical rows" }, " ×" + repeat) : null));
      last = offset + 16 * repeat;
    }
    if (list.length > ROWS_SHOWN) box.append(h("div", { class: "hrow more" }, "+" + (list.length - ROWS_SHOWN) + " more rows"));
    else if (last < MM.PAGE) box.append(h("div", { class: "hrow zeros" }, "⋮ " + (MM.PAGE - last) + " zero bytes"));
    return box;
  };
  MM.intsLine = function (rows, ints) {
    if (!ints || !ints.length) return null;
    const bytes = MM.bytesOf(rows);
    return h("div", { class: "ints" }, ints.map(([offset, width, signed]) =>
      h("span", { class: "int", "data-offset": offset },
        (CTYPE[width + "," + signed] || "int") + " @" + MM.hex(offset) + " = ",
        h("b", {}, MM.intAt(bytes, offset, width, !!signed)))));
  };

  // -- frames -----------------------------------------------------------------------
  MM.frameOwner = function (f) {
    if (f.owner === "zero") return "the zero frame";
    if (f.owner === "anon") return "anonymous";
    if (f.owner === "shmem") return "shared memory (" + f.file + ") page " + f.pgoff;
    return "page cache of " + f.file + " page " + f.pgoff;
  };
  function usersText(f, view) {
    const names = f.users.map(([pid, va]) => (view.names.get(pid) || "pid " + pid) + " " + MM.hex(va));
    const more = f.nusers - f.users.length;
    return names.join(", ") + (more > 0 ? " +" + more + " more" : "");
  }
  // A private copy of a file page: the page-cache frame it was copied from, if cached.
  function copiedFrom(f, view) {
    if (f.owner !== "anon" || !f.users.length) return null;
    const [pid, va] = f.users[0];
    const head = view.heads.get(pid);
    const vma = head && head.vmas.find((v) => v.start <= va && va < v.end);
    if (!vma || vma.kind !== "private-file") return null;
    const pgoff = vma.pgoff + (va - vma.start) / MM.PAGE;
    for (const file of view.files.values()) {
      if (file.path !== vma.name) continue;
      const page = file.pages.find((p) => p.pgoff === pgoff && p.pfn !== undefined);
      const frame = page && view.frames.get(page.pfn);
      if (frame) return { path: file.path, pgoff, pfn: page.pfn, bytes: MM.bytesOf(frame.rows) };
    }
    return null;
  }
  MM.frameRow = function (f, view) {
    const tie = view.ties.get(f.pfn);
    const base = copiedFrom(f, view);
    const bytes = base ? MM.bytesOf(f.rows) : null;
    const differs = base && bytes.some((b, i) => b !== base.bytes[i]);
    const label = "frame " + MM.hex(f.pfn) + ": " + MM.frameOwner(f) + ", mapped " + f.map +
      (f.map === 1 ? " time" : " times") + (f.dirty ? ", dirty" : "");
    const users = f.nusers ? usersText(f, view) : "no page maps it";
    const row = h("li", { class: "frame own-" + f.owner + (view.changed.has(f.pfn) ? " changed" : ""),
      tabindex: 0, "aria-label": label, "data-dirty": String(f.dirty), style: "--fc:" + MM.frameColour(f.pfn) },
      h("div", { class: "fhead" },
        h("code", { class: "swatch" }, MM.shortPfn(f.pfn)), " ", MM.frameOwner(f),
        h("span", { class: "map" }, " ×" + f.map),
        tie ? h("span", { class: "tie" }, tie.label) : null,
        f.dirty ? h("span", { class: "flag dirty-flag" }, " dirty") : null,
        view.changed.has(f.pfn) ? h("span", { class: "star", title: "this step touched it" }, " ★ this step") : null),
      h("div", { class: "users" }, "used by: " + users),
      base ? h("div", { class: "users copy" }, "a private copy of " + base.path + " page " + base.pgoff +
        " (frame " + MM.shortPfn(base.pfn) + ")" + (differs ? ": the marked bytes differ" : ": the same bytes")) : null,
      f.owner === "zero" ? null : MM.hexdump(f.rows, differs ? base.bytes : null, f.ints),
      MM.intsLine(f.rows, f.ints),
      f.cut ? h("div", { class: "more" }, f.cut + " more distinct rows not kept") : null);
    return MM.linkable(row, f.pfn);
  };

  // -- files --------------------------------------------------------------------------
  function filePage(page, file, view) {
    const frame = page.pfn === undefined ? null : view.frames.get(page.pfn);
    const disk = file.kind === "shmem" ? null : MM.bytesOf(page.disk);
    const cache = frame ? MM.bytesOf(frame.rows) : null;
    const same = !disk || !cache || disk.every((b, i) => b === cache[i]);
    const start = page.pgoff * MM.PAGE, end = file.size - start;
    const eof = file.kind === "shmem" ? "" : end <= 0 ? " · beyond the end of the file"
      : end < MM.PAGE ? " · the file ends at byte " + end + " (" + MM.hex(end) + ")" : "";
    const parts = [h("h4", {}, "page " + page.pgoff + eof + (frame && !same ? " — the marked bytes differ" : ""))];
    parts.push(h("div", { class: "side disk" }, h("div", { class: "what" }, "on disk"),
      disk ? MM.hexdump(page.disk, cache, null) : h("i", {}, "no disk: memory only")));
    if (frame) {
      const cached = h("div", { class: "side cached" + (page.dirty ? " dirty" : ""),
        "data-dirty": String(!!page.dirty), tabindex: 0 },
        h("div", { class: "what" }, "in the page cache, frame ",
          h("code", { class: "swatch", style: "--fc:" + MM.frameColour(page.pfn) }, MM.shortPfn(page.pfn)),
          h("span", { class: "flag" + (page.dirty ? " dirty-flag" : "") }, page.dirty ? " ✎ dirty" : " ✓ clean")),
        MM.hexdump(frame.rows, disk, frame.ints));
      parts.push(MM.linkable(cached, page.pfn));
    } else parts.push(h("div", { class: "side nocache" }, "not in the page cache"));
    return h("div", { class: "fpage", "data-pgoff": page.pgoff, "data-differs": String(!same) }, parts);
  }
  MM.fileBlock = function (file, view) {
    const head = h("h3", {}, file.path, h("span", { class: "count" }, " · " + file.size + " bytes" +
      (file.program ? " · the program" : "")));
    const pages = file.pages.map((p) => filePage(p, file, view));
    const more = file.more ? h("p", { class: "more" }, "+" + file.more + " more pages") : null;
    if (file.program) {
      return h("details", { class: "file", "data-path": file.path, open: view.everything },
        h("summary", {}, head), pages, more);
    }
    return h("article", { class: "file", "data-path": file.path }, head, pages, more);
  };
})(window.MM);
