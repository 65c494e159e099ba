/**
 * The explorer served at `/` by `cammsr serve`: one static page (no build step, no network
 * beyond the service itself) over the service's own API. Search a user or compose a history
 * of items, then see the recommendations with their images, scores, each modality's share of
 * the score and the learned modality weights of the item's categories. Items added while
 * serving are marked new, and a form adds one by hand (POST /v1/items).
 */
export const EXPLORER_HTML = String.raw`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>cammsr explorer</title>
<style>
:root{--b:#dde3ea;--m:#5f6b7a}
body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2430;background:#f7f9fb}
header{background:#1d2430;color:#fff;padding:10px 20px}header b{font-size:16px}header span{color:#b8c2cf;margin-left:12px}
main{display:grid;grid-template-columns:360px 1fr;gap:20px;padding:20px;max-width:1400px;margin:auto}
section{background:#fff;border:1px solid var(--b);border-radius:8px;padding:14px}
h2{font-size:15px;margin:0 0 10px}label{display:block;color:var(--m);margin:10px 0 4px}
input,button{font:inherit;padding:6px 8px;border:1px solid var(--b);border-radius:6px}input{width:100%;box-sizing:border-box}
button{background:#2456d6;color:#fff;border-color:#2456d6;cursor:pointer;margin-top:8px}button.ghost{background:#fff;color:#2456d6}
.suggest{border:1px solid var(--b);border-top:0;max-height:220px;overflow:auto}.suggest div{padding:4px 8px;cursor:pointer}.suggest div:hover{background:#eef3ff}
.chips{display:flex;flex-wrap:wrap;gap:6px;margin-top:8px}.chip{background:#eef3ff;border-radius:12px;padding:2px 8px;font-size:12px}
.chip button{margin:0 0 0 4px;padding:0 4px;background:none;border:0;color:#b3261e}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(210px,1fr));gap:12px}
.card{border:1px solid var(--b);border-radius:8px;padding:8px;background:#fff}
.card img{width:100%;height:150px;object-fit:contain;background:#f0f2f5;border-radius:4px}
.title{font-weight:600;margin:6px 0 2px}.meta{color:var(--m);font-size:12px}
.bar{display:flex;height:10px;border-radius:5px;overflow:hidden;margin:4px 0}.bar div{height:100%}
.legend span{display:inline-block;margin-right:8px;font-size:12px}.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:3px}
.err{color:#b3261e}.hist .card img{height:90px}
.new{background:#1a936f;color:#fff;border-radius:8px;padding:0 6px;font-size:11px;margin-left:4px}
textarea{font:inherit;width:100%;box-sizing:border-box;border:1px solid var(--b);border-radius:6px;padding:6px 8px}
</style></head><body>
<header><b>cammsr explorer</b><span id="info">loading…</span>
<input id="api-key" type="password" autocomplete="off" placeholder="API key (when the service needs one)" style="margin-left:auto;max-width:260px"></header>
<main>
<div>
<section>
<h2>A user's stored history</h2>
<label for="user-search">user id (type to search)</label>
<input id="user-search" autocomplete="off" placeholder="e.g. 42"><div id="user-suggest" class="suggest"></div>
<button id="load-user">Show this user</button>
</section>
<section style="margin-top:16px">
<h2>Or compose a history</h2>
<label for="item-search">add an item (search titles or ids)</label>
<input id="item-search" autocomplete="off" placeholder="title or id"><div id="item-suggest" class="suggest"></div>
<label for="history">history (item ids, oldest first, comma-separated)</label>
<input id="history" placeholder="id1, id2, …">
<label for="k">how many</label><input id="k" type="number" min="1" max="100" value="10">
<button id="recommend">Recommend</button> <button id="clear" class="ghost">Clear</button>
</section>
<section style="margin-top:16px">
<h2>Add an item to the catalog</h2>
<label for="new-id">id</label><input id="new-id" autocomplete="off">
<label for="new-title">title</label><input id="new-title" autocomplete="off">
<label for="new-text">description</label><textarea id="new-text" rows="3"></textarea>
<label for="new-categories">categories (comma-separated, as the catalog names them)</label><input id="new-categories" autocomplete="off">
<label for="new-image">image</label><input id="new-image" type="file" accept="image/jpeg,image/png,image/webp,image/gif">
<button id="add-item">Add</button> <div id="add-note" class="meta"></div>
</section>
</div>
<div>
<section><h2>History <span id="hist-note" class="meta"></span></h2><div id="history-view" class="grid hist"></div></section>
<section style="margin-top:16px"><h2>Recommendations <span id="rec-note" class="meta"></span></h2>
<div id="legend" class="legend"></div><div id="recs" class="grid"></div></section>
</div>
</main>
<script>
(function () {
  var COLORS = { id: '#2456d6', text: '#e07b00', image: '#1a936f' };
  var $ = function (id) { return document.getElementById(id); };
  var esc = function (s) { return String(s).replace(/[&<>"']/g, function (c) { return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]; }); };
  // The key stays in this tab (sessionStorage) and goes with every API call; images are public.
  $('api-key').value = sessionStorage.getItem('cammsr-key') || '';
  $('api-key').addEventListener('change', function () { sessionStorage.setItem('cammsr-key', $('api-key').value.trim()); });
  function api(path, body) {
    var h = { 'content-type': 'application/json' };
    var key = $('api-key').value.trim();
    if (key) h.authorization = 'Bearer ' + key;
    return fetch(path, body ? { method: 'POST', headers: h, body: JSON.stringify(body) } : { headers: h })
      .then(function (r) { return r.json().then(function (j) { if (!r.ok) throw new Error(j.error || r.statusText); return j; }); });
  }
  function image(it) {
    // Catalogs without images (most Amazon ones) get compact cards instead of empty frames.
    return it.image ? '<img alt="" loading="lazy" src="/v1/items/' + encodeURIComponent(it.item || it.id) + '/image">' : '';
  }
  function badge(it) { return it.new ? '<span class="new" title="added while serving: scored from its content alone">new</span>' : ''; }
  function bar(values, total) {
    var keys = Object.keys(values), sum = 0;
    keys.forEach(function (k) { sum += Math.abs(values[k]); });
    return '<div class="bar">' + keys.map(function (k) {
      return '<div title="' + esc(k) + ' ' + values[k].toFixed(3) + '" style="width:' + (100 * Math.abs(values[k]) / (sum || 1)) + '%;background:' + (COLORS[k] || '#888') + '"></div>';
    }).join('') + '</div>';
  }
  function shares(values) {
    return Object.keys(values).map(function (k) { return esc(k) + ' ' + values[k].toFixed(2); }).join(' · ');
  }
  function showHistory(items, note) {
    $('hist-note').textContent = note || '';
    $('history-view').innerHTML = items.map(function (it) {
      return '<div class="card">' + image(it) + '<div class="title">' + esc(it.title || it.item || it.id) + badge(it) + '</div><div class="meta">' + esc(it.item || it.id) + '</div></div>';
    }).join('') || '<div class="meta">empty</div>';
  }
  function showRecs(r) {
    $('rec-note').textContent = r.source === 'popular' ? '(no known history: most popular items)' : '(' + r.historyUsed + ' history items read by ' + r.model + ')';
    var mods = {};
    r.items.forEach(function (it) { Object.keys(it.modalities || {}).forEach(function (m) { mods[m] = 1; }); });
    $('legend').innerHTML = Object.keys(mods).map(function (m) { return '<span><i style="background:' + (COLORS[m] || '#888') + '"></i>' + esc(m) + '</span>'; }).join('');
    $('recs').innerHTML = r.items.map(function (it, i) {
      var m = it.modalities ? '<div class="meta">score share by modality</div>' + bar(it.modalities) + '<div class="meta">' + shares(it.modalities) + '</div>' : '';
      var w = it.categoryWeights ? '<div class="meta">category weights w (which modality identifies these categories)</div>' + bar(it.categoryWeights) + '<div class="meta">' + shares(it.categoryWeights) + '</div>' : '';
      return '<div class="card rec" data-item="' + esc(it.item) + '">' + image(it) + '<div class="title">' + (i + 1) + '. ' + esc(it.title || it.item) + badge(it) + '</div>' +
        '<div class="meta">' + esc(it.item) + ' · score ' + it.score.toFixed(3) + (it.categories ? ' · ' + esc(it.categories.slice(-2).join(', ')) + (it.categories.length > 2 ? ' …' : '') : '') + '</div>' + m + w + '</div>';
    }).join('');
  }
  function fail(e) { $('rec-note').innerHTML = '<span class="err">' + esc(e.message) + '</span>'; }
  function ids() { return $('history').value.split(',').map(function (s) { return s.trim(); }).filter(Boolean); }
  function k() { return Math.max(1, Math.min(100, Number($('k').value) || 10)); }
  function recommend() {
    $('item-suggest').innerHTML = '';
    var h = ids();
    if (!h.length) return fail(new Error('add at least one item to the history'));
    Promise.all(h.map(function (id) { return api('/v1/items/' + encodeURIComponent(id)).catch(function () { return { id: id, title: '(not in the catalog)' }; }); }))
      .then(function (items) { showHistory(items, '(' + items.length + ' items)'); });
    api('/v1/recommendations', { history: h, k: k() }).then(showRecs).catch(fail);
  }
  function loadUser() {
    $('user-suggest').innerHTML = '';
    var u = $('user-search').value.trim();
    if (!u) return;
    api('/v1/users/' + encodeURIComponent(u) + '/events?limit=50').then(function (r) { showHistory(r.events, '(' + r.events.length + ' most recent events of ' + u + ')'); }).catch(fail);
    api('/v1/users/' + encodeURIComponent(u) + '/recommendations?k=' + k()).then(showRecs).catch(fail);
  }
  function suggest(input, box, url, render, pick) {
    var t = null;
    input.addEventListener('input', function () {
      clearTimeout(t);
      t = setTimeout(function () {
        var q = input.value.trim();
        if (!q) { box.innerHTML = ''; return; }
        api(url(q)).then(function (r) {
          box.innerHTML = r.map(function (x, i) { return '<div data-i="' + i + '">' + render(x) + '</div>'; }).join('');
          Array.prototype.forEach.call(box.children, function (el) { el.onclick = function () { pick(r[Number(el.dataset.i)]); box.innerHTML = ''; }; });
        });
      }, 150);
    });
  }
  suggest($('user-search'), $('user-suggest'), function (q) { return '/v1/users?prefix=' + encodeURIComponent(q) + '&limit=20'; },
    function (u) { return esc(u); }, function (u) { $('user-search').value = u; loadUser(); });
  suggest($('item-search'), $('item-suggest'), function (q) { return '/v1/items?query=' + encodeURIComponent(q) + '&limit=20'; },
    function (it) { return esc(it.title || it.id) + ' <span class="meta">' + esc(it.id) + '</span>'; },
    function (it) { var h = ids(); h.push(it.id); $('history').value = h.join(', '); $('item-search').value = ''; recommend(); });
  function readImage(file) {
    return new Promise(function (resolve, reject) {
      if (!file) return resolve(undefined);
      var r = new FileReader();
      r.onload = function () { resolve({ data: String(r.result).slice(String(r.result).indexOf(',') + 1) }); };
      r.onerror = function () { reject(new Error('cannot read ' + file.name)); };
      r.readAsDataURL(file);
    });
  }
  function addItem() {
    var item = { id: $('new-id').value.trim() };
    if (!item.id) { $('add-note').innerHTML = '<span class="err">an id is needed</span>'; return; }
    if ($('new-title').value.trim()) item.title = $('new-title').value.trim();
    if ($('new-text').value.trim()) item.text = $('new-text').value.trim();
    var cats = $('new-categories').value.split(',').map(function (s) { return s.trim(); }).filter(Boolean);
    if (cats.length) item.categories = cats;
    readImage($('new-image').files[0]).then(function (img) {
      if (img) item.image = img;
      return api('/v1/items', item);
    }).then(function (r) {
      $('add-note').innerHTML = esc((r.created ? 'added ' : 'updated ') + r.item + ' (' + (r.features.join(', ') || 'no content features') + ')') +
        r.warnings.map(function (w) { return '<div class="err">' + esc(w) + '</div>'; }).join('');
      var h = ids(); if (h.indexOf(r.item) < 0) { h.push(r.item); $('history').value = h.join(', '); }
    }).catch(function (e) { $('add-note').innerHTML = '<span class="err">' + esc(e.message) + '</span>'; });
  }
  $('add-item').onclick = addItem;
  $('recommend').onclick = recommend;
  $('load-user').onclick = loadUser;
  $('history').addEventListener('keydown', function (e) { if (e.key === 'Enter') recommend(); });
  $('user-search').addEventListener('keydown', function (e) { if (e.key === 'Enter') loadUser(); });
  $('clear').onclick = function () { $('history').value = ''; showHistory([]); $('recs').innerHTML = ''; };
  api('/v1/info').then(function (i) {
    $('info').textContent = i.model + ' · ' + i.dataset + ' · ' + i.items + ' items · version ' + i.version;
  }).catch(function (e) { $('info').textContent = e.message; });
})();
</script>
</body></html>
`;
