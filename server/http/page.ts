// The search page at `/`: one self-contained HTML document (no CDN, no build step) over the
// JSON API — a query box with results (path:line, symbol, kind, highlighted snippet) and a
// context-window view for a prompt. Keyboard: `/` focuses the query, Enter searches, ↑/↓ move
// through results, Ctrl+Enter builds the window for the prompt.
export const SEARCH_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>codesearch</title>
<style>
  body { font: 15px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 70rem; padding: 1rem 1.5rem; color: #1d1d1f; background: #fcfcfc; }
  h1 { font-size: 1.2rem; margin: 0 0 .8rem; }
  form { display: flex; gap: .5rem; margin-bottom: .8rem; }
  input, textarea { flex: 1; font: inherit; padding: .45rem .6rem; border: 1px solid #bbb; border-radius: 4px; }
  textarea { min-height: 3.2rem; }
  button { font: inherit; padding: .45rem .9rem; }
  .hit { display: block; padding: .5rem .6rem; margin: .3rem 0; border: 1px solid #e3e3e3; border-radius: 4px; color: inherit; text-decoration: none; background: #fff; }
  .hit:focus { outline: 2px solid #3a6ee8; }
  .where { font-family: ui-monospace, monospace; color: #3a6ee8; }
  .kind { color: #777; font-size: .85em; margin-left: .5em; }
  pre { margin: .35rem 0 0; padding: .5rem; background: #f4f4f6; border-radius: 4px; overflow-x: auto; font: 13px/1.4 ui-monospace, monospace; }
  .kw { color: #a626a4; font-weight: 600; } .str { color: #50a14f; } .com { color: #8a8a8a; font-style: italic; } .up { color: #c18401; }
  #status, #context-status { color: #777; font-size: .9em; min-height: 1.2em; }
  section { margin-top: 1.6rem; }
  details summary { cursor: pointer; color: #777; font-size: .9em; }
</style>
</head>
<body>
<h1>codesearch</h1>
<form id="search-form">
  <input id="query" name="query" placeholder="a symbol (String.split), a type (string -> char list) or a question — press / to focus" autocomplete="off" autofocus>
  <button type="submit">Search</button>
</form>
<div id="status" role="status"></div>
<div id="results"></div>
<section>
  <form id="context-form">
    <textarea id="prompt" placeholder="a change or question: the context window an LLM needs for it (Ctrl+Enter)"></textarea>
    <button type="submit">Context</button>
  </form>
  <div id="context-status" role="status"></div>
  <div id="context"></div>
</section>
<details><summary>token</summary><input id="token" type="password" placeholder="bearer token, for a server started with --token"></details>
<script>
const KEYWORDS = new Set('and as assert begin class constraint do done downto else end exception external false for fun function functor if in include inherit initializer lazy let match method module mutable new nonrec object of open or private rec sig struct then to true try type val virtual when while with'.split(' '));
const escape = (s) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);
function highlight(code) {
  return code.replace(/(\\(\\*[\\s\\S]*?\\*\\))|("(?:[^"\\\\]|\\\\.)*")|([A-Za-z_][\\w']*)|([^A-Za-z_"(]+|\\()/g, (m, com, str, word) => {
    if (com) return '<span class="com">' + escape(com) + '</span>';
    if (str) return '<span class="str">' + escape(str) + '</span>';
    if (word && KEYWORDS.has(word)) return '<span class="kw">' + word + '</span>';
    if (word && /^[A-Z]/.test(word)) return '<span class="up">' + word + '</span>';
    return escape(m);
  });
}
const token = document.getElementById('token');
token.value = localStorage.getItem('codesearch-token') || '';
token.addEventListener('change', () => localStorage.setItem('codesearch-token', token.value));
async function api(path, body) {
  const headers = { 'content-type': 'application/json' };
  if (token.value) headers.authorization = 'Bearer ' + token.value;
  const r = await fetch(path, { method: 'POST', headers, body: JSON.stringify(body) });
  const json = await r.json();
  if (!r.ok) throw new Error(json.error ? json.error.message : 'HTTP ' + r.status);
  return json;
}
const results = document.getElementById('results');
const status = document.getElementById('status');
document.getElementById('search-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const query = document.getElementById('query').value.trim();
  if (!query) return;
  status.textContent = 'searching…';
  try {
    const t0 = performance.now();
    const { results: hits, warnings } = await api('/v1/search', { query, k: 20 });
    status.textContent = hits.length + ' results in ' + Math.round(performance.now() - t0) + ' ms' + (warnings ? ' — ' + warnings.join('; ') : '');
    results.innerHTML = hits.map((h) =>
      '<a class="hit" href="#" data-path="' + escape(h.path) + '" data-line="' + h.startLine + '">' +
      '<span class="where">' + escape(h.path) + ':' + h.startLine + '</span> <b>' + escape(h.symbol) + '</b><span class="kind">' + escape(h.kind) + '</span>' +
      (h.doc ? '<div>' + escape(h.doc) + '</div>' : '') +
      '<pre><code>' + highlight(h.snippet || '') + '</code></pre></a>').join('');
  } catch (err) {
    status.textContent = 'error: ' + err.message;
  }
});
results.addEventListener('click', (e) => e.preventDefault());
document.addEventListener('keydown', (e) => {
  const active = document.activeElement;
  if (e.key === '/' && active.tagName !== 'INPUT' && active.tagName !== 'TEXTAREA') { e.preventDefault(); document.getElementById('query').focus(); }
  if ((e.key === 'ArrowDown' || e.key === 'ArrowUp') && (active.id === 'query' || active.classList.contains('hit'))) {
    const hits = [...results.querySelectorAll('.hit')];
    if (hits.length === 0) return;
    e.preventDefault();
    const i = hits.indexOf(active);
    const next = e.key === 'ArrowDown' ? hits[Math.min(hits.length - 1, i + 1)] : i <= 0 ? document.getElementById('query') : hits[i - 1];
    next.focus();
  }
});
const contextForm = document.getElementById('context-form');
document.getElementById('prompt').addEventListener('keydown', (e) => { if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) { e.preventDefault(); contextForm.requestSubmit(); } });
contextForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  const prompt = document.getElementById('prompt').value.trim();
  if (!prompt) return;
  const out = document.getElementById('context');
  const note = document.getElementById('context-status');
  note.textContent = 'building…';
  try {
    const w = await api('/v1/context', { prompt, clientId: 'web' });
    note.textContent = w.items.length + ' items, ' + w.tokens + ' of ' + w.budget + ' tokens (' + w.strategy + ')' + (w.warnings ? ' — ' + w.warnings.join('; ') : '');
    out.innerHTML = w.items.map((i) =>
      '<div class="item"><span class="where">' + escape(i.path) + ':' + i.startLine + '-' + i.endLine + '</span> <b>' + escape(i.symbol) + '</b><span class="kind">' + escape(i.reason) + '</span>' +
      '<pre><code>' + highlight(i.text || '') + '</code></pre></div>').join('');
  } catch (err) {
    note.textContent = 'error: ' + err.message;
  }
});
</script>
</body>
</html>
`;
