/* Tastemaker browser tracker: page views, clicks on [data-tm-item]/[data-tm-block], what each block showed
   (once per page view, when half of it was visible), visible dwell time and scroll depth, sent as Segment
   messages to the collector's /v1/batch. Plain ES2017, no dependencies.
   API: window.tastemaker.init({host, writeKey, requireConsent, flushInterval, heartbeatInterval}),
        page(), track(event, properties), identify(userId, traits), consent(granted). */
(() => {
  'use strict';
  const VERSION = '0.1.0';
  const ANON = 'tm_anon_id', USER = 'tm_user_id', QUEUE = 'tm_queue';
  const BATCH_SIZE = 20, MAX_QUEUE = 500, MAX_BACKOFF_MS = 60000, YEAR_S = 31536000;
  // Keepalive requests share a 64 KB budget: a larger body goes as a plain fetch.
  const KEEPALIVE_MAX = 60000;
  // The collector defaults to the origin this script was loaded from.
  const scriptOrigin = document.currentScript ? new URL(document.currentScript.src, location.href).origin : '';

  let cfg = null, active = false, consentGiven = false;
  let queue = [], posting = false, failures = 0, retryAt = 0;
  const inFlight = new Set();
  let flushTimer = null, heartbeatTimer = null;
  let anonymousId = null, userId = null;
  let view = null; // current page view: {id, dwell (visible ms before `since`), since (ms, null while hidden), depth}

  const store = { // localStorage may be blocked or full: then the tracker works from memory
    get(k) { try { return localStorage.getItem(k); } catch (e) { return null; } },
    set(k, v) { try { localStorage.setItem(k, v); } catch (e) { /* memory only */ } },
    del(k) { try { localStorage.removeItem(k); } catch (e) { /* nothing stored */ } },
  };

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID(); // secure contexts only
    const b = new Uint8Array(16);
    if (window.crypto && crypto.getRandomValues) crypto.getRandomValues(b);
    else for (let i = 0; i < 16; i++) b[i] = Math.random() * 256 | 0;
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80; // RFC 4122 version 4
    const h = Array.from(b, (x) => (x + 256).toString(16).slice(1)).join('');
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  const doNotTrack = () =>
    navigator.doNotTrack === '1' || window.doNotTrack === '1' || navigator.globalPrivacyControl === true;

  function cookie(name) {
    const m = document.cookie.match(new RegExp(`(?:^|; )${name}=([^;]*)`));
    return m ? decodeURIComponent(m[1]) : null;
  }
  function setCookie(name, value, maxAge) {
    const secure = location.protocol === 'https:' ? '; Secure' : '';
    document.cookie = `${name}=${encodeURIComponent(value)}; Max-Age=${maxAge}; Path=/; SameSite=Lax${secure}`;
  }

  const pageInfo = () => ({
    url: location.href, path: location.pathname, referrer: document.referrer, title: document.title,
    search: location.search,
  });
  const UTM = [['utm_campaign', 'name'], ['utm_source', 'source'], ['utm_medium', 'medium'],
    ['utm_term', 'term'], ['utm_content', 'content']];
  function context() {
    const ctx = { page: pageInfo(), userAgent: navigator.userAgent, locale: navigator.language,
      library: { name: 'tastemaker.js', version: VERSION } };
    const q = new URLSearchParams(location.search), campaign = {};
    for (const [param, key] of UTM) if (q.get(param)) campaign[key] = q.get(param);
    if (Object.keys(campaign).length) ctx.campaign = campaign;
    return ctx;
  }

  function save() { if (queue.length) store.set(QUEUE, JSON.stringify(queue)); else store.del(QUEUE); }
  function remove(sent) {
    const ids = new Set(sent.map((m) => m.messageId));
    queue = queue.filter((m) => !ids.has(m.messageId));
    save();
  }

  function enqueue(type, fields) {
    if (!active) return null;
    const msg = Object.assign({ type, messageId: uuid(), timestamp: new Date().toISOString(), anonymousId,
      context: context() }, fields);
    if (userId) msg.userId = userId;
    queue.push(msg);
    if (queue.length > MAX_QUEUE) queue.splice(0, queue.length - MAX_QUEUE); // the oldest go first
    save();
    if (queue.length >= BATCH_SIZE) flush();
    return msg;
  }

  const body = (batch) => JSON.stringify({ batch, sentAt: new Date().toISOString(), writeKey: cfg.writeKey });

  function flush() {
    if (!active || posting || !queue.length || Date.now() < retryAt) return;
    const batch = queue.slice(0, BATCH_SIZE), data = body(batch);
    posting = true;
    batch.forEach((m) => inFlight.add(m.messageId));
    // text/plain is a CORS-safelisted type: no preflight request before each batch.
    fetch(`${cfg.host}/v1/batch`, { method: 'POST', headers: { 'Content-Type': 'text/plain' }, body: data,
      keepalive: data.length < KEEPALIVE_MAX })
      .then((r) => settle(batch, r.status), () => settle(batch, 0));
  }

  function settle(batch, status) {
    posting = false;
    batch.forEach((m) => inFlight.delete(m.messageId));
    if (status === 0 || status === 429 || status >= 500) { // network error or overload: keep, back off
      failures++;
      retryAt = Date.now() + Math.min(MAX_BACKOFF_MS, 1000 * 2 ** (failures - 1)) * (0.5 + Math.random() / 2);
      return;
    }
    if (status >= 400) console.warn(`tastemaker: collector refused ${batch.length} events (HTTP ${status}), dropped`);
    failures = 0; retryAt = 0;
    remove(batch);
    if (queue.length >= BATCH_SIZE) flush();
  }

  function beacon() {
    if (!active) return;
    if (!navigator.sendBeacon) { flush(); return; }
    const pending = queue.filter((m) => !inFlight.has(m.messageId));
    for (let i = 0; i < pending.length; i += BATCH_SIZE) {
      const batch = pending.slice(i, i + BATCH_SIZE);
      if (!navigator.sendBeacon(`${cfg.host}/v1/batch`, new Blob([body(batch)], { type: 'text/plain' }))) break;
      // A beacon's outcome is unknown: while the collector is failing, keep the messages for a retry
      // (the pipeline drops a messageId it has already seen).
      if (!failures) remove(batch);
    }
  }

  function measureScroll() {
    if (!view) return;
    const height = Math.max(document.documentElement.scrollHeight, document.body ? document.body.scrollHeight : 0);
    if (!height) return;
    const depth = Math.min(100, Math.round(((window.scrollY + window.innerHeight) / height) * 100));
    if (depth > view.depth) view.depth = depth;
  }

  function engaged(reason) {
    if (!view) return;
    measureScroll();
    const dwell = view.dwell + (view.since === null ? 0 : performance.now() - view.since);
    track('Page Engaged', { page_view_id: view.id, dwell_ms: Math.round(dwell), scroll_depth: view.depth, reason });
  }

  function shown() {
    if (!view || view.since !== null || document.visibilityState !== 'visible') return;
    view.since = performance.now();
    heartbeatTimer = setInterval(() => engaged('interval'), cfg.heartbeatInterval);
  }

  function hidden() { // visibilitychange to hidden, or pagehide: whichever comes first counts
    if (view && view.since !== null) {
      view.dwell += performance.now() - view.since;
      view.since = null;
      clearInterval(heartbeatTimer);
      engaged('hidden');
    }
    beacon();
  }

  function onClick(e) {
    const t = e.target;
    if (!active || !(t instanceof Element)) return;
    const item = t.closest('[data-tm-item]'), block = t.closest('[data-tm-block]');
    if (!item && !block) return;
    const properties = {};
    if (item) properties.product_id = item.getAttribute('data-tm-item');
    if (block) properties.block_id = block.getAttribute('data-tm-block');
    track('Product Clicked', properties);
  }

  // Blocks ([data-tm-block] holding [data-tm-item] elements, rendered with the page or later): the first time
  // at least half of a block is visible in a page view, "Recommendation Shown" with its items; shows without a
  // click feed the frequency caps of recommendations.
  let blockObserver = null, blockWatcher = null;
  function reportShown(entries) {
    entries.forEach((entry) => {
      if (!active || !entry.isIntersecting || document.visibilityState !== 'visible') return;
      const block = entry.target;
      blockObserver.unobserve(block);
      const products = Array.from(block.querySelectorAll('[data-tm-item]'),
        (el) => ({ product_id: el.getAttribute('data-tm-item') }));
      if (products.length) track('Recommendation Shown', { block_id: block.getAttribute('data-tm-block'), products });
    });
  }
  function watchBlocks() {
    if (!('IntersectionObserver' in window)) return;
    if (blockObserver) blockObserver.disconnect();
    blockObserver = new IntersectionObserver(reportShown, { threshold: 0.5 });
    const observe = (root) => {
      if (root.matches && root.matches('[data-tm-block]')) blockObserver.observe(root);
      if (root.querySelectorAll) root.querySelectorAll('[data-tm-block]').forEach((b) => blockObserver.observe(b));
    };
    observe(document);
    if (!blockWatcher && 'MutationObserver' in window) {
      blockWatcher = new MutationObserver((changes) => changes.forEach((c) => c.addedNodes.forEach((n) => {
        if (blockObserver && n.nodeType === 1) observe(n);
      })));
      blockWatcher.observe(document.documentElement, { childList: true, subtree: true });
    }
  }

  function page(properties) {
    if (!active) return;
    clearInterval(heartbeatTimer);
    const msg = enqueue('page', { properties: Object.assign(pageInfo(), properties) });
    // The page message's id is the page view id that engagement events refer to.
    view = { id: msg.messageId, dwell: 0, since: null, depth: 0 };
    measureScroll();
    shown();
    watchBlocks(); // a new page view: every block may be reported again
  }

  function track(event, properties) {
    if (!active) return;
    if (!event) { console.warn('tastemaker: track() needs an event name'); return; }
    enqueue('track', { event: String(event), properties: properties || {} });
  }

  function identify(id, traits) {
    if (!active) return;
    if (id !== undefined && id !== null && id !== '') { userId = String(id); store.set(USER, userId); }
    enqueue('identify', { traits: traits || {} });
  }

  function start() {
    if (active || !cfg || doNotTrack()) return;
    active = true;
    // Identifiers are stored only once tracking is allowed (no DNT, consent when required).
    anonymousId = store.get(ANON) || cookie(ANON) || uuid();
    store.set(ANON, anonymousId);
    setCookie(ANON, anonymousId, YEAR_S); // renewed on each visit
    userId = store.get(USER);
    try { queue = JSON.parse(store.get(QUEUE) || '[]'); } catch (e) { queue = []; }
    if (!Array.isArray(queue)) queue = [];
    flushTimer = setInterval(flush, cfg.flushInterval);
    page();
    flush();
  }

  function stop() {
    active = false;
    clearInterval(flushTimer); clearInterval(heartbeatTimer);
    if (blockObserver) blockObserver.disconnect();
    if (blockWatcher) blockWatcher.disconnect();
    blockObserver = null; blockWatcher = null;
    queue = []; view = null; anonymousId = null; userId = null;
    [QUEUE, ANON, USER].forEach(store.del);
    setCookie(ANON, '', 0);
  }

  function init(options) {
    if (cfg) return; // once per page
    const o = Object.assign({ host: scriptOrigin, requireConsent: false, flushInterval: 1000,
      heartbeatInterval: 15000 }, options);
    if (!o.writeKey) { console.warn('tastemaker: init() needs a writeKey'); return; }
    o.host = String(o.host || scriptOrigin).replace(/\/+$/, '');
    cfg = o;
    if (doNotTrack()) return; // send nothing, store nothing
    document.addEventListener('click', onClick, true); // capture: still seen when the site stops propagation
    document.addEventListener('visibilitychange', () => (document.visibilityState === 'visible' ? shown() : hidden()));
    window.addEventListener('pagehide', hidden);
    window.addEventListener('pageshow', shown); // back/forward cache restore
    window.addEventListener('scroll', measureScroll, { passive: true });
    if (!cfg.requireConsent || consentGiven) start();
  }

  function consent(granted) {
    consentGiven = granted === true;
    if (consentGiven) start(); else stop();
  }

  window.tastemaker = { init, page, track, identify, consent, VERSION };
})();
