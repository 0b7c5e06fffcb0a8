import Mustache

/// The operator web page's Mustache templates (swift-mustache), parsed
/// once: `{{name}}` is HTML-escaped, `{{{name}}}` is not (used only for
/// HTML the server rendered itself). Every page is a body template rendered
/// into ``layout``.
enum WebTemplates {
    /// The templates by name; a template that does not parse is a programming
    /// error caught by the web page tests (it renders as an empty library entry).
    static let library: MustacheLibrary = {
        var library = MustacheLibrary()
        for (name, text) in [
            ("layout", layout), ("runs", runs), ("run", run), ("retry", retry), ("deployments", deployments),
            ("deployment", deployment), ("drivers", drivers), ("login", login), ("problem", problem), ("attempts", WebAttempts.template), ("driver", driver),
            ("attemptEnd", attemptEnd),
        ] {
            try? library.register(text, named: name)
        }
        return library
    }()

    static let layout = """
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{{title}} · FlowRunner</title>
        {{#refresh}}<noscript><meta http-equiv="refresh" content="{{refresh}}"></noscript>{{/refresh}}
        <link rel="stylesheet" href="/static/page.css"></head>
        <body{{#refresh}} data-refresh="{{refresh}}"{{/refresh}}><a class="skip" href="#main">Skip to content</a>
        <header><nav aria-label="Main"><strong>FlowRunner</strong> <a href="/">Runs</a> <a href="/deployments">Deployments</a> <a href="/drivers">Drivers</a>
        {{#loggedIn}}<form method="post" action="/logout" class="inline"><input type="hidden" name="csrf" value="{{csrf}}"><button>Log out</button></form>{{/loggedIn}}
        </nav></header>
        <main id="main">{{{body}}}</main>
        <script src="/static/page.js" defer></script></body></html>
        """

    static let problem = """
        <h1>{{title}}</h1><p class="error" role="alert">{{message}}</p><p><a href="{{back}}">Back</a></p>
        """

    static let login = """
        <h1>Log in</h1>
        {{#failed}}<p class="error" role="alert">That is not this server's token.</p>{{/failed}}
        <form method="post" action="/login"><input type="hidden" name="next" value="{{next}}">
        <label for="token">Token (the file given to <code>serve --token-file</code>)</label>
        <input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
        <button>Log in</button></form>
        """

    static let runs = """
        <h1>Runs</h1>
        <form method="get" action="/" class="filters" role="search">
        <label for="deployment">Deployment</label> <input id="deployment" name="deployment" value="{{deployment}}">
        <label for="status">Status</label> <select id="status" name="status"><option value="">any</option>
        {{#statuses}}<option value="{{name}}"{{#selected}} selected{{/selected}}>{{name}}</option>{{/statuses}}</select>
        <button>Filter</button></form>
        <div class="scroll"><table><caption>Runs, newest first{{#live}} (refreshed every 3 s while one is unfinished){{/live}}</caption>
        <thead><tr><th scope="col">Run</th><th scope="col">Deployment</th><th scope="col">Hook</th><th scope="col">Status</th>
        <th scope="col">Attempt</th><th scope="col">Created</th><th scope="col">Waiting</th></tr></thead><tbody>
        {{#runs}}<tr><td><a href="/runs/{{id}}">{{id}}</a></td><td><a href="/deployments/{{deployment}}">{{deployment}}</a></td><td>{{hook}}</td>
        <td><span class="status {{status}}">{{status}}</span></td><td>{{attempt}}</td><td>{{created}}</td><td>{{waiting}}</td></tr>{{/runs}}
        {{^runs}}<tr><td colspan="7">No runs{{#hasDeployment}} of {{deployment}}{{/hasDeployment}}.</td></tr>{{/runs}}
        </tbody></table></div>
        {{#older}}<p><a href="{{older}}">Older runs</a></p>{{/older}}
        """
}
