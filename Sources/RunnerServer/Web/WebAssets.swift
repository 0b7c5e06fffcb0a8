/// The page's stylesheet and script, served as files of their own
/// (`/static/page.css`, `/static/page.js`) so the Content-Security-Policy
/// allows no inline code. The script only adds: every page reads without it.
enum WebAssets {
    static let css = """
        :root { color-scheme: light dark; --fg: #1b1f24; --bg: #fff; --muted: #57606a; --line: #d0d7de; --red: #b42318; --green: #1a7f37; --amber: #8a5a00; --blue: #0550ae; }
        @media (prefers-color-scheme: dark) { :root { --fg: #e6edf3; --bg: #0d1117; --muted: #9da7b3; --line: #30363d; --red: #ff7b72; --green: #56d364; --amber: #e3b341; --blue: #79c0ff; } }
        body { font: 16px/1.5 system-ui, sans-serif; color: var(--fg); background: var(--bg); margin: 0; }
        header { border-bottom: 1px solid var(--line); padding: .5rem 1rem; } nav a { margin-right: 1rem; } nav strong { margin-right: 1.5rem; }
        main { padding: 1rem; max-width: 80rem; } a { color: var(--blue); } a:focus, button:focus, input:focus, select:focus { outline: 3px solid var(--blue); outline-offset: 2px; }
        .skip { position: absolute; left: -999px; } .skip:focus { left: 1rem; top: .5rem; background: var(--bg); }
        table { border-collapse: collapse; width: 100%; } th, td { border-bottom: 1px solid var(--line); padding: .3rem .5rem; text-align: left; vertical-align: top; }
        caption { text-align: left; color: var(--muted); } .scroll { overflow-x: auto; } code { word-break: break-all; }
        .status { font-weight: 600; } .succeeded { color: var(--green); } .failed, .cancelled { color: var(--red); } .running, .cancelling, .queued { color: var(--amber); }
        .replayed { color: var(--muted); } .error { color: var(--red); } .mark { color: var(--amber); font-weight: 600; } tr.marked { background: color-mix(in srgb, var(--red) 8%, transparent); }
        pre { overflow-x: auto; background: color-mix(in srgb, var(--fg) 5%, transparent); padding: .5rem; } .ln { color: var(--muted); text-decoration: none; }
        .inline { display: inline; } .filters label { margin-right: .3rem; } .filters input, .filters select, button { margin-right: .8rem; font: inherit; }
        button, .button { padding: .3rem .8rem; border: 1px solid var(--line); border-radius: 4px; background: var(--bg); color: var(--fg); text-decoration: none; cursor: pointer; }
        .danger { border-color: var(--red); color: var(--red); } .plan.replay { color: var(--muted); } .plan.run, .plan.adopt { font-weight: 600; }
        dl.times { display: flex; flex-wrap: wrap; gap: 0 1rem; } dl.times dt { color: var(--muted); } dl.times dd { margin: 0 1rem 0 0; }
        fieldset { border: 1px solid var(--line); } fieldset label { display: block; }
        ul.attempt-ends { padding-left: 1.2rem; } ul.attempt-ends li { margin-bottom: .4rem; } ul.attempt-ends p { margin: .2rem 0; }
        """

    /// Reloads a live page (`<body data-refresh="SECONDS">`; without
    /// JavaScript a `<noscript>` meta refresh does) but never while a form
    /// field has the focus or holds an edit, which a reload would throw away.
    /// Follows a running run's log lines over Server-Sent Events
    /// (`/v1/runs/ID/logs?follow=1`, which the session cookie opens for
    /// reading) and reloads the page when the run ends.
    static let js = """
        (function () {
          var every = Number(document.body.dataset.refresh || 0) * 1000;
          if (!every) return;
          var edited = false;
          document.addEventListener('input', function () { edited = true; });
          function tick() {
            var field = document.activeElement && /^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement.tagName);
            if (field || edited) { setTimeout(tick, every); return; }
            window.location.reload();
          }
          setTimeout(tick, every);
        })();
        (function () {
          var pre = document.getElementById('logs');
          if (!pre || pre.dataset.live !== 'true' || !window.EventSource) return;
          var source = new EventSource('/v1/runs/' + pre.dataset.run + '/logs?follow=1&after=' + (pre.dataset.after || '0'));
          source.addEventListener('log', function (event) {
            var line = JSON.parse(event.data);
            var none = document.getElementById('no-logs'); if (none) none.remove();
            var span = document.createElement('span'); span.id = 'l' + line.id;
            var link = document.createElement('a'); link.href = '#l' + line.id; link.className = 'ln'; link.textContent = line.id;
            span.appendChild(link);
            span.appendChild(document.createTextNode(' a' + line.attempt + ' ' + (line.time || '') + ' ' + line.level + ' ' + (line.action ? '[' + line.action + '] ' : '') + line.message + '\\n'));
            pre.appendChild(span);
          });
          source.addEventListener('end', function () { source.close(); window.location.reload(); });
        })();
        """
}
