// The APNs path end to end: portal → real push-relay → the project's mock APNs (through
// tests/push-mocks' `push-mocks` binary) → the extension's content builder → the Approve text
// action with the number → the browser is signed in.
import AssentKit
import Foundation
import XCTest

/// `push-mocks`: the mock APNs/FCM and a real relay; every accepted notification as a JSON line.
final class PushMocks: @unchecked Sendable {
    private let process = Process()
    private let input = Pipe()
    private let lock = NSLock()
    private var delivered: [[String: String]] = []
    let relayURL: String
    let apiKey: String
    /// Holds the mocks' CA certificate (`ca.pem`), among the relay's files.
    let dir: URL

    init() throws {
        let output = Pipe()
        dir = try Paths.tempDirectory()
        process.executableURL = Paths.target.appendingPathComponent("push-mocks")
        process.arguments = ["--relay", Paths.target.appendingPathComponent("push-relay").path,
                             "--dir", dir.path]
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let reader = LineReader(output.fileHandleForReading)
        guard let first = reader.next(),
              let object = (try JSONSerialization.jsonObject(with: Data(first.utf8)) as? [String: Any])?
                  .compactMapValues({ $0 as? String }),
              let url = object["relay_url"], let key = object["api_key"] else {
            process.terminate()
            throw Unexpected("push-mocks did not start")
        }
        relayURL = url
        apiKey = key
        let thread = Thread { [weak self] in
            while let line = reader.next() {
                // The string fields; `received` (the whole APNs payload) is an object.
                guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?
                    .compactMapValues({ $0 as? String })
                else { continue }
                self?.lock.withLock { self?.delivered.append(object) }
            }
        }
        thread.start()
    }

    /// The next notification delivered to `token` (10 s at most).
    func next(to token: String) async throws -> [String: String] {
        for _ in 0..<500 {
            let found: [String: String]? = lock.withLock {
                guard let index = delivered.firstIndex(where: { $0["token"] == token }) else { return nil }
                return delivered.remove(at: index)
            }
            if let found { return found }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        throw Unexpected("no notification for \(token)")
    }

    /// Closing stdin stops the mocks and the relay they started.
    func stop() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }
}

extension PortalServer {
    /// A portal that sends its pushes through the mocks' relay.
    convenience init(relayedBy mocks: PushMocks) throws {
        // The chroot has no system CA store, which the portal's HTTP client wants to load; the
        // mocks' CA serves (the portal talks to the relay over loopback http).
        try self.init(["--relay-url", mocks.relayURL, "--relay-api-key", mocks.apiKey],
                      environment: ["SSL_CERT_FILE": mocks.dir.appendingPathComponent("ca.pem").path])
    }
}

/// What the app gets from APNs for a notification the mocks captured: the `userInfo`.
func notificationUserInfo(from push: [String: String], file: StaticString = #filePath, line: UInt = #line) throws
    -> [AnyHashable: Any]
{
    [
        "aps": ["category": challengeCategory, "mutable-content": 1] as [String: Any],
        payloadKey: try XCTUnwrap(push["payload"], "\(push)", file: file, line: line),
    ]
}

final class PushPathTests: XCTestCase {
    func testALoginThroughApnsApprovedFromTheNotificationsTextAction() async throws {
        let mocks = try PushMocks()
        addTeardownBlock { mocks.stop() }
        let portal = try PortalServer(relayedBy: mocks)
        addTeardownBlock { portal.stop() }
        try await portal.addUser("frank")

        let token = "5a".appending(String(repeating: "0123456789abcdef", count: 4).dropFirst(2))
        let phone = try await Phone(token: token)
        let enrollment = Browser(portal)
        let page = try await enrollment.login("frank")
        let add = phone.addProcessor()
        await add.perform(.scanned(try XCTUnwrap(page.element("enrollment-uri"))))
        guard case .enrolled = add.state.phase else { return XCTFail("\(add.state)") }

        let browser = Browser(portal)
        let waiting = try await browser.login("frank")
        XCTAssertEqual(waiting.path, "/login/push")
        let number = try XCTUnwrap(waiting.element("number"))
        let push = try await mocks.next(to: token)
        XCTAssertEqual(push["platform"], "apns")
        let userInfo = try notificationUserInfo(from: push)

        // The notification service extension: the vault read-only, the context shown.
        let content = NotificationContentBuilder.content(
            userInfo: userInfo, vaultPath: phone.vaultPath, key: Keychain(Data(count: 32)))
        XCTAssertEqual(content.title, "Sign in to Assent Demo Portal?")
        XCTAssertTrue(content.body.contains("Firefox 140"), content.body)
        XCTAssertTrue(content.body.contains("127.0.0.1"), content.body)
        XCTAssertEqual(content.categoryIdentifier, "ASSENT_CHALLENGE")
        assertNumberNotShown(number, in: [content.title, content.subtitle, content.body])

        // A wrong action or no challenge: nothing to answer here.
        let none = await NotificationResponder.respond(
            actionIdentifier: "com.apple.UNNotificationDefaultActionIdentifier", typedText: nil,
            userInfo: userInfo, store: phone.store, transport: phone.transport,
            biometrics: FakeBiometrics(.verified), clock: SystemClock(), alwaysVerify: false)
        XCTAssertNil(none)

        // The Approve text action with the number typed.
        let answered = await NotificationResponder.respond(
            actionIdentifier: ChallengeAction.approve.rawValue, typedText: " \(number) ",
            userInfo: userInfo, store: phone.store, transport: phone.transport,
            biometrics: FakeBiometrics(.verified), clock: SystemClock(), alwaysVerify: false)
        XCTAssertEqual(answered?.phase, .approved, "\(String(describing: answered))")
        var status: [String: Any] = [:]
        for _ in 0..<200 {
            status = try await browser.pushStatus()
            if status["status"] as? String != "pending" { break }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        XCTAssertEqual(status["status"] as? String, "approved", "\(status)")
        let home = try await browser.get("/")
        XCTAssertTrue(home.body.contains("Signed in as frank"))
    }
}
