// What the tests implement the way the iOS app does (a key provider, a clock, a keystore) and
// the Rust portal side they talk to. Foundation and XCTest only: this runs on Linux.
import AssentKit
import Foundation
import XCTest

/// The known vector of RFC 6238 (SHA-1, 8 digits).
let rfcSha1 = "otpauth://totp/RFC:sha1?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&digits=8&issuer=RFC"

/// The repository (ASSENT_ROOT, else found from this file's path) and the cargo output folder
/// holding libassent_core and examples/test_portal (ASSENT_TARGET, else target/debug).
enum Paths {
    static let root: URL = {
        if let root = ProcessInfo.processInfo.environment["ASSENT_ROOT"] {
            return URL(fileURLWithPath: root)
        }
        // ios-app/AssentKit/Tests/AssentKitTests/Support.swift
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<5 { url.deleteLastPathComponent() }
        return url
    }()
    static let target: URL = {
        if let target = ProcessInfo.processInfo.environment["ASSENT_TARGET"] {
            return URL(fileURLWithPath: target)
        }
        return root.appendingPathComponent("target/debug")
    }()

    static func fixture(_ name: String) throws -> Data {
        try Data(contentsOf: root.appendingPathComponent("authenticator-core/tests/fixtures/import/\(name)"))
    }

    /// A vault path in a new empty folder.
    static func tempVault() throws -> String {
        let dir = try tempDirectory()
        return dir.appendingPathComponent("vault.json").path
    }

    static func tempDirectory() throws -> URL {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("assent-swift-tests")
            .appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }
}

/// Stands in for the Keychain item holding the vault key.
final class Keychain: VaultKeyProvider {
    let key: Data
    init(_ key: Data) { self.key = key }
    func vaultKey() throws -> Data { key }
}

/// A key provider whose Keychain read fails (device locked before first unlock, item deleted).
final class LockedKeychain: VaultKeyProvider {
    func vaultKey() throws -> Data {
        throw KeystoreError.Unavailable(reason: "The Keychain is locked until the first unlock.")
    }
}

final class FixedClock: Clock, @unchecked Sendable {
    var now: UInt64
    init(_ now: UInt64) { self.now = now }
    func nowUnixSeconds() -> UInt64 { now }
}

/// Stands in for the Secure Enclave: P-256 keys made and used by the `openssl` CLI (there is no
/// CryptoKit on Linux). Like SecKeyCopyExternalRepresentation it returns the public key as an
/// uncompressed SEC1 point, and like SecKeyCreateSignature (.ecdsaSignatureMessageX962SHA256)
/// it signs as DER.
final class OpenSSLKeystore: DeviceKeystore, @unchecked Sendable {
    private let dir: URL
    private let lock = NSLock()
    private var keys: [String: URL] = [:]

    init() throws { dir = try Paths.tempDirectory() }

    var aliases: [String] { lock.withLock { Array(keys.keys) } }
    /// Every signature made, as returned to Rust.
    var signatures: [Data] { lock.withLock { made } }
    private var made: [Data] = []

    /// When set, signing fails with this message, as when the user cancels Face ID.
    var refusal: String? {
        get { lock.withLock { _refusal } }
        set { lock.withLock { _refusal = newValue } }
    }
    private var _refusal: String?

    func createKey(alias: String) throws -> Data {
        let pem = dir.appendingPathComponent("\(UUID().uuidString).pem")
        try openssl(["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", pem.path])
        // SubjectPublicKeyInfo for P-256: a 26-byte header, then the 65-byte point 04‖x‖y.
        let spki = try openssl(["pkey", "-in", pem.path, "-pubout", "-outform", "DER"])
        guard spki.count == 91, spki[spki.startIndex + 26] == 4 else {
            throw KeystoreError.Unavailable(reason: "openssl gave an unexpected public key.")
        }
        lock.withLock { keys[alias] = pem }
        return Data(spki.suffix(65))
    }

    func sign(alias: String, message: Data) throws -> Data {
        if let refusal { throw KeystoreError.Unavailable(reason: refusal) }
        guard let pem = lock.withLock({ keys[alias] }) else {
            throw KeystoreError.Unavailable(reason: "There is no key \(alias) on this device.")
        }
        let signature = try openssl(["dgst", "-sha256", "-sign", pem.path], input: message)
        lock.withLock { made.append(signature) }
        return signature
    }

    @discardableResult
    private func openssl(_ arguments: [String], input: Data = Data()) throws -> Data {
        let output = try run("/usr/bin/openssl", arguments, input: input)
        guard output.status == 0 else {
            throw KeystoreError.Unavailable(reason: "openssl \(arguments[0]) failed: \(output.stderr)")
        }
        return output.stdout
    }
}

/// Runs a program to completion, feeding it `input`.
func run(_ program: String, _ arguments: [String], input: Data) throws
    -> (status: Int32, stdout: Data, stderr: String)
{
    let process = Process()
    process.executableURL = URL(fileURLWithPath: program)
    process.arguments = arguments
    let stdin = Pipe(), stdout = Pipe(), stderr = Pipe()
    process.standardInput = stdin
    process.standardOutput = stdout
    process.standardError = stderr
    try process.run()
    stdin.fileHandleForWriting.write(input)
    try stdin.fileHandleForWriting.close()
    // Small outputs (keys, signatures): reading to the end before waiting cannot deadlock.
    let out = stdout.fileHandleForReading.readDataToEndOfFile()
    let err = stderr.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, out, String(decoding: err, as: UTF8.self))
}

/// The Rust portal side (authenticator-ffi/examples/test_portal.rs) over a pipe: one JSON
/// object per line each way.
final class Portal {
    private let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private var buffer = Data()

    init() throws {
        process.executableURL = Paths.target.appendingPathComponent("examples/test_portal")
        process.standardInput = input
        process.standardOutput = output
        try process.run()
    }

    func call(_ command: [String: Any]) throws -> [String: Any] {
        var line = try JSONSerialization.data(withJSONObject: command)
        line.append(UInt8(ascii: "\n"))
        input.fileHandleForWriting.write(line)
        while !buffer.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            guard !chunk.isEmpty else { throw PortalGone() }
            buffer.append(chunk)
        }
        let end = buffer.firstIndex(of: UInt8(ascii: "\n"))!
        let reply = buffer[buffer.startIndex..<end]
        buffer = Data(buffer[buffer.index(after: end)...])
        guard let object = try JSONSerialization.jsonObject(with: reply) as? [String: Any] else {
            throw PortalGone()
        }
        return object
    }

    /// A string field of a reply, failing the test with the whole reply when it is missing.
    func string(_ reply: [String: Any], _ key: String, file: StaticString = #filePath,
                line: UInt = #line) throws -> String {
        try XCTUnwrap(reply[key] as? String, "no \(key) in \(reply)", file: file, line: line)
    }

    func close() {
        try? input.fileHandleForWriting.close()
        process.waitUntilExit()
    }

    struct PortalGone: Error {}
}

/// Runs `body`, which must throw an AssentError; returns it (nil, after failing the test, when it
/// returns or throws anything else).
func assentError<T>(_ body: () throws -> T, file: StaticString = #filePath, line: UInt = #line)
    -> AssentError?
{
    do {
        let value = try body()
        XCTFail("expected an AssentError, got \(value)", file: file, line: line)
    } catch let error as AssentError {
        return error
    } catch {
        XCTFail("expected an AssentError, got \(type(of: error)): \(error)", file: file, line: line)
    }
    return nil
}

/// A message for the user: words, with none of the Debug output of Rust or Swift (type names,
/// field dumps, quotes, braces) and no surrounding blanks.
func assertReadable(_ message: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertFalse(message.isEmpty, "an empty message", file: file, line: line)
    XCTAssertEqual(message, message.trimmingCharacters(in: .whitespacesAndNewlines),
                   "blanks around \"\(message)\"", file: file, line: line)
    XCTAssertTrue(message.contains(" "), "not a sentence: \"\(message)\"", file: file, line: line)
    XCTAssertTrue(message.first?.isUppercase == true && [".", "!", "?"].contains(message.last),
                  "not a sentence: \"\(message)\"", file: file, line: line)
    for dump in ["{", "}", "\"", "(message:", "Error(", "Some(", "None", "reason=", "::",
                 "InvalidInput", "PasswordRequired", "WrongPassword", "RequestClosed",
                 "PlatformKey", "Storage(", "Unavailable(", "PortalReply", "NeedsConfirmation"] {
        XCTAssertFalse(message.contains(dump), "a Debug dump (\(dump)) in \"\(message)\"",
                       file: file, line: line)
    }
}

/// The number to type never appears in the notification: no run of digits in it is the number.
/// (Runs, not substrings: the context itself has digits, "Firefox 140", "127.0.0.1", and a
/// random two-digit number is inside them now and then.)
func assertNumberNotShown(_ number: String, in texts: [String],
                          file: StaticString = #filePath, line: UInt = #line) {
    for text in texts {
        let runs = text.split(whereSeparator: { !$0.isNumber }).map(String.init)
        XCTAssertFalse(runs.contains(number), "the number \(number) in \(text)", file: file, line: line)
    }
}
