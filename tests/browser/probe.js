// Layout probe for tests/browser.rs: appended to a copy of the HTML report, run by headless
// Chromium, it measures the page and leaves the measurements as JSON in a hidden
// <pre id="layout-probe">, which the test reads back from --dump-dom. It only measures; the
// test judges.
(function () {
  "use strict";
  var root = document.documentElement;

  function box(e) {
    var r = e.getBoundingClientRect();
    return { left: r.left, top: r.top, right: r.right, bottom: r.bottom };
  }

  function describe(e) {
    var s = e.tagName.toLowerCase();
    if (e.id) s += "#" + e.id;
    if (typeof e.className === "string" && e.className) s += "." + e.className.split(/\s+/).join(".");
    return s;
  }

  // Whether an ancestor cuts off or scrolls its content sideways: such an element can be wider
  // than the page without widening it (the ancestor itself is measured).
  function clipped(e) {
    for (var p = e.parentElement; p && p !== document.body; p = p.parentElement) {
      if (getComputedStyle(p).overflowX !== "visible") return true;
    }
    return false;
  }

  // The page's width now, and every rendered element that reaches past the viewport.
  function width() {
    var viewport = root.clientWidth, wide = [];
    document.body.querySelectorAll("*").forEach(function (e) {
      var r = e.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) return;
      if ((r.right > viewport + 0.5 || r.left < -0.5) && !clipped(e)) {
        wide.push({ element: describe(e), left: r.left, right: r.right });
      }
    });
    return { scroll_width: root.scrollWidth, wide: wide.slice(0, 20), wide_count: wide.length };
  }

  // What a reader sees of a verdict: its box, and whether it is itself the element drawn at
  // its centre (not covered) with its text not cut off.
  function verdict(e) {
    var r = e.getBoundingClientRect();
    var hit = document.elementFromPoint((r.left + r.right) / 2, (r.top + r.bottom) / 2);
    var style = getComputedStyle(e);
    return {
      text: e.textContent.trim(),
      box: box(e),
      shown: style.visibility === "visible" && style.opacity !== "0" && r.width > 0 && r.height > 0,
      on_top: hit !== null && (hit === e || e.contains(hit)),
      text_fits: e.scrollWidth <= e.clientWidth + 1,
    };
  }

  var out = {
    inner_width: window.innerWidth,
    inner_height: window.innerHeight,
    client_width: root.clientWidth,
  };
  out.summary = Array.prototype.map.call(
    document.querySelectorAll("#summary + table > tbody > tr"),
    function (tr) {
      var v = verdict(tr.querySelector("td.st"));
      var code = tr.querySelector("td code");
      v.job = code ? code.textContent : null;
      return v;
    }
  );
  out.sections = Array.prototype.map.call(document.querySelectorAll("section.job"), function (s) {
    var v = verdict(s.querySelector("h2 .badge"));
    var code = s.querySelector("h2 code");
    v.job = code ? code.textContent : null;
    return v;
  });
  // As served (PASS details folded), then with every <details> open.
  out.folded = width();
  document.querySelectorAll("details").forEach(function (d) {
    d.open = true;
  });
  out.expanded = width();

  var pre = document.createElement("pre");
  pre.id = "layout-probe";
  pre.hidden = true;
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
