import FlowModel
import FlowRunner
import Foundation
import HTTPTypes
import Hummingbird
import Mustache
import NIOCore
import StateStore

/// The page frame (sessions, login, rendering) and the forms that change
/// something: each checks the session's CSRF token first.
extension WebRoutes {
    /// A session as a page sees it.
    struct Visit {
        var session: String
        var csrf: String
        /// The cookie to set: a browser's first visit to a server without a token.
        var newCookie: Cookie?
    }

    /// The visitor's session: a live one, a new one where no token is
    /// needed, or nil (they must log in).
    func visit(_ request: Request) -> Visit? {
        if let session = sessions.session(of: request) { return Visit(session: session, csrf: sessions.csrfToken(for: session)) }
        guard !sessions.needsLogin else { return nil }
        let session = sessions.open()
        return Visit(session: session, csrf: sessions.csrfToken(for: session), newCookie: sessions.cookie(session))
    }

    /// Renders `template` into the layout for a visitor with a session;
    /// one without is sent to `/login`. An ``APIError`` from `build` becomes
    /// a page saying why, with its status.
    func page(_ request: Request, title: String, template: String, build: (Visit) async throws -> [String: Any]) async throws -> Response {
        guard let visit = visit(request) else { return Self.redirect("/login?next=" + Self.encoded(request.uri.description)) }
        var status = HTTPResponse.Status.ok
        var name = template
        var view: [String: Any]
        do {
            view = try await build(visit)
        } catch let error as APIError {
            (status, name, view) = (error.status, "problem", ["title": title, "message": error.message, "back": "/"])
        } catch let error as EngineError {
            let api = APIError(error, requestID: "-")
            (status, name, view) = (api.status, "problem", ["title": title, "message": api.message, "back": "/"])
        }
        view["csrf"] = visit.csrf
        var response = render(name, title: title, view: view, visit: visit, status: status)
        if let cookie = visit.newCookie { response.setCookie(cookie) }
        return response
    }

    func render(_ template: String, title: String, view: [String: Any], visit: Visit?, status: HTTPResponse.Status = .ok) -> Response {
        let body = WebTemplates.library.render(view, withTemplate: template) ?? ""
        var layout: [String: Any] = ["title": title, "body": body, "loggedIn": visit != nil && sessions.needsLogin, "csrf": visit?.csrf ?? ""]
        if let refresh = view["refresh"] { layout["refresh"] = refresh }
        let html = WebTemplates.library.render(layout, withTemplate: "layout") ?? ""
        return Response(status: status, headers: [
            .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
            HTTPField.Name("Content-Security-Policy")!: "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
            HTTPField.Name("X-Content-Type-Options")!: "nosniff", HTTPField.Name("Referrer-Policy")!: "same-origin",
        ], body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
    }

    // MARK: Login

    func loginPage(_ request: Request, failed: Bool) async throws -> Response {
        let next = Self.safeNext(request.uri.queryParameters["next"].map(String.init))
        if !sessions.needsLogin || sessions.session(of: request) != nil { return Self.redirect(next) }
        return render("login", title: "Log in", view: ["next": next, "failed": failed], visit: nil, status: failed ? .unauthorized : .ok)
    }

    func logIn(_ request: Request) async throws -> Response {
        let form = try await Self.form(request, limit: bodyLimit)
        let next = Self.safeNext(form["next"])
        guard sessions.needsLogin else { return Self.redirect(next) }
        guard let token = form["token"], sessions.accepts(token: token.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            return render("login", title: "Log in", view: ["next": next, "failed": true], visit: nil, status: .unauthorized)
        }
        var response = Self.redirect(next)
        response.setCookie(sessions.cookie(sessions.open()))
        return response
    }

    func logOut(_ request: Request) async throws -> Response {
        let visit: Visit
        switch try await checkedForm(request, back: "/") {
        case .refused(let response): return response
        case .accepted(let accepted, _): visit = accepted
        }
        sessions.close(visit.session)
        var response = Self.redirect("/login")
        response.setCookie(Cookie(name: WebSessions.cookieName, value: "", maxAge: 0, path: "/", httpOnly: true, sameSite: .strict))
        return response
    }

    // MARK: Forms that change something

    func cancel(_ request: Request, runID: RecordID) async throws -> Response {
        if case .refused(let response) = try await checkedForm(request, back: "/runs/\(runID)") { return response }
        return try await acting(request, back: "/runs/\(runID)") { () async throws(EngineError) in
            _ = try await engine.requestCancel(runID: runID)
            return "/runs/\(runID)"
        }
    }

    func retry(_ request: Request, runID: RecordID) async throws -> Response {
        let back = "/runs/\(runID)/retry"
        let form: [String: String]
        switch try await checkedForm(request, back: back) {
        case .refused(let response): return response
        case .accepted(_, let values): form = values
        }
        let choice: RetryChoice
        do {
            choice = try RetryChoice(values: form)
        } catch let error as APIError {
            return render("problem", title: "Not done", view: ["title": "Not done", "message": error.message, "back": back], visit: visit(request), status: error.status)
        }
        return try await acting(request, back: back) { () async throws(EngineError) in
            _ = try await engine.requestRetry(runID: runID, replay: choice.replay, driverVersion: choice.driverVersion)
            return "/runs/\(runID)"
        }
    }

    func upgrade(_ request: Request, name: String) async throws -> Response {
        let form: [String: String]
        switch try await checkedForm(request, back: "/deployments/\(name)") {
        case .refused(let response): return response
        case .accepted(_, let values): form = values
        }
        let version = (form["version"] ?? "").trimmingCharacters(in: .whitespaces)
        return try await acting(request, back: "/deployments/\(name)") { () async throws(EngineError) in
            guard !version.isEmpty else { throw EngineError(.badInput, "give the version to upgrade to", field: "version") }
            let run = try await engine.requestUpgrade(deployment: name, targetVersion: version)
            return "/runs/\(run.id)"
        }
    }

    /// Runs a form's request: a redirect to where it leads, or a page saying why not (with the API's status).
    func acting(_ request: Request, back: String, _ body: () async throws(EngineError) -> String) async throws -> Response {
        do {
            return Self.redirect(try await body())
        } catch {
            let api = APIError(error, requestID: "-")
            return render("problem", title: "Not done", view: ["title": "Not done", "message": api.message, "back": back], visit: visit(request), status: api.status)
        }
    }

    /// A form's check: its visitor's session and values, or the page that says why it is refused.
    enum FormCheck {
        case accepted(Visit, [String: String])
        case refused(Response)
    }

    /// The visitor's session and form, after the form's CSRF token was
    /// checked: without a session, back to the login (or to the page, which
    /// makes one); with a wrong token or a malformed form, a page saying so (403, 400).
    func checkedForm(_ request: Request, back: String) async throws -> FormCheck {
        guard let session = sessions.session(of: request) else {
            return .refused(Self.redirect(sessions.needsLogin ? "/login?next=" + Self.encoded(back) : back))
        }
        let visit = Visit(session: session, csrf: sessions.csrfToken(for: session))
        let form: [String: String]
        do {
            form = try await Self.form(request, limit: bodyLimit)
        } catch let error as APIError {
            return .refused(render("problem", title: "Not done", view: ["title": "Not done", "message": error.message, "back": back], visit: visit, status: error.status))
        }
        guard let csrf = form["csrf"], sessions.checks(csrf: csrf, for: session) else {
            return .refused(render("problem", title: "Not done", view: [
                "title": "Not done", "message": "the form's CSRF token is missing or not this session's: reload the page and send it again", "back": back,
            ], visit: visit, status: .forbidden))
        }
        return .accepted(visit, form)
    }

    /// An `application/x-www-form-urlencoded` body (WHATWG URL, "application/x-www-form-urlencoded
    /// parsing") as name → value, the last value of a repeated name.
    ///
    /// - Throws: ``APIError`` 400 for a `%` not followed by two hex digits or bytes that are not UTF-8.
    static func form(_ request: Request, limit: Int) async throws -> [String: String] {
        let buffer = try await JSONBody.collect(request, limit: limit, what: "the form")
        var values: [String: String] = [:]
        for pair in String(buffer: buffer).split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = decode(parts[0]), let value = decode(parts.count > 1 ? parts[1] : "") else {
                throw APIError.badRequest("the form is not application/x-www-form-urlencoded (a % without two hex digits, or bytes that are not UTF-8)")
            }
            values[name] = value
        }
        return values
    }

    /// One name or value of a form: `+` is a space, `%XX` a byte; nil when that is not UTF-8 or a `%` is malformed.
    static func decode(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        var utf8 = Array(text.utf8)[...]
        while let byte = utf8.popFirst() {
            switch byte {
            case UInt8(ascii: "+"): bytes.append(UInt8(ascii: " "))
            case UInt8(ascii: "%"):
                guard utf8.count >= 2, let high = hexValue(utf8.removeFirst()), let low = hexValue(utf8.removeFirst()) else { return nil }
                bytes.append(high << 4 | low)
            default: bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location])
    }

    /// A `next` that stays on this server: a path of printable ASCII without
    /// a backslash, never `//host` (browsers drop tabs and newlines, so
    /// `/<TAB>/host` would become one), else `/`.
    static func safeNext(_ next: String?) -> String {
        guard let next, next.hasPrefix("/"), !next.hasPrefix("//"),
              next.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F && $0 != "\\" }) else { return "/" }
        return next
    }

    static func encoded(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~/"))) ?? "/"
    }
}

/// What a retry replays, as the retry page's form gives it: `mode`
/// (`matching`, `from` with `from_step`, `restart`) and `driver=latest`.
struct RetryChoice {
    var replay: Engine.ReplayMode
    var driverVersion: Int?

    init(values: [String: String]) throws {
        switch values["mode"] ?? "matching" {
        case "matching": replay = .matching
        case "restart": replay = .restart
        case "from":
            guard let step = values["from_step"].flatMap({ Int($0) }), (1...Int(Int32.max)).contains(step) else {
                throw APIError.badRequest("give the step to run again from (a number of 1 or more)", field: "from_step")
            }
            replay = .fromStep(step)
        case let other: throw APIError.badRequest("unknown replay mode \"\(other)\" (matching, from, restart)", field: "mode")
        }
        driverVersion = values["driver"] == "latest" ? 0 : nil
    }

    init(query: some Sequence<(key: Substring, value: Substring)>) throws {
        try self.init(values: Dictionary(query.map { (String($0.key), String($0.value)) }) { _, last in last })
    }

    /// The form's state for the template.
    var view: [String: Any] {
        var view: [String: Any] = ["latest": driverVersion == 0]
        switch replay {
        case .matching: view["matching"] = true; view["mode"] = "matching"
        case .restart: view["restart"] = true; view["mode"] = "restart"
        case .fromStep(let step): view["fromStep"] = true; view["mode"] = "from"; view["fromStepValue"] = step
        }
        return view
    }
}
