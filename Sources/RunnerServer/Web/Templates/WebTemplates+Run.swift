extension WebTemplates {
    static let run = """
        <h1>Run {{id}}: {{hook}} of <a href="/deployments/{{deployment}}">{{deployment}}</a></h1>
        <p><span class="status {{status}}" id="run-status">{{status}}</span> · attempt {{attempt}}{{#versions}} · {{versions}}{{/versions}}
        {{#driver}} · driver {{name}} version {{version}}{{/driver}}</p>
        <dl class="times"><dt>Created</dt><dd>{{created}}</dd><dt>Started</dt><dd>{{started}}</dd><dt>Ended</dt><dd>{{ended}}</dd></dl>
        {{#waiting}}<p class="waiting" role="status">Waiting: {{waiting}}</p>{{/waiting}}
        {{#error}}<section aria-labelledby="error-h"><h2 id="error-h">Why it {{verb}}</h2>
        <p class="error">{{#action}}<strong>{{action}}</strong>: {{/action}}{{type}}: {{message}}</p>
        {{#traceback}}<details open><summary>Python traceback</summary><pre class="traceback">{{traceback}}</pre></details>{{/traceback}}</section>{{/error}}
        {{#hasAttemptEnds}}<section aria-labelledby="attempts-h"><h2 id="attempts-h">Attempts</h2><ul class="attempt-ends">
        {{#attemptEnds}}{{> attemptEnd}}{{/attemptEnds}}</ul></section>{{/hasAttemptEnds}}
        <div class="actions-bar">
        {{#cancellable}}<form method="post" action="/runs/{{id}}/cancel" class="inline"><input type="hidden" name="csrf" value="{{csrf}}">
        <button class="danger">Cancel run {{id}}</button></form>{{/cancellable}}
        {{#retryable}}<a class="button" href="/runs/{{id}}/retry">Retry…</a>{{/retryable}}
        {{#compare}}<a class="button" href="/runs/{{id}}/attempts">Compare attempts</a>{{/compare}}
        </div>
        <h2>Actions</h2>
        {{#actions}}<section class="action" aria-label="Action {{name}}"><h3>{{name}} <small>[{{mode}}]</small> <span class="status {{status}}">{{status}}</span>
        <small>{{attempts}} attempt(s)</small></h3>
        {{#error}}<p class="error">{{type}}: {{message}}</p>{{#traceback}}<details><summary>traceback</summary><pre class="traceback">{{traceback}}</pre></details>{{/traceback}}{{/error}}
        <div class="scroll"><table><thead><tr><th scope="col">Attempt</th><th scope="col">Step</th><th scope="col">Kind</th><th scope="col">Name</th>
        <th scope="col">How</th><th scope="col">Status</th><th scope="col">Time</th><th scope="col">Arguments / error</th></tr></thead><tbody>
        {{#steps}}<tr class="lane-{{laneClass}}{{#marked}} marked{{/marked}}"><td>{{attempt}}</td><td>{{seq}}</td><td>{{kind}}</td><td>{{name}}</td>
        <td>{{how}}{{#diverged}} <span class="mark">diverged</span>{{/diverged}}</td><td><span class="status {{status}}">{{status}}</span></td><td>{{duration}}</td>
        <td><code>{{args}}</code>{{#error}}<br><span class="error">{{error}}</span>{{/error}}{{#divergence}}<br><span class="mark">{{divergence}}</span>{{/divergence}}</td></tr>{{/steps}}
        {{^steps}}<tr><td colspan="8">No steps recorded.</td></tr>{{/steps}}
        </tbody></table></div>{{#hidden}}<p>{{hidden}} more steps; <a href="/runs/{{id}}?all=1">show every step</a>.</p>{{/hidden}}</section>{{/actions}}
        {{^actions}}<p>No action has started yet.</p>{{/actions}}
        <h2 id="logs-h">Logs</h2>
        <form method="get" action="/runs/{{id}}" role="search" class="filters"><label for="q">Search the logs</label>
        <input id="q" name="q" value="{{query}}"><button>Search</button></form>
        <pre id="logs" aria-labelledby="logs-h" aria-live="polite" data-run="{{id}}" data-after="{{lastLogID}}" data-live="{{live}}">{{#logs}}<span id="l{{id}}"><a href="#l{{id}}" class="ln">{{id}}</a> a{{attempt}} {{time}} {{level}} {{#action}}[{{action}}] {{/action}}{{message}}
        </span>{{/logs}}</pre>{{^logs}}<p id="no-logs">No log lines{{#hasQuery}} match "{{query}}"{{/hasQuery}}.</p>{{/logs}}
        """

    /// One attempt's end (``WebAttemptEnds/view(of:_:traceback:)``), on the run and attempts pages.
    static let attemptEnd = """
        <li>Attempt {{attempt}}: {{#ended}}<span class="status {{status}}">{{status}}</span>{{#how}}, {{how}}{{/how}} at {{time}}{{/ended}}{{#note}}{{note}}{{/note}}
        {{#error}}<p class="error">{{#action}}<strong>{{action}}</strong>: {{/action}}{{type}}: {{message}}</p>
        {{#traceback}}<details><summary>traceback</summary><pre class="traceback">{{traceback}}</pre></details>{{/traceback}}{{/error}}</li>
        """

    static let retry = """
        <h1>Retry run {{id}} ({{hook}} of {{deployment}})</h1>
        <form method="get" action="/runs/{{id}}/retry" class="filters"><fieldset><legend>What the next attempt replays</legend>
        <label><input type="radio" name="mode" value="matching"{{#matching}} checked{{/matching}}> every recorded step that still matches</label>
        <label><input type="radio" name="mode" value="from"{{#fromStep}} checked{{/fromStep}}> steps before step
        <input type="number" name="from_step" min="1" value="{{fromStepValue}}" aria-label="first step to run again"></label>
        <label><input type="radio" name="mode" value="restart"{{#restart}} checked{{/restart}}> nothing (restart)</label>
        <label><input type="checkbox" name="driver" value="latest"{{#latest}} checked{{/latest}}> run with the newest loaded driver version</label>
        </fieldset><button>Show the plan</button></form>
        {{#problem}}<p class="error" role="alert">{{problem}}</p>{{/problem}}
        {{#plan}}<h2>The plan of attempt {{attempt}}</h2>
        {{#actions}}<h3>{{name}}</h3><div class="scroll"><table><thead><tr><th scope="col">Step</th><th scope="col">Kind</th><th scope="col">Name</th>
        <th scope="col">Recorded</th><th scope="col">Next attempt</th></tr></thead><tbody>
        {{#steps}}<tr><td>{{seq}}</td><td>{{kind}}</td><td>{{name}}</td><td>{{recorded}}</td><td><span class="plan {{plan}}">{{plan}}</span></td></tr>{{/steps}}
        {{^steps}}<tr><td colspan="5">No recorded steps: the action runs from its start.</td></tr>{{/steps}}</tbody></table></div>{{/actions}}
        <form method="post" action="/runs/{{id}}/retry"><input type="hidden" name="csrf" value="{{csrf}}">
        <input type="hidden" name="mode" value="{{mode}}"><input type="hidden" name="from_step" value="{{fromStepValue}}">
        {{#latest}}<input type="hidden" name="driver" value="latest">{{/latest}}
        <button>Retry now</button></form>{{/plan}}
        <p><a href="/runs/{{id}}">Back to run {{id}}</a></p>
        """
}
