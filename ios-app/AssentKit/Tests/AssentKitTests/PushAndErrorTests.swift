// The push side against the Rust portal side, with a Swift keystore, and every AssentError as a
// typed Swift error with a readable message.
import AssentKit
import Foundation
import XCTest

final class PushTests: XCTestCase {
    func testEnrollmentAndChallengesAnsweredWithASwiftSigner() throws {
        let portal = try Portal()
        defer { portal.close() }
        let keystore = try OpenSSLKeystore()
        let store = try Store.open(path: try Paths.tempVault(), key: Keychain(Data(count: 32)),
                                   keystore: keystore, clock: nil)

        let qr = try portal.string(try portal.call(["cmd": "qr"]), "qr")
        let enrollment = try store.enroll(
            qr: qr, platform: .ios, deviceName: "iPhone",
            push: .apns(token: "a1b2c3", sandbox: true, topic: "org.assent.app"), hardwareKey: true)
        XCTAssertEqual(keystore.aliases.count, 1, "the device key is not the keystore's")
        XCTAssertEqual(enrollment.request.method, "POST")
        XCTAssertEqual(enrollment.request.url, "https://portal.acme.test/assent/v1/register")
        XCTAssertEqual(enrollment.request.contentType, "application/jose")
        XCTAssertEqual(try store.accounts().map(\.id), [enrollment.accountId])

        let registered = try portal.call(["cmd": "register", "body": enrollment.request.body])
        let activation = try store.activate(deviceId: enrollment.deviceId,
                                            responseBody: try portal.string(registered, "response"))
        let activated = try portal.call(["cmd": "verify", "body": activation.body])
        XCTAssertEqual(activated["ok"] as? Bool, true, "\(activated)")
        XCTAssertEqual(try store.pushAccounts().map(\.active), [true])
        XCTAssertEqual(try store.pushAccounts().map(\.deviceId), [enrollment.deviceId])

        // A sign-in with number matching, approved after Face ID.
        let sent = try portal.call(["cmd": "challenge", "digits": 2])
        let payload = try portal.string(sent, "payload")
        let view = try store.openChallenge(payload: payload)
        XCTAssertEqual(view.application, "Acme Mail")
        XCTAssertEqual(view.numberDigits, 2)
        XCTAssertEqual(view.purpose, .login)
        let number = try portal.string(sent, "number")
        let answer = try store.answer(challengeId: view.id,
                                      answer: .approve(number: number, userVerified: true))
        let verified = try portal.call(["cmd": "verify", "body": answer.body])
        XCTAssertEqual(verified["decision"] as? String, "Approve", "\(verified)")
        guard case .RequestClosed(let closed)? = assentError({ try store.openChallenge(payload: payload) })
        else { return XCTFail("an answered challenge opened again") }
        assertReadable(closed)

        // One without number matching, denied as "this wasn't me".
        let second = try portal.call(["cmd": "challenge", "digits": NSNull()])
        let denied = try store.openChallenge(payload: try portal.string(second, "payload"))
        XCTAssertNil(denied.numberDigits)
        let deny = try store.answer(challengeId: denied.id, answer: .deny(notMe: true, userVerified: false))
        let refused = try portal.call(["cmd": "verify", "body": deny.body])
        XCTAssertEqual(refused["decision"] as? String, "Deny", "\(refused)")
        // The registration, the activation and both answers were signed by the keystore, in DER
        // (a SEQUENCE of 70 to 72 bytes; Rust also takes raw r‖s).
        XCTAssertEqual(keystore.signatures.count, 4)
        XCTAssertTrue(keystore.signatures.allSatisfy { $0.first == 0x30 && $0.count > 64 },
                      "\(keystore.signatures.map(\.count))")

        // Polling and a new APNs token are signed requests too.
        let poll = try store.pollRequest(deviceId: enrollment.deviceId)
        XCTAssertEqual(poll.contentType, "application/jose")
        let update = try store.updatePushAddress(
            deviceId: enrollment.deviceId, push: .apns(token: "d4e5f6", sandbox: false, topic: nil))
        XCTAssertEqual(update.method, "POST")
    }
}

final class ErrorTests: XCTestCase {
    /// Each variant reachable through today's calls, caught as its Swift case.
    func testEveryErrorIsATypedSwiftErrorWithAReadableMessage() throws {
        let directory = try Paths.tempDirectory().path
        let path = try Paths.tempVault()
        _ = try Store.open(path: path, key: Keychain(Data(repeating: 1, count: 32)), keystore: nil, clock: nil)
        let store = try Store.open(path: try Paths.tempVault(), key: Keychain(Data(count: 32)),
                                   keystore: nil, clock: nil)
        let encrypted = try Paths.fixture("aegis_encrypted.json")
        let open = { (key: Data) in
            _ = try Store.open(path: path, key: Keychain(key), keystore: nil, clock: nil)
        }

        var seen: Set<String> = []
        func check(_ expected: String, _ needle: String, _ body: () throws -> Void,
                   line: UInt = #line) {
            guard let error = assentError(body, line: line) else { return }
            let (variant, message): (String, String)
            switch error {
            case .InvalidInput(let m): (variant, message) = ("InvalidInput", m)
            case .PasswordRequired(let m): (variant, message) = ("PasswordRequired", m)
            case .WrongPassword(let m): (variant, message) = ("WrongPassword", m)
            case .RequestClosed(let m): (variant, message) = ("RequestClosed", m)
            case .PlatformKey(let m): (variant, message) = ("PlatformKey", m)
            case .Storage(let m): (variant, message) = ("Storage", m)
            case .PortalReply(let m): (variant, message) = ("PortalReply", m)
            case .NeedsConfirmation(let m): (variant, message) = ("NeedsConfirmation", m)
            }
            XCTAssertEqual(variant, expected, "\(error)", line: line)
            XCTAssertEqual(error.message, message, line: line)
            XCTAssertTrue(message.lowercased().contains(needle.lowercased()),
                          "\"\(message)\" lacks \"\(needle)\"", line: line)
            assertReadable(message, line: line)
            seen.insert(variant)
        }

        check("InvalidInput", "secret: 40 bits is too short") {
            _ = try codeForUri(uri: "otpauth://totp/x?secret=JBSWY3DP", unixSeconds: 0)
        }
        check("InvalidInput", "otpauth://") { _ = try store.addUri(uri: "https://example.com") }
        check("InvalidInput", "not an export") { _ = try store.importData(data: Data("\u{89}PNG no".utf8), password: nil) }
        check("InvalidInput", "no account") { try store.rename(id: "nope", issuer: "x", name: nil) }
        check("PasswordRequired", "password") { _ = try store.importData(data: encrypted, password: nil) }
        check("WrongPassword", "wrong passphrase or key") { try open(Data(count: 32)) }
        check("WrongPassword", "password") { _ = try store.importData(data: encrypted, password: "nope") }
        // With no push enrollment, nothing can be for this device: dismiss it.
        check("RequestClosed", "no push account") { _ = try store.openChallenge(payload: "not.a.challenge") }
        check("RequestClosed", "open it again") {
            _ = try store.answer(challengeId: "unknown", answer: .approve(number: nil, userVerified: false))
        }
        check("PlatformKey", "32 bytes") { try open(Data(count: 3)) }
        check("PlatformKey", "no keystore") {
            _ = try store.enroll(qr: "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP", platform: .ios,
                                 deviceName: "iPhone", push: .fcm(token: "t"), hardwareKey: true)
        }
        check("Storage", "directory") {
            _ = try Store.open(path: directory, key: Keychain(Data(count: 32)), keystore: nil, clock: nil)
        }
        // The two that need an enrollment: a broken registration response, and deleting the
        // account that approves sign-ins without the user's confirmation.
        let portal = try Portal()
        defer { portal.close() }
        let enrolled = try Store.open(path: try Paths.tempVault(), key: Keychain(Data(count: 32)),
                                      keystore: nil, clock: nil)
        let qr = try portal.string(try portal.call(["cmd": "qr"]), "qr")
        let enrollment = try enrolled.enroll(qr: qr, platform: .ios, deviceName: "iPhone",
                                             push: .apns(token: "a1", sandbox: true, topic: nil),
                                             hardwareKey: false)
        check("PortalReply", "unexpected reply") {
            _ = try enrolled.activate(deviceId: enrollment.deviceId, responseBody: "<html>502</html>")
        }
        check("NeedsConfirmation", "approves sign-ins") {
            try enrolled.delete(id: enrollment.accountId, retirePush: false)
        }
        XCTAssertEqual(seen, ["InvalidInput", "PasswordRequired", "WrongPassword", "RequestClosed",
                              "PlatformKey", "Storage", "PortalReply", "NeedsConfirmation"])
    }

    /// What a Keychain failure in Swift turns into: PlatformKey, with the Swift message.
    func testAKeychainErrorThrownInSwiftArrivesAsPlatformKey() throws {
        do {
            _ = try Store.open(path: try Paths.tempVault(), key: LockedKeychain(), keystore: nil, clock: nil)
            XCTFail("a locked Keychain opened the vault")
        } catch AssentError.PlatformKey(let message) {
            XCTAssertTrue(message.contains("locked"), message)
            assertReadable(message)
        }
    }

    /// A cancelled Face ID while signing an answer: PlatformKey with the Swift message, and the
    /// store goes on working (the user may try again).
    func testACancelledSignatureArrivesAsPlatformKeyAndTheStoreGoesOn() throws {
        let portal = try Portal()
        defer { portal.close() }
        let keystore = try OpenSSLKeystore()
        let store = try Store.open(path: try Paths.tempVault(), key: Keychain(Data(count: 32)),
                                   keystore: keystore, clock: nil)
        let qr = try portal.string(try portal.call(["cmd": "qr"]), "qr")
        let enrollment = try store.enroll(qr: qr, platform: .ios, deviceName: "iPhone",
                                          push: .apns(token: "a1", sandbox: true, topic: nil),
                                          hardwareKey: true)
        let registered = try portal.call(["cmd": "register", "body": enrollment.request.body])
        _ = try store.activate(deviceId: enrollment.deviceId,
                               responseBody: try portal.string(registered, "response"))
        let sent = try portal.call(["cmd": "challenge", "digits": NSNull()])
        let view = try store.openChallenge(payload: try portal.string(sent, "payload"))

        keystore.refusal = "Face ID was cancelled."
        do {
            _ = try store.answer(challengeId: view.id, answer: .approve(number: nil, userVerified: true))
            XCTFail("an answer was signed without the keystore")
        } catch AssentError.PlatformKey(let message) {
            XCTAssertTrue(message.contains("Face ID was cancelled"), message)
            assertReadable(message)
        }
        keystore.refusal = nil
        XCTAssertEqual(try store.accounts().count, 1)
        let answer = try store.answer(challengeId: view.id, answer: .approve(number: nil, userVerified: true))
        let verified = try portal.call(["cmd": "verify", "body": answer.body])
        XCTAssertEqual(verified["decision"] as? String, "Approve", "the same request, answered on a retry")
    }
}
