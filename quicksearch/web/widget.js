/*! quicksearch widget: <quick-search> (served by `quicksearch serve` at /widget.js).
 *  <script src="https://search.example.org/widget.js" defer></script>
 *  <quick-search></quick-search>
 * Attributes: endpoint, placeholder, label, limit, subject, link-base, results-url, shortcut="off".
 * Theming: --qs-* custom properties on the element, and ::part(input|panel|option|title|snippet|state).
 */
(() => {
  "use strict";
  if (!window.customElements || customElements.get("quick-search")) return;
  const script = document.currentScript;
  // Without an endpoint attribute the widget searches the server it was loaded from (where
  // widget.js is: behind a proxy at /search/widget.js, that is /search).
  const HOME = script && script.src
    ? new URL(".", new URL(script.src, location.href)).href.replace(/\/+$/, "")
    : location.origin;
  const DEBOUNCE_MS = 150;
  const COMPLETIONS = 3;

  const CSS = `
:host {
  --qs-bg: #ffffff; --qs-fg: #1d2329; --qs-muted: #55606b; --qs-accent: #1a5fb4;
  --qs-border: #8c96a0; --qs-line: #dde3e8; --qs-active: #e8f0fb; --qs-mark: #fff1a8;
  --qs-mark-fg: #1d2329; --qs-error: #b3261e; --qs-radius: 8px; --qs-font-size: 16px;
  --qs-font: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  --qs-shadow: 0 8px 28px rgba(0, 0, 0, .16);
  display: block !important; position: relative !important; visibility: visible !important;
  opacity: 1 !important; font: var(--qs-font-size)/1.45 var(--qs-font) !important;
  color: var(--qs-fg) !important; text-align: left !important; text-transform: none !important;
  letter-spacing: normal !important; word-spacing: normal !important;
  direction: ltr !important; white-space: normal !important; cursor: auto !important;
}
@media (prefers-color-scheme: dark) {
  :host {
    --qs-bg: #1e2227; --qs-fg: #e8eaed; --qs-muted: #aab2bb; --qs-accent: #8ab4f8;
    --qs-border: #7d8894; --qs-line: #3a414a; --qs-active: #2c3642; --qs-mark: #5c4d00;
    --qs-mark-fg: #ffffff; --qs-error: #f2b8b5; --qs-shadow: 0 8px 28px rgba(0, 0, 0, .5);
  }
}
* { box-sizing: border-box; }
[hidden] { display: none !important; }
.sr { position: absolute; width: 1px; height: 1px; margin: -1px; padding: 0; overflow: hidden;
      clip: rect(0 0 0 0); white-space: nowrap; border: 0; }
.field { position: relative; display: flex; align-items: center; }
input { flex: 1; width: 100%; min-width: 0; margin: 0; font: inherit; color: var(--qs-fg);
        background: var(--qs-bg); border: 1px solid var(--qs-border); border-radius: var(--qs-radius);
        padding: .55em 2.6em .55em .8em; -webkit-appearance: none; appearance: none; }
input::placeholder { color: var(--qs-muted); opacity: 1; }
input:focus-visible, [role="option"]:focus-visible { outline: 3px solid var(--qs-accent);
        outline-offset: 1px; }
input:not(:placeholder-shown) + kbd { display: none; }
kbd { position: absolute; right: .6em; font: .8em/1 var(--qs-font); color: var(--qs-muted);
      border: 1px solid var(--qs-line); border-radius: 4px; padding: .2em .4em; }
.panel { position: absolute; z-index: 2147483000; top: calc(100% + 6px); left: 0; right: 0;
         min-width: min(22em, 92vw); max-height: min(32em, 70vh); overflow: auto;
         background: var(--qs-bg); color: var(--qs-fg); border: 1px solid var(--qs-line);
         border-radius: var(--qs-radius); box-shadow: var(--qs-shadow); padding: 4px; }
[role="option"] { display: block; padding: .5em .7em; border-radius: calc(var(--qs-radius) - 2px);
        color: var(--qs-fg); text-decoration: none; cursor: pointer; border: 2px solid transparent; }
[role="option"][aria-selected="true"] { background: var(--qs-active); border-color: var(--qs-accent); }
.title { display: block; color: var(--qs-accent); font-weight: 600; }
.meta, .hint { color: var(--qs-muted); font-size: .85em; }
.snippet { display: block; margin-top: .15em; font-size: .92em; }
.more { font-weight: 600; color: var(--qs-accent); border-top: 1px solid var(--qs-line); }
mark { background: var(--qs-mark); color: var(--qs-mark-fg); padding: 0 1px; border-radius: 2px; }
.state { margin: 0; padding: .6em .7em; color: var(--qs-muted); }
.state.error { color: var(--qs-error); }
`;

  // A url becomes a link only when it is http(s) or a path on the site (not "//host").
  const safeHref = (url, base) => {
    if (typeof url !== "string") return null;
    if (/^https?:\/\//i.test(url)) return url;
    if (url.startsWith("/") && !url.startsWith("//")) return base + url;
    return null;
  };

  // The API escapes all text and adds only <mark>: keep text and <mark> alone, whatever came.
  function marked(html) {
    const body = new DOMParser().parseFromString(String(html || ""), "text/html").body;
    const out = document.createDocumentFragment();
    for (const node of body.childNodes) {
      if (node.nodeName === "MARK") {
        const mark = document.createElement("mark");
        mark.textContent = node.textContent;
        out.append(mark);
      } else out.append(node.textContent || "");
    }
    return out;
  }

  const make = (tag, props, ...children) => {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value != null) node.setAttribute(key, value);
    }
    node.append(...children);
    return node;
  };

  let instances = 0;

  class QuickSearch extends HTMLElement {
    constructor() {
      super();
      this.uid = "qs" + ++instances;
      this.seq = 0;
      this.timer = 0;
      this.active = -1;
      this.options = [];
      this.last = null;
      this.onShortcut = this.onShortcut.bind(this);
    }

    get endpoint() { return (this.getAttribute("endpoint") || HOME).replace(/\/+$/, ""); }
    get limit() { return Math.min(20, Math.max(1, parseInt(this.getAttribute("limit"), 10) || 6)); }

    connectedCallback() {
      if (!this.shadowRoot) this.build();
      document.addEventListener("keydown", this.onShortcut);
    }

    disconnectedCallback() {
      document.removeEventListener("keydown", this.onShortcut);
      if (this.controller) this.controller.abort();
    }

    build() {
      const root = this.attachShadow({ mode: "open" });
      const id = this.uid;
      const label = this.getAttribute("label") || "Search";
      this.input = make("input", {
        id: id + "-input", type: "search", part: "input", role: "combobox",
        "aria-autocomplete": "list", "aria-expanded": "false", "aria-controls": id + "-list",
        autocomplete: "off", autocapitalize: "off", spellcheck: "false", enterkeyhint: "search",
        placeholder: this.getAttribute("placeholder") || "Search…",
      });
      const hasShortcut = this.getAttribute("shortcut") !== "off";
      this.kbd = make("kbd", { part: "shortcut", "aria-hidden": "true" }, "/");
      this.kbd.hidden = !hasShortcut;
      if (hasShortcut) this.input.setAttribute("aria-keyshortcuts", "Control+K /");
      this.list = make("div", { id: id + "-list", role: "listbox", part: "listbox",
                                "aria-label": label + " results" });
      this.state = make("p", { class: "state", part: "state" });
      this.panel = make("div", { class: "panel", part: "panel" }, this.list, this.state);
      this.panel.hidden = true;
      this.live = make("div", { class: "sr", role: "status", "aria-live": "polite" });
      root.append(
        make("style", {}, CSS),
        make("label", { class: "sr", for: id + "-input" }, label),
        make("div", { class: "field" }, this.input, this.kbd),
        this.panel,
        this.live,
      );
      this.input.addEventListener("input", () => this.schedule());
      this.input.addEventListener("keydown", (event) => this.onKey(event));
      this.input.addEventListener("focus", () => { if (this.options.length) this.open(true); });
      this.addEventListener("focusout", (event) => {
        if (!this.contains(event.relatedTarget) && !root.contains(event.relatedTarget)) this.open(false);
      });
      // Pressing on an option must not blur the input first (that would close the panel).
      this.list.addEventListener("mousedown", (event) => event.preventDefault());
    }

    onShortcut(event) {
      if (this.getAttribute("shortcut") === "off") return;
      if (document.querySelector("quick-search:not([shortcut='off'])") !== this) return;
      const target = event.composedPath()[0];
      const editing = target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
      const ctrlK = (event.ctrlKey || event.metaKey) && event.key.toLowerCase() === "k";
      if (ctrlK || (event.key === "/" && !editing && !event.ctrlKey && !event.metaKey && !event.altKey)) {
        event.preventDefault();
        this.input.focus();
        this.input.select();
      }
    }

    schedule() {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.search(), DEBOUNCE_MS);
    }

    async search() {
      const q = this.input.value;
      const seq = ++this.seq;
      if (this.controller) this.controller.abort();
      if (!q.trim()) { this.render(null, [], null); this.announce(""); return; }
      const controller = (this.controller = new AbortController());
      this.list.setAttribute("aria-busy", "true");
      if (!this.options.length) this.showState("Searching…");
      const params = new URLSearchParams({ q, limit: String(this.limit), typing: "1" });
      const subject = this.getAttribute("subject");
      if (subject) params.set("subject", subject);
      const get = async (path) => {
        const response = await fetch(this.endpoint + path, {
          signal: controller.signal, credentials: "omit", mode: "cors",
        });
        const data = await response.json().catch(() => ({}));
        if (!response.ok) throw new Error(data.error || "HTTP " + response.status);
        return data;
      };
      const completing = !/\s$/.test(q);
      const suggest = completing
        ? get("/suggest?" + new URLSearchParams({ q, limit: String(COMPLETIONS) })).catch(() => null)
        : Promise.resolve(null);
      try {
        const [data, completions] = await Promise.all([get("/search?" + params), suggest]);
        if (seq !== this.seq) return; // a newer query is on its way: this answer is stale
        this.render(data, completing && completions ? completions.queries || [] : [], q);
      } catch (error) {
        if (error.name === "AbortError" || seq !== this.seq) return;
        this.render(null, [], null);
        this.showState("Search is unavailable right now.", true);
        this.open(true);
        this.announce("Search is unavailable right now.");
      } finally {
        if (seq === this.seq) this.list.removeAttribute("aria-busy");
      }
    }

    showState(text, error = false) {
      this.state.textContent = text;
      this.state.className = error ? "state error" : "state";
      this.state.hidden = !text;
    }

    option(kind, content, extra) {
      const props = { id: this.uid + "-o" + this.options.length, role: "option",
                      "aria-selected": "false", part: "option " + kind, tabindex: "-1" };
      const href = extra && extra.href;
      const node = make(href ? "a" : "div", href ? { ...props, href } : props, ...content);
      node.addEventListener("click", (event) => this.choose(index, event));
      const index = this.options.push({ node, kind, ...extra }) - 1;
      return node;
    }

    render(data, completions, q) {
      this.last = data;
      this.options = [];
      this.active = -1;
      this.input.removeAttribute("aria-activedescendant");
      const nodes = [];
      if (!data) { this.list.replaceChildren(); this.showState(""); this.open(false); return; }
      for (const full of completions) {
        if (full.toLowerCase() === q.trim().toLowerCase()) continue;
        nodes.push(this.option("completion",
          [make("span", { class: "hint" }, "Search for "), full], { query: full }));
      }
      if (data.suggestion) {
        nodes.push(this.option("suggestion",
          [make("span", { class: "hint" }, "Did you mean "), make("strong", {}, data.suggestion), "?"],
          { query: data.suggestion }));
      }
      const base = this.getAttribute("link-base") || "";
      const hits = data.hits || [];
      hits.forEach((hit, i) => {
        const href = safeHref(hit.url, base);
        const meta = [hit.subject, hit.date].filter(Boolean).join(" · ");
        nodes.push(this.option("result", [
          make("span", { class: "title", part: "title" }, marked(hit.title_html)),
          make("span", { class: "meta" }, meta),
          make("span", { class: "snippet", part: "snippet" }, marked(hit.snippet)),
        ], { href: href || undefined, url: hit.url, rank: i + 1 }));
      });
      const total = data.total || 0;
      if (hits.length) {
        const count = data.total_is_exact === false ? total.toLocaleString() + "+" : total.toLocaleString();
        nodes.push(this.option("more",
          [`See all ${count} results for “${data.query.trim()}”`],
          { href: this.resultsUrl(data.query.trim()) }));
        this.options[this.options.length - 1].node.classList.add("more");
      }
      this.list.replaceChildren(...nodes);
      const message = hits.length ? "" : `No results for “${q.trim()}”.`;
      this.showState(message);
      this.open(true);
      this.announce(hits.length
        ? `${total.toLocaleString()} result${total === 1 ? "" : "s"}` +
          (data.suggestion ? `; did you mean ${data.suggestion}?` : "")
        : message + (data.suggestion ? ` Did you mean ${data.suggestion}?` : ""));
    }

    resultsUrl(q) {
      const page = this.getAttribute("results-url");
      const url = new URL(page || this.endpoint + "/", location.href);
      url.searchParams.set("q", q);
      return url.href;
    }

    announce(text) {
      // Written after a pause so that screen readers hear the last count, not every keystroke's.
      clearTimeout(this.announceTimer);
      this.announceTimer = setTimeout(() => { this.live.textContent = text; }, 400);
    }

    open(show) {
      const visible = show && (this.options.length > 0 || !this.state.hidden);
      this.panel.hidden = !visible;
      this.input.setAttribute("aria-expanded", String(visible));
      if (!visible) this.highlight(-1);
    }

    highlight(index) {
      this.options[this.active]?.node.setAttribute("aria-selected", "false");
      this.active = index;
      const option = this.options[index];
      if (!option) { this.input.removeAttribute("aria-activedescendant"); return; }
      option.node.setAttribute("aria-selected", "true");
      option.node.scrollIntoView({ block: "nearest" });
      this.input.setAttribute("aria-activedescendant", option.node.id);
    }

    onKey(event) {
      const count = this.options.length;
      const isOpen = !this.panel.hidden;
      switch (event.key) {
        case "ArrowDown":
        case "ArrowUp": {
          if (!count) return;
          event.preventDefault();
          if (!isOpen) { this.open(true); }
          const step = event.key === "ArrowDown" ? 1 : -1;
          const from = this.active < 0 ? (step > 0 ? -1 : count) : this.active;
          this.highlight((from + step + count) % count);
          return;
        }
        case "Home":
        case "End":
          if (!isOpen || this.active < 0) return; // the caret moves in the box instead
          event.preventDefault();
          this.highlight(event.key === "Home" ? 0 : count - 1);
          return;
        case "Enter":
          if (isOpen && this.active >= 0) { event.preventDefault(); this.choose(this.active, null); }
          else if (this.input.value.trim()) { event.preventDefault(); location.assign(this.resultsUrl(this.input.value.trim())); }
          return;
        case "Escape":
          if (isOpen) { this.open(false); } else { this.input.value = ""; this.render(null, [], null); }
          event.preventDefault();
          return;
        case "Tab":
          this.open(false);
      }
    }

    choose(index, event) {
      const option = this.options[index];
      if (!option) return;
      if (option.query) {
        if (event) event.preventDefault();
        this.input.value = option.query + (option.kind === "completion" ? " " : "");
        this.input.focus();
        clearTimeout(this.timer);
        this.search();
        return;
      }
      if (option.kind === "result") this.report(option);
      if (!option.href) { if (event) event.preventDefault(); return; }
      // A mouse click follows the link itself (new tabs too); the keyboard's Enter does it here.
      if (!event) location.assign(option.href);
    }

    report(option) {
      // Which result was opened, for the site's query report: no cookie, nothing about the visitor.
      const data = this.last;
      if (!data) return;
      const body = { q: data.query, url: option.url, rank: option.rank };
      if (data.search_id) body.search_id = data.search_id;
      fetch(this.endpoint + "/click", {
        method: "POST", body: JSON.stringify(body), keepalive: true, mode: "no-cors",
        credentials: "omit", headers: { "Content-Type": "text/plain" },
      }).catch(() => {});
    }
  }

  customElements.define("quick-search", QuickSearch);
})();
