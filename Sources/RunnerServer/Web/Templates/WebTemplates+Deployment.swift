extension WebTemplates {
    static let deployments = """
        <h1>Deployments</h1>
        <div class="scroll"><table><thead><tr><th scope="col">Name</th><th scope="col">Driver</th><th scope="col">App version</th>
        <th scope="col">Cluster</th><th scope="col">Updated</th></tr></thead><tbody>
        {{#deployments}}<tr><td><a href="/deployments/{{name}}">{{name}}</a></td><td>{{driver}} {{driverVersion}}</td><td>{{appVersion}}</td>
        <td>{{cluster}}</td><td>{{updated}}</td></tr>{{/deployments}}
        {{^deployments}}<tr><td colspan="5">No deployments.</td></tr>{{/deployments}}</tbody></table></div>
        """

    static let deployment = """
        <h1>Deployment {{name}}</h1>
        <p>{{driver}} driver version {{driverVersion}} · app version <strong>{{appVersion}}</strong> · cluster {{cluster}}</p>
        {{#clusterError}}<p class="error">The cluster's view is missing: {{clusterError}}</p>{{/clusterError}}
        <h2>Upgrade</h2>
        <form method="post" action="/deployments/{{name}}/upgrade" class="filters"><input type="hidden" name="csrf" value="{{csrf}}">
        <label for="version">Version</label> <input id="version" name="version" required pattern="[0-9A-Za-z.+!_-]+" aria-describedby="supported" list="known-versions">
        <datalist id="known-versions">{{#versions}}<option value="{{.}}">{{/versions}}</datalist>
        <span id="supported">supported: {{supported}}</span> <button>Upgrade</button></form>
        <h2>Components</h2>
        <div class="scroll"><table><thead><tr><th scope="col">Component</th><th scope="col">Replicas</th><th scope="col">Ready</th><th scope="col">Images</th></tr></thead><tbody>
        {{#workloads}}<tr><td>{{component}}</td><td>{{replicas}}</td><td>{{ready}}</td><td>{{images}}</td></tr>{{/workloads}}
        {{^workloads}}<tr><td colspan="4">The cluster shows no workloads.</td></tr>{{/workloads}}</tbody></table></div>
        {{#hasValues}}<h2>Values applied (revision {{revision}})</h2><pre>{{#values}}{{.}}
        {{/values}}</pre>{{/hasValues}}
        <h2>Runs</h2>
        <ul>{{#runs}}<li><a href="/runs/{{id}}">{{id}}</a> {{hook}} <span class="status {{status}}">{{status}}</span> {{created}}</li>{{/runs}}</ul>
        <h2>Backups</h2>
        <ul>{{#backups}}<li>{{id}} <span class="status {{status}}">{{status}}</span> {{appVersion}} {{created}}</li>{{/backups}}{{^backups}}<li>None.</li>{{/backups}}</ul>
        """

    static let drivers = """
        <h1>Drivers</h1>
        <div class="scroll"><table><thead><tr><th scope="col">Driver</th><th scope="col">Version</th><th scope="col">Spec version</th>
        <th scope="col">Digest</th><th scope="col">Loaded</th></tr></thead><tbody>
        {{#drivers}}<tr><td>{{driver}}</td><td><a href="/drivers/{{driver}}/{{number}}">{{number}}</a></td><td>{{specVersion}}</td><td><code>{{digest}}</code></td><td>{{loaded}}</td></tr>{{/drivers}}
        {{^drivers}}<tr><td colspan="5">No drivers are loaded.</td></tr>{{/drivers}}</tbody></table></div>
        """

    static let driver = """
        <h1>Driver {{driver}} version {{number}}</h1>
        <p>spec version {{specVersion}} · digest <code>{{digest}}</code> · loaded {{loaded}}</p>
        {{#files}}<h2 id="{{anchor}}">{{path}}</h2><pre>{{text}}</pre>{{/files}}
        <p><a href="/drivers">All drivers</a></p>
        """
}
