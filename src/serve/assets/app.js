// tuneprint serve: the page. Plain JavaScript, no dependencies; every view is built from the
// JSON API. Routes live in the URL hash: #/?q=&genre=&sort=&order=&page=, #/song/ID, #/classified.
"use strict";

const PAGE = 50;
const $ = (sel) => document.querySelector(sel);
const view = $("#view");
const player = $("#player");
const nowLink = $("#now");
let lastUpload = null; // the latest classification result
let nowPlaying = null; // id of the song in the player

// Builds an element: h("a", {href: "#"}, "text", child, ...). Text is never parsed as HTML.
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

async function api(path, options) {
  const res = await fetch(path, options);
  let body = null;
  try { body = await res.json(); } catch (_) { /* not JSON */ }
  if (!res.ok) throw new Error((body && body.error) || `${res.status} ${res.statusText}`);
  return body;
}

function duration(s) {
  if (s === null || s === undefined || !isFinite(s)) return "–";
  s = Math.round(s);
  const hours = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = String(s % 60).padStart(2, "0");
  return hours ? `${hours}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}
const pct = (p) => `${(100 * p).toFixed(p >= 0.995 || p < 0.1 ? 0 : 1)}%`;
const byline = (s) => [s.artist, s.album].filter(Boolean).join(" — ");

function showError(err) {
  view.replaceChildren(h("p", { class: "error", role: "alert" }, String(err.message || err)));
}

// ---------- the player bar ----------

function play(song) {
  const src = `/api/songs/${song.id}/audio`;
  if (nowPlaying !== song.id) {
    player.src = src;
    nowPlaying = song.id;
    nowLink.textContent = song.artist ? `${song.title} — ${song.artist}` : song.title;
    nowLink.href = `#/song/${song.id}`;
  }
  player.play().catch(() => {});
  markPlaying();
}

// Loads a song into an idle player, without starting it (so the bar plays the song on view).
function cue(song) {
  if (!player.paused && nowPlaying !== null) return;
  if (nowPlaying === song.id) return;
  player.preload = "metadata";
  player.src = `/api/songs/${song.id}/audio`;
  nowPlaying = song.id;
  nowLink.textContent = song.artist ? `${song.title} — ${song.artist}` : song.title;
  nowLink.href = `#/song/${song.id}`;
}

function playButton(song) {
  return h("button", {
    class: "play", type: "button", "data-id": song.id, title: `Play ${song.title}`,
    "aria-label": `Play ${song.title}`,
    onclick: (e) => {
      e.stopPropagation();
      if (nowPlaying === song.id && !player.paused) player.pause();
      else play(song);
    },
  }, "▶");
}

function markPlaying() {
  for (const b of document.querySelectorAll("button.play")) {
    const on = Number(b.dataset.id) === nowPlaying && !player.paused;
    b.classList.toggle("on", on);
    b.textContent = on ? "❚❚" : "▶";
  }
}
player.addEventListener("play", markPlaying);
player.addEventListener("pause", markPlaying);
player.addEventListener("ended", markPlaying);

// ---------- routing ----------

function route() {
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, query] = hash.split("?");
  const params = new URLSearchParams(query || "");
  const m = path.match(/^\/song\/(\d+)$/);
  if (m) return songView(Number(m[1]));
  if (path === "/classified" && lastUpload) return classifiedView(lastUpload);
  return libraryView(params);
}
window.addEventListener("hashchange", route);

function setLibraryHash(params, replace) {
  const q = params.toString();
  const hash = q ? `#/?${q}` : "#/";
  if (replace) { history.replaceState(null, "", hash); route(); } else location.hash = hash;
}

function currentParams() {
  const hash = location.hash.replace(/^#/, "");
  return hash.startsWith("/song/") || hash.startsWith("/classified")
    ? new URLSearchParams() : new URLSearchParams(hash.split("?")[1] || "");
}

// ---------- the library table ----------

const COLUMNS = [
  ["title", "Title", ""],
  ["artist", "Artist", ""],
  ["album", "Album", "hide-narrow"],
  ["duration", "Length", "num"],
  ["genre", "Predicted genre", ""],
];

let listToken = 0;
async function libraryView(params) {
  const token = ++listToken;
  const search = $("#search"), genre = $("#genre");
  if (document.activeElement !== search) search.value = params.get("q") || "";
  genre.value = params.get("genre") || "";
  const sort = params.get("sort") || "title", order = params.get("order") || "asc";
  const page = Math.max(1, Number(params.get("page")) || 1);
  const q = new URLSearchParams({ limit: PAGE, page, sort, order });
  if (params.get("q")) q.set("q", params.get("q"));
  if (params.get("genre")) q.set("genre", params.get("genre"));
  let data;
  try { data = await api(`/api/songs?${q}`); } catch (e) { if (token === listToken) showError(e); return; }
  if (token !== listToken) return;
  const pages = Math.max(1, Math.ceil(data.total / PAGE));
  const head = h("tr", {}, COLUMNS.map(([key, label, cls]) => {
    const active = sort === key;
    return h("th", {
      class: `sortable ${cls}`, "data-sort": key,
      "aria-sort": active ? (order === "asc" ? "ascending" : "descending") : "none",
      onclick: () => {
        const p = currentParams();
        p.set("sort", key);
        p.set("order", active && order === "asc" ? "desc" : "asc");
        p.delete("page");
        setLibraryHash(p);
      },
    }, label, active ? h("span", { class: "arrow" }, order === "asc" ? " ▲" : " ▼") : "");
  }));
  const rows = data.songs.map((s) => h("tr", { "data-id": s.id, onclick: () => { location.hash = `#/song/${s.id}`; } },
    h("td", { class: "title" }, h("a", { href: `#/song/${s.id}` }, s.title)),
    h("td", {}, s.artist || h("span", { class: "muted" }, "–")),
    h("td", { class: "hide-narrow" }, s.album || h("span", { class: "muted" }, "–")),
    h("td", { class: "num" }, duration(s.duration)),
    h("td", {}, s.genre ? h("span", { class: "pill" }, s.genre) : "–"),
  ));
  const goto = (p) => { const ps = currentParams(); ps.set("page", p); setLibraryHash(ps); };
  const from = data.total ? data.offset + 1 : 0, to = data.offset + data.songs.length;
  view.replaceChildren(
    h("div", { class: "pager" },
      h("span", { class: "muted", id: "count" },
        data.total ? `${from.toLocaleString()}–${to.toLocaleString()} of ${data.total.toLocaleString()} songs` : "No songs match."),
      h("span", { class: "pages" },
        h("button", { type: "button", disabled: page <= 1, onclick: () => goto(1), "aria-label": "First page" }, "«"),
        h("button", { type: "button", disabled: page <= 1, onclick: () => goto(page - 1) }, "‹ Previous"),
        h("span", { class: "muted" }, `page ${page} of ${pages.toLocaleString()}`),
        h("button", { type: "button", disabled: page >= pages, onclick: () => goto(page + 1) }, "Next ›"),
        h("button", { type: "button", disabled: page >= pages, onclick: () => goto(pages), "aria-label": "Last page" }, "»"))),
    h("table", { id: "songs" }, h("thead", {}, head), h("tbody", {}, rows)),
    h("p", { class: "hint" }, "Drop an audio file anywhere on the page (or use “Classify a file…”) to see its genre and the songs like it."),
  );
}

let searchTimer = null;
$("#search").addEventListener("input", () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => {
    const p = currentParams();
    const v = $("#search").value.trim();
    if (v) p.set("q", v); else p.delete("q");
    p.delete("page");
    setLibraryHash(p, location.hash.startsWith("#/?") || location.hash === "#/" || location.hash === "");
  }, 250);
});
$("#genre").addEventListener("change", () => {
  const p = currentParams();
  const v = $("#genre").value;
  if (v) p.set("genre", v); else p.delete("genre");
  p.delete("page");
  setLibraryHash(p);
});

async function loadGenres() {
  try {
    const genres = await api("/api/genres");
    const sel = $("#genre");
    const keep = sel.value;
    sel.replaceChildren(h("option", { value: "" }, "All genres"),
      genres.map((g) => h("option", { value: g.genre }, `${g.genre} (${g.songs.toLocaleString()})`)));
    sel.value = keep;
  } catch (_) { /* the filter stays empty */ }
}

// ---------- one song ----------

function probabilityBars(probabilities) {
  const top = probabilities.length ? probabilities[0].genre : null;
  return h("div", { class: "bars", id: "probabilities" }, probabilities.map((p) => [
    h("span", { class: p.genre === top ? "top-genre" : "" }, p.genre),
    h("span", { class: "bar", role: "meter", "aria-valuenow": p.probability.toFixed(3), "aria-label": p.genre },
      h("i", { style: `width:${(100 * p.probability).toFixed(1)}%` })),
    h("span", { class: "num muted" }, pct(p.probability)),
  ]));
}

function similarList(similar) {
  if (!similar.length) return h("p", { class: "muted" }, "No other songs in the library yet.");
  return h("ol", { class: "similar", id: "similar" }, similar.map((s) => h("li", { "data-id": s.id },
    playButton(s),
    h("div", { class: "who" },
      h("a", { href: `#/song/${s.id}`, class: "similar-link", onclick: () => { if (!player.paused) play(s); } }, s.title),
      h("small", {}, [byline(s), s.genre].filter(Boolean).join(" · ") || s.file_name),
      s.copies && s.copies.length ? h("small", { class: "copies" }, `also as ${s.copies.join(", ")}`) : null),
    h("div", { class: "score", title: "cosine similarity" }, s.similarity.toFixed(3),
      h("div", { class: "bar" }, h("i", { style: `width:${Math.max(0, 100 * s.similarity).toFixed(1)}%` }))),
  )));
}

let songToken = 0;
async function songView(id) {
  const token = ++songToken;
  view.replaceChildren(h("p", { class: "muted" }, h("span", { class: "spinner" }), "Loading…"));
  let song, similar;
  try {
    [song, similar] = await Promise.all([api(`/api/songs/${id}`), api(`/api/songs/${id}/similar?k=10`)]);
  } catch (e) { if (token === songToken) showError(e); return; }
  if (token !== songToken) return;
  document.title = `${song.title} · tuneprint`;
  const tags = [
    ["Artist", song.artist], ["Album", song.album], ["Year", song.year], ["Genre tag", song.tag_genre],
    ["Length", duration(song.duration)], ["Format", song.format],
    ["Sample rate", song.sample_rate ? `${song.sample_rate.toLocaleString()} Hz` : null],
    ["Channels", song.channels], ["File", song.path], ["Model", song.model],
  ].filter(([, v]) => v !== null && v !== undefined && v !== "");
  cue(song);
  view.replaceChildren(h("div", { class: "song", id: "song", "data-id": song.id },
    h("div", { class: "stack" },
      h("div", { class: "head" },
        h("button", { class: "primary", type: "button", id: "play", onclick: () => play(song) }, "▶ Play"),
        h("div", { class: "grow" },
          h("h1", { id: "title" }, song.title),
          h("p", { class: "sub" }, byline(song) || song.file_name)),
        h("a", { class: "button", id: "save-playlist", href: song.playlist_url, download: "" }, "Save as playlist")),
      h("section", { class: "panel" }, h("h2", {}, "Genre"), probabilityBars(song.probabilities)),
      h("section", { class: "panel" }, h("h2", {}, "Mel spectrogram"),
        h("img", { class: "spectrogram", src: song.spectrogram_url, alt: `Mel spectrogram of ${song.title}`, loading: "lazy" })),
      h("section", { class: "panel" }, h("h2", {}, "Tags"),
        h("dl", { class: "tags" }, tags.map(([k, v]) => [h("dt", {}, k), h("dd", {}, String(v))])))),
    h("aside", { class: "panel" }, h("h2", {}, "More like this"), similarList(similar.similar)),
  ));
  markPlaying();
  window.scrollTo(0, 0);
}

// ---------- classify a file ----------

async function classify(file) {
  if (!file) return;
  lastUpload = null;
  view.replaceChildren(h("p", { class: "muted" }, h("span", { class: "spinner" }), `Analysing ${file.name}…`));
  const form = new FormData();
  form.append("file", file, file.name);
  try {
    lastUpload = await api("/api/classify", { method: "POST", body: form });
  } catch (e) { showError(e); return; }
  if (location.hash === "#/classified") route(); else location.hash = "#/classified";
}

function classifiedView(r) {
  document.title = `${r.file_name} · tuneprint`;
  view.replaceChildren(h("div", { class: "song", id: "classified" },
    h("div", { class: "stack" },
      h("div", {}, h("h1", {}, r.file_name),
        h("p", { class: "sub" }, `${duration(r.duration)} · ${r.windows} window${r.windows === 1 ? "" : "s"} of 30 s · most likely `,
          h("strong", {}, r.genre))),
      h("section", { class: "panel" }, h("h2", {}, "Genre"), probabilityBars(r.probabilities))),
    h("aside", { class: "panel" }, h("h2", {}, "Songs like it"), similarList(r.similar)),
  ));
}

$("#file").addEventListener("change", (e) => { classify(e.target.files[0]); e.target.value = ""; });
let dragDepth = 0;
window.addEventListener("dragenter", (e) => { if (e.dataTransfer && [...e.dataTransfer.types].includes("Files")) { dragDepth++; $("#drop").hidden = false; } });
window.addEventListener("dragleave", () => { dragDepth = Math.max(0, dragDepth - 1); if (!dragDepth) $("#drop").hidden = true; });
window.addEventListener("dragover", (e) => e.preventDefault());
window.addEventListener("drop", (e) => {
  e.preventDefault();
  dragDepth = 0;
  $("#drop").hidden = true;
  if (e.dataTransfer && e.dataTransfer.files.length) classify(e.dataTransfer.files[0]);
});

loadGenres();
route();
