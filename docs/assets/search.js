// The site's search: every term must appear in a section (its title or text); titles count most.
// The index is a script (search_index.js, window.SEARCH_INDEX), so it loads from a folder, without a server.
"use strict";
(function () {
  const input = document.getElementById("search-input");
  const list = document.getElementById("search-results");
  const count = document.getElementById("search-count");
  const query = new URLSearchParams(window.location.search).get("q") || "";
  input.value = query;
  const terms = query.toLowerCase().split(/\s+/).filter(Boolean);
  if (!terms.length) { count.textContent = "Type a word and press Enter."; return; }
  const hits = [];
  for (const entry of window.SEARCH_INDEX) {
    const title = entry.title.toLowerCase(), text = entry.text.toLowerCase();
    if (!terms.every(t => title.includes(t) || text.includes(t))) continue;
    let score = 0;
    for (const t of terms) score += (title.includes(t) ? 10 : 0) + Math.min(text.split(t).length - 1, 5);
    hits.push([score, entry]);
  }
  hits.sort((a, b) => b[0] - a[0]);
  count.textContent = hits.length + " section" + (hits.length === 1 ? "" : "s") + " found for \u201c" + query + "\u201d";
  for (const [, entry] of hits.slice(0, 50)) {
    const li = document.createElement("li"), a = document.createElement("a"), p = document.createElement("p");
    a.href = entry.url; a.textContent = entry.title;
    const at = Math.max(0, entry.text.toLowerCase().indexOf(terms[0]) - 80);
    p.textContent = (at > 0 ? "\u2026" : "") + entry.text.slice(at, at + 240) + "\u2026";
    li.append(a, p); list.append(li);
  }
})();
