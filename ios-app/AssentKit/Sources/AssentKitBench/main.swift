// Benchmarks of issue 11 (run by `scripts/test-swift.sh --bench`, release library):
// - the account list refreshing 1,000 accounts' codes from Swift (AccountListProcessor);
// - the notification service extension's path: open the pushed challenge read-only from the
//   vault (peekChallenge) and build the notification content, in time, and the peak RSS of a
//   process that does only that (`AssentKitBench extension VAULT PAYLOAD`, as the extension).
import AssentKit
import Foundation

final class ZeroKey: VaultKeyProvider {
    func vaultKey() throws -> Data { Data(count: 32) }
}

final class NoPasteboard: Pasteboard {
    func copy(_ text: String, expiresAfter seconds: TimeInterval) {}
}

func milliseconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
}

func summary(_ samples: [Double]) -> String {
    let sorted = samples.sorted()
    let median = sorted[sorted.count / 2]
    let p95 = sorted[Int(Double(sorted.count) * 0.95)]
    return String(format: "median %.3f ms, p95 %.3f ms (%d runs)", median, p95, sorted.count)
}

/// Peak resident set size of this process, from /proc/self/status (Linux).
func peakRSS() -> String {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return "?" }
    return status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }
        .map { $0.dropFirst(6).trimmingCharacters(in: .whitespaces) } ?? "?"
}

/// The Rust portal side (examples/test_portal) over its pipe.
final class PortalSide {
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private var buffer = Data()

    init(_ target: String) throws {
        process.executableURL = URL(fileURLWithPath: target + "/examples/test_portal")
        process.standardInput = input
        process.standardOutput = output
        try process.run()
    }

    func call(_ command: [String: Any]) throws -> [String: Any] {
        var line = try JSONSerialization.data(withJSONObject: command)
        line.append(UInt8(ascii: "\n"))
        input.fileHandleForWriting.write(line)
        while true {
            if let end = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let reply = buffer[buffer.startIndex..<end]
                buffer = Data(buffer[buffer.index(after: end)...])
                return try JSONSerialization.jsonObject(with: reply) as? [String: Any] ?? [:]
            }
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { return [:] }
            buffer.append(chunk)
        }
    }

    func close() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }
}

func extensionPath(vault: String, payload: String) -> NotificationContent {
    NotificationContentBuilder.content(userInfo: [payloadKey: payload], vaultPath: vault, key: ZeroKey())
}

let arguments = CommandLine.arguments
if arguments.count == 4, arguments[1] == "extension" {
    // One notification, as the extension process handles it.
    let content = extensionPath(vault: arguments[2], payload: arguments[3])
    print("extension process: \(content.title); peak RSS \(peakRSS())")
    exit(content.title.isEmpty ? 1 : 0)
}

if arguments.count == 2, arguments[1] == "baseline" {
    // The floor of the same binary on this platform: Foundation up and the Rust library
    // loaded (one call into it), nothing opened. The extension's own cost is the difference.
    let key = try ZeroKey().vaultKey()
    let none = NotificationContentBuilder.content(userInfo: [payloadKey: "not-a-jws"], vaultPath: "/nonexistent",
                                                 key: ZeroKey())
    print("baseline process: \(key.count)-byte key, fallback \"\(none.body)\"; peak RSS \(peakRSS())")
    exit(0)
}

let environment = ProcessInfo.processInfo.environment
guard let target = environment["ASSENT_TARGET"] else {
    print("set ASSENT_TARGET to the cargo output folder (target/release)")
    exit(2)
}
let dir = FileManager.default.temporaryDirectory.appendingPathComponent("assent-swift-bench-\(UUID().uuidString)")
try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)

// 1. 1,000 accounts.
let store = try Store.open(path: dir.appendingPathComponent("list.json").path, key: ZeroKey(),
                           keystore: nil, clock: nil)
let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
/// 32 base32 characters (160 bits), distinct per account.
func secret(_ i: Int) -> String {
    var digits = "", n = i
    for _ in 0..<8 { digits.append(alphabet[n % 32]); n /= 32 }
    return digits + "JBSWY3DPEHPK3PXPJBSWY3DP"
}
let uris = (0..<1000).map { i in
    "otpauth://totp/Issuer\(i):user\(i)@example.com?secret=\(secret(i))&issuer=Issuer\(i)"
}.joined(separator: "\n")
let report = try store.importData(data: Data(uris.utf8), password: nil)
let list = AccountListProcessor(store: store, pasteboard: NoPasteboard())
for _ in 0..<200 { list.receive(.refresh) }
let refresh = (0..<200).map { _ in milliseconds { list.receive(.refresh) } }
print("list refresh, \(list.state.rows.count) accounts (\(report.added) imported): \(summary(refresh))")
for _ in 0..<50 { _ = try store.accounts() }
let accounts = try (0..<200).map { _ in try milliseconds { _ = try store.accounts() } }
print("Store.accounts() alone, 1,000 accounts: \(summary(accounts))")
for _ in 0..<50 { _ = try store.codeSheet() }
let codes = try (0..<200).map { _ in try milliseconds { _ = try store.codeSheet() } }
print("Store.codeSheet() alone, 1,000 accounts: \(summary(codes))")

// 2. The extension's path.
let portal = try PortalSide(target)
let vault = dir.appendingPathComponent("push.json").path
let device = try Store.open(path: vault, key: ZeroKey(), keystore: nil, clock: nil)
let qr = try portal.call(["cmd": "qr"])["qr"] as? String ?? ""
let enrollment = try device.enroll(qr: qr, platform: .ios, deviceName: "bench",
                                   push: .apns(token: "00", sandbox: true, topic: nil), hardwareKey: false)
let registered = try portal.call(["cmd": "register", "body": enrollment.request.body])
let activation = try device.activate(deviceId: enrollment.deviceId,
                                     responseBody: registered["response"] as? String ?? "")
_ = try portal.call(["cmd": "verify", "body": activation.body])
let payload = try portal.call(["cmd": "challenge", "digits": 2])["payload"] as? String ?? ""
portal.close()
for _ in 0..<20 { _ = extensionPath(vault: vault, payload: payload) }
let opened = (0..<200).map { _ in milliseconds { _ = extensionPath(vault: vault, payload: payload) } }
print("extension path (peekChallenge + content): \(summary(opened)); \(extensionPath(vault: vault, payload: payload).title)")
print("bench process peak RSS: \(peakRSS())")
print("EXTENSION_VAULT=\(vault)")
print("EXTENSION_PAYLOAD=\(payload)")
