// Plain-Swift stand-ins for the platform protocols (UIPasteboard, LAContext, UserDefaults,
// UNUserNotificationCenter) and a transport to the Rust portal side over its pipe.
import AssentKit
import Foundation

final class FakePasteboard: Pasteboard {
    private(set) var items: [(text: String, expiry: TimeInterval)] = []
    func copy(_ text: String, expiresAfter seconds: TimeInterval) { items.append((text, seconds)) }
}

final class FakeBiometrics: Biometrics, @unchecked Sendable {
    private let lock = NSLock()
    private let result: VerificationResult
    private var _asked: [String] = []
    var asked: [String] { lock.withLock { _asked } }
    init(_ result: VerificationResult) { self.result = result }
    func verify(reason: String) async -> VerificationResult {
        lock.withLock { _asked.append(reason) }
        return result
    }
}

final class MemoryPreferences: Preferences {
    private var values: [String: Data] = [:]
    func data(forKey key: String) -> Data? { values[key] }
    func set(_ data: Data?, forKey key: String) { values[key] = data }
}

final class FakeNotifications: Notifications, @unchecked Sendable {
    private let lock = NSLock()
    private var _asked = 0
    var permissionRequests: Int { lock.withLock { _asked } }
    func requestPermission() async -> Bool { lock.withLock { _asked += 1 }; return true }
    func removeDelivered(challengeId: String) async {}
}

/// Records what is sent and replies with `reply` (by URL).
final class RecordingTransport: PortalTransport, @unchecked Sendable {
    private let lock = NSLock()
    private var _sent: [PortalRequest] = []
    private let reply: @Sendable (PortalRequest) throws(PortalFailure) -> String
    var sent: [PortalRequest] { lock.withLock { _sent } }

    init(reply: @escaping @Sendable (PortalRequest) throws(PortalFailure) -> String = { _ in "" }) {
        self.reply = reply
    }

    func send(_ request: PortalRequest) async throws(PortalFailure) -> String {
        lock.withLock { _sent.append(request) }
        return try reply(request)
    }
}

/// A transport to the Rust portal side (test_portal over its pipe): registration and answers.
func pipeTransport(_ portal: Portal) -> RecordingTransport {
    let box = UncheckedBox(portal)
    return RecordingTransport { (request: PortalRequest) throws(PortalFailure) -> String in
        let portal = box.value
        if request.url.hasSuffix("/register") {
            guard let reply = try? portal.call(["cmd": "register", "body": request.body]),
                  let response = reply["response"] as? String
            else { throw .refusal(status: 400, body: #"{"error":"malformed","message":""}"#) }
            return response
        }
        guard let reply = try? portal.call(["cmd": "verify", "body": request.body]) else {
            throw .unreachable
        }
        if reply["ok"] as? Bool == true { return "{}" }
        let error = reply["error"] as? String ?? ""
        throw .refusal(status: error.contains("expired") ? 410 : 403,
                       body: error.contains("expired") ? #"{"error":"expired","message":""}"# : "")
    }
}

final class UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

func now() -> UInt64 { UInt64(Date().timeIntervalSince1970) }

/// A store enrolled at the Rust portal side (activated), with a settable clock.
func enrolledStore(_ portal: Portal, clock: FixedClock? = nil) async throws
    -> (store: Store, enrollment: Enrollment, transport: RecordingTransport)
{
    let store = try Store.open(path: try Paths.tempVault(), key: Keychain(Data(count: 32)),
                               keystore: nil, clock: clock)
    let transport = pipeTransport(portal)
    let qr = try portal.string(try portal.call(["cmd": "qr"]), "qr")
    let enroller = Enroller(store: store, transport: transport, deviceName: "iPhone", hardwareKey: false)
    let enrollment = try await enroller.enroll(
        qr: qr, push: .apns(token: "a1b2", sandbox: true, topic: "org.assent.app"))
    return (store, enrollment, transport)
}
