// The real `portal` process on loopback, and a browser that signs in to it, for the end-to-end
// tests. The device side is AssentKit itself, over URLSession.
import AssentKit
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest

let adminToken = "swift-e2e-admin-token"
let password = "correct horse battery staple"

/// Reads a child's stdout line by line.
final class LineReader: @unchecked Sendable { // used by one thread at a time
    private let handle: FileHandle
    private var buffer = Data()
    init(_ handle: FileHandle) { self.handle = handle }

    func next() -> String? {
        while true {
            if let end = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[buffer.startIndex..<end], as: UTF8.self)
                buffer = Data(buffer[buffer.index(after: end)...])
                return line
            }
            let chunk = handle.availableData
            if chunk.isEmpty { return nil }
            buffer.append(chunk)
        }
    }
}

/// `portal` (target/debug/portal) on 127.0.0.1 with an ephemeral port, a temporary SQLite
/// database and the test clock. Stopped by `stop()`, which the tests register as a teardown.
final class PortalServer: @unchecked Sendable {
    private let process = Process()
    private let session = URLSession(configuration: .ephemeral)
    let url: String

    /// `environment`: added to the portal's.
    init(_ arguments: [String] = [], environment extra: [String: String] = [:]) throws {
        let dir = try Paths.tempDirectory()
        let db = dir.appendingPathComponent("portal.db").path
        let log = dir.appendingPathComponent("portal.log")
        guard FileManager.default.createFile(atPath: log.path, contents: nil) else {
            throw Unexpected("cannot create \(log.path)")
        }
        process.executableURL = Paths.target.appendingPathComponent("portal")
        process.arguments = ["--db", db, "--listen", "127.0.0.1:0", "--admin-token", adminToken,
                             "--test-clock"] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["PORTAL_LOG"] = "warn"
        environment.merge(extra) { $1 }
        process.environment = environment
        let output = Pipe()
        process.standardOutput = output
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
        trace("portal started")
        let line = LineReader(output.fileHandleForReading).next() ?? ""
        let prefix = "portal listening on "
        guard line.hasPrefix(prefix) else {
            process.terminate()
            process.waitUntilExit()
            let errors = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            throw Unexpected("portal did not start: \(line) \(errors.suffix(600))")
        }
        url = String(line.dropFirst(prefix.count)).trimmingCharacters(in: .whitespaces)
        trace("portal at \(url)")
    }

    /// Kills it (SIGKILL, as the Rust e2e tests do: on SIGTERM the portal shuts down gracefully
    /// and waits for idle keep-alive connections, which URLSession holds open) and reaps it.
    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// A user with `password`, through the help-desk API.
    func addUser(_ name: String) async throws {
        let body = try JSONSerialization.data(withJSONObject: ["username": name, "password": password])
        let (status, text) = try await http("POST", "/admin/api/users", body: body,
                                            headers: ["Authorization": "Bearer \(adminToken)",
                                                      "Content-Type": "application/json"])
        guard status == 201 else { throw Unexpected("add user: \(status) \(text)") }
    }

    /// Moves the portal's clock forward.
    func advanceClock(_ seconds: Int) async throws {
        let body = try JSONSerialization.data(withJSONObject: ["advance": seconds])
        let (status, text) = try await http("POST", "/test/clock", body: body,
                                            headers: ["Content-Type": "application/json"])
        guard status == 200 else { throw Unexpected("clock: \(status) \(text)") }
    }

    private func http(_ method: String, _ path: String, body: Data,
                      headers: [String: String]) async throws -> (Int, String) {
        guard let url = URL(string: url + path) else { throw Unexpected(path) }
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.httpBody = body
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        trace("admin \(method) \(path)")
        let (data, response) = try await exchange(session, request)
        trace("admin \(response.statusCode)")
        return (response.statusCode, String(decoding: data, as: UTF8.self))
    }
}

/// Progress of the end-to-end tests on stderr when ASSENT_TRACE is set.
func trace(_ line: String) {
    if ProcessInfo.processInfo.environment["ASSENT_TRACE"] != nil {
        FileHandle.standardError.write(Data("trace: \(line)\n".utf8))
    }
}

struct Unexpected: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func exchange(_ session: URLSession, _ request: URLRequest) async throws -> (Data, HTTPURLResponse) {
    try await withCheckedThrowingContinuation { continuation in
        session.dataTask(with: request) { data, response, error in
            if let error {
                continuation.resume(throwing: error)
            } else if let response = response as? HTTPURLResponse {
                continuation.resume(returning: (data ?? Data(), response))
            } else {
                continuation.resume(throwing: Unexpected("no HTTP response"))
            }
        }.resume()
    }
}

/// Stops URLSession from following redirects: the browser follows them itself, carrying its
/// cookies.
final class NoRedirects: NSObject, URLSessionTaskDelegate, @unchecked Sendable {
    func urlSession(_ session: URLSession, task: URLSessionTask,
                    willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest,
                    completionHandler: @escaping (URLRequest?) -> Void) {
        completionHandler(nil)
    }
}

/// A browser: a cookie jar, redirects followed, Firefox's user agent.
final class Browser: @unchecked Sendable {
    struct Page {
        let status: Int
        let path: String
        let body: String

        /// The text of the element with `id`, entities decoded.
        func element(_ id: String) -> String? {
            guard let start = body.range(of: "id=\"\(id)\""),
                  let open = body[start.upperBound...].firstIndex(of: ">"),
                  let close = body[body.index(after: open)...].firstIndex(of: "<") else { return nil }
            return String(body[body.index(after: open)..<close])
                .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
                .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#39;", with: "'")
                .replacingOccurrences(of: "&amp;", with: "&")
        }
    }

    private let base: String
    private var cookies: [String: String] = [:]
    private let session: URLSession

    init(_ portal: PortalServer) {
        base = portal.url
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpShouldSetCookies = false
        configuration.httpCookieAcceptPolicy = .never
        session = URLSession(configuration: configuration, delegate: NoRedirects(), delegateQueue: nil)
    }

    func get(_ path: String) async throws -> Page { try await load("GET", path, form: nil) }

    func post(_ path: String, _ form: [(String, String)]) async throws -> Page {
        try await load("POST", path, form: form)
    }

    func login(_ user: String) async throws -> Page {
        try await post("/login", [("username", user), ("password", password)])
    }

    /// The waiting page's status JSON.
    func pushStatus() async throws -> [String: Any] {
        let page = try await get("/login/push/status")
        return try JSONSerialization.jsonObject(with: Data(page.body.utf8)) as? [String: Any] ?? [:]
    }

    private func load(_ method: String, _ path: String, form: [(String, String)]?) async throws -> Page {
        var method = method
        var target = URL(string: base + path)
        var body = form.map { Browser.encode($0) }
        for _ in 0..<10 {
            guard let url = target else { throw Unexpected("bad URL") }
            var request = URLRequest(url: url)
            request.httpMethod = method
            request.setValue("Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0",
                             forHTTPHeaderField: "User-Agent")
            if !cookies.isEmpty {
                request.setValue(cookies.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: "; "),
                                 forHTTPHeaderField: "Cookie")
            }
            if let body {
                request.httpBody = body
                request.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
            }
            trace("browser \(method) \(url.path)")
            let (data, response) = try await exchange(session, request)
            trace("browser \(response.statusCode)")
            var fields: [String: String] = [:]
            for (name, value) in response.allHeaderFields {
                if let name = name as? String, let value = value as? String { fields[name] = value }
            }
            for cookie in HTTPCookie.cookies(withResponseHeaderFields: fields, for: url) {
                cookies[cookie.name] = cookie.value
            }
            if (300..<400).contains(response.statusCode),
               let location = response.value(forHTTPHeaderField: "Location") {
                target = URL(string: location, relativeTo: url)?.absoluteURL
                method = "GET"
                body = nil
                continue
            }
            return Page(status: response.statusCode, path: url.path,
                        body: String(decoding: data, as: UTF8.self))
        }
        throw Unexpected("too many redirects")
    }

    static func encode(_ form: [(String, String)]) -> Data {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return Data(form.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }
            .joined(separator: "&").utf8)
    }
}

/// Counts what goes through a transport (to prove that nothing was sent).
final class CountingTransport: PortalTransport, @unchecked Sendable {
    private let inner: PortalTransport
    private let lock = NSLock()
    private var _urls: [String] = []
    var urls: [String] { lock.withLock { _urls } }
    init(_ inner: PortalTransport) { self.inner = inner }
    func send(_ request: PortalRequest) async throws(PortalFailure) -> String {
        lock.withLock { _urls.append(request.url) }
        return try await inner.send(request)
    }
}

/// A phone: its vault, AssentKit's models, URLSession to the portal.
struct Phone {
    let vaultPath: String
    let store: Store
    let transport: CountingTransport
    let push: PushCoordinator
    let notifications = FakeNotifications()

    init(token: String = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff") async throws {
        vaultPath = try Paths.tempVault()
        store = try Store.open(path: vaultPath, key: Keychain(Data(count: 32)),
                               keystore: try OpenSSLKeystore(), clock: nil)
        transport = CountingTransport(URLSessionPortalTransport())
        push = PushCoordinator(store: store, transport: transport, preferences: MemoryPreferences(),
                               topic: nil, sandbox: true)
        var bytes = Data()
        var hex = Substring(token)
        while hex.count >= 2 {
            bytes.append(UInt8(hex.prefix(2), radix: 16) ?? 0)
            hex = hex.dropFirst(2)
        }
        await push.tokenChanged(bytes)
    }

    func addProcessor() -> AddAccountProcessor {
        let push = self.push
        return AddAccountProcessor(
            store: store,
            enroller: Enroller(store: store, transport: transport, deviceName: "Test iPhone", hardwareKey: true),
            notifications: notifications, pushAddress: { push.address })
    }

    func approval(_ view: ChallengeView, biometrics: Biometrics = FakeBiometrics(.verified),
                  alwaysVerify: Bool = false) -> ApprovalProcessor {
        ApprovalProcessor(challenge: view, store: store, transport: transport, biometrics: biometrics,
                          clock: SystemClock(), alwaysVerify: alwaysVerify)
    }
}
